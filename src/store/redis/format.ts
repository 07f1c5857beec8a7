/**
 * How entries sit in Redis: `<keyPrefix>::<key>` holding keyv's JSON envelope
 * `{"value":"<encoded entry>","expires":<ms since the epoch>}` (`expires` absent = never), with a
 * Redis TTL as well. It is what the Keyv-based store of earlier versions wrote, so processes of
 * both kinds can share one Redis during an upgrade.
 */

/** One envelope, expiring `ttlMs` after `now` (the cache's clock). Encoded entries never start with ':' (keyv would escape that), so this is keyv's own form. */
export function envelope(data: string, ttlMs: number, now: number): string {
  return ttlMs > 0 ? `{"value":${JSON.stringify(data)},"expires":${now + ttlMs}}` : `{"value":${JSON.stringify(data)}}`;
}

export interface Stored {
  data: string;
  /** When it expires (ms since the epoch); absent = never. */
  expiresAt?: number;
}

/** An envelope read back; undefined when absent, past its expiry, or not one (then `onForeign` hears of it). */
export function openEnvelope(raw: string | null | undefined, now: number, onForeign: (raw: string) => void): Stored | undefined {
  if (raw === null || raw === undefined) return undefined;
  let parsed: { value?: unknown; expires?: unknown };
  try {
    parsed = JSON.parse(raw) as typeof parsed;
  } catch {
    onForeign(raw);
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || typeof parsed.value !== 'string') {
    onForeign(raw);
    return undefined;
  }
  const expiresAt = typeof parsed.expires === 'number' ? parsed.expires : undefined;
  if (expiresAt !== undefined && expiresAt <= now) return undefined;
  return { data: parsed.value, expiresAt };
}

/**
 * INCRBY on a value inside the envelope, atomically. Keeps the entry's expiry; a new entry gets
 * ARGV[2] ms. Returns the new value, or an error reply when the entry is not an integer.
 *
 * Fenced (KEYS[2], an operation's marker, kept ARGV[3] ms): applied only if no cancel of that
 * operation came first. `CANCEL_INCREMENT_SCRIPT` marks it cancelled, and undoes it if it was
 * applied: an increment reported failed never shows up, however late it reaches Redis.
 */
const INCREMENT_BODY = `
local function increment(key, delta, ttlArg)
local raw = redis.call('GET', key)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = tonumber(delta)
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
    redis.call('SET', key, out .. '}', 'KEEPTTL')
  end
end
if not raw then
  local ttl = tonumber(ttlArg)
  if ttl > 0 then
    redis.call('SET', key, '{"value":"j' .. string.format('%d', n) .. '","expires":' .. string.format('%d', now + ttl) .. '}', 'PX', ttl)
  else
    redis.call('SET', key, '{"value":"j' .. string.format('%d', n) .. '"}')
  end
end
return string.format('%d', n)
end
`;

export const INCREMENT_SCRIPT = `${INCREMENT_BODY}
if KEYS[2] and not redis.call('SET', KEYS[2], 'applied', 'NX', 'PX', ARGV[3]) then return redis.error_reply('CANCELLED') end
return increment(KEYS[1], ARGV[1], ARGV[2])
`;

/** Cancels the fenced increment whose marker is KEYS[2]: undoes ARGV[1] on KEYS[1] if it was applied. */
export const CANCEL_INCREMENT_SCRIPT = `${INCREMENT_BODY}
if redis.call('SET', KEYS[2], 'cancelled', 'PX', ARGV[2], 'GET') == 'applied' then increment(KEYS[1], -tonumber(ARGV[1]), 0) end
return 1
`;

/**
 * The key of an increment's marker: in the slot of `key` on a cluster (its hash tag, or all of it
 * as one), or undefined when `key` has braces that make that impossible to tell.
 */
export function markerKey(key: string, op: string): string | undefined {
  const open = key.indexOf('{');
  const close = open < 0 ? -1 : key.indexOf('}', open + 1);
  if (close > open + 1) return `${key}:op:${op}`;
  return key.includes('{') || key.includes('}') ? undefined : `{${key}}:op:${op}`;
}

/** `text` with the glob characters of SCAN's MATCH escaped, so that it matches only itself. */
export function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}
