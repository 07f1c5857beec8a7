import type KeyvRedis from '@keyv/redis';
import type { RedisClientType } from '@keyv/redis';
import { Keyv, type KeyvStoreAdapter } from 'keyv';
import { closeClient, firstAttempt } from './redis-client';
import { NotANumberError, type Store } from './store';

/** Keyv's envelope, written by hand where we talk to Redis directly (add, increment). */
function envelope(data: string, ttlMs: number): string {
  return JSON.stringify(ttlMs > 0 ? { value: data, expires: Date.now() + ttlMs } : { value: data });
}

/**
 * INCRBY on a value inside Keyv's JSON envelope, atomically. Keeps the entry's expiry; a new entry
 * gets ARGV[2] ms. Returns the new value, or an error reply when the entry is not an integer.
 */
const INCREMENT_SCRIPT = `
local raw = redis.call('GET', KEYS[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = tonumber(ARGV[1])
if raw then
  local e = cjson.decode(raw)
  if type(e.expires) == 'number' and e.expires <= now then
    raw = nil
  else
    local current = tonumber(string.sub(e.value, 2))
    if string.sub(e.value, 1, 1) ~= 'j' or current == nil or current % 1 ~= 0 then
      return redis.error_reply('NOTANUMBER')
    end
    n = n + current
    local out = '{"value":"j' .. string.format('%d', n) .. '"'
    if type(e.expires) == 'number' then out = out .. ',"expires":' .. string.format('%d', e.expires) end
    redis.call('SET', KEYS[1], out .. '}', 'KEEPTTL')
  end
end
if not raw then
  local ttl = tonumber(ARGV[2])
  if ttl > 0 then
    redis.call('SET', KEYS[1], '{"value":"j' .. string.format('%d', n) .. '","expires":' .. string.format('%d', now + ttl) .. '}', 'PX', ttl)
  else
    redis.call('SET', KEYS[1], '{"value":"j' .. string.format('%d', n) .. '"}')
  end
end
return string.format('%d', n)
`;

export type KeyvSource = string | Keyv | KeyvStoreAdapter;

/**
 * A store behind Keyv: a `redis://` / `rediss://` URL, any keyv adapter, or a ready Keyv instance.
 * On Redis, `add` and `increment` are single atomic commands and `clear` is SCAN + UNLINK over this
 * cache's namespace only. Other adapters get read-then-write `add`/`increment` (atomic within one
 * process only). Errors surface through `onError`; calls resolve to Keyv's fallbacks.
 */
export class KeyvStore implements Store {
  readonly local = false;
  readonly keyv: Keyv;
  /** Present when the store is Redis: used for the commands Keyv has no word for, and pub/sub. */
  readonly redis?: RedisClientType;
  private readonly adapter?: KeyvRedis<string>;
  private readonly ownsConnection: boolean;
  private connecting?: Promise<void>;
  private firstAttempt?: Promise<void>;
  private closed = false;

  constructor(source: KeyvSource, namespace: string, onError: (err: unknown) => void) {
    if (typeof source === 'string') {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- an optional peer, loaded for Redis only
      const { default: KeyvRedisAdapter, createClient } = require('@keyv/redis') as typeof import('@keyv/redis');
      const client = createClient({
        url: source,
        // While disconnected, fail commands at once instead of queueing them without bound;
        // reconnect in the background with capped backoff, forever.
        disableOfflineQueue: true,
        socket: { connectTimeout: 2000, reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 2000) },
      }) as RedisClientType;
      client.on('error', onError);
      // Commands wait for the first connection attempt (each within the cache's deadline); once
      // it has succeeded or failed they no longer wait, and fail fast while Redis is away.
      this.firstAttempt = firstAttempt(client);
      this.connecting = this.firstAttempt.finally(() => (this.connecting = undefined));
      client.connect().catch(onError);
      // Errors reach us as rejections (Cache reports them), not as events swallowed into "false".
      this.adapter = new KeyvRedisAdapter<string>(client, { namespace, throwOnConnectError: false, throwOnErrors: true });
      this.keyv = new Keyv({ store: this.adapter, namespace, useKeyPrefix: false, throwOnErrors: true });
      this.redis = client;
      this.ownsConnection = true;
      return;
    }
    // Recognised by shape: the app's own keyv or @keyv/redis (an ESM copy, another version) is not ours.
    if (isKeyv(source)) {
      this.keyv = source;
      if (isRedisAdapter(source.store)) this.adapter = source.store;
    } else {
      const isRedis = isRedisAdapter(source);
      this.keyv = new Keyv({ store: source, namespace, useKeyPrefix: !isRedis });
      if (isRedis) this.adapter = source;
    }
    this.ownsConnection = false;
    if (this.adapter) this.redis = this.adapter.client as RedisClientType;
    // A store we did not configure swallows its errors into fallbacks and tells only this event.
    this.keyv.on('error', onError);
  }

  async get(key: string): Promise<string | undefined> {
    await this.ready();
    return (await this.keyv.get<string>(key)) ?? undefined;
  }

  async getMany(keys: readonly string[]): Promise<(string | undefined)[]> {
    if (keys.length === 0) return [];
    await this.ready();
    const values = await this.keyv.getMany<string>([...keys]);
    return values.map((value) => value ?? undefined);
  }

  /** Values with the absolute time (ms) each expires at; `expiresAt` absent = never. */
  async getManyWithExpiry(keys: readonly string[]): Promise<({ data: string; expiresAt?: number } | undefined)[]> {
    await this.ready();
    if (keys.length === 0) return [];
    const rows = await this.keyv.getManyRaw<string>([...keys]);
    return rows.map((row) =>
      row?.value === undefined || row.value === null ? undefined : { data: row.value, expiresAt: row.expires ?? undefined },
    );
  }

  async set(key: string, data: string, ttlMs: number): Promise<boolean> {
    await this.ready();
    return this.keyv.set(key, data, ttlMs);
  }

  async add(key: string, data: string, ttlMs: number): Promise<boolean> {
    await this.ready();
    if (this.redis && this.adapter) {
      const options = ttlMs > 0 ? { NX: true, PX: ttlMs } as const : { NX: true } as const;
      return (await this.redis.set(this.rawKey(key), envelope(data, ttlMs), options)) === 'OK';
    }
    if (await this.keyv.has(key)) return false;
    return this.keyv.set(key, data, ttlMs);
  }

  async delete(key: string): Promise<boolean> {
    await this.ready();
    return this.keyv.delete(key);
  }

  async has(key: string): Promise<boolean> {
    await this.ready();
    return this.keyv.has(key);
  }

  async increment(key: string, delta: number, ttlMs: number): Promise<number> {
    await this.ready();
    if (this.redis && this.adapter) {
      try {
        const result = await this.redis.eval(INCREMENT_SCRIPT, {
          keys: [this.rawKey(key)],
          arguments: [String(delta), String(ttlMs)],
        });
        return Number(result);
      } catch (err) {
        if (err instanceof Error && err.message.includes('NOTANUMBER')) throw new NotANumberError(key);
        throw err;
      }
    }
    const current = await this.keyv.get<string>(key);
    let value = delta;
    if (current !== undefined && current !== null) {
      const number = Number(current.slice(1));
      if (current[0] !== 'j' || !Number.isSafeInteger(number)) throw new NotANumberError(key);
      value += number;
    }
    await this.keyv.set(key, 'j' + value, ttlMs);
    return value;
  }

  async clear(): Promise<void> {
    await this.ready();
    await this.keyv.clear();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.ownsConnection && this.redis && this.firstAttempt) await closeClient(this.redis, this.firstAttempt);
  }

  /** Waits out the first connection attempt; refuses work once closed (it would reconnect). */
  private async ready(): Promise<void> {
    await this.connecting;
    if (this.closed) throw new Error('the cache has been closed');
  }

  private rawKey(key: string): string {
    return this.adapter!.createKeyPrefix(key, this.keyv.namespace ?? this.adapter!.namespace);
  }
}

function isKeyv(source: unknown): source is Keyv {
  return typeof (source as Keyv).getManyRaw === 'function' && typeof (source as Keyv).opts === 'object';
}

function isRedisAdapter(store: unknown): store is KeyvRedis<string> {
  const adapter = store as KeyvRedis<string> | undefined;
  return typeof adapter?.createKeyPrefix === 'function' && typeof adapter.client === 'object' && adapter.client !== null;
}
