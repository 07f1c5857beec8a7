import { createHash, randomUUID } from 'node:crypto';
import { decode, encode } from '../core/codec';
import type { Instrumentation } from '../core/events';
import type { CacheKind } from '../core/outcomes';
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
 * current render (the request's, and those around the outermost cache tag), and the loop and
 * `{% set %}` variables of the cached body it names, as they were when the HTML was rendered: those
 * travel in its placeholder, encoded as values are stored. (A page stored by `cached()` is all cached
 * body: its holes see `ctx.state`, and what the page template set is as it was for the first render.)
 */
export interface HoleSite {
  key: string;
  template: string;
  line: number;
  /** The hole's body as written, padded so that its errors name the template's own lines. */
  source: string;
  /** The template's path, for error messages. */
  path: string | undefined;
  /** The names the hole's body uses: those found in the frame travel with its placeholder. */
  names: string[];
  /** The Template and Frame classes of the nunjucks copy that parsed it. */
  Template: new (source: string, env: unknown, path?: string) => RenderableTemplate;
  Frame: new (parent?: HoleFrame) => HoleFrame;
}

/** A nunjucks frame, as holes read and build them. */
export interface HoleFrame {
  parent?: HoleFrame;
  variables: Record<string, unknown>;
  kfcScope?: Scope;
  set(name: string, value: unknown): void;
}

export interface RenderableTemplate {
  render(variables: object, ...rest: unknown[]): unknown;
}

type Done = (err: unknown, html?: string) => void;

const PLACEHOLDER = /<!--kfc-hole ([0-9a-f]{32}) (h[\w-]{16})(?: ([\w-]+))?-->/g;

/** A hole's key: the same in every process running the same template. */
export function holeKey(template: string, line: number, column: number, source: string): string {
  return 'h' + createHash('sha256').update(`${template}:${line}:${column}:${source}`).digest('base64url').slice(0, 16);
}

/**
 * The placeholder of hole `site` in what `scope` renders (drawing the scope's nonce on first use),
 * carrying the values `frame` holds of the names the hole uses.
 */
export function placeholder(scope: Scope, site: HoleSite, frame: HoleFrame): string {
  scope.nonce ??= randomUUID().replace(/-/g, '');
  scope.holes.add(scope.nonce);
  // The cached body's frames: from the hole's up to the one holding the outermost collecting scope.
  let boundary: HoleFrame | undefined;
  for (let at: HoleFrame | undefined = frame; at; at = at.parent) if (at.kfcScope?.collectsHoles) boundary = at;
  const variables: Record<string, unknown> = {};
  let any = false;
  const setInside = (at: HoleFrame, name: string) => at !== boundary || !at.kfcScope!.before?.has(name);
  for (const name of site.names) {
    for (let at: HoleFrame | undefined = frame; at; at = at === boundary ? undefined : at.parent) {
      if (!(name in at.variables)) continue;
      if (setInside(at, name)) {
        variables[name] = at.variables[name];
        any = true;
      }
      break;
    }
  }
  const carried = any ? ` ${Buffer.from(encode(`the variables of {% nocache %} in ${site.template} line ${site.line}`, variables)).toString('base64url')}` : '';
  return `<!--kfc-hole ${scope.nonce} ${site.key}${carried}-->`;
}

/**
 * The holes of one extension: their sites, and each compiled once per Environment as a template of
 * its own (so a hit can render it without running the cached body). Each render is counted as the
 * outcome `hole` of the fragment or response (`kind`) it fills.
 */
export class Holes {
  readonly #sites = new Map<string, HoleSite>();
  readonly #compiled = new WeakMap<object, Map<string, RenderableTemplate>>();
  readonly #events: Pick<Instrumentation, 'record'>;

  constructor(events: Pick<Instrumentation, 'record'>) {
    this.#events = events;
  }

  add(site: HoleSite): void {
    this.#sites.set(site.key, site);
  }

  site(key: string): HoleSite | undefined {
    return this.#sites.get(key);
  }

  /**
   * Renders hole `key` with `variables`, and `frame` as its parent frame — the one it stands in when
   * rendered in place, the one at the cache tag when filled — with what its placeholder carried
   * (`carried`) in a frame between them.
   */
  render(key: string, env: object, variables: object, frame: HoleFrame | undefined, kind: CacheKind, done: Done, carried?: string): void {
    const site = this.#sites.get(key);
    // Counted in stats by where it is, as anonymous fragments are.
    this.#events.record('hole', kind, key, site ? `${site.template}:${site.line} (nocache)` : key);
    if (!site) return done(new Error(`a {% nocache %} placeholder names a hole this process does not know (${key}): templates differ between processes?`));
    if (carried !== undefined) {
      frame = new site.Frame(frame);
      for (const [name, value] of Object.entries(decode(Buffer.from(carried, 'base64url').toString()) as object)) frame.set(name, value);
    }
    let templates = this.#compiled.get(env);
    if (!templates) this.#compiled.set(env, (templates = new Map()));
    let template = templates.get(key);
    if (!template) templates.set(key, (template = new site.Template(site.source, env, site.path)));
    if (frame) template.render(variables, frame, done);
    else template.render(variables, done);
  }

  /** `html` with every placeholder of `nonces` filled by rendering its hole (see `render`): synchronously when no hole waits. */
  fill(html: string, nonces: readonly string[], env: object, variables: object, frame: HoleFrame | undefined, kind: CacheKind, done: Done): void {
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
      this.render(match[2], env, variables, frame, kind, (err, filled) => {
        if (failed) return;
        if (err) {
          failed = true;
          return done(err);
        }
        parts[slot] = filled ?? '';
        finish();
      }, match[3]);
    }
    parts.push(html.slice(last));
    finish();
  }
}
