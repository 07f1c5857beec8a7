import { existsSync } from 'node:fs';
import path from 'node:path';

/**
 * The folder holding package.json, found by walking up from this file: the same answer whether
 * this runs as src/app/paths.ts (ts-jest) or demo-dist/app/paths.js (compiled).
 */
function findRepoRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

const root = findRepoRoot(__dirname);

/** Where the demo app's files live. */
export const appPaths = {
  root,
  views: path.join(root, 'views'),
  public: path.join(root, 'public'),
  seedFile: path.join(root, 'data', 'catalog.seed.json'),
  dataFile: path.join(root, 'data', 'catalog.json'),
} as const;
