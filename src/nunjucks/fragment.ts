import type { Entry } from '../core/codec';
import { timeoutToMs } from '../core/timeout';
import type { DigestEnvironment } from './digests';
import type { Scope, ScopedFrame } from './fragment-scope';
import type { Body, Callback, Place, Runtime } from './render-body';
import type { TagPlace } from './tag-arguments';
import type { Learned, TemplateContext } from './template-state';

/** Where a cache tag is: fixed when its template compiles (extension.ts). */
export interface Site extends TagPlace {
  /** The template's path (to resolve its dependencies from). */
  path: string | undefined;
  anonymousKey: string;
  /** A block name (`macro`…) as the Environment's delimiters write it. */
  block: (name: string) => string;
  /** A digest of the body as parsed, and the templates it depends on (see digests.ts). */
  bodyDigest: string;
  dependencies: string[];
  /** The request-state paths its vary arguments name (`user.id`, `user`): what the key covers already. */
  varied: string[];
}

/** The nunjucks Context a tag runs in. */
export interface Context extends TemplateContext {
  env: DigestEnvironment;
  getVariables(): Record<string, unknown>;
}

/** One run of a cache tag, its arguments checked: what delivering, rendering and storing it need (fragment-runtime.ts). */
export interface Fragment {
  key: string;
  name: string;
  site: Site;
  body: Body;
  context: Context;
  /** The frame at the tag: its body renders with a scope of its own on it, holes with it as parent. */
  frame: ScopedFrame;
  /** The scope of the fragment or page around this one, if any. */
  scope: Scope | undefined;
  timeout: unknown;
  tags: readonly string[] | undefined;
  /** Rendered fresh, neither read nor stored: a `'del'` timeout, or `unless=` true. */
  fresh: boolean;
  /** The digest of the templates this fragment renders from now. */
  digest: string;
  /** The request state its key says it varies by, as this request has it (template-state.ts). */
  learned: Learned | undefined;
  runtime: Runtime;
  place: Place;
  cb: Callback;
}

/**
 * The fragment's lifetime. A render computes it before the body runs: a number of seconds too long
 * to store fails there (the check of the tag's arguments lets numbers through, so that hits pay nothing).
 */
export function ttlOf(fragment: Fragment, defaultMs: number): number {
  return timeoutToMs(fragment.timeout as never, defaultMs, 'timeout');
}

/** The error of a fragment whose body waits where nunjucks cannot (`where`: a synchronous render, or a block name). */
export function cannotWait(runtime: Runtime, site: Site, where: string): Error {
  return runtime.handleError(
    `${site.tag} in ${site.template} line ${site.line} was reached where nunjucks cannot wait ` +
      `(${where === 'render' ? 'a render without a callback' : `inside ${site.block(where)}`}), and its body did not ` +
      'finish at once (an async filter or loader inside): render this template with a callback',
    site.line,
    site.column,
  );
}

/** What a debug marker says of the fragment. */
export function outcomeOf(fragment: Fragment, rendered: boolean): string {
  if (!rendered) return 'HIT';
  return fragment.timeout === 'del' ? 'DELETED' : fragment.fresh ? 'UNLESS' : 'MISS';
}

/** The fragment's HTML between comments naming it, unless it is part of an enclosing fragment. */
export function marked(entry: Entry, state: string, name: string, key: string, now: number, scope: Scope | undefined): string {
  const html = String(entry.value);
  if (scope?.fragment) return html;
  const age = entry.storedAt === undefined ? '' : ` age=${((now - entry.storedAt) / 1000).toFixed(1)}s`;
  const label = `${name} ${key}`.replace(/--/g, '- -');
  return `<!-- kfc ${state} ${label}${age} -->${html}<!-- /kfc ${name.replace(/--/g, '- -')} -->`;
}
