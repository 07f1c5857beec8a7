import type { Context } from 'koa';

/** Cache-Control directives of a response that mean "not for a shared cache". */
const PRIVATE_DIRECTIVES = new Set(['private', 'no-store', 'no-cache']);

export interface RequestRules {
  methods: ReadonlySet<string>;
  allowAuthorization: boolean;
  unless?: (ctx: Context) => boolean;
}

/** Whether the cache stays out of this request entirely (no lookup, no store). */
export function bypassesCache(ctx: Context, rules: RequestRules): boolean {
  if (!rules.methods.has(ctx.method)) return true;
  // Authorized responses are per user: only a route that says otherwise shares them.
  if (!rules.allowAuthorization && ctx.get('authorization') !== '') return true;
  return rules.unless?.(ctx) === true;
}

/**
 * Whether the response on `ctx` may be stored and served to other requests. Refused: anything
 * setting a cookie, marked `private`/`no-store`/`no-cache`, `Vary: *`, a status not in `statuses`,
 * and responses written around Koa (nothing to capture).
 */
export function isStorableResponse(ctx: Context, statuses: ReadonlySet<number>): boolean {
  if (!statuses.has(ctx.status) || ctx.headerSent || ctx.respond === false) return false;
  if (ctx.res.hasHeader('Set-Cookie')) return false;
  if (headerTokens(ctx.res.getHeader('Cache-Control')).some((directive) => PRIVATE_DIRECTIVES.has(directive.split('=')[0]))) {
    return false;
  }
  return !responseVary(ctx).includes('*');
}

/** The request headers the response's `Vary` names, lower-cased. */
export function responseVary(ctx: Context): string[] {
  return headerTokens(ctx.res.getHeader('Vary'));
}

/** A comma-separated header's items, trimmed and lower-cased. */
function headerTokens(value: string | string[] | number | undefined): string[] {
  if (value === undefined || value === '') return [];
  const text = Array.isArray(value) ? value.join(',') : String(value);
  return text
    .split(',')
    .map((token) => token.trim().toLowerCase())
    .filter((token) => token !== '');
}
