import { createHmac } from 'node:crypto';
import { isIP } from 'node:net';
import type { Context, Middleware } from 'koa';
import { csrfToken } from './csrf';
import { equalSecrets } from './equal-secrets';

const ADMIN_COOKIE = 'kfc_admin';

/**
 * Who may use the dashboard and `/metrics`. With an admin token: whoever sends it as
 * `Authorization: Bearer <token>` or logged in with it (a cookie); others get 401 and, in a
 * browser, the login form. Without one: requests from this machine only; others get 403.
 */
export function adminAccess(adminToken: string | undefined): Middleware {
  return async (ctx, next) => {
    if (adminToken === undefined ? fromThisMachine(ctx) : holdsToken(ctx, adminToken)) return next();
    if (adminToken === undefined) {
      ctx.status = 403;
      await ctx.render('error.njk', {
        title: 'Forbidden',
        message: 'The cache dashboard answers requests from this machine only. Set ADMIN_TOKEN to reach it from elsewhere.',
      });
      return;
    }
    ctx.status = 401;
    ctx.set('WWW-Authenticate', 'Bearer realm="cache dashboard"');
    await ctx.render('login.njk', { csrfToken: csrfToken(ctx) });
  };
}

/** Logs the browser in (the caller has checked the form is the app's own); false for a wrong token. */
export function logIn(ctx: Context, adminToken: string, typed: string): boolean {
  if (!equalSecrets(typed, adminToken)) return false;
  ctx.cookies.set(ADMIN_COOKIE, sessionValue(adminToken), { httpOnly: true, sameSite: 'strict', secure: ctx.secure, path: '/', overwrite: true });
  return true;
}

function holdsToken(ctx: Context, adminToken: string): boolean {
  const bearer = /^Bearer (.+)$/i.exec(ctx.get('Authorization'))?.[1];
  if (bearer !== undefined) return equalSecrets(bearer, adminToken);
  const cookie = ctx.cookies.get(ADMIN_COOKIE);
  return cookie !== undefined && equalSecrets(cookie, sessionValue(adminToken));
}

/**
 * The login cookie: derived from the token, so it never holds the token itself, and every worker
 * recognises it without sharing any state. Changing ADMIN_TOKEN logs everyone out.
 */
function sessionValue(adminToken: string): string {
  return createHmac('sha256', adminToken).update('koa-fragment-cache dashboard login').digest('base64url');
}

/**
 * Whether the request comes from this machine: the connection and every address a proxy says it
 * forwarded for. This reads the forwarding headers whatever `app.proxy` says: a proxy on this
 * machine passing on other machines' requests connects from loopback, and only those headers
 * tell. A client can add such headers only to look less trusted, never more.
 */
export function fromThisMachine(ctx: Context): boolean {
  return isLoopbackHost(ctx.get('Host')) && [ctx.req.socket.remoteAddress, ...forwardedAddresses(ctx)].every(isLoopback);
}

/**
 * Whether the Host header names this machine (`localhost`, a loopback address, with any port). A
 * page on another site whose name the attacker made resolve to 127.0.0.1 (DNS rebinding) sends its
 * own name as Host, and is refused. (A browser always sends one; a request without any is not that.)
 */
function isLoopbackHost(host: string): boolean {
  if (host === '') return true;
  const name = host.toLowerCase().replace(/:\d+$/, '');
  return name === 'localhost' || name.endsWith('.localhost') || name === '[::1]' || (isIP(name) === 4 && name.startsWith('127.'));
}

function forwardedAddresses(ctx: Context): string[] {
  const listed = [ctx.get('X-Forwarded-For'), ctx.get('X-Real-IP')].flatMap((value) => (value === '' ? [] : value.split(',')));
  const forwarded = [...ctx.get('Forwarded').matchAll(/for=("?)\[?([^\]";,]*)/gi)].map((match) => match[2]);
  return [...listed, ...forwarded].map((address) => address.trim());
}

function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  const ip = address.replace(/^::ffff:/i, '').replace(/^(\d+\.\d+\.\d+\.\d+):\d+$/, '$1');
  if (isIP(ip) === 4) return ip.startsWith('127.');
  return isIP(ip) === 6 && ip.replace(/^(0{0,4}:)+/, '::') === '::1';
}
