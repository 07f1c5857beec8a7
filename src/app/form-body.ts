import type { Context } from 'koa';

/** Forms in this app are a few fields; anything larger is not one of ours. */
const MAX_FORM_BYTES = 64 * 1024;

/**
 * The fields of an `application/x-www-form-urlencoded` request body. Answers 415 for another
 * content type and 413 for a body over 64 KiB.
 */
export async function readUrlEncodedForm(ctx: Context): Promise<URLSearchParams> {
  if (!ctx.is('application/x-www-form-urlencoded')) ctx.throw(415, 'expected a URL-encoded form');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_FORM_BYTES) ctx.throw(413, 'form too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}
