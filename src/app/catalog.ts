import { randomUUID } from 'node:crypto';
import { access, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Product {
  id: number;
  name: string;
  price: number;
  category: string;
  description: string;
  onSale: boolean;
}

export type ProductPatch = Partial<Omit<Product, 'id'>>;

export interface CategoryCount {
  category: string;
  count: number;
}

/** An edit the catalog refuses; its message is meant for the person who made it. */
export class InvalidProductError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidProductError';
  }
}

export interface CatalogOptions {
  /** The live JSON file; created from `seedFile` when missing. */
  file: string;
  seedFile: string;
  /** Simulated cost of loading product records, so that uncached pages are visibly slow. Default 150. */
  latencyMs?: number;
}

const DEFAULT_LATENCY_MS = 150;

/**
 * The demo's product "database": a JSON file. Loading product records (`list`, `get`) pays
 * `latencyMs` like a slow query would; the id index (`ids`) is cheap, as an index usually is.
 * Edits are validated and run read-modify-write under a lock file, so that edits from several
 * processes (`WORKERS=4`) never lose one another, and are written atomically (temp file in the same
 * folder, then rename), so a reader sees the old file or the new one, never half of one.
 */
export class Catalog {
  readonly file: string;
  private readonly seedFile: string;
  private readonly latencyMs: number;
  private ready: Promise<void> | undefined;
  /** Edits run one at a time, so two concurrent edits cannot lose one another. */
  private writes: Promise<unknown> = Promise.resolve();

  constructor({ file, seedFile, latencyMs = DEFAULT_LATENCY_MS }: CatalogOptions) {
    if (!(latencyMs >= 0)) throw new RangeError(`latencyMs must be >= 0, got ${latencyMs}`);
    this.file = file;
    this.seedFile = seedFile;
    this.latencyMs = latencyMs;
  }

  async ids(): Promise<number[]> {
    return (await this.readAll()).map((product) => product.id);
  }

  async list(): Promise<Product[]> {
    await sleep(this.latencyMs);
    return this.readAll();
  }

  async get(id: number): Promise<Product | undefined> {
    await sleep(this.latencyMs);
    return (await this.readAll()).find((product) => product.id === id);
  }

  /** How many products each category has, by category name: a slow query (it loads every record). */
  async categoryCounts(): Promise<CategoryCount[]> {
    const counts = new Map<string, number>();
    for (const { category } of await this.list()) counts.set(category, (counts.get(category) ?? 0) + 1);
    return [...counts].sort(([a], [b]) => a.localeCompare(b)).map(([category, count]) => ({ category, count }));
  }

  /**
   * Applies `patch` to product `id` and saves the catalog. Resolves the updated product, or
   * `undefined` when there is no such product; rejects with `InvalidProductError` for a bad edit.
   */
  update(id: number, patch: ProductPatch): Promise<Product | undefined> {
    const edit = this.writes.then(async () => {
      const changes = validPatch(patch);
      return withFileLock(`${this.file}.lock`, async () => {
        const products = await this.readAll();
        const index = products.findIndex((product) => product.id === id);
        if (index === -1) return undefined;
        const updated = { ...products[index], ...changes };
        products[index] = updated;
        await writeAtomically(this.file, JSON.stringify(products, null, 2) + '\n');
        return updated;
      });
    });
    this.writes = edit.catch(() => undefined);
    return edit;
  }

  private async readAll(): Promise<Product[]> {
    // Remembered so that the seed copy happens once and can never overwrite a later edit.
    this.ready ??= this.createFromSeedIfMissing().catch((err: unknown) => {
      this.ready = undefined; // a later read tries again
      throw err;
    });
    await this.ready;
    return JSON.parse(await readFile(this.file, 'utf8')) as Product[];
  }

  private async createFromSeedIfMissing(): Promise<void> {
    try {
      await access(this.file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      await writeAtomically(this.file, await readFile(this.seedFile, 'utf8'));
    }
  }
}

function validPatch(patch: ProductPatch): ProductPatch {
  const valid: ProductPatch = { ...patch };
  if (patch.name !== undefined) {
    valid.name = patch.name.trim();
    if (valid.name === '') throw new InvalidProductError('Name must not be empty.');
  }
  if (patch.price !== undefined && !(Number.isFinite(patch.price) && patch.price >= 0)) {
    throw new InvalidProductError('Price must be a number of 0 or more.');
  }
  if (patch.category !== undefined) valid.category = patch.category.trim();
  if (patch.description !== undefined) valid.description = patch.description.trim();
  return valid;
}

/** A lock older than this was left by a process that died while holding it. */
const STALE_LOCK_MS = 5000;
const LOCK_RETRY_MS = 10;

/** Runs `work` holding `lockFile` (created exclusively), so that one process at a time runs it. */
async function withFileLock<T>(lockFile: string, work: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      await (await open(lockFile, 'wx')).close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const held = await stat(lockFile).catch(() => undefined);
      if (held && Date.now() - held.mtimeMs > STALE_LOCK_MS) await rm(lockFile, { force: true });
      else await sleep(LOCK_RETRY_MS);
    }
  }
  try {
    return await work();
  } finally {
    await rm(lockFile, { force: true });
  }
}

async function writeAtomically(file: string, text: string): Promise<void> {
  // Same folder as the target: rename is only atomic within one file system.
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${randomUUID()}.tmp`);
  try {
    await writeFile(temp, text, { flush: true });
    await rename(temp, file);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}
