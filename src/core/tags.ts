import { randomBytes } from 'node:crypto';
import { digestIfLong } from './keys';
import type { TagVersions } from './codec';

/**
 * Tag invalidation without per-tag key lists. Each tag has a version under `tag:<name>`; an entry
 * records the versions of its tags when written, and is a miss once any of them differs.
 * Invalidating a tag writes a new random version: O(number of tags), and correct after eviction
 * too, since a version that is gone (never a previous one come back) also makes its entries misses.
 */
export function tagKey(tag: string): string {
  return digestIfLong(`tag:${tag}`);
}

/** Whether a store key is a tag's version (see `tagKey`, long tags are digested). */
export function isTagKey(key: string): boolean {
  return key.startsWith('tag:') || key.startsWith('tag#');
}

/**
 * How long a tag version written by an invalidation lives: a day. Versions expire so that tags
 * made from user input cannot grow the store without bound; a version that is gone makes its
 * entries misses (never hits), so expiry costs at most a recomputation.
 */
export const INVALIDATED_TAG_TTL_MS = 24 * 3600_000;

/**
 * How long a tag version created for an entry living `entryTtlMs` lives: at least as long as that
 * entry, and at least a day. An entry stored forever creates versions that live forever, so tags
 * on entries stored forever should not come from user input.
 */
export function tagVersionTtlMs(entryTtlMs: number): number {
  return entryTtlMs === 0 ? 0 : Math.max(entryTtlMs, INVALIDATED_TAG_TTL_MS);
}

export function newTagVersion(): string {
  return randomBytes(6).toString('base64url');
}

export function validateTags(tags: unknown, what: string): readonly string[] {
  if (!Array.isArray(tags)) throw new TypeError(`tags of ${what} must be an array of strings, got ${typeof tags}`);
  for (const tag of tags) {
    if (typeof tag !== 'string' || tag === '') {
      throw new TypeError(`tags of ${what} must be non-empty strings, got ${JSON.stringify(tag)}`);
    }
  }
  return tags;
}

/**
 * A tag's stored version is `<current>`, or `<current>~<previous>` after an invalidation that left
 * the entries of the previous version servable as stale (`invalidateTags(tags, { stale: true })`).
 */
export function currentVersion(stored: string): string {
  const mark = stored.indexOf('~');
  return mark === -1 ? stored : stored.slice(0, mark);
}

export function staleVersion(next: string, previous: string | undefined): string {
  return previous === undefined ? next : `${next}~${currentVersion(previous)}`;
}

/**
 * Whether an entry's recorded versions are all current (`'current'`), some only servable as stale
 * (`'stale'`: their tags were invalidated in stale mode since), or else `undefined`: a miss.
 */
export function versionState(recorded: TagVersions, current: (tag: string) => unknown): 'current' | 'stale' | undefined {
  let state: 'current' | 'stale' = 'current';
  for (const tag in recorded) {
    const stored = current(tag);
    if (stored === recorded[tag]) continue;
    if (typeof stored !== 'string') return undefined;
    const mark = stored.indexOf('~');
    if (mark === -1) return undefined;
    if (stored.slice(0, mark) === recorded[tag]) continue; // written after the stale invalidation
    if (stored.slice(mark + 1) !== recorded[tag]) return undefined;
    state = 'stale';
  }
  return state;
}
