import type { Context } from 'koa';

/** Fastly and Cloudflare: a key (tag) is at most 1024 bytes, the header at most 16 KiB. */
const MAX_KEY_BYTES = 1024;
const MAX_HEADER_BYTES = 16 * 1024;

/**
 * The `Surrogate-Key` / `Cache-Tag` headers for `tags`, within the CDNs' documented limits: a tag
 * that is too long or cannot be one (whitespace or a comma would split it) is dropped, and so are
 * the tags past the header's length; `dropped` counts them (reported by the caller).
 */
function surrogateHeaders(tags: Iterable<string>): { surrogateKey: string; cacheTag: string; dropped: number } {
  const kept: string[] = [];
  let bytes = 0;
  let dropped = 0;
  for (const tag of new Set(tags)) {
    const size = Buffer.byteLength(tag);
    if (size > MAX_KEY_BYTES || /[\s,]/.test(tag) || bytes + size + 1 > MAX_HEADER_BYTES) {
      dropped++;
      continue;
    }
    kept.push(tag);
    bytes += size + 1;
  }
  return { surrogateKey: kept.join(' '), cacheTag: kept.join(','), dropped };
}

/** Sets `Surrogate-Key` and `Cache-Tag` for `tags`, reporting the tags the CDNs' limits leave out. */
export function setSurrogateKeys(ctx: Context, tags: string[]): void {
  if (tags.length === 0) return;
  const { surrogateKey, cacheTag, dropped } = surrogateHeaders(tags);
  if (surrogateKey !== '') ctx.set({ 'Surrogate-Key': surrogateKey, 'Cache-Tag': cacheTag });
  if (dropped > 0) {
    ctx.app.emit('error', new Error(`surrogateKeys: ${dropped} tag(s) left out of Surrogate-Key/Cache-Tag (longer than 1024 bytes, with whitespace or commas, or past 16 KiB)`), ctx);
  }
}
