import { randomBytes } from 'node:crypto';
import type { Context } from 'koa';
import { equalSecrets } from './equal-secrets';
import { readUrlEncodedForm } from './form-body';

/** The hidden field every form of the app carries its token in. */
export const CSRF_FIELD = '_csrf';
const CSRF_COOKIE = 'kfc_csrf';

/**
 * The token this browser's forms carry: a random value kept in a SameSite=Strict, HttpOnly cookie
 * and repeated in each form (double submit). Another site can make the browser post a form, but can
 * neither read this cookie nor set it, so it cannot put the matching value in its form. Nothing
 * depends on a server secret: the app has no sessions to bind a signed token to, and every worker
 * of `WORKERS=N` accepts what any other one handed out.
 */
export function csrfToken(ctx: Context): string {
  const current = ctx.cookies.get(CSRF_COOKIE);
  if (current && current.length >= 32) return current;
  const token = randomBytes(24).toString('base64url');
  ctx.cookies.set(CSRF_COOKIE, token, { httpOnly: true, sameSite: 'strict', secure: ctx.secure, path: '/', overwrite: true });
  return token;
}

/**
 * The fields of a form posted from this app's own pages. Answers 403 when the browser says the
 * post comes from another site (`Sec-Fetch-Site`, `Origin`), or the form's token does not match
 * the cookie (a forged form, or cookies that were cleared).
 */
export async function readOwnForm(ctx: Context): Promise<URLSearchParams> {
  if (isCrossSite(ctx)) ctx.throw(403, 'This form was sent from another site, so it was refused.');
  const fields = await readUrlEncodedForm(ctx);
  const cookie = ctx.cookies.get(CSRF_COOKIE);
  const sent = fields.get(CSRF_FIELD);
  if (!cookie || !sent || !equalSecrets(cookie, sent)) {
    ctx.throw(403, 'This form has no valid security token (it may be from another site, or your cookies were cleared). Reload the page and try again.');
  }
  return fields;
}

/** What the browser says about where the request comes from; older clients say nothing. */
function isCrossSite(ctx: Context): boolean {
  const site = ctx.get('Sec-Fetch-Site');
  // 'none' is the user's own doing (a bookmark, the address bar); 'same-site' is a sibling subdomain.
  if (site !== '' && site !== 'same-origin' && site !== 'none') return true;
  const origin = ctx.get('Origin');
  if (origin === '') return false;
  try {
    // Hosts only: behind a TLS proxy the app may see http where the browser says https.
    return new URL(origin).host !== ctx.host;
  } catch {
    return true; // `Origin: null` (sandboxed frames, some redirects) cannot prove anything
  }
}
