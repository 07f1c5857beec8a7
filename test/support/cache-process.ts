import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { CacheOptions } from '../../src';

/** A Cache living in a child process (see cache-process-main.js): each call is a round trip over IPC. */
export interface CacheProcess {
  pid: number;
  call<T = unknown>(op: string, ...args: unknown[]): Promise<T>;
  close(): Promise<void>;
}

export async function startCacheProcess(options: CacheOptions): Promise<CacheProcess> {
  const child: ChildProcess = fork(path.join(__dirname, 'cache-process-main.js'), [], {
    env: { ...process.env, CACHE_OPTIONS: JSON.stringify(options) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let nextId = 0;
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.on('message', (message: { ready?: boolean; id?: number; result?: unknown; error?: string; undefined?: boolean }) => {
      if (message.ready) return resolve();
      const waiter = pending.get(message.id!);
      pending.delete(message.id!);
      if (message.error !== undefined) waiter?.reject(new Error(message.error));
      else waiter?.resolve(message.undefined ? undefined : message.result);
    });
  });
  return {
    pid: child.pid!,
    call<T>(op: string, ...args: unknown[]) {
      const id = nextId++;
      return new Promise<T>((resolve, reject) => {
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
        child.send({ id, op, args });
      });
    },
    async close() {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.disconnect();
      await exited;
    },
  };
}
