#!/usr/bin/env node
// The newcomer's path, scripted (`npm run test:package`): pack the library as npm would publish it,
// look inside the tarball, install it into fresh apps beside the app's own koa and nunjucks, and run
// the README's "Using it in your app" code in every module flavour over real HTTP.
//
//   app "plain": the tarball + koa@~3.1.0 nunjucks@3.2.3 @koa/router@14 (+ types, typescript 5.9)
//     esm      strict TypeScript, "type": "module", module/moduleResolution nodenext  (checked, run)
//     cjs      strict TypeScript, "type": "commonjs", module/moduleResolution nodenext (checked, run)
//     bundler  strict TypeScript, module preserve, moduleResolution bundler           (checked)
//     mjs      plain JavaScript ESM, no build                                        (run)
//   app "full": the same + @ladjs/koa-views, koa-nunjucks-2 and the optional peers @keyv/redis, keyv, prom-client
//     koa-views       strict TypeScript CommonJS, module commonjs (node10), koa-fragment-cache/metrics (checked, run)
//     koa-nunjucks-2  plain JavaScript CommonJS: koa-nunjucks-2's ctx.render, the extension added in its
//                     configureEnvironment option (run, exerciseShop)
//     koa-views-env   plain JavaScript ESM: @ladjs/koa-views' ctx.render, consolidate handed an Environment
//                     with the extension through its nunjucksEnv option (run, exerciseShop)
//   app "koa2": the tarball + koa@2 @types/koa@2 nunjucks@3.2.4 @koa/router@15 koa-nunjucks-2 @ladjs/koa-views
//     koa2            strict TypeScript CommonJS (nodenext) against @types/koa@2: views(env), cache.cached(),
//                     a fragment learning the visitor from ctx.state, memoize with tags (checked, run, exerciseShop)
//     koa-nunjucks-2, koa-views-env   the two apps above again, on Koa 2 (run, exerciseShop)
//   exerciseShop, over HTTP with three visitors (session cookies: Alice, Alice again, Bob) and a guest: the
//   fragments miss then hit (a render counter that does not advance), every page equals the same template
//   rendered without its cache tags by a plain nunjucks Environment, cached() answers MISS then HIT, each
//   visitor sees their own name (equal state shares a page), memoize runs once, and invalidateTags
//   re-renders the fragment, the pages and the memoized value.
//   app "copies": the tarball + koa@~3.1.0 nunjucks@3.2.3 + a local views-lib (file:, --install-links)
//                 that depends on nunjucks@3.2.4 exactly, so npm nests a second copy under it
//     copies   plain JavaScript ESM: views-lib's 3.2.4 Environment + addExtension(new CacheExtension())
//              → single escaping, includes in a loop, the macro guard; or a loud refusal naming both copies (run)
//   plain and full: what require('koa-fragment-cache') + new Cache() loads (test/package/app/import-graph.js)
//
// Everything happens in a temporary folder (removed afterwards; KEEP_TMP=1 keeps it); the repo's
// node_modules is never touched. `npm pack` runs the package's prepack (the library build into dist/).
// Prints one line per check and a closing "N passed, N failed"; exits 1 when any check failed.
'use strict';

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');

const repo = path.join(__dirname, '..', '..');
const fixtures = path.join(__dirname, 'app');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kfc-newcomer-'));
const started = Date.now();
const results = [];
const notes = [];

/** The environment for child npm/node: none of the npm_* variables `npm run` sets for this script. */
const childEnv = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name) && name !== 'INIT_CWD' && name !== 'CACHE_URL'));

function check(name, ok, detail) {
  results.push({ name, ok: Boolean(ok), detail });
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${!ok && detail ? `\n       ${String(detail).replace(/\n/g, '\n       ')}` : ''}`);
  return Boolean(ok);
}

/** Runs a command; resolves { code, stdout, stderr, ms }. Never rejects (a spawn error is code -1). */
function run(command, args, { cwd, timeoutMs = 300_000, env = childEnv } = {}) {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ code: -1, stdout, stderr: `${stderr}${err.message}`, ms: Date.now() - t0 });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? `${signal}` : -1), stdout, stderr, ms: Date.now() - t0 });
    });
  });
}

const tail = (text, lines = 25) => text.trim().split('\n').slice(-lines).join('\n');

// ---------------------------------------------------------------------------------------------
// 1. The tarball
// ---------------------------------------------------------------------------------------------

async function packAndInspect() {
  const pack = await run('npm', ['pack', '--json', '--pack-destination', tmp], { cwd: repo });
  if (!check('npm pack (prepack builds the library)', pack.code === 0, tail(pack.stderr + pack.stdout))) return undefined;
  const [info] = JSON.parse(pack.stdout.slice(pack.stdout.indexOf('[')));
  const tarball = path.join(tmp, info.filename);
  notes.push(`tarball: ${info.filename}, ${info.entryCount} files, ${(info.size / 1024).toFixed(1)} kB packed, ${(info.unpackedSize / 1024).toFixed(1)} kB unpacked (npm pack ${(pack.ms / 1000).toFixed(1)} s)`);

  const list = await run('tar', ['tzf', tarball]);
  check('tar tzf lists the tarball', list.code === 0, list.stderr);
  const files = list.stdout.split('\n').filter(Boolean).map((entry) => entry.replace(/^package\//, ''));
  const under = (prefix) => files.filter((file) => file === prefix || file.startsWith(`${prefix}/`));
  for (const prefix of ['dist/app', 'demo-dist', 'src/app', 'bench', 'test', 'scripts', 'views', 'public', 'data', 'node_modules']) {
    const found = under(prefix);
    check(`tarball has no ${prefix}/`, found.length === 0, `${found.length} entries, e.g. ${found.slice(0, 3).join(', ')}`);
  }
  for (const file of ['LICENSE', 'README.md', 'CHANGELOG.md', 'package.json', 'dist/index.js', 'dist/index.d.ts', 'dist/metrics.js', 'dist/metrics.d.ts', 'dist/otel.js', 'dist/otel.d.ts', 'dist/testing.js', 'dist/testing.d.ts']) {
    check(`tarball has ${file}`, files.includes(file));
  }

  // Every source map it ships must resolve inside the package, and every sourceMappingURL to a map.
  const unpacked = path.join(tmp, 'unpacked');
  fs.mkdirSync(unpacked);
  const untar = await run('tar', ['xzf', tarball, '-C', unpacked]);
  check('tarball unpacks', untar.code === 0, untar.stderr);
  const root = path.join(unpacked, 'package');
  const unresolved = [];
  const maps = files.filter((file) => file.endsWith('.map'));
  for (const map of maps) {
    let parsed;
    try {
      parsed = JSON.parse(fs.readFileSync(path.join(root, map), 'utf8'));
    } catch (err) {
      unresolved.push(`${map}: not JSON (${err.message})`);
      continue;
    }
    for (const source of parsed.sources || []) {
      const resolved = path.resolve(path.dirname(path.join(root, map)), parsed.sourceRoot || '', source);
      if (!resolved.startsWith(root + path.sep) || !fs.existsSync(resolved)) unresolved.push(`${map} → ${source}`);
    }
  }
  for (const js of files.filter((file) => /\.(c|m)?js$/.test(file))) {
    const match = /\/\/# sourceMappingURL=(\S+)\s*$/.exec(fs.readFileSync(path.join(root, js), 'utf8'));
    if (match && !match[1].startsWith('data:') && !fs.existsSync(path.resolve(path.dirname(path.join(root, js)), match[1]))) {
      unresolved.push(`${js} → ${match[1]}`);
    }
  }
  check(`every source map resolves (${maps.length} .map files shipped)`, unresolved.length === 0, `${unresolved.length} unresolved, e.g.\n${unresolved.slice(0, 5).join('\n')}`);

  const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  const deps = Object.keys(manifest.dependencies || {});
  const peers = manifest.peerDependencies || {};
  const optional = manifest.peerDependenciesMeta || {};
  for (const name of ['koa', 'nunjucks', '@koa/router', 'koa-static', '@keyv/redis', 'keyv', 'prom-client']) {
    check(`${name} is not a dependency of the package`, !deps.includes(name));
  }
  check('koa and nunjucks are (required) peer dependencies', peers.koa && peers.nunjucks && !optional.koa?.optional && !optional.nunjucks?.optional, JSON.stringify(peers));
  for (const name of ['@keyv/redis', 'keyv', 'prom-client', '@opentelemetry/api']) {
    check(`${name} is an optional peer dependency`, peers[name] && optional[name]?.optional === true, JSON.stringify({ peer: peers[name], meta: optional[name] }));
  }
  check('exports has ".", "./metrics", "./otel", "./testing" and "./package.json"', ['.', './metrics', './otel', './testing', './package.json'].every((key) => manifest.exports?.[key]), JSON.stringify(manifest.exports));
  check('typesVersions maps the subpaths for node10 resolution', ['metrics', 'otel', 'testing'].every((key) => manifest.typesVersions?.['*']?.[key]), JSON.stringify(manifest.typesVersions));
  return tarball;
}

// ---------------------------------------------------------------------------------------------
// 2. Fresh apps
// ---------------------------------------------------------------------------------------------

const COMMON = ['koa@~3.1.0', 'nunjucks@3.2.3', '@koa/router@14', '@types/koa__router@12', '@types/koa@3', '@types/nunjucks', 'typescript@~5.9', '@types/node@20'];
const APPS = {
  plain: { specs: COMMON, importGraph: true },
  full: { specs: [...COMMON, '@ladjs/koa-views@9', 'koa-nunjucks-2@3', '@keyv/redis', 'keyv', 'prom-client'], importGraph: true, koa: 3 },
  // Koa 2 as its users have it: the last 2.x with @types/koa@2 (which @ladjs/koa-views' optional peer wants).
  koa2: { specs: ['koa@2', '@types/koa@2', 'nunjucks@3.2.4', '@koa/router@15', '@types/nunjucks', 'typescript@~5.9', '@types/node@20', 'koa-nunjucks-2@3', '@ladjs/koa-views@9'], koa: 2 },
  // --install-links: npm packs views-lib and installs it as a real folder (not a symlink to the fixture),
  // so its nunjucks@3.2.4 lands in node_modules/views-lib/node_modules/, beside the app's nunjucks@3.2.3.
  copies: { specs: ['koa@~3.1.0', 'nunjucks@3.2.3', './views-lib'], flags: ['--install-links'], local: ['views-lib'], views: 'views-copies', nunjucks: ['3.2.3', '3.2.4'] },
};

async function installApp(name, tarball) {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify({ name: `newcomer-${name}`, version: '1.0.0', private: true }, null, 2)}\n`);
  for (const local of APPS[name].local ?? []) fs.cpSync(path.join(fixtures, local), path.join(dir, local), { recursive: true });
  // --prefer-offline: package metadata already in the npm cache is used without asking the registry
  // again (a fresh cache, as in CI, still gets the newest versions).
  const args = ['install', '--no-audit', '--no-fund', '--prefer-offline', ...(APPS[name].flags ?? []), tarball, ...APPS[name].specs];
  let install = await run('npm', args, { cwd: dir });
  if (install.code !== 0 && /ERESOLVE/.test(install.stderr)) {
    const why = install.stderr.split('\n').filter((line) => /Conflicting peer|peerOptional|Could not resolve/.test(line)).slice(0, 3);
    notes.push(`app "${name}": npm install failed with ERESOLVE and needed --legacy-peer-deps:\n      ${why.map((line) => line.replace(/^npm (error|warn) */, '')).join('\n      ')}`);
    install = await run('npm', [...args, '--legacy-peer-deps'], { cwd: dir });
  } else if (/ERESOLVE/.test(install.stderr)) {
    notes.push(`app "${name}": npm install warned (no --legacy-peer-deps needed): ${install.stderr.match(/peerOptional [^\n]*/)?.[0] ?? 'ERESOLVE'}`);
  }
  if (!check(`app "${name}": npm install ${APPS[name].specs.join(' ')} + the tarball (${(install.ms / 1000).toFixed(1)} s)`, install.code === 0, tail(install.stderr))) return undefined;

  // The same flags as the install: without --install-links npm ls calls the packed views-lib invalid.
  const ls = await run('npm', ['ls', ...(APPS[name].flags ?? []), 'koa', 'nunjucks', '--all', '--parseable'], { cwd: dir });
  const paths = ls.stdout.split('\n').filter(Boolean);
  const copiesOf = (pkg) => paths.filter((p) => path.basename(p) === pkg && path.basename(path.dirname(p)) === 'node_modules');
  const expected = { koa: 1, nunjucks: APPS[name].nunjucks?.length ?? 1 };
  for (const pkg of ['koa', 'nunjucks']) {
    const copies = copiesOf(pkg);
    check(`app "${name}": exactly ${expected[pkg] === 1 ? 'one' : expected[pkg]} ${pkg} (npm ls ${pkg} --all)`, copies.length === expected[pkg], `${copies.length} copies:\n${copies.join('\n')}\n${tail(ls.stderr, 5)}`);
  }
  if (APPS[name].nunjucks) {
    // The app's copy at the top (the one koa-fragment-cache resolves), views-lib's nested under it.
    const [top, nested] = APPS[name].nunjucks;
    const versionAt = (...parts) => {
      try {
        return JSON.parse(fs.readFileSync(path.join(dir, 'node_modules', ...parts, 'package.json'), 'utf8')).version;
      } catch {
        return 'missing';
      }
    };
    const found = { 'node_modules/nunjucks': versionAt('nunjucks'), 'node_modules/views-lib/node_modules/nunjucks': versionAt('views-lib', 'node_modules', 'nunjucks') };
    const linked = fs.lstatSync(path.join(dir, 'node_modules', 'views-lib'), { throwIfNoEntry: false })?.isSymbolicLink();
    check(
      `app "${name}": nunjucks ${top} at node_modules/nunjucks and ${nested} at node_modules/views-lib/node_modules/nunjucks (a real folder, not a link)`,
      found['node_modules/nunjucks'] === top && found['node_modules/views-lib/node_modules/nunjucks'] === nested && linked === false,
      `${JSON.stringify(found)}, views-lib is ${linked ? 'a symlink' : linked === false ? 'a folder' : 'missing'}\n${copiesOf('nunjucks').join('\n')}`,
    );
  }
  fs.cpSync(path.join(fixtures, APPS[name].views ?? 'views'), path.join(dir, 'views'), { recursive: true });
  return dir;
}

const TSCONFIG_BASE = { strict: true, target: 'ES2022', lib: ['ES2022'], types: ['node'], outDir: 'out', rootDir: '.' };
const FLAVOURS = [
  { name: 'esm', app: 'plain', source: 'app.ts', type: 'module', options: { module: 'nodenext', moduleResolution: 'nodenext' }, runs: true },
  { name: 'cjs', app: 'plain', source: 'app.ts', type: 'commonjs', options: { module: 'nodenext', moduleResolution: 'nodenext' }, runs: true },
  { name: 'bundler', app: 'plain', source: 'app.ts', type: 'module', options: { module: 'preserve', moduleResolution: 'bundler', noEmit: true }, runs: false },
  { name: 'mjs', app: 'plain', source: 'app.mjs', runs: true },
  { name: 'koa-views', app: 'full', source: 'app-koa-views.ts', type: 'commonjs', options: { module: 'commonjs', esModuleInterop: true }, runs: true },
  { name: 'copies', app: 'copies', source: 'app-copies.mjs', runs: true, exercise: exerciseCopies },
  { name: 'koa-nunjucks-2', label: 'koa-nunjucks-2 (Koa 3)', app: 'full', source: 'app-koa-nunjucks-2.js', type: 'commonjs', views: 'views-shop', runs: true, exercise: exerciseShop },
  { name: 'koa-views-env', label: 'koa-views-env (Koa 3)', app: 'full', source: 'app-koa-views-env.mjs', views: 'views-shop', runs: true, exercise: exerciseShop },
  { name: 'koa2', app: 'koa2', source: 'app-koa2.ts', type: 'commonjs', options: { module: 'nodenext', moduleResolution: 'nodenext' }, views: 'views-shop', runs: true, exercise: exerciseShop },
  { name: 'koa-nunjucks-2', label: 'koa-nunjucks-2 (Koa 2)', app: 'koa2', source: 'app-koa-nunjucks-2.js', type: 'commonjs', views: 'views-shop', runs: true, exercise: exerciseShop },
  { name: 'koa-views-env', label: 'koa-views-env (Koa 2)', app: 'koa2', source: 'app-koa-views-env.mjs', views: 'views-shop', runs: true, exercise: exerciseShop },
];

function writeFlavour(appDir, flavour) {
  const dir = path.join(appDir, flavour.name);
  fs.mkdirSync(dir);
  fs.copyFileSync(path.join(fixtures, flavour.source), path.join(dir, flavour.source));
  // Templates beside the app's views/ (the apps run with the app folder as their working directory).
  if (flavour.views && !fs.existsSync(path.join(appDir, flavour.views))) fs.cpSync(path.join(fixtures, flavour.views), path.join(appDir, flavour.views), { recursive: true });
  if (flavour.type) fs.writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify({ type: flavour.type })}\n`);
  if (flavour.options) {
    const tsconfig = { compilerOptions: { ...TSCONFIG_BASE, ...flavour.options }, files: [flavour.source] };
    fs.writeFileSync(path.join(dir, 'tsconfig.json'), `${JSON.stringify(tsconfig, null, 2)}\n`);
  }
  return dir;
}

async function typecheck(appDir, flavour) {
  const dir = path.join(appDir, flavour.name);
  const tsc = path.join(appDir, 'node_modules', 'typescript', 'bin', 'tsc');
  const settings = Object.entries(flavour.options).filter(([key]) => key !== 'noEmit').map(([key, value]) => `${key} ${value}`).join(', ');
  // An app that runs is checked and emitted by one tsc (it emits even when the check fails): one
  // program built instead of two.
  const emits = flavour.runs && !flavour.options.noEmit;
  const checked = await run(process.execPath, [tsc, '-p', dir, '--strict', ...(emits ? [] : ['--noEmit'])], { cwd: appDir });
  const ok = check(`${flavour.name}: tsc ${emits ? '' : '--noEmit '}--strict (${settings})`, checked.code === 0, tail(checked.stdout + checked.stderr, 30));
  if (emits) {
    const out = path.join(dir, 'out', flavour.source.replace(/\.ts$/, '.js'));
    check(`${flavour.name}: tsc emits ${path.relative(appDir, out)}`, fs.existsSync(out), tail(checked.stdout + checked.stderr));
  }
  return ok;
}

// ---------------------------------------------------------------------------------------------
// 3. Running the apps over HTTP
// ---------------------------------------------------------------------------------------------

function request(port, method, url, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: url, agent: false, headers: { connection: 'close', ...headers } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`${method} ${url}: no answer within 10 s`)));
    req.on('error', reject);
    req.end();
  });
}

/** Starts `node entry` in appDir (cwd: the app, as the README's views: 'views' expects); resolves the child and its port. */
function startApp(appDir, entry) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [entry], { cwd: appDir, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const fail = (why) => {
      child.kill('SIGKILL');
      // The start of stderr: an error's message and require stack come before its frames.
      reject(new Error(`${why}\n${(stderr || stdout).trim().split('\n').slice(0, 12).join('\n')}`));
    };
    const timer = setTimeout(() => fail('did not print its port within 20 s'), 20_000);
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      const match = /\{"listening":(\d+)\}/.exec(stdout);
      if (match) {
        clearTimeout(timer);
        resolve({ child, port: Number(match[1]), output: () => stderr });
      }
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      fail(`exited (${code ?? signal}) before listening`);
    });
  });
}

function stopApp(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve({ code: child.exitCode, inTime: true });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve({ code: 'SIGKILL', inTime: false });
    }, 5000);
    child.removeAllListeners('exit');
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? signal, inTime: true });
    });
    child.kill('SIGTERM');
  });
}

/** The fragment's parts, from the product page: the escaped name and the render number. */
function fragment(body) {
  return { name: /<h1 id="name">([^<]*)<\/h1>/.exec(body)?.[1], rendered: /fragment render (\d+)/.exec(body)?.[1] };
}

async function exercise(appDir, flavour) {
  const entry = flavour.source.endsWith('.ts') ? path.join(flavour.name, 'out', flavour.source.replace(/\.ts$/, '.js')) : path.join(flavour.name, flavour.source);
  let app;
  try {
    app = await startApp(appDir, entry);
  } catch (err) {
    check(`${flavour.name}: node ${entry} starts a Koa server on port 0`, false, err.message);
    return;
  }
  check(`${flavour.name}: node ${entry} starts a Koa server on port 0`, true);
  try {
    const miss = await request(app.port, 'GET', '/products/1');
    const hit = await request(app.port, 'GET', '/products/1');
    const [m, h] = [fragment(miss.body), fragment(hit.body)];
    check(`${flavour.name}: GET /products/1 twice answers 200 HTML`, miss.status === 200 && hit.status === 200 && /text\/html/.test(hit.headers['content-type']), `${miss.status} ${hit.status} ${hit.headers['content-type']}\n${tail(miss.body + app.output(), 15)}`);
    check(`${flavour.name}: the second request is a fragment hit (render #1 both times)`, m.rendered === '1' && h.rendered === '1', `renders: ${m.rendered}, ${h.rendered}`);
    check(`${flavour.name}: "<b>" is escaped exactly once on miss and hit (&lt;b&gt;)`, m.name === '&lt;b&gt;' && h.name === '&lt;b&gt;' && !/&amp;(lt|gt);/.test(miss.body + hit.body), `miss: ${m.name}, hit: ${h.name}`);
    const post = await request(app.port, 'POST', '/products/1', { 'x-new-name': '<i>' });
    const after = fragment((await request(app.port, 'GET', '/products/1')).body);
    check(`${flavour.name}: cache.delete(makeTemplateFragmentKey(…)) after a POST re-renders the fragment`, post.status === 302 && after.rendered === '2' && after.name === '&lt;i&gt;', `POST ${post.status}; then render #${after.rendered}, name ${after.name}`);
    if (flavour.name === 'koa-views') {
      const legacy = await request(app.port, 'GET', '/legacy');
      check('koa-views: a page rendered by @ladjs/koa-views in the same app', legacy.status === 200 && /rendered by koa-views: hello/.test(legacy.body), `${legacy.status}\n${tail(legacy.body + app.output(), 10)}`);
      const metrics = await request(app.port, 'GET', '/metrics');
      check('koa-views: koa-fragment-cache/metrics serves Prometheus metrics', metrics.status === 200 && /kfc_|cache_/.test(metrics.body), `${metrics.status}\n${tail(metrics.body, 5)}`);
    }
  } catch (err) {
    check(`${flavour.name}: HTTP requests`, false, `${err.message}\n${tail(app.output(), 15)}`);
  } finally {
    const stopped = await stopApp(app.child);
    check(`${flavour.name}: exits by itself after SIGTERM (server.close + cache.close)`, stopped.inTime && stopped.code === 0, `exit ${stopped.code}\n${tail(app.output(), 10)}`);
  }
}

/**
 * App "copies": the Environment comes from views-lib's nunjucks, the library resolves the app's. Two
 * outcomes pass: the extension works with the other copy (single escaping on miss and hit, every
 * included cache tag's output, the macro guard), or addExtension refused loudly, naming both copies.
 */
async function exerciseCopies(appDir, flavour) {
  const entry = path.join(flavour.name, flavour.source);
  let app;
  try {
    app = await startApp(appDir, entry);
  } catch (err) {
    check(`${flavour.name}: node ${entry} starts a Koa server on port 0`, false, err.message);
    return;
  }
  check(`${flavour.name}: node ${entry} starts a Koa server on port 0`, true);
  const [top, nested] = APPS.copies.nunjucks;
  try {
    const outcome = JSON.parse((await request(app.port, 'GET', '/outcome')).body);
    check(`${flavour.name}: the app resolves nunjucks ${top}, views-lib's Environment is nunjucks ${nested}`, outcome.nunjucks?.app === top && outcome.nunjucks?.env === nested, JSON.stringify(outcome.nunjucks));
    if (outcome.refused !== undefined) {
      // The loud outcome: the message must name both copies' folders (as the library sees them: real paths).
      const real = fs.realpathSync(appDir);
      const roots = [path.join(real, 'node_modules', 'nunjucks'), path.join(real, 'node_modules', 'views-lib', 'node_modules', 'nunjucks')];
      const named = roots.filter((root) => outcome.refused.includes(root) || outcome.refused.includes(root.replace(real, appDir)));
      check(`${flavour.name}: addExtension refused loudly, naming both nunjucks copies' paths`, named.length === 2, `named ${named.length} of\n${roots.join('\n')}\nin: ${outcome.refused}`);
      notes.push(`app "copies": outcome REFUSED — addExtension on the nunjucks ${nested} Environment threw: ${outcome.refused.split('\n')[0]}`);
      return;
    }
    check(`${flavour.name}: addExtension on the nunjucks ${nested} Environment succeeded`, outcome.added === true, JSON.stringify(outcome));

    const expected = '<i>&lt;b&gt;</i>[1][2][3]';
    const pages = [await request(app.port, 'GET', '/page'), await request(app.port, 'GET', '/page')];
    pages.forEach((page, i) => {
      const which = i === 0 ? 'miss' : 'hit';
      const html = page.body.replace(/\s+/g, '');
      check(
        `${flavour.name}: GET /page (${which}) answers ${expected}: "<b>" escaped once, every included card's fragment present`,
        page.status === 200 && html === expected && !/&amp;/.test(page.body),
        `${page.status}: ${tail(page.body, 8)}\n${tail(app.output(), 8)}`,
      );
    });
    const fragments = pages.map((page) => page.headers['x-fragments']);
    check(`${flavour.name}: the first render misses all 4 fragments, the second hits all 4`, fragments[0] === 'miss=4 hit=0' && fragments[1] === 'miss=0 hit=4', `x-fragments: ${fragments.join(', then ')}`);

    const guarded = await request(app.port, 'GET', '/guarded');
    let error;
    try {
      error = JSON.parse(guarded.body).error;
    } catch {
      error = undefined;
    }
    check(
      `${flavour.name}: GET /guarded fails with "cannot be used inside {% macro %}" (the macro guard works with nunjucks ${nested})`,
      guarded.status === 500 && typeof error === 'string' && error.includes('cannot be used inside {% macro %}'),
      `${guarded.status}: ${tail(error ?? guarded.body, 8)}`,
    );
    notes.push(`app "copies": outcome WORKS — CacheExtension on the nunjucks ${nested} Environment (app's copy ${top}): single escaping on miss and hit, included fragments, macro guard`);
  } catch (err) {
    check(`${flavour.name}: HTTP requests`, false, `${err.message}\n${tail(app.output(), 15)}`);
  } finally {
    const stopped = await stopApp(app.child);
    check(`${flavour.name}: exits by itself after SIGTERM (server.close + cache.close)`, stopped.inTime && stopped.code === 0, `exit ${stopped.code}\n${tail(app.output(), 10)}`);
  }
}

/** The parts of a views-shop page: who it greets, the product fragment's name and render number. */
function shopPage(response) {
  const body = response.body;
  return {
    xCache: response.headers['x-cache'],
    fragments: response.headers['x-fragments'],
    user: /<p id="user">Signed in as ([^<]*)<\/p>/.exec(body)?.[1],
    greeting: /<p id="greeting">Welcome back, ([^<]*)<\/p>/.exec(body)?.[1] ?? null,
    name: /<h1 id="name">([^<]*)<\/h1>/.exec(body)?.[1],
    rendered: /fragment render (\d+)/.exec(body)?.[1],
  };
}

/**
 * The shop apps (app-koa2.ts, app-koa-nunjucks-2.js, app-koa-views-env.mjs): one product page with a
 * product fragment (tagged product:1, a render counter in its body) and a per-visitor greeting fragment,
 * rendered by the app's renderer, on a cache.cached() route and on a route without it; visitors are
 * session cookies (a1 and a2: two sessions of "Alice", b1: "Bob") that middleware turns into
 * ctx.state.user. Every page is compared with the same template rendered without its cache tags by a
 * plain nunjucks Environment (GET /reference/…, the counter given as ?render=N).
 */
async function exerciseShop(appDir, flavour) {
  const label = flavour.label ?? flavour.name;
  const entry = flavour.source.endsWith('.ts') ? path.join(flavour.name, 'out', flavour.source.replace(/\.ts$/, '.js')) : path.join(flavour.name, flavour.source);
  let app;
  try {
    app = await startApp(appDir, entry);
  } catch (err) {
    check(`${label}: node ${entry} starts a Koa server on port 0`, false, err.message);
    return;
  }
  check(`${label}: node ${entry} starts a Koa server on port 0`, true);
  const get = (url, sid) => request(app.port, 'GET', url, sid ? { cookie: `sid=${sid}` } : {});
  const reference = async (sid, render) => (await get(`/reference/products/1?render=${render}`, sid)).body;
  const show = (response) => JSON.stringify(shopPage(response));
  const detail = (responses, expected) =>
    `${responses.map(show).join('\n')}${expected && responses.some((r) => r.body !== expected) ? `\nexpected:\n${tail(expected, 12)}\ngot:\n${tail(responses.find((r) => r.body !== expected).body, 12)}` : ''}\n${tail(app.output(), 8)}`;
  try {
    const versions = JSON.parse((await get('/counts')).body);
    const koaMajor = APPS[flavour.app].koa;
    check(`${label}: runs on koa ${koaMajor}.x (${versions.koa}), nunjucks ${versions.nunjucks}`, String(versions.koa).startsWith(`${koaMajor}.`), JSON.stringify(versions));

    // A page rendered on every request: only its fragments are cached.
    const fragmentPages = [await get('/fragments/products/1', 'a1'), await get('/fragments/products/1', 'a1')];
    const [f1, f2] = fragmentPages.map(shopPage);
    check(
      `${label}: a page rendered twice: both fragments miss, then both hit (x-fragments), the counter in the fragment stays at render #1`,
      fragmentPages.every((r) => r.status === 200 && /text\/html/.test(r.headers['content-type'])) && f1.fragments === 'miss=2 hit=0' && f2.fragments === 'miss=0 hit=2' && f1.rendered === '1' && f2.rendered === '1',
      detail(fragmentPages),
    );
    const alice1 = await reference('a1', 1);
    check(
      `${label}: miss and hit equal the template rendered without the cache ("<b>" escaped once, Alice greeted)`,
      fragmentPages.every((r) => r.body === alice1) && f1.name === '&lt;b&gt;' && f1.user === 'Alice' && f1.greeting === 'Alice',
      detail(fragmentPages, alice1),
    );

    // cache.cached(): one page per visitor state.
    const alicePages = [await get('/products/1', 'a1'), await get('/products/1', 'a1')];
    const [p1, p2] = alicePages.map(shopPage);
    check(
      `${label}: cache.cached() answers X-Cache MISS (its fragments hit), then HIT with the same page, equal to the uncached render`,
      p1.xCache === 'MISS' && p1.fragments === 'miss=0 hit=2' && p2.xCache === 'HIT' && p2.fragments === 'miss=0 hit=0' && alicePages.every((r) => r.body === alice1),
      detail(alicePages, alice1),
    );
    const bobPages = [await get('/products/1', 'b1'), await get('/products/1', 'b1')];
    const [b1, b2] = bobPages.map(shopPage);
    const bob1 = await reference('b1', 1);
    check(
      `${label}: Bob (another ctx.state.user) gets his own page, not Alice's: MISS (product fragment hit, his greeting rendered), then HIT; his name, equal to the uncached render`,
      b1.xCache === 'MISS' && b1.fragments === 'miss=1 hit=1' && b2.xCache === 'HIT' && b1.user === 'Bob' && b1.greeting === 'Bob' && b1.rendered === '1' && bobPages.every((r) => r.body === bob1),
      detail(bobPages, bob1),
    );
    const aliceAgain = await get('/products/1', 'a2');
    check(
      `${label}: a second session of a visitor with equal state (Alice) is served Alice's stored page (HIT)`,
      shopPage(aliceAgain).xCache === 'HIT' && aliceAgain.body === alice1,
      detail([aliceAgain], alice1),
    );
    const guest = await get('/products/1');
    const guestReference = await reference(undefined, 1);
    const g = shopPage(guest);
    check(
      `${label}: a guest (no cookie): MISS, "guest", no greeting, product fragment hit; equal to the uncached render`,
      g.xCache === 'MISS' && g.user === 'guest' && g.greeting === null && g.fragments === 'miss=0 hit=1' && guest.body === guestReference,
      detail([guest], guestReference),
    );
    const counts = JSON.parse((await get('/counts')).body);
    check(`${label}: the memoized loadReviews ran once for the 5 pages computed (the fragment body rendered once)`, counts.reviewQueries === 1 && counts.renders === 1, JSON.stringify(counts));

    // invalidateTags(['product:1']): the fragment's tag, bubbled up to the stored pages, and the memoized value's.
    const post = await request(app.port, 'POST', '/products/1', { 'x-new-name': '<i>' });
    const afterPages = [await get('/products/1', 'a1'), await get('/products/1', 'b1')];
    const [a, b] = afterPages.map(shopPage);
    const [alice2, bob2] = [await reference('a1', 2), await reference('b1', 2)];
    const after = JSON.parse((await get('/counts')).body);
    check(
      `${label}: after invalidateTags(['product:1']) Alice's and Bob's stored pages are misses, the fragment re-renders once (#2, "<i>") and the memoized value is recomputed`,
      post.status === 302 && a.xCache === 'MISS' && b.xCache === 'MISS' && a.rendered === '2' && b.rendered === '2' && a.name === '&lt;i&gt;' &&
        a.fragments === 'miss=1 hit=1' && b.fragments === 'miss=0 hit=2' && afterPages[0].body === alice2 && afterPages[1].body === bob2 &&
        after.renders === 2 && after.reviewQueries === 2,
      `POST ${post.status}; counts ${JSON.stringify(after)}\n${detail(afterPages)}`,
    );
  } catch (err) {
    check(`${label}: HTTP requests`, false, `${err.message}\n${tail(app.output(), 15)}`);
  } finally {
    const stopped = await stopApp(app.child);
    check(`${label}: exits by itself after SIGTERM (server.close + cache.close)`, stopped.inTime && stopped.code === 0, `exit ${stopped.code}\n${tail(app.output(), 10)}`);
  }
}

// ---------------------------------------------------------------------------------------------
// 4. The import graph
// ---------------------------------------------------------------------------------------------

async function importGraph(appDir, appName) {
  fs.copyFileSync(path.join(fixtures, 'import-graph.js'), path.join(appDir, 'import-graph.cjs'));
  const probe = await run(process.execPath, ['import-graph.cjs'], { cwd: appDir, timeoutMs: 30_000 });
  let result;
  try {
    result = JSON.parse(probe.stdout.trim().split('\n').pop());
  } catch {
    check(`app "${appName}": import-graph probe runs`, false, tail(probe.stdout + probe.stderr));
    return;
  }
  const peers = appName === 'full' ? 'installed' : 'not installed';
  if (result.error) {
    const from = result.error.requireStack.map((file) => file.replace(/.*node_modules[\\/]/, '')).join(' ← ');
    check(`app "${appName}": require('koa-fragment-cache') + new Cache() works with the optional peers ${peers}`, false, `${result.error.code}: ${result.error.message}${from ? `\n  required from ${from}` : ''}`);
    return;
  }
  check(`app "${appName}": require('koa-fragment-cache') + new Cache() works with the optional peers ${peers}`, true);
  notes.push(`app "${appName}": require('koa-fragment-cache') + new Cache(): ${result.files} module files from ${result.packages.length} packages (${result.packages.join(', ')}), ${result.builtins} more built-ins, ${result.ms.toFixed(1)} ms`);
  for (const name of ['@keyv/redis', '@redis/client', 'keyv', 'prom-client']) {
    const loaded = result.optionalLoaded.find((entry) => entry.name === name);
    check(`app "${appName}": the memory store does not load ${name}`, !loaded, loaded && `${name} was loaded (${loaded.file}), required along\n  ${loaded.chain.join('\n  → ')}`);
  }
  for (const [specifier, resolved] of Object.entries(result.resolves)) {
    check(`app "${appName}": require.resolve('${specifier}')`, !resolved.startsWith('ERROR'), resolved);
  }
}

// ---------------------------------------------------------------------------------------------

async function main() {
  console.log(`newcomer: working in ${tmp}`);
  const phases = [];
  let t0 = Date.now();
  const phase = (name) => {
    phases.push(`${name} ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    t0 = Date.now();
  };
  const tarball = await packAndInspect();
  phase('pack');
  if (!tarball) return;
  const apps = {};
  // The installs at once: they wait on the network and the npm cache more than on the CPU.
  await Promise.all(Object.keys(APPS).map(async (name) => (apps[name] = await installApp(name, tarball))));
  phase(`${Object.keys(APPS).length} installs`);

  const flavours = FLAVOURS.filter((flavour) => apps[flavour.app]);
  for (const flavour of flavours) writeFlavour(apps[flavour.app], flavour);
  // Two type-checks at a time (the machine has two cores).
  const typed = flavours.filter((flavour) => flavour.options);
  const queue = [...typed];
  const checked = new Map();
  await Promise.all([0, 1].map(async () => {
    for (let flavour = queue.shift(); flavour; flavour = queue.shift()) checked.set(flavour, await typecheck(apps[flavour.app], flavour));
  }));
  phase(`${typed.length} type-checks`);
  const running = flavours.filter((f) => f.runs);
  for (const flavour of running) await (flavour.exercise ?? exercise)(apps[flavour.app], flavour);
  phase(`${running.length} apps over HTTP`);
  for (const name of Object.keys(apps)) if (apps[name] && APPS[name].importGraph) await importGraph(apps[name], name);
  phase('import graphs');
  notes.unshift(`time: ${phases.join(', ')}`);
}

main()
  .catch((err) => check('newcomer script', false, err.stack))
  .finally(() => {
    if (process.env.KEEP_TMP === '1') notes.push(`kept ${tmp}`);
    else fs.rmSync(tmp, { recursive: true, force: true });
    const failed = results.filter((result) => !result.ok);
    console.log(`\nnewcomer report (${((Date.now() - started) / 1000).toFixed(1)} s):`);
    for (const note of notes) console.log(`  - ${note}`);
    for (const result of failed) console.log(`  FAILED: ${result.name}`);
    console.log(`\npackage: ${results.length - failed.length} passed, ${failed.length} failed`);
    process.exitCode = failed.length ? 1 : 0;
  });
