/**
 * The layers of docs/architecture.md, checked on the import statements of src/: what each layer may
 * import; and who writes entries through the engine, checked on the calls. (Import cycles are checked
 * by `npm run check:cycles`, the public types by `npm run api:check`.)
 */
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const SRC = path.join(__dirname, '..', 'src');

interface Import {
  from: string;
  to: string;
  typeOnly: boolean;
}

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? sourceFiles(full) : full.endsWith('.ts') ? [full] : [];
  });
}

/** Relative imports and re-exports of every file, as paths under src/ without extension. */
function importsOf(file: string): Import[] {
  const text = fs.readFileSync(file, 'utf8');
  const from = path.relative(SRC, file).replace(/\.ts$/, '');
  const statements = text.matchAll(/^(import|export)\s+(type\s+)?([^;]*?)\s*from\s+'(\.[^']+)'/gms);
  return [...statements].map(([, , typeKeyword, names, specifier]) => {
    // `import { type A, type B }` is type-only too.
    const typeOnly = typeKeyword !== undefined || /^\{\s*type\s[^}]*\}$/s.test(names!) && !/,\s*(?!type\s)\w/.test(names!);
    const to = path.relative(SRC, path.resolve(path.dirname(file), specifier!)).replace(/\/index$/, '');
    return { from, to, typeOnly };
  });
}

const layerOf = (module: string) => (module.includes('/') ? module.split('/')[0]! : 'facade');
const FEATURES = ['nunjucks', 'koa', 'functions'];

const imports = sourceFiles(SRC).flatMap(importsOf);
const library = imports.filter((edge) => layerOf(edge.from) !== 'app');

function violations(rule: (edge: Import) => boolean): string[] {
  return library.filter(rule).map((edge) => `${edge.from} imports ${edge.to}${edge.typeOnly ? ' (types)' : ''}`);
}

test('the parse of imports sees every layer', () => {
  expect(new Set(imports.map((edge) => layerOf(edge.from)))).toEqual(new Set(['facade', 'core', 'store', 'app', ...FEATURES]));
  expect(library.length).toBeGreaterThan(100);
});

test('the core imports only itself, and the Store interface for its types', () => {
  expect(violations((edge) => layerOf(edge.from) === 'core' && layerOf(edge.to) !== 'core' && !(edge.to === 'store/store' && edge.typeOnly))).toEqual([]);
});

test('stores import only stores and the core', () => {
  expect(violations((edge) => layerOf(edge.from) === 'store' && !['store', 'core'].includes(layerOf(edge.to)))).toEqual([]);
});

test('features reach entries through the engine, never a store, and the Cache facade only as a parameter type', () => {
  expect(violations((edge) => FEATURES.includes(layerOf(edge.from)) && layerOf(edge.to) === 'store')).toEqual([]);
  expect(violations((edge) => FEATURES.includes(layerOf(edge.from)) && layerOf(edge.to) === 'facade' && !edge.typeOnly)).toEqual([]);
});

test('between features only koa imports nunjucks (views() renders pages): the tag knows nothing of Koa, function caching nothing of either', () => {
  const feature = (module: string) => (FEATURES.includes(layerOf(module)) ? layerOf(module) : undefined);
  const across = (edge: Import) => feature(edge.from) !== undefined && feature(edge.to) !== undefined && feature(edge.from) !== feature(edge.to);
  expect(violations((edge) => across(edge) && !(feature(edge.from) === 'koa' && feature(edge.to) === 'nunjucks'))).toEqual([]);
});

const MAX_LINES = 300;

test(`no file of the library is longer than ${MAX_LINES} lines`, () => {
  const lengths = sourceFiles(SRC).map((file) => {
    const text = fs.readFileSync(file, 'utf8');
    return { file: path.relative(SRC, file), lines: text.split('\n').length - (text.endsWith('\n') ? 1 : 0) };
  });
  expect(lengths.filter(({ file, lines }) => layerOf(file) !== 'app' && lines > MAX_LINES).map(({ file, lines }) => `${file}: ${lines} lines`)).toEqual([]);
});

test('nothing in the library imports the demo, and the demo uses only the public entry points', () => {
  expect(violations((edge) => layerOf(edge.to) === 'app')).toEqual([]);
  const demoImports = imports.filter((edge) => layerOf(edge.from) === 'app' && layerOf(edge.to) !== 'app');
  expect(demoImports.length).toBeGreaterThan(0);
  expect(demoImports.filter((edge) => !['index', 'metrics'].includes(edge.to))).toEqual([]);
});

/**
 * Every reference in the library to an engine member that writes entries (or to the engine's store),
 * as `file Class.member: method` (the member it is made in). Resolved by the type checker, so an
 * engine reached under any name counts.
 */
function engineWrites(): string[] {
  const files = sourceFiles(SRC).filter((file) => layerOf(path.relative(SRC, file)) !== 'app');
  // Only src/ is loaded: what the calls resolve to is declared there.
  const program = ts.createProgram(files, { noLib: true, noResolve: true, types: [], noEmit: true });
  const checker = program.getTypeChecker();
  const written: string[] = [];
  for (const source of program.getSourceFiles()) {
    const visit = (node: ts.Node): void => {
      if (ts.isPropertyAccessExpression(node) && WRITERS.has(node.name.text)) {
        const owner = checker.getSymbolAtLocation(node.name)?.declarations?.[0]?.parent;
        const ownerName = owner && (ts.isClassDeclaration(owner) || ts.isInterfaceDeclaration(owner)) ? owner.name?.text : undefined;
        if (ownerName && ENGINE_TYPES.includes(ownerName)) written.push(`${path.relative(SRC, source.fileName)} ${memberOf(node)}: ${node.name.text}`);
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return written;
}

/** The engine and the parts of it that write: what compute.ts is handed, and the writes the engine delegates to. */
const ENGINE_TYPES = ['Engine', 'ComputeEngine', 'EntryWrites'];
const WRITERS = new Set(['set', 'add', 'write', 'writeNow', 'store']);

function memberOf(node: ts.Node): string {
  let member: string | undefined;
  for (let at = node.parent; at; at = at.parent) {
    if (!member && (ts.isMethodDeclaration(at) || ts.isFunctionDeclaration(at) || ts.isAccessor(at))) member = at.name?.getText();
    if (!member && ts.isConstructorDeclaration(at)) member = 'constructor';
    if (ts.isClassDeclaration(at)) return `${at.name?.text ?? '(class)'}.${member ?? '(field)'}`;
  }
  return member ?? '(module)';
}

/**
 * The engine's plain writes (`set`/`add`) that are not a computed entry, and why. A computed entry
 * (a fragment, a response, a memoized result, a `getOrSet` value) goes through core/compute.ts,
 * which takes its tag versions first, shares it with concurrent callers and counts it: a caller
 * not listed here fails.
 */
const PLAIN_WRITES: Record<string, string> = {
  'cache.ts Cache.set: set': "the user's value (`set`, `setMany`)",
  'cache.ts Cache.add: add': "the user's value",
  'functions/write-behind.ts WriteBehind.#write: set': "the user's values, queued",
  'functions/memo.ts Memo.versions: add': 'a missing function or instance version, created (concurrent creators agree)',
  'functions/memo.ts Memo.keepVersions: set': 'the versions, written back to outlive the results they reach',
  'functions/memo.ts Memo.deleteAll: set': 'a new function version: every result unreachable',
  'functions/memo.ts Memo.deleteInstance: set': 'a new instance version',
  'functions/refreshing.ts Refreshing.#tick: add': 'the refresh lock: which process refreshes this interval',
};

test('core/compute.ts is the one place that writes a computed entry; the plain writes are the listed ones', () => {
  const writes = engineWrites();
  // The engine's own delegation to EntryWrites, and the compute path.
  expect(writes.filter((write) => /: (write|writeNow)$/.test(write)).sort()).toEqual(
    ['core/compute.ts Computations.computeNow: writeNow', 'core/compute.ts Computations.#write: write', 'core/engine.ts Engine.write: write', 'core/engine.ts Engine.writeNow: writeNow'].sort(),
  );
  const plain = writes.filter((write) => /: (set|add)$/.test(write) && !write.startsWith('core/engine.ts Engine.'));
  expect(plain.sort()).toEqual(Object.keys(PLAIN_WRITES).sort());
  // Nothing outside the core reaches the store behind the engine.
  expect(writes.filter((write) => write.endsWith(': store') && layerOf(write.split(' ')[0]!) !== 'core')).toEqual([]);
});
