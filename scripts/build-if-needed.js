#!/usr/bin/env node
// Compiles src/ into dist/ when dist/ is missing or older than any source (or tsconfig) file, so that
// `npm start` always runs the current code and skips the compile when nothing changed.
'use strict';

const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
// The file `npm start` runs: every build rewrites it, so its time is the time of the last build.
const output = path.join(root, 'dist', 'app', 'server.js');
const inputs = [path.join(root, 'tsconfig.json'), path.join(root, 'tsconfig.build.json'), ...filesUnder(path.join(root, 'src'))];

function filesUnder(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? filesUnder(full) : [full];
  });
}

function mtimeMs(file) {
  try {
    return fs.statSync(file).mtimeMs;
  } catch (err) {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  }
}

const builtAt = mtimeMs(output);
const changed = builtAt === undefined ? [] : inputs.filter((file) => mtimeMs(file) > builtAt);
if (builtAt !== undefined && changed.length === 0) process.exit(0);

console.log(builtAt === undefined ? 'dist/app/server.js is missing: building' : `${path.relative(root, changed[0])} changed: building`);
try {
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json'], {
    cwd: root,
    stdio: 'inherit',
  });
} catch {
  // tsc emits even when it reports errors; without this the next run would take dist/ as current.
  fs.rmSync(output, { force: true });
  process.exit(1);
}
