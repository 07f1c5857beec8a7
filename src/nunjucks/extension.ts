import { createHash } from 'node:crypto';
import type { Cache } from '../cache';
import { expectTags } from '../core/dependencies';
import { digestIfLong } from '../core/keys';
import { engineOf } from '../core/registry';
import { checkedStatePaths, stateName } from '../core/state-reads';
import { astDigest, staticDependencies, TemplateDigests } from './digests';
import type { Site } from './fragment';
import { FragmentRuntime, type Parsed } from './fragment-runtime';
import { Holes, holeKey, type HoleFrame, type RenderableTemplate } from './holes';
import { currentTemplate, installHooks, templateName } from './hooks';
import { callerCopy, ownCopy, type AstNode, type NodeTypes, type NunjucksCopy } from './nunjucks-copy';
import { PageRenderer } from './page-renderer';
import { keywordOf, siteArguments, siteOf, varyArguments } from './tag-arguments';

export interface CacheExtensionOptions {
  /**
   * Wrap each fragment in HTML comments saying its key, HIT/MISS and age, to see in the page
   * source what came from the cache. Fragments inside another fragment are part of its HTML and
   * are not wrapped. For development: it costs a string per fragment.
   */
  debugMarkers?: boolean;
  /**
   * Paths of `ctx.state` that are the same for every visitor (`'site'`, `'nav.items'`): a fragment
   * body reading them is not kept per value of them. Everything else a body reads of the request
   * state `views()` renders with is.
   */
  sharedState?: readonly string[];
}

/**
 * `{% cache timeout [, name [, vary…]] [, tags=[…]] [, unless=…] [, depends=[…]] %}…{% endcache %}`:
 * renders its body once and serves the stored HTML until `timeout` (seconds, a duration string,
 * `none` = the cache's default, `0` = forever) runs out. Named fragments store under
 * `makeTemplateFragmentKey(name, [vary…])`; without a name the key is derived from the template's
 * name, the tag's position and a digest of the template's source. A `'del'` timeout deletes the
 * entry and renders the body fresh, uncached. `tags=[…]` makes the fragment a miss once any tag is
 * invalidated; `unless=` true renders it fresh without reading or storing; `depends=[…]` names
 * templates it depends on that a dynamic include hides (see digests.ts). `{% nocache %}` blocks
 * inside stay holes, rendered on every delivery (see holes.ts).
 *
 * Add it to any nunjucks Environment: `env.addExtension('CacheExtension', new CacheExtension(cache))`.
 */
export class CacheExtension {
  // The parser: it fills the sites and holes as templates compile. Rendering them is the runtime's
  // (fragment-runtime.ts), rendering pages the page renderer's (page-renderer.ts).
  readonly tags = ['cache', 'nocache'];
  /** @internal what compiled templates call (compile-nodes.ts). */
  readonly fragmentRuntime: FragmentRuntime;
  /** @internal what `views()` renders pages with. */
  readonly pages: PageRenderer;
  readonly #sites = new Map<string, Site>();
  readonly #holes: Holes;
  readonly #digests = new TemplateDigests();
  readonly #sourceDigests = new WeakMap<object, string>();
  #copy: NunjucksCopy = ownCopy();
  #name = 'CacheExtension';

  constructor(cache: Cache, options: CacheExtensionOptions = {}) {
    const engine = engineOf(cache, 'CacheExtension');
    this.#holes = new Holes(engine.events);
    const parsed: Parsed = { sites: this.#sites, holes: this.#holes, digests: this.#digests };
    this.fragmentRuntime = new FragmentRuntime(engine, parsed, options.debugMarkers === true);
    this.pages = new PageRenderer(parsed, checkedStatePaths(options.sharedState, 'sharedState of CacheExtension'), () => this.#copy);
  }

  /**
   * @internal nunjucks' `addExtension(name, ext)` sets this, and compiled templates find the
   * extension by it. Setting it is also the moment to prepare the nunjucks copy of that Environment.
   */
  get __name(): string {
    return this.#name;
  }

  /** @internal */
  set __name(name: string) {
    this.#copy = callerCopy() ?? ownCopy();
    installHooks(this.#copy, isCacheExtension);
    this.#name = name;
  }

  /** nunjucks' parser calls it for `{% cache … %}` and `{% nocache %}` (its `Extension` interface). */
  parse(parserOfNunjucks: unknown, nodesOfNunjucks: unknown): unknown {
    const parser = parserOfNunjucks as any;
    const nodes = nodesOfNunjucks as NodeTypes;
    if (!nodes.KfcCache) {
      throw new Error(
        `the cache extension was given to an Environment whose nunjucks copy koa-fragment-cache has not prepared ` +
          `(koa-fragment-cache uses nunjucks at ${ownCopy().root}); add it with env.addExtension(name, extension)`,
      );
    }
    const tag = parser.nextToken();
    const { BLOCK_START: start, BLOCK_END: end } = parser.tokens.tags as { BLOCK_START: string; BLOCK_END: string };
    const block = (name: string) => `${start} ${name} ${end}`;
    const template = currentTemplate();
    const args = parser.parseSignature(null, true);
    parser.advanceAfterBlockEnd(tag.value);
    if (tag.value === 'nocache') return this.#parseHole(parser, nodes, tag, args, block, template);
    if (args.children.length === 0) {
      parser.fail(`${block('cache')} needs a timeout: ${start} cache timeout [, name [, vary…]] ${end}`, tag.lineno, tag.colno);
    }
    const body = parser.parseUntilBlocks('endcache');
    if (!parser.peekToken()) parser.fail(`${block('cache')} opened on line ${tag.lineno + 1} has no ${block('endcache')}`, tag.lineno, tag.colno);
    parser.advanceAfterBlockEnd();

    const name = templateName(template) ?? '(string)';
    const [line, column] = [tag.lineno + 1, tag.colno + 1];
    const anonymousKey = digestIfLong(`fragment@${name}:${line}:${column}:${this.#sourceDigest(parser)}`);
    args.children.unshift(...siteArguments(nodes, tag, anonymousKey));
    const node: AstNode = new nodes.KfcCache(this, 'cache', args, [body]);
    const site: Site = {
      template: name,
      path: template?.path,
      line,
      column,
      anonymousKey,
      tag: block('cache'),
      block,
      bodyDigest: astDigest(body),
      dependencies: [...new Set([...staticDependencies(body), ...declaredDependencies(parser, node, block, tag)])].sort(),
      varied: varyArguments(node).flatMap((arg) => {
        const path = lookupPath(arg);
        return path ? [stateName(['state', ...path])] : [];
      }),
    };
    // Pages will depend on its tags: responses collect tags from now on (core/dependencies.ts).
    if (keywordOf(node, 'tags')) expectTags();
    this.#sites.set(anonymousKey, site);
    return node;
  }

  /** `{% nocache %}…{% endnocache %}`: its body, parsed for errors, kept as source to render on its own. */
  #parseHole(parser: any, nodes: NodeTypes, tag: any, args: AstNode, block: (name: string) => string, template: ReturnType<typeof currentTemplate>): AstNode {
    if (args.children!.length > 0) parser.fail(`${block('nocache')} takes no arguments`, tag.lineno, tag.colno);
    const str: string = parser.tokens.str;
    const { BLOCK_START: start, BLOCK_END: end, COMMENT_START: commentStart, COMMENT_END: commentEnd } = parser.tokens.tags;
    const from: number = parser.tokens.index;
    const body = parser.parseUntilBlocks('endnocache');
    if (!parser.peekToken()) parser.fail(`${block('nocache')} opened on line ${tag.lineno + 1} has no ${block('endnocache')}`, tag.lineno, tag.colno);
    const to = str.lastIndexOf(start, parser.tokens.index);
    parser.advanceAfterBlockEnd();
    let source = str.slice(from, to);
    // As nunjucks' whitespace control and options would have trimmed it in place.
    if (str.slice(from - end.length - 1, from) === `-${end}` || (parser.tokens.trimBlocks && source.startsWith('\n'))) source = source.replace(/^\s*/, '');
    if (str.slice(to, to + start.length + 1) === `${start}-`) source = source.trimEnd();
    else if (parser.tokens.lstripBlocks) source = source.replace(/[ \t]*$/, '');
    const name = templateName(template) ?? '(string)';
    const key = holeKey(name, tag.lineno + 1, tag.colno + 1, source);
    // Padded with a comment as many lines long as what precedes it: its errors name the template's lines.
    const lines = str.slice(0, from).split('\n').length - 1;
    this.#holes.add({
      key,
      template: name,
      line: tag.lineno + 1,
      source: `${commentStart}${'\n'.repeat(lines)}${commentEnd}${source}`,
      path: template?.path,
      names: symbolsIn(body),
      Template: this.#copy.Template as unknown as new (source: string, env: unknown, path?: string) => RenderableTemplate,
      Frame: this.#copy.runtime.Frame as unknown as new () => HoleFrame,
    });
    return new nodes.KfcHole(this, 'hole', new nodes.NodeList(tag.lineno, tag.colno, siteArguments(nodes, tag, key)), []);
  }

  /** @internal the rewrite found this tag inside a body nunjucks runs synchronously. */
  refuse(tag: AstNode, what: string, template: string): never {
    const site = this.#sites.get(siteOf(tag))!;
    const message =
      `${site.tag} in ${template} line ${site.line} cannot be used inside ${site.block(what)}: nunjucks cannot ` +
      `run an async tag there and would drop output. Move the cache block outside the ${what}.`;
    throw new (ownCopy().lib.TemplateError)(message, site.line, site.column);
  }

  /** @internal told by the parse hook of every template an Environment holding the extension compiles. */
  compiled(template: object, root: AstNode): void {
    this.#digests.recordDependencies(template, staticDependencies(root));
  }

  #sourceDigest(parser: { tokens: { str: string } }): string {
    let digest = this.#sourceDigests.get(parser);
    if (!digest) {
      digest = createHash('sha256').update(parser.tokens.str).digest('base64url').slice(0, 12);
      this.#sourceDigests.set(parser, digest);
    }
    return digest;
  }
}

export function isCacheExtension(extension: unknown): extension is CacheExtension {
  return extension instanceof CacheExtension;
}

/** The variable names a hole's body reads: those it finds in the frame travel with its placeholder. */
function symbolsIn(node: AstNode): string[] {
  const names = new Set<string>();
  const walk = (at: unknown): void => {
    if (Array.isArray(at)) return at.forEach(walk);
    if (typeof at !== 'object' || at === null || typeof (at as AstNode).typename !== 'string') return;
    const current = at as AstNode;
    if (current.typename === 'Symbol') names.add(current.value);
    for (const field of current.fields) walk(current[field]);
  };
  walk(node);
  return [...names];
}

/** `['user', 'id']` for a vary argument written `user.id` or `user["id"]`; undefined for any other expression. */
function lookupPath(node: AstNode): string[] | undefined {
  if (node.typename === 'Symbol') return [node.value as string];
  if (node.typename !== 'LookupVal' || node.val?.typename !== 'Literal') return undefined;
  const target = lookupPath(node.target as AstNode);
  return target && [...target, String(node.val.value)];
}

/** `depends=["a.njk", …]`: template names the body depends on that a dynamic include hides, as literals. */
function declaredDependencies(parser: any, node: AstNode, block: (name: string) => string, tag: { lineno: number; colno: number }): string[] {
  const depends = keywordOf(node, 'depends');
  if (!depends) return [];
  const names = depends.typename === 'Array' ? (depends.children ?? []) : [];
  if (names.length === 0 || names.some((name) => name.typename !== 'Literal' || typeof name.value !== 'string')) {
    parser.fail(`${block('cache')}: depends=[…] must list template names as literal strings`, tag.lineno, tag.colno);
  }
  return names.map((name) => name.value as string);
}
