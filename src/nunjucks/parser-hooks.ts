import path from 'node:path';
import nunjucks from 'nunjucks';

/**
 * nunjucks gives an extension's `parse()` neither the template's name nor the blocks around the tag.
 * These hooks on nunjucks' Template and Parser prototypes supply both, and fix one silent failure:
 *
 * - the name of the template being compiled (for anonymous fragment keys and error messages);
 * - the enclosing `macro` / `set` / `call` / `filter` blocks, inside which nunjucks cannot run an
 *   async tag (it truncates output or crashes compiling) — the tag fails loudly instead;
 * - `include` and `block` inside `if` / `for`: the included template (or child block) may hold a
 *   cache tag that this template cannot see, and a sync `if`/`for` would drop its output
 *   (mozilla/nunjucks#792). Such statements are compiled as `ifAsync` / `asyncEach` instead, which
 *   is what nunjucks itself does when the tag is visible.
 *
 * The hooks act only on parsers whose environment has an extension that `isOurs` accepts.
 */

interface Node {
  typename: string;
  lineno: number;
  colno: number;
  [field: string]: unknown;
}

interface ParserState {
  /** Names of the enclosing blocks that cannot hold an async tag, innermost last. */
  unsupported: string[];
  /** One flag per enclosing `if`/`for`: does it contain an include or a block? */
  branches: boolean[];
}

interface HookedParser {
  extensions: unknown[];
  tokens: { str: string };
  kfcState?: ParserState;
}

interface TemplateLike {
  path?: string;
  env: { loaders: { searchPaths?: string[] }[] };
}

type Method = (this: HookedParser, ...args: unknown[]) => Node;

const UNSUPPORTED_PARENTS: Record<string, string> = {
  parseMacro: 'macro',
  parseCall: 'call',
  parseFilterStatement: 'filter',
  parseSet: 'set',
};

let templateBeingCompiled: TemplateLike | undefined;
let installedFor: ((extension: unknown) => boolean) | undefined;

export function installParserHooks(isOurs: (extension: unknown) => boolean): void {
  if (installedFor) return;
  installedFor = isOurs;
  const TemplateProto = nunjucks.Template.prototype as unknown as { _compile: (this: TemplateLike) => void };
  const compile = TemplateProto._compile;
  TemplateProto._compile = function compileTracked(this: TemplateLike) {
    const previous = templateBeingCompiled;
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the template being compiled, for parse()
    templateBeingCompiled = this;
    try {
      compile.call(this);
    } finally {
      templateBeingCompiled = previous;
    }
  };

  const proto = (nunjucks as unknown as { parser: { Parser: { prototype: Record<string, Method> } } }).parser.Parser.prototype;
  const wrap = (name: string, around: (parser: HookedParser, state: ParserState, run: () => Node) => Node) => {
    const original = proto[name];
    proto[name] = function hooked(this: HookedParser, ...args: unknown[]) {
      const state = stateOf(this);
      return state ? around(this, state, () => original.apply(this, args)) : original.apply(this, args);
    };
  };

  for (const [method, block] of Object.entries(UNSUPPORTED_PARENTS)) {
    wrap(method, (_parser, state, run) => {
      state.unsupported.push(block);
      try {
        return run();
      } finally {
        state.unsupported.pop();
      }
    });
  }
  for (const method of ['parseIf', 'parseFor']) {
    wrap(method, (_parser, state, run) => {
      state.branches.push(false);
      let node: Node;
      try {
        node = run();
      } catch (err) {
        state.branches.pop();
        throw err;
      }
      if (!state.branches.pop()) return node;
      markBranch(state);
      return toAsync(node);
    });
  }
  for (const method of ['parseInclude', 'parseBlock']) {
    wrap(method, (_parser, state, run) => {
      const node = run();
      markBranch(state);
      return node;
    });
  }
}

function stateOf(parser: HookedParser): ParserState | undefined {
  if (parser.kfcState) return parser.kfcState;
  if (!installedFor || !parser.extensions?.some(installedFor)) return undefined;
  parser.kfcState = { unsupported: [], branches: [] };
  return parser.kfcState;
}

function markBranch(state: ParserState): void {
  if (state.branches.length > 0) state.branches[state.branches.length - 1] = true;
}

function toAsync(node: Node): Node {
  const { nodes } = nunjucks as unknown as { nodes: Record<string, new (...args: unknown[]) => Node> };
  if (node.typename === 'If') return new nodes.IfAsync(node.lineno, node.colno, node.cond, node.body, node.else_);
  if (node.typename === 'For') {
    return new nodes.AsyncEach(node.lineno, node.colno, node.arr, node.name, node.body, node.else_);
  }
  return node; // already ifAsync / asyncEach / asyncAll
}

/** The innermost enclosing block that cannot hold an async tag, if any. */
export function unsupportedParent(parser: HookedParser): string | undefined {
  const open = stateOf(parser)?.unsupported;
  return open?.[open.length - 1];
}

/**
 * The name of the template being compiled, relative to the loader's search path that holds it (so
 * it is the same on every machine), or `undefined` for a template rendered from a string.
 */
export function currentTemplateName(): string | undefined {
  const template = templateBeingCompiled;
  if (!template?.path) return undefined;
  for (const loader of template.env.loaders) {
    for (const root of loader.searchPaths ?? []) {
      const relative = path.relative(root, template.path);
      if (!relative.startsWith('..') && !path.isAbsolute(relative)) return relative.split(path.sep).join('/');
    }
  }
  return template.path;
}
