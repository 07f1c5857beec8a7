import { fork } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import type { CacheOptions } from '../../src';

/** The Host header `get` sends (a cached response's key holds it): the same from every process. */
export const SHARED_HOST = 'shared.test';

/** A Cache living in a child process (see cache-process-main.js): each call is a round trip over IPC. */
export interface CacheProcess {
  pid: number;
  call<T = unknown>(op: string, ...args: unknown[]): Promise<T>;
  /** GET `urlPath` from the process's app, with Host `SHARED_HOST`. */
  get(urlPath: string): Promise<{ status: number; text: string; cache: string | null }>;
  close(): Promise<void>;
}

export async function startCacheProcess(options: CacheOptions): Promise<CacheProcess> {
  const child = fork(path.join(__dirname, 'cache-process-main.js'), [], {
    env: { ...process.env, CACHE_OPTIONS: JSON.stringify(options) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let nextId = 0;
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the cache process exited (${code}) before it was ready`)));
    child.on('message', (message: { ready?: boolean; id?: number; result?: unknown; error?: string; undefined?: boolean }) => {
      if (message.ready) return resolve();
      const waiter = pending.get(message.id!);
      pending.delete(message.id!);
      if (message.error !== undefined) waiter?.reject(new Error(message.error));
      else waiter?.resolve(message.undefined ? undefined : message.result);
    });
  });
  const call = <T>(op: string, ...args: unknown[]) =>
    new Promise<T>((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      child.send({ id, op, args });
    });
  const port = await call<number>('port');
  return {
    pid: child.pid!,
    call,
    get: (urlPath) =>
      new Promise((resolve, reject) => {
        const req = http.get({ host: '127.0.0.1', port, path: urlPath, headers: { host: SHARED_HOST } }, (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
          res.on('end', () => resolve({ status: res.statusCode!, text, cache: (res.headers['x-cache'] as string | undefined) ?? null }));
        });
        req.on('error', reject);
      }),
    async close() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.disconnect();
      await exited;
    },
  };
}
