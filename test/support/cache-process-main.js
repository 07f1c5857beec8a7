// A Cache (the compiled library) in a process of its own, on any store option, with a Koa app whose
// one route (GET /page) is under cache.cached(); driven over IPC by a test (cache-process.ts):
// { id, op, args } → { id, result | error }. ops: any Cache method, plus 'peek', 'port', 'stampede'
// (n concurrent getOrSet of one key whose compute takes `ms` and counts its runs with `inc` in a
// second cache on the same store) and 'runs' (such a count).
const { Cache } = require('../../dist');
const Koa = require('koa');
const Router = require('@koa/router');
const options = JSON.parse(process.env.CACHE_OPTIONS);
const cache = new Cache(options);
const counter = new Cache({ ...options, keyPrefix: options.keyPrefix + '-counter', l1: false });
cache.on('error', () => {});
counter.on('error', () => {});
const app = new Koa();
const router = new Router();
router.get('/page', cache.cached({ timeout: 60 }), async (ctx) => {
  ctx.body = 'page run ' + (await counter.inc('page-runs')) + ' by ' + process.pid;
});
app.use(router.routes());
const server = app.listen(0, '127.0.0.1');
const ops = {
  async stampede(key, n, ms) {
    const compute = async () => {
      await counter.inc('stampede-runs:' + key);
      await new Promise((resolve) => setTimeout(resolve, ms));
      return 'computed by ' + process.pid;
    };
    return Promise.all(Array.from({ length: n }, () => cache.getOrSet(key, compute, { timeout: 60 })));
  },
  runs: (name) => counter.get(name),
  peek: (key) => cache.peek(key),
  port: () => server.address().port,
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
  server.close();
  await Promise.all([cache.close(), counter.close()]);
  process.exit(0);
});
server.once('listening', () => process.send({ ready: true }));
