/** What one part of the cache holds in process memory. */
export interface MemoryUse {
  entries: number;
  /** Accounted bytes: text at 2 bytes a character, Buffers at their length, plus a per-entry overhead. */
  bytes: number;
}

/**
 * The parts of a cache that keep things in process memory (the memory store or the first tier in
 * front of Redis, decoded responses, fragment keys) register here, each bounded on its own;
 * `memoryUsage()` sums them. Reading them walks nothing: each part keeps its own count.
 */
export class MemoryAccounts {
  readonly #parts = new Map<string, (() => MemoryUse)[]>();

  /** Adds a holder to `part` (several holders of one part, e.g. two template extensions, add up). */
  register(part: string, read: () => MemoryUse): void {
    const holders = this.#parts.get(part) ?? [];
    holders.push(read);
    this.#parts.set(part, holders);
  }

  /** Totals and each part, or undefined when no part keeps anything in process memory. */
  usage(): (MemoryUse & { parts: Record<string, MemoryUse> }) | undefined {
    if (this.#parts.size === 0) return undefined;
    const parts: Record<string, MemoryUse> = {};
    let entries = 0;
    let bytes = 0;
    for (const [part, holders] of this.#parts) {
      const use = { entries: 0, bytes: 0 };
      for (const read of holders) {
        const held = read();
        use.entries += held.entries;
        use.bytes += held.bytes;
      }
      parts[part] = use;
      entries += use.entries;
      bytes += use.bytes;
    }
    return { entries, bytes, parts };
  }
}
