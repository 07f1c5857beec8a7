// A Cache in a process of its own, driven over IPC by a test: { id, op, args } → { id, result | error }.
// ops: any Cache method, plus 'stampede' (n concurrent getOrSet calls on one key whose compute
// counts its runs in Redis and takes `ms`), and 'peek'.
const { createClient } = require('@keyv/redis');
const { Cache } = require('../../dist');

const options = JSON.parse(process.env.CACHE_OPTIONS);
const cache = new Cache(options);
cache.on('error', () => {});
const counter = createClient({ url: options.store });
const counterReady = counter.connect();

const ops = {
  async stampede(key, n, ms, counterKey) {
    await counterReady;
    const compute = async () => {
      await counter.incr(counterKey);
      await new Promise((resolve) => setTimeout(resolve, ms));
      return `computed by ${process.pid}`;
    };
    return Promise.all(Array.from({ length: n }, () => cache.getOrSet(key, compute, { timeout: 60 })));
  },
  peek: (key) => cache.peek(key),
};

process.on('message', async ({ id, op, args }) => {
  try {
    const result = await (ops[op] ? ops[op](...args) : cache[op](...args));
    process.send({ id, result: result === undefined ? null : result, undefined: result === undefined });
  } catch (err) {
    process.send({ id, error: err.message });
  }
});
process.on('disconnect', async () => {
  await cache.close();
  await counter.close();
  process.exit(0);
});
process.send({ ready: true });
