import type { Latch } from './continuations';
import type { AstNode, NodeTypes } from './nunjucks-copy';
import type { Prefetch } from './rewrite';

/**
 * The nodes the template rewrite (rewrite.ts) puts into a template's AST, and how nunjucks' compiler
 * compiles them. They are added to one copy of nunjucks once; only templates of Environments holding
 * the cache extension ever contain them.
 *
 * - `KfcFor` / `KfcIf`: a `for` / `if` that may have to wait for something inside it (an include,
 *   a block, a cache tag) before the template goes on. They compile to exactly what nunjucks' own
 *   `for` / `if` compile to — same bindings, same frames, same `else` rules — except that what
 *   follows them runs in a continuation, called as soon as their body has finished: on the same
 *   stack when nothing waited, later when something did. A loop resumes iteratively, never one
 *   stack frame per item. (nunjucks' `asyncEach`/`ifAsync` differ from `for`/`if` in many ways.)
 *   They extend `For` / `If`, so nunjucks' transformer lifts async filters out of their headers and
 *   turns them into `asyncEach`/`ifAsync` exactly when it would turn a plain `for`/`if` into those.
 * - `KfcCache` (and `KfcHole`, `{% nocache %}`): the `{% cache %}` tag. An async call of the fragment
 *   runtime's `cache` (`hole`), compiled as nunjucks compiles an extension's, but not a
 *   `CallExtensionAsync`, so nunjucks' transformer does not rewrite the loops around it into
 *   `asyncEach`, nor mistake it for an async filter inside `{% call %}`/`{% filter %}`.
 * - `KfcRuntime`: compiles to the `runtime` of the rendering template, so that the tag builds its
 *   SafeString with the nunjucks copy that will test for it; `KfcPlace`: to a function placing an
 *   error at the template's current line, for errors that surface after the tag answered later;
 *   `KfcFrame`: to the frame at the tag.
 * - `KfcSyncOnly`: a macro, `{% call %}`, `{% set %}` or `{% filter %}` body that includes other
 *   templates: while it runs, nunjucks cannot wait, and a cache tag reached from it must answer at once.
 */

interface Frame {
  push(): Frame;
  set(name: string, value: string): void;
}

interface Compiler {
  codebuf: string[];
  kfcLatches?: number;
  _tmpid(): string;
  _emit(code: string): void;
  _emitLine(code: string): void;
  _withScopedSyntax(body: () => void): void;
  _addScopeLevel(): void;
  _compileExpression(node: AstNode, frame: Frame): void;
  compile(node: AstNode, frame: Frame): void;
  compileCallExtension(node: AstNode, frame: Frame, async: boolean): void;
}

/** What compiled templates call: the extension's fragment runtime (`runtimeOf`). */
export interface TemplateRuntime {
  /** `{% cache %}`: the arguments as tag-arguments.ts lays them out, then the body and nunjucks' callback. */
  cache(context: object, ...args: unknown[]): void;
  /** `{% nocache %}`: its site arguments (tag-arguments.ts), then nunjucks' callback. */
  hole(context: object, ...args: unknown[]): void;
  /**
   * Fetches the keys `keysOf(i)` gives for `count` items in one batch (see `emitPrefetch`), then
   * runs `then`; an error `then` throws goes to `fail`.
   */
  prefetch(frame: object, count: number, keysOf: (i: number) => unknown[][], fail: (err: unknown) => void, then: () => void): void;
  /** Runs `body(i, next)` for i = 0, 1, … while `more(i)`, then `done()`; see `iterate`. */
  loop(more: (i: number) => boolean, body: (i: number, next: () => void) => void, done: () => void): void;
  /** A continuation to run once a branch has finished (see `Latch`). */
  latch(): Latch;
  enterSyncOnly(what: string): void;
  leaveSyncOnly(): void;
}

export function defineNodes(nodes: NodeTypes, compilerPrototype: Record<string, unknown>): void {
  nodes.KfcFor = nodes.For.extend('KfcFor', { fields: ['arr', 'name', 'body', 'else_', 'extName', 'prefetch'] });
  nodes.KfcIf = nodes.If.extend('KfcIf', { fields: ['cond', 'body', 'else_', 'extName'] });
  nodes.KfcCache = nodes.CallExtension.extend('KfcCache');
  nodes.KfcHole = nodes.CallExtension.extend('KfcHole');
  // Literals to nunjucks' expression checks:
  nodes.KfcRuntime = nodes.Literal.extend('KfcRuntime');
  nodes.KfcPlace = nodes.Literal.extend('KfcPlace');
  nodes.KfcFrame = nodes.Literal.extend('KfcFrame');
  nodes.KfcSyncOnly = nodes.Node.extend('KfcSyncOnly', { fields: ['body', 'what', 'extName'] });
  Object.assign(compilerPrototype, { compileKfcFor, compileKfcIf, compileKfcCache, compileKfcHole: compileKfcCache, compileKfcRuntime, compileKfcPlace, compileKfcFrame, compileKfcSyncOnly });
}

/** The fragment runtime of the extension the node was parsed by, as compiled code reaches it. */
function runtimeOf(node: AstNode): string {
  return `env.getExtension(${JSON.stringify(node.extName)}).fragmentRuntime`;
}

/**
 * Mirrors nunjucks' `compileFor` statement by statement, taking the same temporary names in the
 * same order (they show in some error messages); the body is a function the loop resumes.
 */
function compileKfcFor(this: Compiler, node: AstNode, outer: Frame): void {
  const [i, len, arr] = [this._tmpid(), this._tmpid(), this._tmpid()];
  const [keys, next] = [`${i}_keys`, `${i}_next`];
  const frame = outer.push();
  this._emitLine('frame = frame.push();');
  this._emit(`var ${arr} = `);
  this._compileExpression(node.arr, frame);
  this._emitLine(';');
  this._emitLine(`var ${len}, ${keys};`);
  this._emitLine(`var ${i}_own = null;`);
  const body = (bindings: () => void) => {
    bindings();
    emitLoopBindings(this, i, len);
    this._withScopedSyntax(() => {
      this.compile(node.body, frame);
      this._emitLine(`${next}();`);
    });
  };
  if (node.name.typename === 'Array') {
    const names: AstNode[] = node.name.children;
    const ids = names.map(() => this._tmpid());
    // nunjucks names the object branch's variables after compiling the array branch: declared then.
    const declarations = this.codebuf.push('') - 1;
    this._emitLine(`var ${ids.join(', ')};`);
    this._emitLine(`if (${arr}) { ${arr} = runtime.fromIterator(${arr});`);
    this._emitLine(`if (runtime.isArray(${arr})) { ${len} = ${arr}.length; }`);
    // nunjucks iterates an object with for…in (inherited keys too) and counts its own keys.
    this._emitLine(`else { ${keys} = []; for (var ${i}_key in ${arr}) ${keys}.push(${i}_key); ${len} = runtime.keys(${arr}).length; } }`);
    this._emitLine(`${runtimeOf(node)}.loop(function(${i}) { return ${keys} ? ${i} < ${keys}.length : !!${arr} && ${i} < ${arr}.length; }, function(${i}, ${next}) {`);
    this._emitLine(`if (!${keys}) {`);
    body(() =>
      names.forEach((name, u) => {
        this._emitLine(`${ids[u]} = ${arr}[${i}][${u}];`);
        // As nunjucks does it: the frame gets the node's string form, not its name (its quirk, kept).
        this._emitLine(bind(String(name), `${arr}[${i}][${u}]`));
        frame.set(name.value, ids[u]);
      }),
    );
    this._emitLine('} else {');
    const [key, value] = names;
    const [k, v] = [this._tmpid(), this._tmpid()];
    this.codebuf[declarations] = `var ${k}, ${v};\n`;
    body(() => {
      frame.set(key.value, k);
      frame.set(value.value, v);
      this._emitLine(`${k} = ${keys}[${i}]; ${v} = ${arr}[${k}];`);
      this._emitLine(`${bind(key.value, k)} ${bind(value.value, v)}`);
    });
    this._emitLine('}');
  } else {
    const v = this._tmpid();
    frame.set(node.name.value, v);
    this._emitLine(`var ${v};`);
    this._emitLine(`if (${arr}) { ${arr} = runtime.fromIterator(${arr}); ${len} = ${arr}.length; }`);
    if (node.prefetch) emitPrefetch(this, node, frame, arr, i, () => this._emitLine(`${v} = ${arr}[${i}]; ${bind(node.name.value, v)}`));
    this._emitLine(`${runtimeOf(node)}.loop(function(${i}) { return !!${arr} && ${i} < ${arr}.length; }, function(${i}, ${next}) {`);
    body(() => {
      this._emitLine(`${v} = ${arr}[${i}];`);
      this._emitLine(bind(node.name.value, v));
    });
  }
  this._emitLine('}, function() {');
  if (node.else_) {
    // The `else` may wait too (an if or loop in it holding an include): what follows waits for it.
    const latch = newLatch(this, node);
    this._emitLine(`if (!${len}) {`);
    this._withScopedSyntax(() => {
      this.compile(node.else_, frame);
      this._emitLine(`${latch}.done();`);
    });
    this._emitLine(`} else { ${latch}.done(); }`);
    this._emitLine(`${latch}.then(function() {`);
    this._addScopeLevel();
  }
  this._emitLine('frame = frame.pop();');
  this._addScopeLevel();
}

/**
 * nunjucks' `frame.set(name, value)`, written as the assignment it makes for a name without a dot
 * (Frame.set splits every name on '.', at each item of a loop; a loop's own names have none).
 */
function bind(name: string, value: string): string {
  return name.includes('.') ? `frame.set(${JSON.stringify(name)}, ${value});` : `frame.variables[${JSON.stringify(name)}] = ${value};`;
}

/**
 * The `loop` variables as nunjucks' `_emitLoopBindings` sets them — `frame.set("loop.index", …)`
 * each: `loop` created on the frame when it is falsy, then assigned into — written directly into
 * the object the loop made (splitting the dotted names was most of the time of a page of cached
 * cards). Should the body have put something else under `loop`, nunjucks' own calls run, with
 * their errors.
 */
function emitLoopBindings(compiler: Compiler, i: string, len: string): void {
  const [own, loop] = [`${i}_own`, `${i}_loop`];
  const bindings: [string, string][] = [
    ['index', `${i} + 1`],
    ['index0', i],
    ['revindex', `${len} - ${i}`],
    ['revindex0', `${len} - ${i} - 1`],
    ['first', `${i} === 0`],
    ['last', `${i} === ${len} - 1`],
    ['length', len],
  ];
  compiler._emitLine(`var ${loop} = frame.variables.loop || (${own} = frame.variables.loop = {});`);
  compiler._emitLine(`if (${loop} === ${own}) { ${bindings.map(([name, value]) => `${loop}.${name} = ${value};`).join(' ')} }`);
  compiler._emitLine(`else { ${bindings.map(([name, value]) => `frame.set("loop.${name}", ${value});`).join(' ')} }`);
}

/** A latch variable (see `Latch`), named without _tmpid(): nunjucks' own names stay numbered as without the extension. */
function newLatch(compiler: Compiler, node: AstNode): string {
  const latch = `kfc_latch_${(compiler.kfcLatches = (compiler.kfcLatches ?? 0) + 1)}`;
  compiler._emitLine(`var ${latch} = ${runtimeOf(node)}.latch();`);
  return latch;
}

/**
 * Collection multi-get: before the loop runs, the keys of the cache tags in its body for every item
 * (`keysOf(i)`: the item bound as the body binds it, then each tag's `[site, name?, …vary]`, as
 * tag-arguments.ts lays a key computed ahead), for the runtime to fetch in one batch. The loop runs
 * in the continuation.
 */
function emitPrefetch(compiler: Compiler, node: AstNode, frame: Frame, arr: string, i: string, bind: () => void): void {
  compiler._emitLine(`${runtimeOf(node)}.prefetch(frame, ${arr} ? ${arr}.length : 0, function(${i}) {`);
  bind();
  compiler._emit('return [');
  (node.prefetch as Prefetch[]).forEach(({ site, keyArgs }, n) => {
    compiler._emit(`${n > 0 ? ',' : ''}[${JSON.stringify(site)}`);
    for (const arg of keyArgs) {
      compiler._emit(',');
      compiler._compileExpression(arg, frame);
    }
    compiler._emit(']');
  });
  compiler._emitLine(']; }, function(e) { cb(runtime.handleError(e, lineno, colno)); }, function() {');
  compiler._addScopeLevel();
}

/**
 * Mirrors nunjucks' `compileIf`, bodies inline in the same function (so what they declare stays
 * visible after the `if`, as in nunjucks); what follows runs once the branch has finished.
 */
function compileKfcIf(this: Compiler, node: AstNode, frame: Frame): void {
  const latch = newLatch(this, node);
  this._emit('if(');
  this._compileExpression(node.cond, frame);
  this._emitLine(') {');
  const branch = (body: AstNode | null) =>
    this._withScopedSyntax(() => {
      if (body) this.compile(body, frame);
      this._emitLine(`${latch}.done();`);
    });
  branch(node.body);
  this._emitLine('}\nelse {');
  branch(node.else_);
  this._emitLine('}');
  this._emitLine(`${latch}.then(function() {`);
  this._addScopeLevel();
}

/** nunjucks' async extension call (arguments, body, callback), addressed to the runtime instead of the extension. */
function compileKfcCache(this: Compiler, node: AstNode, frame: Frame): void {
  const head = this.codebuf.length;
  this.compileCallExtension(node, frame, true);
  const call = `env.getExtension("${node.extName}")["${node.prop}"](`;
  if (this.codebuf[head] !== call) throw new Error(`koa-fragment-cache: nunjucks compiled ${node.typename} unexpectedly (${this.codebuf[head]})`);
  this.codebuf[head] = `${runtimeOf(node)}.${node.prop}(`;
}

function compileKfcRuntime(this: Compiler): void {
  this._emit('runtime');
}

/** The frame at the tag, on which the fragment's scope rides (fragment-scope.ts). */
function compileKfcFrame(this: Compiler): void {
  this._emit('frame');
}

/** A function placing an error at the current line, as the template's own handler would. */
function compileKfcPlace(this: Compiler): void {
  this._emit('function(e) { return runtime.handleError(e, lineno, colno); }');
}

function compileKfcSyncOnly(this: Compiler, node: AstNode, frame: Frame): void {
  this._emitLine(`${runtimeOf(node)}.enterSyncOnly(${JSON.stringify(node.what)});`);
  this._emitLine('try {');
  this._withScopedSyntax(() => this.compile(node.body, frame));
  this._emitLine(`} finally { ${runtimeOf(node)}.leaveSyncOnly(); }`);
}
