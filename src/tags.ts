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

/** True when every recorded version is still the current one. */
export function versionsCurrent(recorded: TagVersions, current: (tag: string) => unknown): boolean {
  for (const tag in recorded) if (current(tag) !== recorded[tag]) return false;
  return true;
}
