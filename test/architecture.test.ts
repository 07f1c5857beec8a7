/**
 * The layers of docs/architecture.md, checked on the import statements of src/: what each layer may
 * import. (Import cycles are checked by `npm run check:cycles`, the public types by `npm run api:check`.)
 */
import fs from 'node:fs';
import path from 'node:path';

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
