/**
 * koa-fragment-cache/testing: the `Store` contract as a test suite, for whoever writes a store. It
 * asserts what the `Store` interface promises (docs/writing-a-store.md) with `node:assert`, under
 * the test runner you hand it: it imports no test framework, and reads no globals.
 */
import { randomUUID } from 'node:crypto';
import type { Store } from './store/store';
import { CAPABILITY_CHECKS } from './store/contract/capability-checks';
import { CHECKS, type Check, type CheckContext } from './store/contract/store-checks';

/**
 * The functions of your test runner the suite registers its tests with: jest's or vitest's
 * globals, `node:test`'s exports, mocha's (its `it` as `test`).
 */
export interface TestFunctions {
  describe(name: string, body: () => void): void;
  test(name: string, body: () => Promise<void>): void;
  beforeEach(hook: () => Promise<void>): void;
  afterEach(hook: () => Promise<void>): void;
}

export interface StoreContractOptions {
  /**
   * The ttl of the entries the suite lets expire, in ms: long enough for a write and a read to
   * land before it runs out. Default 100.
   */
  ttlMs?: number;
  /**
   * Lets `ms` pass for the store's expiry. Default: waits `ms` of real time. A store that reads a
   * clock you move can move it instead, and the suite then never waits.
   */
  wait?(ms: number): Promise<void>;
  /** How long `close()` may take. Default 2000. */
  closeWithinMs?: number;
}

/**
 * Registers the contract's tests under `describe(name …)`. `makeStore(namespace)` is called for
 * each test and must make a new store over your backend that keeps its entries under `namespace`:
 * stores of other namespaces share the backend, and `clear()` of one must leave the others'
 * entries. After each test the suite clears and closes every store it made. Checks of a capability
 * (`capabilities.sync`, `l1`, `fencedIncrements`, `memoryUsage`, `whenChanged`) pass at once on a
 * store that does not declare it.
 */
export function runStoreContract(
  name: string,
  makeStore: (namespace: string) => Store | Promise<Store>,
  runner: TestFunctions,
  options: StoreContractOptions = {},
): void {
  const ttlMs = options.ttlMs ?? 100;
  const closeWithinMs = options.closeWithinMs ?? 2000;
  const wait = options.wait ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  runner.describe(`${name} keeps the Store contract`, () => {
    let made: Store[] = [];
    let context: CheckContext | undefined;
    runner.beforeEach(async () => {
      const namespace = newNamespace();
      const make = async (of: string) => {
        const store = await makeStore(of);
        made.push(store);
        return store;
      };
      context = {
        store: await make(namespace),
        another: (sameNamespace = false) => make(sameNamespace ? namespace : newNamespace()),
        unmanaged: async () => makeStore(namespace),
        wait,
        ttlMs,
        closeWithinMs,
      };
    });
    runner.afterEach(async () => {
      const stores = made;
      made = [];
      context = undefined;
      for (const store of stores) {
        try {
          await store.clear();
        } finally {
          await store.close();
        }
      }
    });
    for (const check of [...CHECKS, ...CAPABILITY_CHECKS]) {
      runner.test(check.needs ? `${check.name} (when declared)` : check.name, async () => {
        if (!context) throw new Error('the store was not made: see the failure of beforeEach');
        if (!declares(context.store, check.needs)) return;
        await check.run(context);
      });
    }
  });
}

function declares(store: Store, needs: Check['needs']): boolean {
  if (needs === undefined) return true;
  if (needs === 'whenChanged') return typeof store.whenChanged === 'function';
  return store.capabilities?.[needs] !== undefined;
}

function newNamespace(): string {
  return `kfc-contract-${randomUUID().slice(0, 8)}`;
}
