import type { AstNode, NodeTypes } from './nunjucks-copy';
import type { Runtime } from './render-body';
import { validateTags } from '../core/tags';

/**
 * The arguments of a `{% cache %}` call, by position. The parser puts the first four before what the
 * tag was written with; the loop rewrite reads the key arguments to compute keys before the loop
 * runs; compiled templates pass them all to the runtime (after nunjucks' `context`, and followed by
 * the body and nunjucks' callback, which nunjucks appends):
 *
 *   runtime, place, frame, site, timeout, name?, …vary, keywords?
 *
 * `{% nocache %}` takes the first four only. Every reader of these positions uses the names below.
 */

/** The `runtime` of the nunjucks copy rendering the template (`KfcRuntime`). */
export const RUNTIME = 0;
/** A function placing an error at the template's current line (`KfcPlace`). */
export const PLACE = 1;
/** The frame at the tag (`KfcFrame`). */
export const FRAME = 2;
/** The site's key, a literal: the tag's `Site` (extension.ts) for a cache tag, the hole's key for `{% nocache %}`. */
export const SITE = 3;
export const TIMEOUT = 4;
/** Absent for an anonymous fragment. */
export const NAME = 5;
/** The first vary value. */
export const VARY = 6;

/**
 * A cache tag's key as a loop computes it before it runs (collection multi-get), one per tag and
 * item: `[site, name?, …vary]`.
 */
export const AHEAD_SITE = 0;
export const AHEAD_NAME = 1;

/** The arguments the parser puts first: the rendering copy's runtime, an error placer, the frame, the site. */
export function siteArguments(nodes: NodeTypes, tag: { lineno: number; colno: number }, key: string): AstNode[] {
  const leading: AstNode[] = [];
  leading[RUNTIME] = new nodes.KfcRuntime(tag.lineno, tag.colno);
  leading[PLACE] = new nodes.KfcPlace(tag.lineno, tag.colno);
  leading[FRAME] = new nodes.KfcFrame(tag.lineno, tag.colno);
  leading[SITE] = new nodes.Literal(tag.lineno, tag.colno, key);
  return leading;
}

/** The site key of a parsed cache tag (a `KfcCache` node). */
export function siteOf(tag: AstNode): string {
  return tag.args.children[SITE].value as string;
}

/** The expressions of a parsed cache tag's name and vary values, in order. */
export function keyArguments(tag: AstNode): AstNode[] {
  return positional(tag).slice(NAME);
}

/** The expressions of a parsed cache tag's vary values. */
export function varyArguments(tag: AstNode): AstNode[] {
  return positional(tag).slice(VARY);
}

function positional(tag: AstNode): AstNode[] {
  return (tag.args.children as AstNode[]).filter((arg) => arg.typename !== 'KeywordArgs');
}

/** The expression a keyword argument of a parsed cache tag is given, if it is. */
export function keywordOf(tag: AstNode, name: string): AstNode | undefined {
  const keywords = (tag.args.children as AstNode[]).find((child) => child.typename === 'KeywordArgs');
  return keywords?.children?.find((pair: AstNode) => pair.key?.value === name)?.value as AstNode | undefined;
}

/** The tag's keyword arguments as it runs: `tags=[…]`, `unless=<expression>` (`depends=[…]` is read when parsing). */
export interface Keywords {
  tags?: readonly string[];
  unless: boolean;
}

const KEYWORDS = new Set(['__keywords', 'tags', 'unless', 'depends']);

/** The object nunjucks passes last for keyword arguments, if `value` is it. */
export function isKeywords(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && Boolean((value as { __keywords?: boolean }).__keywords);
}

export function checkedKeywords(keywords: Record<string, unknown>): Keywords {
  const unknown = Object.keys(keywords).filter((k) => !KEYWORDS.has(k));
  if (unknown.length > 0) throw new Error(`unknown keyword argument ${unknown.join(', ')} (the keywords are tags=[…], unless=… and depends=[…])`);
  return { tags: 'tags' in keywords ? validateTags(keywords.tags, 'the fragment') : undefined, unless: Boolean(keywords.unless) };
}

/** Where a tag is, as its errors name it. */
export interface TagPlace {
  /** The tag as the Environment's delimiters write it, e.g. `{% cache %}`. */
  tag: string;
  template: string;
  line: number;
  column: number;
}

/** The argument at position `at` (`VARY` or later) is a vary value that is undefined. */
export function undefinedVary(at: number, site: TagPlace): Error {
  return new TypeError(
    `vary value ${at - NAME} (argument ${at - TIMEOUT + 1} of ${site.tag}) is undefined: a misspelt variable? ` +
      'Pass none explicitly for "no value" (`user.id if user else none`); undefined would share one entry between all values',
  );
}

/** An error of the tag's own arguments, placed at the tag (in the copy of nunjucks rendering it). */
export function atSite(runtime: Runtime, err: unknown, site: TagPlace): Error {
  const message = err instanceof Error ? err.message : String(err);
  return runtime.handleError(`${site.tag} in ${site.template} line ${site.line}: ${message}`, site.line, site.column);
}
