import type { Entry, TagVersions } from '../core/codec';
import { StateReads } from '../core/state-reads';

/**
 * What a fragment whose body is rendering — or a page `ctx.render` renders — collects from the
 * fragments rendered inside it: the tag versions they were rendered under (so invalidating an inner
 * fragment's tag misses the outer too, and a page can name its surrogate keys); `untracked`: some
 * fragment inside has tags whose versions the store could not give (it was failing), so an outer
 * fragment cannot know when it goes stale: it is served but not stored; the placeholders of the
 * `{% nocache %}` holes inside, when what it renders is going to be stored; and what it read of
 * request state (core/state-reads.ts), its own reads and those of the fragments inside.
 */
export interface Scope {
  tags: TagVersions;
  reads: StateReads;
  untracked: boolean;
  /** A fragment about to be stored; false for a page. */
  fragment: boolean;
  /** Holes inside are written as placeholders, not filled (the HTML is about to be stored). */
  collectsHoles: boolean;
  /** The nonces of the hole placeholders the HTML holds (see holes.ts). */
  holes: Set<string>;
  /** This scope's own nonce, drawn for its first hole. */
  nonce?: string;
  /** The variables the frame held when the scope was entered: those set later were set inside the body. */
  before?: ReadonlySet<string>;
}

/**
 * A nunjucks frame, as the scope rides on it. Frames nest with the render (loops, includes, blocks
 * push one whose parent is the frame they were pushed from), so the innermost scope is found by
 * walking up: explicitly, per render, with no async context to carry.
 */
export interface ScopedFrame {
  parent?: ScopedFrame;
  variables?: Record<string, unknown>;
  kfcScope?: Scope;
  /** Fragments a loop fetched in one batch before it ran (collection multi-get). */
  kfcPrefetched?: Map<string, Entry>;
}

export function newScope(tags: TagVersions | undefined, untracked: boolean, fragment: boolean, collectsHoles = fragment): Scope {
  return { tags: { ...tags }, reads: new StateReads(fragment), untracked, fragment, collectsHoles, holes: new Set() };
}

/** The fragment under `key` a loop around `frame` fetched before it ran, if any. */
export function prefetched(frame: ScopedFrame | undefined, key: string): Entry | undefined {
  for (let at = frame; at; at = at.parent) if (at.kfcPrefetched) return at.kfcPrefetched.get(key);
  return undefined;
}

/** The scope of the innermost fragment or page rendering around `frame`, if any. */
export function scopeOf(frame: ScopedFrame | undefined): Scope | undefined {
  for (let at = frame; at; at = at.parent) if (at.kfcScope) return at.kfcScope;
  return undefined;
}

/** Makes `scope` the one of everything rendered from `frame` on; returns what puts the previous one back. */
export function enterScope(frame: ScopedFrame, scope: Scope): () => void {
  const previous = Object.prototype.hasOwnProperty.call(frame, 'kfcScope') ? frame.kfcScope : undefined;
  // A cache body renders in the tag's own frame: what it sets there is told apart by this.
  scope.before = new Set(Object.keys(frame.variables ?? {}));
  frame.kfcScope = scope;
  return () => {
    if (previous) frame.kfcScope = previous;
    else delete frame.kfcScope;
  };
}

export function addToScope(scope: Scope | undefined, tags: TagVersions | undefined, untracked: boolean, holes?: readonly string[], reads?: StateReads): void {
  if (!scope) return;
  if (tags) Object.assign(scope.tags, tags);
  if (untracked) scope.untracked = true;
  if (holes) for (const nonce of holes) scope.holes.add(nonce);
  if (reads) scope.reads.merge(reads);
}
