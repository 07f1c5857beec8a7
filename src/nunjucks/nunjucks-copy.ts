import path from 'node:path';
import type { ScopedFrame } from './fragment-scope';
import type { TemplateContext } from './template-state';

/**
 * The parts of one loaded copy of nunjucks the extension works with. An app can load several
 * copies (its own, one under koa-views…); everything the tag hands to nunjucks must come from the
 * copy of the Environment it was added to, or a second copy would escape fragments twice.
 */
export interface NunjucksCopy {
  /** The folder of the copy's package.json, for error messages. */
  readonly root: string;
  readonly version: string;
  readonly nodes: NodeTypes;
  readonly parser: { parse(src: string, extensions: unknown[], opts: unknown): AstNode };
  readonly compiler: { Compiler: { prototype: Record<string, unknown> } };
  readonly Template: { prototype: TemplatePrototype } & (new (source: string, env: unknown, path?: string) => { render(...args: unknown[]): unknown });
  readonly lib: { TemplateError: new (message: string, lineno?: number, colno?: number) => Error };
  readonly runtime: {
    Frame: new () => object;
    contextOrFrameLookup(context: TemplateContext, frame: ScopedFrame & { lookup(name: string): unknown }, name: string): unknown;
    callWrap(fn: unknown, name: string, context: TemplateContext, args: unknown[]): unknown;
  };
  readonly Environment: (abstract new (...args: never[]) => object) & {
    prototype: { getFilter(this: object, name: string): (this: TemplateContext, ...args: unknown[]) => unknown };
  };
}

/** A node of nunjucks' template AST (src/nodes.js). */
export interface AstNode {
  typename: string;
  lineno: number;
  colno: number;
  fields: string[];
  children?: AstNode[];
  [field: string]: any;
}

export type NodeClass = (new (...args: any[]) => AstNode) & { extend(name: string, props?: object): NodeClass };
export type NodeTypes = Record<string, NodeClass>;

export interface TemplateLike {
  env: { extensionsList: unknown[]; loaders: { searchPaths?: string[] }[] };
  path?: string;
}

interface TemplatePrototype {
  _compile(this: TemplateLike): void;
  render(this: TemplateLike, ...args: unknown[]): unknown;
}

const loaded = new Map<string, NunjucksCopy>();

/** The copy a module of it (e.g. `src/environment.js`) belongs to; undefined if `file` is not one. */
export function copyOwning(file: string | undefined): NunjucksCopy | undefined {
  const match = file && /^(.*[\\/]nunjucks)[\\/]src[\\/][\w-]+\.js$/.exec(file);
  return match ? copyAt(match[1]) : undefined;
}

/**
 * The copy whose code called the function that calls this one: called from the extension's
 * `__name` setter, that is the Environment running `addExtension`. Read off V8's structured stack.
 */
export function callerCopy(): NunjucksCopy | undefined {
  const { prepareStackTrace, stackTraceLimit } = Error;
  try {
    Error.stackTraceLimit = 2;
    Error.prepareStackTrace = (_err, sites) => sites;
    const holder: { stack?: NodeJS.CallSite[] } = {};
    Error.captureStackTrace(holder, callerCopy);
    return copyOwning(holder.stack?.[1]?.getFileName() ?? undefined);
  } finally {
    Error.prepareStackTrace = prepareStackTrace;
    Error.stackTraceLimit = stackTraceLimit;
  }
}

/** The copy this library resolves (`require('nunjucks')`, the peer dependency). */
export function ownCopy(): NunjucksCopy {
  return copyAt(path.dirname(require.resolve('nunjucks/package.json')));
}

function copyAt(root: string): NunjucksCopy {
  let copy = loaded.get(root);
  if (!copy) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- the copy is only known at run time
    const nunjucks = require(root);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { version } = require(path.join(root, 'package.json')) as { version: string };
    copy = { root, version, ...nunjucks } as NunjucksCopy;
    loaded.set(root, copy);
  }
  return copy;
}

/** Whether `copy` has the internals the hooks rely on (nunjucks 3.2.x). */
export function isSupported(copy: NunjucksCopy): boolean {
  const compiler = copy.compiler?.Compiler?.prototype;
  return (
    /^3\.2\./.test(copy.version) &&
    typeof copy.parser?.parse === 'function' &&
    typeof compiler?.compileCallExtension === 'function' &&
    typeof compiler._emitLoopBindings === 'function' &&
    typeof copy.Template?.prototype?._compile === 'function' &&
    typeof copy.nodes?.For?.extend === 'function'
  );
}
