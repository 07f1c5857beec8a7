// Tests start their own redis-server (to pause and kill it) through the module the benchmarks use too.
export { freePort, startOwnRedis, type OwnRedis } from '../../scripts/own-redis';
