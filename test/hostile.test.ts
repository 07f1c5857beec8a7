import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createClient } from '@keyv/redis';
import type Koa from 'koa';
import request from 'supertest';
import { Cache, createEnvironment, UnstorableValueError } from '../src';
import { engineOf } from '../src/core/registry';
import { tagKey } from '../src/core/tags';
import { Catalog } from '../src/app/catalog';
import { fromThisMachine } from '../src/app/admin-access';
import { baseKey, variantKey } from '../src/koa/response-key';
import { closeApps, counting, startApp } from './support/apps';
import { cacheFactory, eventually, redisUrl, sleep, storeKinds, uniquePrefix } from './support/stores';
import { renderString } from './support/templates';

/** Attacks and bad data, as a hostile client or a corrupted store would bring them (all on 127.0.0.1, bounded). */
describe.each(storeKinds)('under hostile traffic on the %s store', (kind) => {
  const caches = cacheFactory(kind, 'hostile');
  let cache: Cache;
  beforeEach(() => {
    cache = caches.make();
    cache.on('error', () => undefined);
  });
  afterEach(closeApps);
  afterAll(() => caches.closeAll());

  describe('1. pages that depend on cookies', () => {
    it('never serve what one visitor’s cookie produced to another visitor', async () => {
      const route = counting();
      const { get } = await startApp((router) =>
        router.get('/hello', cache.cached(), (ctx) => {
          route.handler(ctx);
          ctx.body = `Hello ${ctx.cookies.get('user') ?? 'stranger'}`;
        }),
      );
      expect((await get('/hello').set('Cookie', 'user=alice')).text).toBe('Hello alice');
      expect((await get('/hello')).text).toBe('Hello stranger');
      expect((await get('/hello').set('Cookie', 'user=bob')).text).toBe('Hello bob');
      const again = await get('/hello').set('Cookie', 'user=alice; _ga=GA1.2.3');
      expect([again.headers['x-cache'], again.text]).toEqual(['HIT', 'Hello alice']);
      expect(route.runs()).toBe(3);
    });

    it('keep serving new visitors the response that sets their cookie', async () => {
      const { get } = await startApp((router) =>
        router.get('/welcome', cache.cached(), (ctx) => {
          if (!ctx.cookies.get('seen')) ctx.cookies.set('seen', '1');
          ctx.body = 'welcome';
        }),
      );
      await get('/welcome').set('Cookie', 'seen=1'); // a returning visitor's page is stored
      expect((await get('/welcome').set('Cookie', 'seen=1')).headers['x-cache']).toBe('HIT');
      const newcomer = await get('/welcome');
      expect(newcomer.headers['set-cookie']?.[0]).toMatch(/^seen=1/);
    });

    it('keep the hit ratio when every visitor carries cookies the route never reads', async () => {
      const route = counting();
      const { get } = await startApp((router) => router.get('/page', cache.cached(), route.handler));
      for (let visitor = 0; visitor < 5; visitor++) await get('/page').set('Cookie', `_ga=GA1.${visitor}; consent=yes`);
      expect(route.runs()).toBe(1);
    });

    it('honour ignoreCookies for cookies read but irrelevant, and varyCookies for what an earlier middleware read', async () => {
      const route = counting();
      const { get } = await startApp((router, app) => {
        // An authentication middleware before the cache: the route only sees ctx.state.user.
        app.use(async (ctx, next) => {
          ctx.state.user = ctx.cookies.get('session') ?? 'guest';
          await next();
        });
        router.get(
          '/account',
          cache.cached({ varyCookies: ['session'], ignoreCookies: ['_ga'] }),
          (ctx) => {
            route.handler(ctx);
            ctx.cookies.get('_ga'); // an analytics helper reading its cookie
            ctx.body = `account of ${ctx.state.user}`;
          },
        );
      });
      expect((await get('/account').set('Cookie', 'session=ann; _ga=1')).text).toBe('account of ann');
      expect((await get('/account').set('Cookie', 'session=bob; _ga=1')).text).toBe('account of bob');
      expect((await get('/account').set('Cookie', 'session=ann; _ga=2')).headers['x-cache']).toBe('HIT');
      expect(route.runs()).toBe(2);
    });

    it('vary by every cookie but the ignored ones when the route reads the whole Cookie header', async () => {
      const { get } = await startApp((router) =>
        router.get('/raw', cache.cached({ ignoreCookies: ['_ga'] }), (ctx) => {
          ctx.body = `raw ${ctx.get('cookie').split(';').filter((pair) => !pair.includes('_ga')).join(';')}`;
        }),
      );
      expect((await get('/raw').set('Cookie', 'theme=dark; _ga=1')).text).toBe('raw theme=dark');
      expect((await get('/raw').set('Cookie', 'theme=light; _ga=1')).text).toBe('raw theme=light');
      expect((await get('/raw').set('Cookie', '_ga=2; theme=dark')).headers['x-cache']).toBe('HIT');
    });

    it('vary by the headers the route reads, and store nothing when it read them all', async () => {
      const { get } = await startApp((router) => {
        router.get('/lang', cache.cached(), (ctx) => {
          ctx.body = ctx.acceptsLanguages('fr', 'en') === 'fr' ? 'bonjour' : 'hello';
        });
        router.get('/echo', cache.cached(), (ctx) => {
          ctx.body = JSON.stringify({ ...ctx.headers });
        });
      });
      expect((await get('/lang').set('Accept-Language', 'fr')).text).toBe('bonjour');
      expect((await get('/lang').set('Accept-Language', 'en')).text).toBe('hello');
      expect((await get('/lang').set('Accept-Language', 'fr')).headers['x-cache']).toBe('HIT');
      await get('/echo').set('X-Secret', 'alice');
      const other = await get('/echo').set('X-Secret', 'bob');
      expect(other.headers['x-cache']).toBe('MISS');
      expect(other.text).toContain('bob');
    });
  });

  it('2. hands waiters only a shareable response: one bad request’s error stays its own, and the route runs one at a time', async () => {
    let running = 0;
    let most = 0;
    const { get } = await startApp((router) =>
      router.get('/item', cache.cached(), async (ctx) => {
        running++;
        most = Math.max(most, running);
        try {
          await sleep(150);
          if (ctx.get('x-bad') === '1') ctx.throw(400, 'bad header');
          ctx.body = 'item';
        } finally {
          running--;
        }
      }),
    );
    const bad = get('/item').set('X-Bad', '1');
    await sleep(20);
    const visitors = await Promise.all(Array.from({ length: 20 }, () => get('/item')));
    expect((await bad).status).toBe(400);
    expect(visitors.map((r) => r.status)).toEqual(Array(20).fill(200));
    expect(most).toBe(1);
  });

  it('2b. during an outage gives each waiter its own error, without running the route more than once at a time', async () => {
    let runs = 0;
    let running = 0;
    let most = 0;
    const { get } = await startApp((router) =>
      router.get('/down', cache.cached(), async () => {
        runs++;
        running++;
        most = Math.max(most, running);
        await sleep(20);
        running--;
        throw new Error('database down');
      }),
    );
    const responses = await Promise.all(Array.from({ length: 8 }, () => get('/down')));
    expect(responses.map((r) => r.status)).toEqual(Array(8).fill(500));
    expect(runs).toBe(8);
    expect(most).toBe(1);
  });

  it('3. keeps the host in a makeCacheKey key unless the route shares across hosts', async () => {
    const { app } = await startApp((router) => {
      router.get('/search', cache.cached({ makeCacheKey: (ctx) => `search:${ctx.query.q}` }), (ctx) => {
        ctx.body = `results of ${ctx.host}`;
      });
      router.get('/shared', cache.cached({ makeCacheKey: () => 'shared', shareAcrossHosts: true }), (ctx) => {
        ctx.body = `results of ${ctx.host}`;
      });
    });
    const server = app.listen(0, '127.0.0.1');
    try {
      await request(server).get('/search?q=x').set('Host', 'tenant-a.example');
      expect((await request(server).get('/search?q=x').set('Host', 'tenant-b.example')).text).toBe('results of tenant-b.example');
      await request(server).get('/shared').set('Host', 'tenant-a.example');
      expect((await request(server).get('/shared').set('Host', 'tenant-b.example')).text).toBe('results of tenant-a.example');
    } finally {
      server.close();
    }
  });

  describe('4. behind a trusted proxy (app.proxy)', () => {
    it('keys what Koa derives from forwarded headers: a forged protocol poisons no one else', async () => {
      const { get } = await startApp((router, app) => {
        app.proxy = true;
        router.get('/links', cache.cached(), (ctx) => {
          ctx.body = `<a href="${ctx.protocol}://${ctx.host}/next">next</a>`;
        });
      });
      await get('/links').set('X-Forwarded-Proto', 'javascript');
      const honest = await get('/links').set('X-Forwarded-Proto', 'https');
      expect(honest.text).toMatch(/^<a href="https:\/\//);
      expect((await get('/links')).text).toMatch(/^<a href="http:\/\//);
    });

    it('refreshes in the background with the request facts the variant was stored under', async () => {
      let runs = 0;
      const { get } = await startApp((router, app) => {
        app.proxy = true;
        router.get('/greeting', cache.cached({ timeout: 0.2, staleWhileRevalidate: 30, varyHeaders: ['accept-language'] }), (ctx) => {
          runs++;
          ctx.body = `${ctx.protocol} ${ctx.get('accept-language')} ${runs}`;
        });
      });
      const ask = () => get('/greeting').set('X-Forwarded-Proto', 'https').set('Accept-Language', 'de');
      expect((await ask()).text).toBe('https de 1');
      await sleep(250);
      expect((await ask()).headers['x-cache']).toBe('STALE');
      await eventually(() => runs === 2);
      await eventually(async () => (await ask()).text === 'https de 2');
    });
  });

  it('6 and 9. reads structurally bad entries (Set-Cookie, bad status, bad header names, bad vary) as misses, and overwrites them', async () => {
    const route = counting();
    const { get, host } = await startApp((router) => router.get('/victim', cache.cached(), route.handler));
    await get('/victim');
    const engine = engineOf(cache, 'test');
    const base = baseKey('response:', '/victim', '');
    const index = JSON.parse(((await engine.get(base))!.value as string).slice(1));
    const key = variantKey(base, index, (name) => (name === 'host' ? host : name === ':protocol' ? 'http' : ''));
    const stored = (await engine.get(key))!.value as string;
    const [header, body] = [stored.slice(1, stored.indexOf('\n')), stored.slice(stored.indexOf('\n') + 1)];
    const tamper = async (change: (entry: Record<string, unknown>) => void) => {
      const entry = JSON.parse(header);
      change(entry);
      await engine.set(key, `R${JSON.stringify(entry)}\n${body}`, 60_000);
    };
    const corruptions: ((entry: Record<string, unknown>) => void)[] = [
      (entry) => (entry.headers as unknown[]).push(['set-cookie', 'session=attacker']),
      (entry) => (entry.status = 99999),
      (entry) => (entry.headers as unknown[]).push(['bad name', 'x']),
      (entry) => (entry.etag = 'split\r\nSet-Cookie: x=1'), // (a missing ETag is valid: it is computed when served)
    ];
    for (const corrupt of corruptions) {
      await tamper(corrupt);
      const response = await get('/victim');
      expect([response.status, response.headers['x-cache'], response.headers['set-cookie']]).toEqual([200, 'MISS', undefined]);
      expect((await get('/victim')).headers['x-cache']).toBe('HIT'); // overwritten by the recompute
    }
    await engine.set(base, `V${JSON.stringify({ ...index, vary: [123] })}`, 60_000);
    expect((await get('/victim')).status).toBe(200);
  });

  it('9. treats a lock found without a lifetime (or not a lock) as broken: a miss does not wait for it', async () => {
    if (kind === 'memory') return; // the memory store takes no lock
    const waiter = caches.make({ lock: { timeout: 10, waitMs: 3000 } });
    await engineOf(waiter, 'test').store.set('lock:wedged', 'jstuck', 0); // no TTL, not an expiry
    const started = Date.now();
    expect(await waiter.getOrSet('wedged', () => 'computed')).toBe('computed');
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('7. bounds the fragment-key memo by bytes, keeping no large vary values', async () => {
    const env = createEnvironment({ cache, views: __dirname });
    const template = '{% cache 60, "search", q, filters %}{{ q | length }}{% endcache %}';
    for (let i = 0; i < 300; i++) await renderString(env, template, { q: `${i}:${'x'.repeat(8000)}`, filters: { page: 1 } });
    for (let i = 0; i < 3000; i++) await renderString(env, '{% cache 60, "card", id %}c{% endcache %}', { id: i });
    const keys = cache.memoryUsage()!.parts.fragmentKeys;
    expect(keys.bytes).toBeLessThan(4 * 1024 * 1024);
    expect(keys.entries).toBeGreaterThan(3000); // the short ones are kept, and counted
    expect(keys.bytes).toBeLessThan(3100 * 400);
  });

  it('8. backs off a failing background refresh instead of recomputing on every hit', async () => {
    let runs = 0;
    const { get } = await startApp((router) =>
      router.get('/flaky', cache.cached({ timeout: 0.1, staleWhileRevalidate: 60 }), (ctx) => {
        runs++;
        if (runs > 1) ctx.throw(503, 'upstream down');
        ctx.body = 'good';
      }),
    );
    await get('/flaky');
    await sleep(150);
    for (let i = 0; i < 100; i++) expect((await get('/flaky')).text).toBe('good');
    expect(runs).toBeLessThanOrEqual(3);
  });

  it('8b. backs off a refreshMargin refresh whose response may not be stored', async () => {
    let runs = 0;
    const { get } = await startApp((router) =>
      router.get('/margin', cache.cached({ timeout: 60, refreshMargin: 60 }), (ctx) => {
        runs++;
        if (runs > 1) ctx.set('Cache-Control', 'no-store');
        ctx.body = 'page';
      }),
    );
    for (let i = 0; i < 100; i++) await get('/margin');
    expect(runs).toBeLessThanOrEqual(3);
  });

  it('11. refuses timeouts past the documented maximum, naming the value', async () => {
    await expect(cache.set('k', 'v', 1e300)).rejects.toThrow(new RangeError('timeout of key "k" must be at most 31536000 seconds (365 days; 0 = never expires), got 1e+300'));
    await expect(cache.set('k', 'v', '99999999999999999999d')).rejects.toThrow(/at most 31536000 seconds.*"99999999999999999999d"/);
    expect(() => cache.cached({ timeout: '400d' })).toThrow(RangeError);
  });

  it('13. stores values exactly or refuses them, naming the key and the path', async () => {
    await cache.set('neg', { zero: -0, list: [-0] });
    const back = await cache.get<{ zero: number; list: number[] }>('neg');
    expect(Object.is(back!.zero, -0) && Object.is(back!.list[0], -0)).toBe(true);
    const withProto = JSON.parse('{"__proto__": {"admin": true}, "a": 1}');
    await cache.set('proto', withProto);
    expect(Object.keys((await cache.get('proto')) as object)).toEqual(['__proto__', 'a']);
    // eslint-disable-next-line no-sparse-arrays
    await expect(cache.set('sparse', [1, , 3])).rejects.toThrow(new UnstorableValueError('sparse', 'the value[1]', 'is a hole in a sparse array, which JSON would turn into null'));
    await expect(cache.set('sym', { [Symbol('s')]: 1 })).rejects.toThrow(/cannot cache key "sym": the value has symbol keys/);
    await expect(cache.set('extra', Object.assign([1], { extra: true }))).rejects.toThrow(/has a property "extra" besides its items/);
    let deep: unknown = 'bottom';
    for (let i = 0; i < 20_000; i++) deep = { deep };
    await expect(cache.set('deep', deep)).rejects.toThrow(UnstorableValueError);
  });

  it('12. memoizes distinct arguments under distinct keys', async () => {
    const seen: unknown[] = [];
    const echo = cache.memoize(async (arg: unknown) => (seen.push(arg), seen.length), { name: 'echo' });
    const pairs: [unknown, unknown][] = [
      [new Date(0), new Date(0).toISOString()],
      [new Date(NaN), null],
      [Buffer.from('hi'), Buffer.from('hi').toJSON()],
      [new Array(1), []],
      [new URL('https://example.com/'), 'https://example.com/'],
      [-0, 0],
    ];
    for (const [a, b] of pairs) expect(await echo(a)).not.toBe(await echo(b));
    expect(seen).toHaveLength(12);
  });

  it('15. periodically refreshes the variants actually served, each with its own host', async () => {
    const hosts: string[] = [];
    const { app } = await startApp((router) =>
      router.get('/home', cache.cached({ timeout: 60 }), (ctx) => {
        hosts.push(ctx.host);
        ctx.body = `home of ${ctx.host}`;
      }),
    );
    const server = app.listen(0, '127.0.0.1');
    try {
      await request(server).get('/home').set('Host', 'a.example');
      await request(server).get('/home').set('Host', 'b.example');
      const refresh = cache.schedulePeriodicRefresh(app as Koa, '/home', { interval: 0.1 });
      await eventually(() => hosts.length >= 4, true, 5000);
      refresh.stop();
      expect(new Set(hosts)).toEqual(new Set(['a.example', 'b.example']));
    } finally {
      server.close();
    }
  });
});

(redisUrl ? describe : describe.skip)('10. tag versions on Redis', () => {
  it('carry a lifetime: tags made from user input cannot grow Redis without bound', async () => {
    const prefix = uniquePrefix('tag-ttl');
    const cache = new Cache({ store: redisUrl, keyPrefix: prefix, operationTimeoutMs: 2000 });
    const client = createClient({ url: redisUrl });
    await client.connect();
    try {
      await cache.set('k', 'v', { timeout: 60, tags: ['search:whatever the user typed'] });
      const ttl = await client.pTTL(`${prefix}::${tagKey('search:whatever the user typed')}`);
      expect(ttl).toBeGreaterThan(60_000);
      await cache.invalidateTags(['search:another']);
      expect(await client.pTTL(`${prefix}::${tagKey('search:another')}`)).toBeGreaterThan(0);
    } finally {
      await cache.clear();
      await cache.close();
      await client.close();
    }
  });
});

describe('16. the demo catalog', () => {
  it('loses no edit when several processes edit it at once', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kfc-catalog-'));
    const seedFile = path.join(__dirname, '..', 'data', 'catalog.seed.json');
    const file = path.join(dir, 'catalog.json');
    // One Catalog per worker: they share nothing but the file, as the demo's WORKERS do.
    const workers = Array.from({ length: 4 }, () => new Catalog({ file, seedFile, latencyMs: 0 }));
    const ids = (await workers[0].ids()).slice(0, 5);
    await Promise.all(Array.from({ length: 20 }, (_, i) => workers[i % 4].update(ids[i % 5], { description: `edit ${i}` })));
    const products = await workers[0].list();
    const descriptions = new Set(products.map((product) => product.description));
    const survivors = Array.from({ length: 20 }, (_, i) => i).filter((i) => descriptions.has(`edit ${i}`));
    expect(survivors).toHaveLength(5); // the last edit of each product, whichever it was
    fs.rmSync(dir, { recursive: true });
  });
});

describe('17. the dashboard without ADMIN_TOKEN', () => {
  it('answers loopback host names only (DNS rebinding)', () => {
    const ctx = (host: string) =>
      ({ req: { socket: { remoteAddress: '127.0.0.1' } }, get: (name: string) => (name.toLowerCase() === 'host' ? host : '') }) as unknown as Parameters<typeof fromThisMachine>[0];
    expect(fromThisMachine(ctx('localhost:3000'))).toBe(true);
    expect(fromThisMachine(ctx('127.0.0.1:3000'))).toBe(true);
    expect(fromThisMachine(ctx('[::1]:3000'))).toBe(true);
    expect(fromThisMachine(ctx('evil.example:3000'))).toBe(false);
  });
});

