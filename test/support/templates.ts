import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type nunjucks from 'nunjucks';

/** A temporary views folder: `write(name, source)` puts a template in it. */
export function viewsFolder(): { dir: string; write: (name: string, source: string) => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kfc-views-'));
  return {
    dir,
    write(name, source) {
      fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
      fs.writeFileSync(path.join(dir, name), source);
    },
  };
}

/** Renders through the callback API (the only one that runs async tags). */
export function render(env: nunjucks.Environment, name: string, context: object = {}): Promise<string> {
  return new Promise((resolve, reject) => env.render(name, context, (err, html) => (err ? reject(err) : resolve(html!))));
}

export function renderString(env: nunjucks.Environment, source: string, context: object = {}): Promise<string> {
  return new Promise((resolve, reject) =>
    env.renderString(source, context, (err, html) => (err ? reject(err) : resolve(html!))),
  );
}
