import { createClient } from '@keyv/redis';
import { Cache, createEnvironment } from '../../src';
import { startOwnRedis, type OwnRedis } from '../support/redis-server';
import { canStartRedis } from '../support/stores';
import { renderString } from '../support/templates';

/** Every command the server ran since the last reset, by name (INFO commandstats). */
async function commandsRun(client: ReturnType<typeof createClient>): Promise<Record<string, number>> {
  const info = await client.info('commandstats');
  const counts: Record<string, number> = {};
  for (const [, name, calls] of info.matchAll(/cmdstat_(\w+(?:\|\w+)?):calls=(\d+)/g)) counts[name] = Number(calls);
  return counts;
}

(canStartRedis ? describe : describe.skip)('collection multi-get', () => {
  let redis: OwnRedis;
  let client: ReturnType<typeof createClient>;
  beforeAll(async () => {
    redis = await startOwnRedis();
    client = createClient({ url: redis.url });
    await client.connect();
  });
  afterAll(async () => {
    await client.close();
    await redis.stop();
  });

  it('reads a page of 50 fragment hits in one batch: at most 3 Redis commands, one round trip for the fragments', async () => {
    const writer = new Cache({ store: redis.url, l1: false, operationTimeoutMs: 2000 });
    const products = Array.from({ length: 50 }, (_, i) => ({ id: i, name: `p${i}` }));
    const page = '{% for p in products %}{% cache 300, "product", p.id, tags=["product:" + p.id] %}<li>{{ p.name }}</li>{% endcache %}{% endfor %}';
    const expected = products.map((p) => `<li>${p.name}</li>`).join('');
    expect(await renderString(createEnvironment({ cache: writer, views: __dirname }), page, { products })).toBe(expected);
    await writer.close();

    // Another process, with no first tier: every fragment is a hit in Redis only.
    const reader = new Cache({ store: redis.url, l1: false, operationTimeoutMs: 2000 });
    const env = createEnvironment({ cache: reader, views: __dirname });
    await reader.has('warm-up'); // the connection is made before counting
    await client.sendCommand(['CONFIG', 'RESETSTAT']);
    expect(await renderString(env, page, { products })).toBe(expected);
    const counts = await commandsRun(client);
    delete counts['config|resetstat'];
    delete counts.info;
    const total = Object.values(counts).reduce((sum, calls) => sum + calls, 0);
    expect(total).toBeLessThanOrEqual(3);
    expect(counts.mget).toBeGreaterThanOrEqual(1); // the batch itself
    expect(reader.stats().byKind.fragment).toMatchObject({ hits: 50, misses: 0 });
    await reader.close();
  });

  it('still renders each miss once, and the batch changes nothing on the memory store', async () => {
    const cache = new Cache();
    const env = createEnvironment({ cache, views: __dirname });
    let renders = 0;
    env.addGlobal('counted', (name: string) => (renders++, name));
    const page = '{% for p in products %}{% cache 300, "item", p %}[{{ counted(p) }}]{% endcache %}{% endfor %}';
    expect(await renderString(env, page, { products: ['a', 'b', 'a'] })).toBe('[a][b][a]');
    expect(await renderString(env, page, { products: ['a', 'b', 'c'] })).toBe('[a][b][c]');
    expect(renders).toBe(3);
  });
});
