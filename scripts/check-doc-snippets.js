#!/usr/bin/env node
// Checks the code blocks of the docs against the BUILT package (`npm run docs:check`; it builds first).
//
//   node scripts/check-doc-snippets.js [file.md …]     (default: README.md and docs/**/*.md)
//
// Conventions, for whoever writes the docs:
//   - Every fenced block tagged ```ts (or typescript), ```js (javascript) or ```mjs is checked; other
//     blocks (sh, njk, html, …) are not.
//   - `<!-- no-check -->` on the last non-blank line before a fence: the block is not checked at all.
//   - `<!-- run -->` on the last non-blank line before a fence: the block is also executed with Node
//     (cwd: a temporary folder, no CACHE_URL, memory store) and must exit 0 within RUN_TIMEOUT_MS.
//     A runnable block must be self-contained: the ambient names below exist for the type-checker only.
//   - Each block is an ES module of its own (top-level await works), type-checked with strict
//     TypeScript (module/moduleResolution nodenext) against `koa-fragment-cache` as a dependency
//     would see it: a temporary node_modules links it to this repo, so its package.json `exports`
//     and dist/*.d.ts are what resolves. js/mjs blocks are syntax-checked (node --check).
//   - A block that uses a name the package exports without importing it gets it imported: short
//     excerpts like `await cache.delete(makeTemplateFragmentKey(…))` need no import line.
//   - Names that excerpts use without defining them are declared by AMBIENT below, for the
//     type-checker only. Keep that list short: a name missing from it makes the block fail, which is
//     the point (define it in the block, or add it here if it really is "your app's" object).
//   - One library-specific rule that types cannot catch: `ctx.render('name')` needs the template's
//     file name with its extension (nunjucks' FileSystemLoader looks for exactly that file).
// Each failure is reported as file:line (the line in the Markdown file); exits 1 when any block fails.
'use strict';

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const repo = path.join(__dirname, '..');
const RUN_TIMEOUT_MS = 20_000;

/** Names excerpts use without defining them: name → TypeScript declaration (inside `declare global`). */
const AMBIENT = {
  app: 'var app: Koa;',
  router: 'var router: Router;',
  catalogRouter: 'var catalogRouter: Router;',
  cache: 'var cache: Cache;',
  server: 'var server: Server;',
  db: 'var db: { product(id: string): Promise<Product>; update(id: string, changes: unknown): Promise<void> };',
  logger: 'var logger: Logger;',
  log: 'var log: Logger;',
  product: 'var product: Product;',
  list: 'var list: Product[];',
  loadProduct: 'function loadProduct(id: string): Promise<Product>;',
  requireAdmin: 'var requireAdmin: Koa.Middleware;',
};
const AMBIENT_TYPES = [
  'interface Product { id: number; name: string; onSale: boolean }',
  'interface Logger { debug(obj: object, msg?: string): void; info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void; error(obj: object, msg?: string): void }',
];

const LANGS = { ts: 'ts', typescript: 'ts', js: 'js', javascript: 'js', mjs: 'mjs' };

function markdownFiles() {
  const files = [path.join(repo, 'README.md')];
  const walk = (dir) => {
    if (!fs.existsSync(dir)) return;
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.md')) files.push(full);
    }
  };
  walk(path.join(repo, 'docs'));
  return files;
}

/** The checked blocks of one Markdown file: { file, line (of the opening fence), lang, code, run }. */
function extractBlocks(file) {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const blocks = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^( {0,3})(`{3,}|~{3,})\s*([\w-]*)/.exec(lines[i]);
    if (!open) continue;
    const [, indent, fence, info] = open;
    let end = i + 1;
    while (end < lines.length && !new RegExp(`^ {0,3}${fence[0]}{${fence.length},}\\s*$`).test(lines[end])) end++;
    const lang = LANGS[info.toLowerCase()];
    if (lang) {
      let before = i - 1;
      while (before >= 0 && lines[before].trim() === '') before--;
      const marker = before >= 0 ? lines[before].trim() : '';
      if (marker !== '<!-- no-check -->') {
        const body = lines.slice(i + 1, end).map((line) => (line.startsWith(indent) ? line.slice(indent.length) : line));
        blocks.push({ file, line: i + 1, lang, code: body.join('\n'), run: marker === '<!-- run -->' });
      }
    }
    i = end;
  }
  return blocks;
}

/** The package's exported names, from the built dist/index.d.ts: { values, types }. */
function packageExports() {
  const dts = fs.readFileSync(path.join(repo, 'dist', 'index.d.ts'), 'utf8');
  const values = new Set();
  const types = new Set();
  for (const match of dts.matchAll(/export\s+(type\s+)?\{([^}]*)\}/g)) {
    for (const raw of match[2].split(',')) {
      const spec = raw.trim();
      if (!spec) continue;
      const isType = Boolean(match[1]) || spec.startsWith('type ');
      const name = spec.replace(/^type\s+/, '').split(/\s+as\s+/).pop().trim();
      (isType ? types : values).add(name);
    }
  }
  for (const match of dts.matchAll(/export\s+declare\s+(?:class|function|const)\s+(\w+)/g)) values.add(match[1]);
  return { values: [...values], types: [...types] };
}

/** One line put before a block: imports of the package's names the block uses without importing them. */
function prelude(block, exported) {
  if (/from\s+['"]koa-fragment-cache['"]/.test(block.code)) return '';
  const uses = (name) => new RegExp(`(^|[^\\w$.])${name}\\b`).test(block.code) && !new RegExp(`\\b(const|let|var|function|class|interface|type)\\s+${name}\\b`).test(block.code);
  const values = exported.values.filter(uses);
  const types = block.lang === 'ts' ? exported.types.filter(uses) : [];
  return [values.length && `import { ${values.join(', ')} } from 'koa-fragment-cache';`, types.length && `import type { ${types.join(', ')} } from 'koa-fragment-cache';`].filter(Boolean).join(' ');
}

function linkNodeModules(dir) {
  // The repo's packages (typescript, koa, @types/…) by symlink, and the package itself as a dependency.
  const modules = path.join(dir, 'node_modules');
  fs.mkdirSync(modules);
  for (const entry of fs.readdirSync(path.join(repo, 'node_modules'))) {
    if (entry.startsWith('.') || entry === 'koa-fragment-cache') continue;
    fs.symlinkSync(path.join(repo, 'node_modules', entry), path.join(modules, entry), 'dir');
  }
  fs.symlinkSync(repo, path.join(modules, 'koa-fragment-cache'), 'dir');
}

function ambientDeclarations() {
  return [
    "import type Koa from 'koa';",
    "import type Router from '@koa/router';",
    "import type { Server } from 'node:http';",
    "import type { Cache } from 'koa-fragment-cache';",
    'declare global {',
    ...AMBIENT_TYPES.map((line) => `  ${line}`),
    ...Object.values(AMBIENT).map((line) => `  ${line}`),
    '}',
    'export {};',
    '',
  ].join('\n');
}

function main() {
  if (!fs.existsSync(path.join(repo, 'dist', 'index.d.ts'))) {
    console.error('docs: dist/index.d.ts is missing: run `npm run build` (npm run docs:check builds first)');
    process.exit(1);
  }
  const files = process.argv.length > 2 ? process.argv.slice(2).map((file) => path.resolve(file)) : markdownFiles();
  const blocks = files.flatMap(extractBlocks);
  const exported = packageExports();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kfc-doc-snippets-'));
  const failures = [];
  const fail = (block, message, lineInBlock) => failures.push({ where: `${path.relative(repo, block.file)}:${block.line + (lineInBlock ?? 0)}`, block, message });

  try {
    linkNodeModules(tmp);
    fs.writeFileSync(path.join(tmp, 'package.json'), '{ "type": "module", "private": true }\n');
    fs.writeFileSync(path.join(tmp, 'ambient.d.ts'), ambientDeclarations());
    for (const block of blocks) {
      const name = `${path.relative(repo, block.file).replace(/[^\w]+/g, '_')}_L${block.line}`;
      block.source = `${name}.${block.lang}`;
      // The prelude is always exactly one line, so line N of the block is line N + 1 of the file.
      fs.writeFileSync(path.join(tmp, block.source), `${prelude(block, exported)}\n${block.code}\n`);
      for (const [index, text] of block.code.split('\n').entries()) {
        const render = /ctx\.render\(\s*(['"`])([^'"`]+)\1/.exec(text);
        if (render && !/\.\w+$/.test(render[2])) {
          fail(block, `ctx.render('${render[2]}'): a template name needs its extension ('${render[2]}.njk'): nunjucks loads exactly that file`, index + 1);
        }
      }
    }

    // Type-check (and emit) every ts block in one tsc run.
    const tsBlocks = blocks.filter((block) => block.lang === 'ts');
    if (tsBlocks.length) {
      const tsconfig = {
        compilerOptions: {
          strict: true,
          target: 'ES2022',
          lib: ['ES2022'],
          module: 'nodenext',
          moduleResolution: 'nodenext',
          moduleDetection: 'force',
          types: ['node'],
          skipLibCheck: true,
          outDir: 'out',
          rootDir: '.',
        },
        files: ['ambient.d.ts', ...tsBlocks.map((block) => block.source)],
      };
      fs.writeFileSync(path.join(tmp, 'tsconfig.json'), JSON.stringify(tsconfig, null, 2));
      const tsc = spawnSync(process.execPath, [path.join(tmp, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', tmp, '--pretty', 'false'], { cwd: tmp, encoding: 'utf8' });
      const bySource = new Map(tsBlocks.map((block) => [block.source, block]));
      for (const line of `${tsc.stdout}${tsc.stderr}`.split('\n')) {
        const diagnostic = /^(.+?)\((\d+),(\d+)\): error (TS\d+): (.*)$/.exec(line);
        if (diagnostic) {
          const block = bySource.get(path.basename(diagnostic[1]));
          if (block) {
            block.typeErrors = true;
            fail(block, `${diagnostic[4]}: ${diagnostic[5]}`, Number(diagnostic[2]) - 1);
          } else {
            failures.push({ where: diagnostic[1], message: `${diagnostic[4]}: ${diagnostic[5]}` });
          }
        } else if (/^\s+\S/.test(line) && failures.length) {
          failures[failures.length - 1].message += `\n${line}`; // a diagnostic's continuation lines
        } else if (/error/i.test(line) && !/^\s*$/.test(line)) {
          failures.push({ where: 'tsc', message: line });
        }
      }
    }

    for (const block of blocks.filter((b) => b.lang !== 'ts')) {
      const syntax = spawnSync(process.execPath, ['--check', path.join(tmp, block.source)], { cwd: tmp, encoding: 'utf8' });
      if (syntax.status !== 0) {
        block.typeErrors = true;
        const at = new RegExp(`${block.source.replace(/\./g, '\\.')}:(\\d+)`).exec(syntax.stderr);
        fail(block, `syntax: ${syntax.stderr.trim().split('\n').find((line) => /Error/.test(line)) ?? syntax.stderr.trim()}`, at ? Number(at[1]) - 1 : 0);
      }
    }

    const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => key !== 'CACHE_URL' && !/^npm_/i.test(key)));
    for (const block of blocks.filter((b) => b.run)) {
      if (block.typeErrors) {
        fail(block, 'not run: it does not type-check');
        continue;
      }
      const script = block.lang === 'ts' ? path.join(tmp, 'out', block.source.replace(/\.ts$/, '.js')) : path.join(tmp, block.source);
      const started = Date.now();
      const result = spawnSync(process.execPath, [script], { cwd: tmp, env, encoding: 'utf8', timeout: RUN_TIMEOUT_MS });
      block.ranMs = Date.now() - started;
      if (result.error?.code === 'ETIMEDOUT') fail(block, `run: still running after ${RUN_TIMEOUT_MS / 1000} s`);
      else if (result.status !== 0) fail(block, `run: exit ${result.status ?? result.signal}\n${(result.stderr || result.stdout).trim().split('\n').slice(0, 8).join('\n')}`);
    }
  } finally {
    if (process.env.KEEP_TMP === '1') console.log(`docs: kept ${tmp}`);
    else fs.rmSync(tmp, { recursive: true, force: true });
  }

  const failedBlocks = new Set(failures.map((failure) => failure.block).filter(Boolean));
  for (const block of blocks) {
    const mine = failures.filter((failure) => failure.block === block);
    const where = `${path.relative(repo, block.file)}:${block.line}`;
    const what = `${block.lang}${block.run ? `, run${block.ranMs !== undefined ? ` ${block.ranMs} ms` : ''}` : ''}`;
    console.log(`${mine.length ? 'FAIL' : 'ok  '} ${where} (${what})`);
    for (const failure of mine) console.log(`       ${failure.where}: ${failure.message.replace(/\n/g, '\n         ')}`);
  }
  for (const failure of failures.filter((f) => !f.block)) console.log(`FAIL ${failure.where}: ${failure.message}`);
  const failed = failedBlocks.size + failures.filter((f) => !f.block).length;
  console.log(`\n${blocks.length} blocks from ${files.map((file) => path.relative(repo, file)).join(', ')}; ${blocks.filter((b) => b.run).length} of them run`);
  console.log(`docs: ${blocks.length - failedBlocks.size} passed, ${failed} failed`);
  process.exitCode = failed ? 1 : 0;
}

main();
