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
  readonly #parts = new Map<string, () => MemoryUse>();

  register(part: string, read: () => MemoryUse): void {
    this.#parts.set(part, read);
  }

  /** Totals and each part, or undefined when no part keeps anything in process memory. */
  usage(): (MemoryUse & { parts: Record<string, MemoryUse> }) | undefined {
    if (this.#parts.size === 0) return undefined;
    const parts: Record<string, MemoryUse> = {};
    let entries = 0;
    let bytes = 0;
    for (const [part, read] of this.#parts) {
      const use = (parts[part] = read());
      entries += use.entries;
      bytes += use.bytes;
    }
    return { entries, bytes, parts };
  }
}
