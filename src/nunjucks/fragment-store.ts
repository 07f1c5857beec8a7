import type { Entry } from '../core/codec';
import type { Engine } from '../core/engine';
import { ABSENT_STATE, pathText, pathValue } from '../core/state-reads';
import type { Fragment } from './fragment';
import type { Rendered } from './render-body';
import { learnedNames, learnedState, stateOf, stateVariable, variantOf } from './template-state';

/**
 * The store step of the cache tag: what every fragment rendered to be stored writes, from whichever
 * path rendered it (fragment-runtime.ts); `engine.getOrCompute` writes it.
 */
export class FragmentStore {
  readonly #engine: Engine;
  readonly #debugMarkers: boolean;

  constructor(engine: Engine, debugMarkers: boolean) {
    this.#engine = engine;
    this.#debugMarkers = debugMarkers;
  }

  /**
   * The fragment as stored on a shared store: its HTML under its key, or the names it learned there
   * and its HTML under this request's variant (marked `stale` when its tags were invalidated in stale
   * mode). Undefined (a miss) when absent or from other templates.
   */
  async find(fragment: Fragment): Promise<Rendered | undefined> {
    const { key, name, digest } = fragment;
    const engine = this.#engine;
    let cached = await engine.get(key, true);
    const names = cached && learnedNames(cached.value);
    if (names) {
      fragment.learned = learnedState(key, names, fragment.context, fragment.frame);
      cached = await engine.get(fragment.learned.variant, true);
    }
    if (!cached || typeof cached.value !== 'string' || cached.digest !== digest) return undefined;
    if (!cached.stale) engine.events.record('hit', 'fragment', key, name);
    return { entry: cached, rendered: false, untracked: false, learned: fragment.learned, by: fragment };
  }

  /**
   * What storing a rendered fragment writes, stamped with what produced it (and, for debug markers,
   * when): its HTML under its key; or, when its body read request state, under the variant's key
   * and then the names it varies by (those learned before too) under its key, so that whoever finds
   * the names finds the variant. Nothing when its tags' versions are unknown, when one of its tags
   * was invalidated since the request began (the page's data may be from before), or it read what
   * cannot be keyed (a bypass).
   */
  entries(fragment: Fragment, rendered: Rendered): [string, Entry][] | undefined {
    if (rendered.untracked) return undefined;
    const began = stateOf(fragment.context)?.began;
    const tags = rendered.entry.tags;
    if (began !== undefined && tags && this.#engine.invalidatedSince(Object.keys(tags), began)) return undefined;
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
    const values = names.map((path) => reads!.values.get(path) ?? pathValue(stateVariable(context), path));
    // A path nobody had (a global's name, a guest's `user`) splits nothing yet: not shown as a variation.
    const held = names.filter((_, i) => values[i] !== ABSENT_STATE);
    if (held.length > 0) this.#engine.events.learned('fragment', name, held.map(pathText));
    return [
      [variantOf(key, names, values), rendered.entry],
      [key, { value: names }],
    ];
  }
}
