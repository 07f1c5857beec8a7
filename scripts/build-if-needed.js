#!/usr/bin/env node
// Compiles what is out of date, so that `npm start`, the child-process tests and the benchmarks
// always run the current code and skip the compile when nothing changed:
//   - the library: src/ without src/app, by tsconfig.build.json, into dist/ (what the package ships);
//   - the demo app: src/app and the library it imports, by tsconfig.demo.json, into demo-dist/
//     (`npm start` runs demo-dist/app/server.js; never published).
// A target is out of date when its output file is missing or older than any of its inputs.
'use strict';

const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const src = path.join(root, 'src');
const demoSrc = path.join(src, 'app');
const sharedConfig = path.join(root, 'tsconfig.json');

function filesUnder(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? filesUnder(full) : [full];
  });
}

const sources = filesUnder(src);
const targets = [
  {
    // Every build rewrites it, so its time is the time of the last build.
    output: path.join(root, 'dist', 'index.js'),
    config: 'tsconfig.build.json',
    inputs: [sharedConfig, path.join(root, 'tsconfig.build.json'), ...sources.filter((file) => !file.startsWith(demoSrc + path.sep))],
  },
  {
    output: path.join(root, 'demo-dist', 'app', 'server.js'),
    config: 'tsconfig.demo.json',
    inputs: [sharedConfig, path.join(root, 'tsconfig.demo.json'), ...sources],
  },
];

function mtimeMs(file) {
  try {
    return fs.statSync(file).mtimeMs;
  } catch (err) {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  }
}

for (const { output, config, inputs } of targets) {
  const builtAt = mtimeMs(output);
  const changed = builtAt === undefined ? [] : inputs.filter((file) => mtimeMs(file) > builtAt);
  if (builtAt !== undefined && changed.length === 0) continue;

  const why = builtAt === undefined ? `${path.relative(root, output)} is missing` : `${path.relative(root, changed[0])} changed`;
  console.log(`${why}: building (${config})`);
  try {
    execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', config], { cwd: root, stdio: 'inherit' });
  } catch {
    // tsc emits even when it reports errors; without this the next run would take the output as current.
    fs.rmSync(output, { force: true });
    process.exit(1);
  }
}
