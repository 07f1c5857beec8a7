import { createHash } from 'node:crypto';
import nunjucks from 'nunjucks';
import type { Cache } from '../cache';
import { digestIfLong, makeTemplateFragmentKey } from '../keys';
import { timeoutToMs } from '../timeout';
import { currentTemplateName, installParserHooks, unsupportedParent } from './parser-hooks';

type Callback = (err: Error | null, html?: nunjucks.runtime.SafeString) => void;
type Body = (cb: (err: Error | null, html: string) => void) => string;

const { SafeString } = nunjucks.runtime;
const { TemplateError } = nunjucks.lib as unknown as {
  TemplateError: new (message: string | Error, lineno?: number, colno?: number) => Error & { lineno?: number };
};

/**
 * Hits answered synchronously continue the render on the same stack; past this many nested ones
 * (a loop of hits), the next continues in a microtask so that a 10 000-fragment page cannot
 * overflow the stack.
 */
const MAX_SYNC_DEPTH = 200;
let syncDepth = 0;

/**
 * `{% cache timeout [, name [, vary…]] %}…{% endcache %}`: renders its body once and serves the
 * stored HTML until `timeout` (seconds, a duration string, `none` = the cache's default, `0` =
 * forever) runs out. Named fragments store under `makeTemplateFragmentKey(name, [vary…])`; without a
 * name the key is derived from the template's name, the tag's position and a digest of the
 * template's source. A `'del'` timeout deletes the entry and renders the body fresh, uncached.
 */
export class CacheExtension implements nunjucks.Extension {
  readonly tags = ['cache'];
  private readonly sourceDigests = new WeakMap<object, string>();

  constructor(readonly cache: Cache) {
    installParserHooks((extension) => extension instanceof CacheExtension);
  }

  parse(parser: any, nodes: any): unknown {
    const tag = parser.nextToken();
    const line = tag.lineno + 1;
    const column = tag.colno + 1;
    const parent = unsupportedParent(parser);
    if (parent) {
      parser.fail(
        `{% cache %} cannot be used inside {% ${parent} %}: nunjucks cannot run an async tag there ` +
          `and would drop output. Move the cache block outside the ${parent}.`,
        tag.lineno,
        tag.colno,
      );
    }
    const args = parser.parseSignature(null, true);
    parser.advanceAfterBlockEnd(tag.value);
    if (args.children.length === 0) {
      parser.fail('{% cache %} needs a timeout: {% cache timeout [, name [, vary…]] %}', tag.lineno, tag.colno);
    }
    const body = parser.parseUntilBlocks('endcache');
    if (!parser.peekToken()) {
      parser.fail(`{% cache %} opened on line ${line} has no {% endcache %}`, tag.lineno, tag.colno);
    }
    parser.advanceAfterBlockEnd();

    const templateName = currentTemplateName() ?? '(string)';
    const anonymousKey = digestIfLong(`fragment@${templateName}:${line}:${column}:${this.sourceDigest(parser)}`);
    const site = [templateName, line, column, anonymousKey].map((value) => new nodes.Literal(tag.lineno, tag.colno, value));
    args.children.unshift(...site);
    return new nodes.CallExtensionAsync(this, 'run', args, [body]);
  }

  run(_context: unknown, templateName: string, line: number, column: number, anonymousKey: string, ...rest: unknown[]): void {
    const cb = rest.pop() as Callback;
    const body = rest.pop() as Body;
    const where = `{% cache %} in ${templateName} line ${line}`;
    const fail = (err: unknown) => deliver(cb, asTemplateError(err, where, line, column));

    let key: string;
    let timeout: unknown;
    try {
      const last = rest[rest.length - 1] as { __keywords?: boolean } | undefined;
      if (last && typeof last === 'object' && last.__keywords) {
        const names = Object.keys(last).filter((k) => k !== '__keywords');
        throw new Error(`unknown keyword argument ${names.join(', ')}`);
      }
      const [timeoutArg, name, ...varyOn] = rest;
      timeout = timeoutArg;
      if (rest.length >= 2 && (typeof name !== 'string' || name === '')) {
        throw new TypeError(`fragment name must be a non-empty string, got ${name === undefined ? 'undefined' : JSON.stringify(name)}`);
      }
      key = rest.length >= 2 ? makeTemplateFragmentKey(name as string, varyOn) : anonymousKey;
      if (timeout !== 'del') timeoutToMs(timeout as never, 0, 'timeout');
    } catch (err) {
      return fail(err);
    }

    if (timeout === 'del') {
      this.cache.delete(key).then(() => renderBody(body)).then((html) => deliver(cb, null, html), fail);
      return;
    }
    const hit = this.cache.peek(key);
    if (typeof hit === 'string') return deliver(cb, null, hit);
    this.cache
      .getOrSet(key, () => renderBody(body), { timeout: timeout as never })
      .then((html) => deliver(cb, null, String(html)), fail);
  }

  private sourceDigest(parser: { tokens: { str: string } }): string {
    let digest = this.sourceDigests.get(parser);
    if (!digest) {
      digest = createHash('sha256').update(parser.tokens.str).digest('base64url').slice(0, 12);
      this.sourceDigests.set(parser, digest);
    }
    return digest;
  }
}

/** The body's full output. A synchronous template error is thrown out of `body()`, not passed on. */
function renderBody(body: Body): Promise<string> {
  return new Promise((resolve, reject) => {
    try {
      body((err, html) => (err ? reject(err) : resolve(html)));
    } catch (err) {
      reject(err);
    }
  });
}

/**
 * Hands the result to nunjucks, which continues rendering inside `cb`. If that continuation throws
 * (a template error after this tag, when we were called back asynchronously), it is passed back
 * through `cb` so the render callback sees it instead of the process.
 */
function deliver(cb: Callback, err: Error | null, html?: string): void {
  const run = () => {
    syncDepth++;
    try {
      if (err) cb(err);
      else cb(null, new SafeString(html!));
    } catch (thrown) {
      if (err) throw thrown;
      cb(thrown instanceof Error ? thrown : new Error(String(thrown)));
    } finally {
      syncDepth--;
    }
  };
  if (syncDepth < MAX_SYNC_DEPTH) run();
  else queueMicrotask(run);
}

function asTemplateError(err: unknown, where: string, line: number, column: number): Error {
  if (err instanceof Error && (err as { lineno?: number }).lineno) return err; // already placed by nunjucks
  const message = err instanceof Error ? err.message : String(err);
  return new TemplateError(`${where}: ${message}`, line, column);
}
