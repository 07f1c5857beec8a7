import { createHash, randomUUID } from 'node:crypto';
import type { Scope } from './fragment-scope';

/**
 * `{% nocache %}…{% endnocache %}`: a hole in cached HTML (donut caching). Inside anything that is
 * stored — a fragment's body, a page `cached()` will store — the hole is written as a placeholder,
 * `<!--kfc-hole <nonce> <site>-->`, and every delivery of the stored HTML fills each placeholder by
 * rendering the hole's own source with the render's current variables: the per-visitor bit (a name,
 * a cart count, a CSRF token) is never stored. Elsewhere the hole renders in place the same way.
 *
 * The nonce is drawn for each stored piece of HTML and kept in its entry: HTML that carries no such
 * nonce (a product description someone typed) cannot place a hole. A hole sees the variables of the
 * render (and, in a fragment, the frame at the cache tag: loop variables around it), not variables
 * set inside the cached body, which a hit never runs.
 */
export interface HoleSite {
  key: string;
  template: string;
  line: number;
  /** The hole's body as written, padded so that its errors name the template's own lines. */
  source: string;
  /** The template's path, for error messages. */
  path: string | undefined;
  /** The Template class of the nunjucks copy that parsed it. */
  Template: new (source: string, env: unknown, path?: string) => RenderableTemplate;
}

export interface RenderableTemplate {
  render(variables: object, ...rest: unknown[]): unknown;
}

type Done = (err: unknown, html?: string) => void;

const PLACEHOLDER = /<!--kfc-hole ([0-9a-f]{32}) (h[\w-]{16})-->/g;

/** A hole's key: the same in every process running the same template. */
export function holeKey(template: string, line: number, column: number, source: string): string {
  return 'h' + createHash('sha256').update(`${template}:${line}:${column}:${source}`).digest('base64url').slice(0, 16);
}

/** The placeholder of hole `key` in what `scope` renders (drawing the scope's nonce on first use). */
export function placeholder(scope: Scope, key: string): string {
  scope.nonce ??= randomUUID().replace(/-/g, '');
  scope.holes.add(scope.nonce);
  return `<!--kfc-hole ${scope.nonce} ${key}-->`;
}

/**
 * The holes of one extension: their sites, and each compiled once per Environment as a template of
 * its own (so a hit can render it without running the cached body).
 */
export class Holes {
  readonly #sites = new Map<string, HoleSite>();
  readonly #compiled = new WeakMap<object, Map<string, RenderableTemplate>>();

  add(site: HoleSite): void {
    this.#sites.set(site.key, site);
  }

  /** Renders hole `key` with `variables` (and, if given, `frame` as its parent frame). */
  render(key: string, env: object, variables: object, frame: unknown, done: Done): void {
    const site = this.#sites.get(key);
    if (!site) return done(new Error(`a {% nocache %} placeholder names a hole this process does not know (${key}): templates differ between processes?`));
    let templates = this.#compiled.get(env);
    if (!templates) this.#compiled.set(env, (templates = new Map()));
    let template = templates.get(key);
    if (!template) templates.set(key, (template = new site.Template(site.source, env, site.path)));
    if (frame) template.render(variables, frame, done);
    else template.render(variables, done);
  }

  /** `html` with every placeholder of `nonces` filled by rendering its hole: synchronously when no hole waits. */
  fill(html: string, nonces: readonly string[], render: (key: string, done: Done) => void, done: Done): void {
    const parts: string[] = [];
    let last = 0;
    let pending = 1;
    let failed = false;
    const finish = () => {
      if (--pending === 0 && !failed) done(null, parts.join(''));
    };
    for (const match of html.matchAll(PLACEHOLDER)) {
      if (!nonces.includes(match[1])) continue;
      parts.push(html.slice(last, match.index));
      const slot = parts.push('') - 1;
      last = match.index! + match[0].length;
      pending++;
      render(match[2], (err, filled) => {
        if (failed) return;
        if (err) {
          failed = true;
          return done(err);
        }
        parts[slot] = filled ?? '';
        finish();
      });
    }
    parts.push(html.slice(last));
    finish();
  }
}
