import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import Router from '@koa/router';
import request from 'supertest';

/** A Koa app with a router, listening on one port for the whole test (the Host is part of the key). */
export interface TestApp {
  app: Koa;
  router: Router;
  host: string;
  get(url: string): request.Test;
  head(url: string): request.Test;
  post(url: string): request.Test;
  close(): Promise<void>;
}

const open: TestApp[] = [];

/** Starts an app whose routes `setup` adds; errors the app emits are collected, not logged. */
export async function startApp(setup: (router: Router, app: Koa) => void, errors: unknown[] = []): Promise<TestApp> {
  const app = new Koa();
  app.on('error', (err) => errors.push(err));
  const router = new Router();
  setup(router, app);
  app.use(router.routes());
  const server: Server = await new Promise((resolve) => {
    const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
  });
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  const testApp: TestApp = {
    app,
    router,
    host,
    get: (url) => request(server).get(url),
    head: (url) => request(server).head(url),
    post: (url) => request(server).post(url),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  open.push(testApp);
  return testApp;
}

/** Closes every app started since the last call (for afterEach). */
export async function closeApps(): Promise<void> {
  await Promise.all(open.splice(0).map((testApp) => testApp.close()));
}

/** A route handler that counts its runs and answers `<prefix> <run number>`. */
export function counting(prefix = 'run'): { runs: () => number; handler: (ctx: Koa.Context) => void } {
  let runs = 0;
  return {
    runs: () => runs,
    handler: (ctx) => {
      runs++;
      ctx.type = 'html';
      ctx.body = `${prefix} ${runs}`;
    },
  };
}
