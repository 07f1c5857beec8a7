import type { Entry } from '../core/codec';
import type { Engine } from '../core/engine';
import { pathText, pathValue } from '../core/state-reads';
import { ttlOf, type Fragment } from './fragment';
import type { Rendered } from './render-body';
import { variantOf } from './template-state';

/**
 * The store step of the cache tag: every fragment rendered to be stored goes through `store`, from
 * whichever path rendered it (fragment-runtime.ts).
 */
export class FragmentStore {
  readonly #engine: Engine;
  readonly #debugMarkers: boolean;

  constructor(engine: Engine, debugMarkers: boolean) {
    this.#engine = engine;
    this.#debugMarkers = debugMarkers;
  }

  /**
   * Writes what `#entries` says, in order, and counts the set. A body that finished on the render's
   * stack (`onStack`) is written at once in process memory, in the background on a shared store;
   * otherwise the promise settles once it is written.
   */
  store(fragment: Fragment, rendered: Rendered, onStack = false): Promise<void> | undefined {
    const writes = this.#entries(fragment, rendered);
    if (!writes) return undefined;
    const engine = this.#engine;
    const ttlMs = ttlOf(fragment, engine.defaultTimeoutMs);
    const counted = () => engine.events.record('set', 'fragment', writes[0][0], fragment.name);
    if (onStack && engine.local) {
      if (writes.every(([key, entry]) => engine.writeNow(key, entry, ttlMs))) counted();
      return undefined;
    }
    return inOrder(writes, (key, entry) => engine.write(key, entry, ttlMs)).then((all) => {
      if (all) counted();
    });
  }

  /**
   * What storing a rendered fragment writes, stamped with what produced it (and, for debug markers,
   * when): its HTML under its key; or, when its body read request state, under the variant's key
   * and then the names it varies by (those learned before too) under its key, so that whoever finds
   * the names finds the variant. Nothing when its tags' versions are unknown, or it read what cannot
   * be keyed (a bypass).
   */
  #entries(fragment: Fragment, rendered: Rendered): [string, Entry][] | undefined {
    if (rendered.untracked) return undefined;
    rendered.entry.digest = fragment.digest;
    if (this.#debugMarkers) rendered.entry.storedAt = this.#engine.clock.now();
    const { key, name, learned, context } = fragment;
    const reads = rendered.reads;
    if (reads?.unkeyable) {
      this.#engine.events.bypass('fragment', key, name, `${reads.unkeyable.path} ${reads.unkeyable.reason}`);
      return undefined;
    }
    // What a vary argument names (or holds whole) is in the key already.
    const covered = (path: string) => fragment.site.varied.some((varied) => path === varied || path.startsWith(`${varied}.`));
    const read = [...(reads?.values.keys() ?? [])].filter((path) => !covered(path));
    if (read.length === 0 && !learned) return [[key, rendered.entry]];
    const names = [...new Set([...(learned?.names ?? []), ...read])].sort();
    const values = names.map((path) => reads!.values.get(path) ?? pathValue((first) => context.lookup(first), path));
    this.#engine.events.learned('fragment', name, names.map(pathText));
    return [
      [variantOf(key, names, values), rendered.entry],
      [key, { value: names }],
    ];
  }
}

/** Runs `write` for each entry in turn, stopping at the first that fails; resolves whether all were written. */
async function inOrder(writes: [string, Entry][], write: (key: string, entry: Entry) => Promise<boolean>): Promise<boolean> {
  for (const [key, entry] of writes) if (!(await write(key, entry))) return false;
  return true;
}

