import path from 'node:path';
import { defineNodes, type TemplateRuntime } from './compile-nodes';
import { isSupported, type AstNode, type NunjucksCopy, type TemplateLike } from './nunjucks-copy';
import { rewriteTemplate } from './rewrite';
import { stateOf, type TemplateContext } from './template-state';

/** What the hooks need of the extension an Environment holds. */
export interface HookedExtension {
  readonly __name: string;
  readonly fragmentRuntime: Pick<TemplateRuntime, 'enterSyncOnly' | 'leaveSyncOnly'>;
  /** Throws the error for a cache tag inside a body that cannot wait. */
  refuse(tag: AstNode, what: string, template: string): never;
  /** Told of every template compiled (its parsed AST), to know what it depends on. */
  compiled(template: object, root: AstNode): void;
}

const installed = new WeakSet<object>();
let templateBeingCompiled: TemplateLike | undefined;
/** Each filter, called with the view of its Context (`viewOf`), made once. */
const trackedFilters = new WeakMap<Filter, Filter>();

type Filter = (this: TemplateContext, ...args: unknown[]) => unknown;

/** The Context a filter or global function is given: a view that learns what it reads while `views()` renders. */
function viewOf(context: TemplateContext): TemplateContext {
  const state = context && stateOf(context);
  return state ? state.contextView(context) : context;
}

function trackedFilter(filter: Filter): Filter {
  let tracked = trackedFilters.get(filter);
  if (!tracked) {
    tracked = function filterTracked(this: TemplateContext, ...args: unknown[]) {
      return filter.apply(viewOf(this), args);
    };
    trackedFilters.set(filter, tracked);
  }
  return tracked;
}

/**
 * Installs the hooks into one copy of nunjucks, once. They act only for Environments that hold an
 * extension `isOurs` accepts; every other Environment of the process compiles and renders as before.
 * - `parser.parse`: the rewrite of rewrite.ts, after nunjucks parsed a template;
 * - `Template.prototype._compile`: remembers which template is compiling (nunjucks tells the
 *   parser neither its name nor its Environment);
 * - `Template.prototype.render` without a callback: a synchronous render, during which a cache tag
 *   must answer at once;
 * - `runtime.contextOrFrameLookup`: a variable a page rendered by `views()` takes from `ctx.state`
 *   is learned where the template looks it up (template-state.ts);
 * - `runtime.callWrap` and `Environment.prototype.getFilter`: a global function or filter called
 *   while `views()` renders gets a view of the Context that learns what it reads of it;
 * - new node types and their compile methods (compile-nodes.ts).
 */
export function installHooks(copy: NunjucksCopy, isOurs: (extension: unknown) => extension is HookedExtension): void {
  if (installed.has(copy.nodes)) return;
  if (!isSupported(copy)) {
    throw new Error(
      `koa-fragment-cache supports nunjucks 3.2.x; the Environment given the extension uses nunjucks ${copy.version} at ${copy.root}`,
    );
  }
  installed.add(copy.nodes);
  defineNodes(copy.nodes, copy.compiler.Compiler.prototype);
  const { runtime } = copy;
  runtime.contextOrFrameLookup = function lookupTracked(context, frame, name) {
    const value = frame.lookup(name);
    if (value !== undefined) return value;
    const state = stateOf(context);
    return state ? state.lookup(context, frame, name) : context.lookup(name);
  };
  // Filters and global functions get the render's Context as `this`: what they read of it is learned too.
  const { callWrap } = runtime;
  runtime.callWrap = function callTracked(fn, name, context, args) {
    return callWrap(fn, name, viewOf(context), args);
  };
  const { getFilter } = copy.Environment.prototype;
  copy.Environment.prototype.getFilter = function getTrackedFilter(name) {
    return trackedFilter(getFilter.call(this, name));
  };
  const ourExtension = (list: unknown[] | undefined) => list?.find(isOurs);

  const { parse } = copy.parser;
  copy.parser.parse = function parseAndRewrite(src, extensions, opts) {
    const root = parse(src, extensions, opts);
    const extension = ourExtension(extensions);
    if (extension) {
      const template = templateBeingCompiled;
      const name = templateName(template) ?? '(string)';
      rewriteTemplate(root, {
        nodes: copy.nodes,
        extName: extension.__name,
        refuse: (tag, what) => extension.refuse(tag, what, name),
      });
      if (template) extension.compiled(template, root);
    }
    return root;
  };

  const proto = copy.Template.prototype;
  const { _compile: compile, render } = proto;
  proto._compile = function compileTracked() {
    const previous = templateBeingCompiled;
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- read by the parse hook and the tag's parse()
    templateBeingCompiled = this;
    try {
      compile.call(this);
    } finally {
      templateBeingCompiled = previous;
    }
  };
  proto.render = function renderTracked(...args: unknown[]) {
    const extension = args.some((arg) => typeof arg === 'function') ? undefined : ourExtension(this.env.extensionsList);
    if (!extension) return render.apply(this, args);
    extension.fragmentRuntime.enterSyncOnly('render');
    try {
      return render.apply(this, args);
    } finally {
      extension.fragmentRuntime.leaveSyncOnly();
    }
  };
}

/** The template being compiled, if any (undefined for `precompile`). */
export function currentTemplate(): TemplateLike | undefined {
  return templateBeingCompiled;
}

/**
 * A template's name relative to the search path that holds it (so it is the same on every machine),
 * or undefined for a template rendered from a string.
 */
export function templateName(template: TemplateLike | undefined): string | undefined {
  if (!template?.path) return undefined;
  for (const loader of template.env.loaders) {
    for (const root of loader.searchPaths ?? []) {
      const relative = path.relative(root, template.path);
      if (!relative.startsWith('..') && !path.isAbsolute(relative)) return relative.split(path.sep).join('/');
    }
  }
  return template.path;
}
