import type { RedisClientType } from '@keyv/redis';
import { NotConfirmedError } from './replication';
import type { PubSub } from './subscription';

/** The commands the store sends, on one server (a node client, or a sentinel client that routes them). */
export type Commands = RedisClientType;

/**
 * Where a Redis deployment's data lives, followed as it changes: one server, a primary found
 * through sentinels, or the masters of a cluster's slots. The store sends commands through it and
 * never holds on to a connection itself.
 */
export interface Topology {
  readonly kind: 'server' | 'sentinel' | 'cluster';
  /**
   * True when the data and the message channel live on one server for good: losing the channel
   * then means writes fail too, so the in-process tier may keep serving what it holds.
   */
  readonly sharedFate: boolean;
  /**
   * Settles once the first connection attempt did: connected, refused, or out of time (each
   * connection 1 s, locating a primary 2 s, reading a cluster's slot map 3 s, connecting a
   * sentinel client the app gave unconnected 5 s). Never rejects.
   */
  readonly firstAttempt: Promise<void>;
  /**
   * Runs `command` on the server holding `key` (its slot's master), following redirections and
   * failovers; `command` must send its commands synchronously (ASKING is sent just before). A
   * write given `confirmMs` counts as done only once a replica has it, where the server has
   * replicas (see `Replicas`), waiting at most that long for it: else it rejects with
   * `NotConfirmedError`.
   */
  run<T>(key: string, command: (client: Commands) => Promise<T>, confirmMs?: number): Promise<T>;
  /** Indices of `keys` grouped so that each group can go to one server in one command. */
  groups(keys: readonly string[]): number[][];
  /** Runs `command` on every master (for SCAN); rejects if any of them failed. */
  eachMaster(command: (client: Commands) => Promise<void>): Promise<void>;
  readonly pubsub: PubSub;
  /** Closes every connection it opened, within a bound. */
  close(): Promise<void>;
}

/** `groups` of a topology with one server: every key in one command. */
export function oneGroup(keys: readonly string[]): number[][] {
  return keys.length === 0 ? [] : [keys.map((_, i) => i)];
}

/** A reply that says "not here": MOVED/ASK to another node. */
export function redirection(err: unknown): { ask: boolean; address: string } | undefined {
  const match = err instanceof Error ? /^(MOVED|ASK) \d+ (\S+)/.exec(err.message) : null;
  return match ? { ask: match[1] === 'ASK', address: match[2] } : undefined;
}

/** A reply that says this server is no longer (or not yet) the one to write to. */
export function notPrimary(err: unknown): boolean {
  return err instanceof Error && /^(READONLY|MASTERDOWN|LOADING|CLUSTERDOWN|TRYAGAIN)\b/.test(err.message);
}

/** The caller's own mistake (not the server's state): never a reason to look at the topology again. */
export function callerError(err: unknown): boolean {
  return err instanceof TypeError || (err instanceof Error && /NOTANUMBER|WRONGTYPE/.test(err.message));
}

/**
 * A failure that says the command never left this process (the connection was down, stalled, or
 * closed by a topology change): trying it elsewhere cannot run it twice.
 */
export function notSent(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err instanceof NotConfirmedError) return !err.sent;
  return err.name === 'ClientOfflineError' || err.name === 'ClientClosedError' || /has not answered for|was closed \(the topology changed\)/.test(err.message);
}
