// A thin Store (src/store/store.ts) over ioredis 6, for `npm run chaos -- --client=ioredis`: the
// chaos invariants run against a mature client's own Cluster and Sentinel routing instead of the
// library's (src/store/redis/), so that the choice between them rests on evidence
// (docs/dev/redis-topologies.md). Values are stored as the cache encodes them, with PX; increments
// are fenced like the library's (an operation marker in the key's slot; a cancel undoes or refuses).
// No L1 (the library keeps L1 coherent only over its own Redis store), no lock notifications.
'use strict';

const { Redis, Cluster } = require('ioredis');

const hostPort = (text) => {
  const url = new URL(text.includes('://') ? text : `redis://${text}`);
  return { host: url.hostname, port: Number(url.port || 6379) };
};

/** Fails fast while the server is away, as the library's own client does; reconnects every 100 ms. */
const CLIENT = { maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => 100, connectTimeout: 1000 };

const INCREMENT = `
if KEYS[2] ~= nil and not redis.call('SET', KEYS[2], 'applied', 'NX', 'PX', ARGV[3]) then return redis.error_reply('CANCELLED') end
local raw = redis.call('GET', KEYS[1])
local n = tonumber(ARGV[1])
if raw then
  local current = tonumber(string.sub(raw, 2))
  if string.sub(raw, 1, 1) ~= 'j' or current == nil then return redis.error_reply('NOTANUMBER') end
  n = n + current
  redis.call('SET', KEYS[1], 'j' .. string.format('%d', n), 'KEEPTTL')
elseif tonumber(ARGV[2]) > 0 then
  redis.call('SET', KEYS[1], 'j' .. string.format('%d', n), 'PX', ARGV[2])
else
  redis.call('SET', KEYS[1], 'j' .. string.format('%d', n))
end
return string.format('%d', n)
`;
const CANCEL = `
if redis.call('SET', KEYS[2], 'cancelled', 'PX', ARGV[2], 'GET') == 'applied' then
  local raw = redis.call('GET', KEYS[1])
  if raw then redis.call('SET', KEYS[1], 'j' .. string.format('%d', tonumber(string.sub(raw, 2)) - tonumber(ARGV[1])), 'KEEPTTL') end
end
return 1
`;
const MARKER_TTL_MS = 600_000;

class IoredisStore {
  /** `option`: the chaos row's store option (a URL, `{ cluster }` or `{ sentinel }`). */
  constructor(option, keyPrefix) {
    this.local = false;
    // Increments are fenced (cancelIncrement below), as our own Redis store's are.
    this.capabilities = { fencedIncrements: this };
    this.prefix = `${keyPrefix}::`;
    if (typeof option === 'string') this.client = new Redis(option, CLIENT);
    else if (option.cluster) {
      this.client = new Cluster(option.cluster.map(hostPort), { clusterRetryStrategy: () => 100, enableOfflineQueue: false, redisOptions: CLIENT, slotsRefreshTimeout: 1000 });
    } else {
      const { name, nodes } = option.sentinel;
      this.client = new Redis({ ...CLIENT, name, sentinels: nodes.map(hostPort), sentinelRetryStrategy: () => 100, failoverDetector: true });
    }
    this.client.on('error', () => undefined);
    this.connecting = new Promise((resolve) => {
      const done = () => ((this.connecting = undefined), resolve());
      this.client.once('ready', done);
      setTimeout(done, 2000).unref();
    });
    this.client.defineCommand('kfcIncrement', { numberOfKeys: 2, lua: INCREMENT });
    this.client.defineCommand('kfcIncrementUnfenced', { numberOfKeys: 1, lua: INCREMENT });
    this.client.defineCommand('kfcCancel', { numberOfKeys: 2, lua: CANCEL });
  }

  async get(key) {
    return (await this.client.get(this.prefix + key)) ?? undefined;
  }

  getMany(keys) {
    return Promise.all(keys.map((key) => this.get(key))); // one slot per key on a cluster
  }

  async set(key, data, ttlMs) {
    const reply = ttlMs > 0 ? await this.client.set(this.prefix + key, data, 'PX', ttlMs) : await this.client.set(this.prefix + key, data);
    return reply === 'OK';
  }

  async add(key, data, ttlMs) {
    const reply = ttlMs > 0 ? await this.client.set(this.prefix + key, data, 'PX', ttlMs, 'NX') : await this.client.set(this.prefix + key, data, 'NX');
    return reply === 'OK';
  }

  async delete(key) {
    return (await this.client.unlink(this.prefix + key)) > 0;
  }

  async has(key) {
    return (await this.client.exists(this.prefix + key)) > 0;
  }

  async increment(key, delta, ttlMs, op) {
    const raw = this.prefix + key;
    const reply = op ? await this.client.kfcIncrement(raw, `{${raw}}:op:${op}`, delta, ttlMs, MARKER_TTL_MS) : await this.client.kfcIncrementUnfenced(raw, delta, ttlMs, MARKER_TTL_MS);
    return Number(reply);
  }

  async cancelIncrement(key, delta, op) {
    const raw = this.prefix + key;
    await this.client.kfcCancel(raw, `{${raw}}:op:${op}`, delta, MARKER_TTL_MS);
  }

  async clear() {
    const nodes = this.client instanceof Cluster ? this.client.nodes('master') : [this.client];
    await Promise.all(
      nodes.map(async (node) => {
        let cursor = '0';
        do {
          const [next, keys] = await node.scan(cursor, 'MATCH', `${this.prefix}*`, 'COUNT', 1000);
          cursor = next;
          await Promise.all(keys.map((key) => node.unlink(key)));
        } while (cursor !== '0');
      }),
    );
  }

  async close() {
    const quit = this.client.quit().catch(() => undefined);
    const late = new Promise((resolve) => setTimeout(resolve, 1000).unref());
    await Promise.race([quit, late]);
    this.client.disconnect();
  }
}

module.exports = { IoredisStore };
