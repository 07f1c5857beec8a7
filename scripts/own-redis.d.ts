/** A redis-server of the caller's own (see own-redis.js). */
export interface OwnRedis {
  url: string;
  port: number;
  pause(): void;
  resume(): void;
  kill(): void;
  stop(): Promise<void>;
  start(): Promise<void>;
}

export function freePort(): Promise<number>;
export function startOwnRedis(): Promise<OwnRedis>;
