import type { RedisClientType } from '@keyv/redis';

/** The longest `close()` waits for a connected client's pending replies before dropping them. */
const CLOSE_GRACE_MS = 1000;

/**
 * Resolves once the client's first connection attempt has succeeded or failed. Closing a client
 * earlier leaves the socket it is opening open (and the process alive).
 */
export function firstAttempt(client: RedisClientType): Promise<void> {
  return new Promise((resolve) => {
    client.once('ready', resolve);
    client.once('error', resolve);
  });
}

/**
 * Closes a client: a connected one gets a short grace period for pending replies (a paused server
 * sends none), one that is reconnecting is destroyed at once.
 */
export async function closeClient(client: RedisClientType, attempt: Promise<void>): Promise<void> {
  await attempt;
  if (client.isReady) {
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), CLOSE_GRACE_MS)));
    const closed = await Promise.race([client.close().then(() => 'closed' as const, () => 'late' as const), grace]);
    clearTimeout(timer);
    if (closed === 'closed') return;
  }
  if (client.isOpen) client.destroy();
}
