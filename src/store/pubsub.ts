/** What a message channel between the processes sharing a store offers the invalidation bus. */
export interface PubSub {
  /** Sends `message` to every subscriber of `channel`; rejects when it could not. */
  publish(channel: string, message: string): Promise<void>;
  /**
   * Keeps one subscription to `channel` alive, over reconnections and failovers. `onState(true)`
   * once it is (again) established, `onState(false)` when it is lost: messages may be missed
   * from then until the next `onState(true)`.
   */
  subscribe(channel: string, onMessage: (message: string) => void, onState: (listening: boolean) => void): void;
  /** Settles once the first subscription attempt did (so that a cache's first read can wait for it). */
  readonly firstAttempt: Promise<void>;
  close(): Promise<void>;
}
