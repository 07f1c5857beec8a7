import { Readable } from 'node:stream';
import type { Context } from 'koa';

/**
 * What Koa will send for `ctx.body` — a string as it is (its UTF-8 bytes are what is sent), else
 * the bytes — or undefined when it cannot be stored: more than `maxBytes`, no body (Koa makes one
 * up), or a kind the cache does not buffer (Blob, web streams, fetch Responses).
 * A Node stream is read into memory and `ctx.body` becomes the Buffer; a stream found too large is
 * put back together on `ctx.body`, so the client still gets all of it.
 */
export function storableBody(ctx: Context, maxBytes: number): Buffer | string | undefined | Promise<Buffer | undefined> {
  const body: unknown = ctx.body;
  // A UTF-8 character takes at most 3 bytes per UTF-16 unit: most pages need no count at all.
  if (typeof body === 'string') return body.length * 3 <= maxBytes || Buffer.byteLength(body) <= maxBytes ? body : undefined;
  // Only a stream is waited for.
  if (body instanceof Readable) return bufferStream(ctx, body, maxBytes).then((bytes) => (bytes !== undefined && bytes.length <= maxBytes ? bytes : undefined));
  const bytes = toBytes(body);
  return bytes !== undefined && bytes.length <= maxBytes ? bytes : undefined;
}

function toBytes(body: unknown): Buffer | undefined {
  if (body === null || body === undefined) return undefined;
  if (Buffer.isBuffer(body)) return body;
  if (isOtherBodyKind(body)) return undefined;
  return Buffer.from(JSON.stringify(body)); // what Koa sends for an object
}

function isOtherBodyKind(body: unknown): boolean {
  return body instanceof Blob || body instanceof ReadableStream || body instanceof Response || typeof (body as { pipe?: unknown }).pipe === 'function';
}

async function bufferStream(ctx: Context, stream: Readable, maxBytes: number): Promise<Buffer | undefined> {
  const { chunks, complete } = await readUpTo(stream, maxBytes);
  if (complete) {
    const bytes = Buffer.concat(chunks);
    ctx.body = bytes;
    return bytes;
  }
  ctx.body = Readable.from(
    (async function* rest() {
      yield* chunks;
      yield* stream;
    })(),
  );
  return undefined;
}

/** Reads `stream` until it ends or has given more than `maxBytes`, leaving it paused in that case. */
function readUpTo(stream: Readable, maxBytes: number): Promise<{ chunks: Buffer[]; complete: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = () => stream.off('data', onData).off('end', onEnd).off('error', onError);
    const finish = (complete: boolean) => {
      stop();
      resolve({ chunks, complete });
    };
    const onError = (err: unknown) => {
      stop();
      reject(err);
    };
    const onData = (chunk: Buffer | string) => {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      chunks.push(bytes);
      size += bytes.length;
      if (size > maxBytes) {
        stream.pause();
        finish(false);
      }
    };
    const onEnd = () => finish(true);
    stream.on('data', onData).once('end', onEnd).once('error', onError);
  });
}
