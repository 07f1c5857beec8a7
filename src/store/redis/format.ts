/**
 * How entries sit in Redis: `<keyPrefix>::<key>` holding keyv's JSON envelope
 * `{"value":"<encoded entry>","expires":<ms since the epoch>}` (`expires` absent = never), with a
 * Redis TTL as well. It is what the Keyv-based store of earlier versions wrote, so processes of
 * both kinds can share one Redis during an upgrade.
 */

/** One envelope. Encoded entries never start with ':' (keyv would escape that), so this is keyv's own form. */
export function envelope(data: string, ttlMs: number, now = Date.now()): string {
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
 */
export const INCREMENT_SCRIPT = `
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

/** `text` with the glob characters of SCAN's MATCH escaped, so that it matches only itself. */
export function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}
