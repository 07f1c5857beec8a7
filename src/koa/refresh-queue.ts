/**
 * Background refreshes with bounded concurrency: at most `concurrency` run at once, the rest wait
 * in order, and a key already waiting or running is not queued again.
 */
export class RefreshQueue {
  private running = 0;
  private readonly waiting: [key: string, refresh: () => Promise<unknown>][] = [];
  private readonly queued = new Set<string>();

  constructor(private readonly concurrency: number) {}

  schedule(key: string, refresh: () => Promise<unknown>): void {
    if (this.queued.has(key)) return;
    this.queued.add(key);
    this.waiting.push([key, refresh]);
    this.drain();
  }

  private drain(): void {
    while (this.running < this.concurrency && this.waiting.length > 0) {
      const [key, refresh] = this.waiting.shift()!;
      this.running++;
      // A refresh reports its own failures; this only keeps the queue moving.
      void refresh()
        .catch(() => undefined)
        .finally(() => {
          this.running--;
          this.queued.delete(key);
          this.drain();
        });
    }
  }
}
