import { randomBytes } from 'node:crypto';
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { Readable } from 'node:stream';
import type Koa from 'koa';
import { inject } from 'light-my-request';
import { Cache, CachedResponse } from '../../src';
import { closeApps, counting, startApp } from '../support/apps';
import { freePort } from '../support/redis-server';
import { timeOn } from '../support/clock';
import { cacheFactory, storeKinds } from '../support/stores';
import { eventually } from '../support/wait';

describe.each(storeKinds)('cache.cached() on the %s store', (kind) => {
  const caches = cacheFactory(kind, 'cached');
  const time = timeOn(kind);
  let cache: Cache;
  beforeEach(() => {
    cache = caches.make({ clock: time.clock });
  });
  afterEach(closeApps);
  afterAll(() => caches.closeAll());

  describe('hits and misses', () => {
    it('runs the route on a miss, then answers from the cache, saying which', async () => {
      const route = counting();
      const { get } = await startApp((router) => router.get('/page', cache.cached({ timeout: 60 }), route.handler));
      const first = await get('/page');
      const second = await get('/page');
      expect([first.status, first.text, first.headers['x-cache']]).toEqual([200, 'run 1', 'MISS']);
      expect([second.status, second.text, second.headers['x-cache']]).toEqual([200, 'run 1', 'HIT']);
      expect(route.runs()).toBe(1);
    });

    it('caches every route of a router it is used on, each under its own key', async () => {
      const route = counting();
      const { get } = await startApp((router) => {
        router.use(cache.cached());
        router.get('/a', route.handler);
        router.get('/b', () => new CachedResponse('<p>b</p>', { timeout: 0 }));
      });
      await get('/a');
      expect((await get('/a')).headers['x-cache']).toBe('HIT');
      expect((await get('/b')).text).toBe('<p>b</p>');
      const b = await get('/b');
      expect([b.text, b.headers['x-cache']]).toEqual(['<p>b</p>', 'HIT']);
      expect(route.runs()).toBe(1);
    });

    it('replays status, bytes, content type and custom headers byte-identical; hop-by-hop headers stay out', async () => {
      const bytes = randomBytes(4096);
      const { get } = await startApp((router) =>
        router.get('/file', cache.cached(), (ctx) => {
          ctx.type = 'image/png';
          ctx.set('X-Total-Count', '42');
          ctx.set('Link', ['</a>; rel="next"', '</b>; rel="last"']);
          ctx.set('Keep-Alive', 'timeout=5');
          ctx.body = bytes;
        }),
      );
      const miss = await get('/file').buffer(true);
      const hit = await get('/file').buffer(true);
      expect(hit.headers['x-cache']).toBe('HIT');
      expect(Buffer.compare(hit.body as Buffer, bytes)).toBe(0);
      expect(Buffer.compare(miss.body as Buffer, bytes)).toBe(0);
      expect(hit.headers['content-type']).toBe('image/png');
      expect(hit.headers['content-length']).toBe('4096');
      expect(hit.headers['x-total-count']).toBe('42');
      expect(hit.headers['link']).toBe('</a>; rel="next", </b>; rel="last"');
      expect(hit.headers['keep-alive']).not.toBe('timeout=5');
    });

    it('stores what middleware around the route did not set: a per-request header stays per request', async () => {
      let requestId = 0;
      const { get } = await startApp((router, app) => {
        app.use(async (ctx, next) => {
          ctx.set('X-Request-Id', String(++requestId));
          await next();
        });
        router.get('/page', cache.cached(), (ctx) => {
          ctx.body = 'page';
        });
      });
      await get('/page');
      const hit = await get('/page');
      expect(hit.headers['x-cache']).toBe('HIT');
      expect(hit.headers['x-request-id']).toBe('2');
    });

    it('caches JSON bodies, Buffers and streams', async () => {
      const { get } = await startApp((router) => {
        router.get('/json', cache.cached(), (ctx) => {
          ctx.body = { items: [1, 2], at: Math.random() };
        });
        router.get('/stream', cache.cached(), (ctx) => {
          ctx.type = 'text';
          ctx.body = Readable.from([Buffer.from('chunk one '), Buffer.from(String(Math.random()))]);
        });
      });
      for (const url of ['/json', '/stream']) {
        const miss = await get(url);
        const hit = await get(url);
        expect(hit.headers['x-cache']).toBe('HIT');
        expect(hit.text).toBe(miss.text);
        expect(hit.headers['content-type']).toBe(miss.headers['content-type']);
      }
      expect((await get('/json')).body.items).toEqual([1, 2]);
    });

    it('answers a HEAD from the GET entry, and stores only from GET', async () => {
      const route = counting();
      const { get, head } = await startApp((router) => {
        router.get('/a', cache.cached(), route.handler);
        router.get('/b', cache.cached(), route.handler);
      });
      await get('/a');
      const headHit = await head('/a');
      expect([headHit.headers['x-cache'], headHit.headers['content-length'], headHit.text]).toEqual(['HIT', '5', undefined]);
      expect((await head('/b')).headers['x-cache']).toBe('MISS');
      const getMiss = await get('/b'); // the HEAD did not fill the GET entry
      expect([getMiss.headers['x-cache'], getMiss.text]).toEqual(['MISS', 'run 3']);
      expect(route.runs()).toBe(3);
    });

    it('never lets a HEAD response (an empty body) become the GET entry', async () => {
      const { get, head } = await startApp((router) =>
        router.get('/empty-head', cache.cached(), (ctx) => {
          ctx.type = 'html';
          ctx.body = ctx.method === 'HEAD' ? '' : 'full page';
        }),
      );
      await head('/empty-head');
      expect((await get('/empty-head')).text).toBe('full page');
      expect((await get('/empty-head')).text).toBe('full page');
    });
  });

  it('answers a hit synchronously from process memory, before anything is awaited', async () => {
    const middleware = cache.cached();
    const { app, get, host } = await startApp((router) => router.get('/page', middleware, counting().handler));
    await get('/page');
    const req = new IncomingMessage(new Socket());
    Object.assign(req, { method: 'GET', url: '/page', headers: { host } });
    const ctx = app.createContext(req, new ServerResponse(req));
    const answered = middleware(ctx, () => Promise.reject(new Error('the route should not run')));
    expect([ctx.status, String(ctx.body), ctx.response.get('X-Cache')]).toEqual([200, 'run 1', 'HIT']);
    await answered;
  });

  it('counts hits, misses, stale answers, stores and refreshes per route in cache.stats()', async () => {
    const { get } = await startApp((router) =>
      router.get('/products/:id', cache.cached({ timeout: 0.1, staleWhileRevalidate: 10 }), counting().handler),
    );
    await get('/products/1');
    await get('/products/1');
    await time.pass(150);
    await get('/products/1');
    await eventually(() => cache.stats().byKind.response.sets === 2);
    expect(cache.stats().byName['/products/:id']).toMatchObject({ kind: 'response', hits: 1, misses: 1, stale: 1, sets: 2, refreshes: 1 });
  });

  describe('ETag, Age and the cache-status header', () => {
    it('gives hits an ETag (computed when the route set none) and an Age, and answers If-None-Match with 304', async () => {
      const { get } = await startApp((router) => {
        router.get('/computed', cache.cached(), (ctx) => {
          ctx.body = 'same bytes';
        });
        router.get('/own', cache.cached(), (ctx) => {
          ctx.set('ETag', '"v7"');
          ctx.body = 'versioned';
        });
      });
      await get('/computed');
      const hit = await get('/computed');
      expect(hit.headers.etag).toMatch(/^"[\w-]{20,}"$/);
      expect(hit.headers.age).toBe('0');
      const notModified = await get('/computed').set('If-None-Match', hit.headers.etag);
      expect([notModified.status, notModified.headers['x-cache'], notModified.text]).toEqual([304, 'HIT', '']);
      const changed = await get('/computed').set('If-None-Match', '"other"');
      expect(changed.status).toBe(200);

      await get('/own');
      const own = await get('/own').set('If-None-Match', '"v7"');
      expect([own.status, own.headers.etag]).toEqual([304, '"v7"']);
    });

    it('counts Age in whole seconds since the response was stored', async () => {
      const { get } = await startApp((router) => router.get('/page', cache.cached(), counting().handler));
      await get('/page');
      await time.pass(1100);
      expect((await get('/page')).headers.age).toBe('1');
    });

    it('names the cache-status header as configured, or sends none', async () => {
      const { get } = await startApp((router) => {
        router.get('/named', cache.cached({ cacheStatusHeader: 'X-Page-Cache' }), counting().handler);
        router.get('/none', cache.cached({ cacheStatusHeader: false }), counting().handler);
      });
      await get('/named');
      const named = await get('/named');
      expect([named.headers['x-page-cache'], named.headers['x-cache']]).toEqual(['HIT', undefined]);
      await get('/none');
      const none = await get('/none');
      expect(none.headers['x-cache']).toBeUndefined();
      expect(none.headers.etag).toBeDefined();
    });
  });

  describe('keys', () => {
    it('normalises the query: parameter order does not matter, values do', async () => {
      const route = counting();
      const { get } = await startApp((router) => router.get('/list', cache.cached(), route.handler));
      const first = await get('/list?b=2&a=1');
      expect((await get('/list?a=1&b=2')).text).toBe(first.text);
      expect((await get('/list?a=2&b=2')).text).not.toBe(first.text);
      expect((await get('/list')).text).toBe('run 3');
      expect(route.runs()).toBe(3);
    });

    it('treats repeated parameters as a sorted list', async () => {
      const route = counting();
      const { get } = await startApp((router) => router.get('/users', cache.cached(), route.handler));
      const first = await get('/users?user[]=123&user[]=124');
      expect((await get('/users?user[]=124&user[]=123')).text).toBe(first.text);
      expect((await get('/users?user[]=125&user[]=124')).text).toBe('run 2');
    });

    it('ignores the query with queryString: false', async () => {
      const route = counting();
      const { get } = await startApp((router) => router.get('/page', cache.cached({ queryString: false }), route.handler));
      await get('/page?utm_source=mail');
      expect((await get('/page?utm_source=ads')).headers['x-cache']).toBe('HIT');
      expect(route.runs()).toBe(1);
    });

    it('keys by host: the same path on another host is another entry', async () => {
      const route = counting();
      const { get } = await startApp((router) => router.get('/page', cache.cached(), route.handler));
      await get('/page').set('Host', 'shop-a.example');
      expect((await get('/page').set('Host', 'shop-b.example')).text).toBe('run 2');
      expect((await get('/page').set('Host', 'shop-a.example')).text).toBe('run 1');
    });

    it('splits entries by keyPrefix, given as a string or a function of ctx', async () => {
      const route = counting();
      const { get } = await startApp((router) => {
        router.get('/fixed', cache.cached({ keyPrefix: 'v2:' }), route.handler);
        router.get('/by-tenant', cache.cached({ keyPrefix: (ctx) => `tenant-${ctx.query.tenant === 'b' ? 'b' : 'a'}:` , queryString: false }), route.handler);
      });
      await get('/fixed');
      expect(await cache.deleteCached('/fixed', { keyPrefix: 'v2:' })).toBe(true);
      expect((await get('/by-tenant?tenant=a')).text).toBe('run 2');
      expect((await get('/by-tenant?tenant=a&x=1')).text).toBe('run 2');
      expect((await get('/by-tenant?tenant=b')).text).toBe('run 3');
    });

    it('takes the whole key from makeCacheKey, e.g. a hash of a POST body', async () => {
      const route = counting('search');
      const { post } = await startApp((router, app) => {
        app.use(async (ctx, next) => {
          const chunks: Buffer[] = [];
          for await (const chunk of ctx.req) chunks.push(chunk as Buffer);
          ctx.state.rawBody = Buffer.concat(chunks).toString();
          await next();
        });
        router.post(
          '/search',
          cache.cached({ methods: ['POST'], makeCacheKey: (ctx) => `search:${ctx.state.rawBody as string}` }),
          route.handler,
        );
      });
      const first = await post('/search').send({ q: 'shoes' });
      expect((await post('/search').send({ q: 'shoes' })).headers['x-cache']).toBe('HIT');
      expect((await post('/search').send({ q: 'hats' })).text).not.toBe(first.text);
      expect(route.runs()).toBe(2);
      expect(await cache.delete('response:POST search:{"q":"shoes"}')).toBe(true);
      expect((await post('/search').send({ q: 'shoes' })).headers['x-cache']).toBe('MISS');
    });

    it('splits entries by varyHeaders', async () => {
      const { get } = await startApp((router) =>
        router.get('/hello', cache.cached({ varyHeaders: ['Accept-Language'] }), (ctx) => {
          ctx.body = ctx.get('accept-language') === 'fr' ? 'bonjour' : 'hello';
        }),
      );
      await get('/hello').set('Accept-Language', 'fr');
      await get('/hello').set('Accept-Language', 'en');
      const fr = await get('/hello').set('Accept-Language', 'fr');
      const en = await get('/hello').set('Accept-Language', 'en');
      expect([fr.text, fr.headers['x-cache'], en.text, en.headers['x-cache']]).toEqual(['bonjour', 'HIT', 'hello', 'HIT']);
    });

    it("stores a response per variant of the request headers its Vary names", async () => {
      let runs = 0;
      const { get } = await startApp((router) =>
        router.get('/hello', cache.cached(), (ctx) => {
          runs++;
          ctx.vary('Accept-Language');
          ctx.body = ctx.get('accept-language') === 'fr' ? 'bonjour' : 'hello';
        }),
      );
      expect((await get('/hello').set('Accept-Language', 'fr')).text).toBe('bonjour');
      expect((await get('/hello').set('Accept-Language', 'en')).text).toBe('hello');
      const fr = await get('/hello').set('Accept-Language', 'fr');
      const en = await get('/hello').set('Accept-Language', 'en');
      expect([fr.text, fr.headers['x-cache'], fr.headers.vary]).toEqual(['bonjour', 'HIT', 'Accept-Language']);
      expect([en.text, en.headers['x-cache']]).toEqual(['hello', 'HIT']);
      expect(runs).toBe(2);
    });
  });

  describe('what is never stored', () => {
    it.each<[string, (ctx: Koa.Context) => void]>([
      ['sets a cookie', (ctx) => ctx.cookies.set('session', 'abc')],
      ['is Cache-Control: private', (ctx) => ctx.set('Cache-Control', 'private, max-age=60')],
      ['is Cache-Control: no-store', (ctx) => ctx.set('Cache-Control', 'no-store')],
      ['is Cache-Control: no-cache', (ctx) => ctx.set('Cache-Control', 'public, no-cache')],
      ['is Vary: *', (ctx) => ctx.set('Vary', '*')],
      ['is a 404', (ctx) => (ctx.status = 404)],
      ['is a 500', (ctx) => (ctx.status = 500)],
      ['is a 201', (ctx) => (ctx.status = 201)],
    ])('a response that %s', async (_label, mark) => {
      let runs = 0;
      const { get } = await startApp((router) =>
        router.get('/page', cache.cached(), (ctx) => {
          runs++;
          ctx.body = `run ${runs}`;
          mark(ctx);
        }),
      );
      const first = await get('/page');
      const second = await get('/page');
      expect([first.headers['x-cache'], second.headers['x-cache']]).toEqual(['MISS', 'MISS']);
      expect(second.text).toBe('run 2');
    });

    it('stores the statuses it is told to', async () => {
      const route = counting();
      const { get } = await startApp((router) =>
        router.get('/gone', cache.cached({ statuses: [200, 404] }), (ctx) => {
          route.handler(ctx);
          ctx.status = 404;
        }),
      );
      await get('/gone');
      const hit = await get('/gone');
      expect([hit.status, hit.headers['x-cache'], route.runs()]).toEqual([404, 'HIT', 1]);
    });

    it('bypasses methods other than GET and HEAD', async () => {
      const route = counting();
      const { post } = await startApp((router) => router.post('/form', cache.cached(), route.handler));
      await post('/form');
      const second = await post('/form');
      expect([second.text, second.headers['x-cache']]).toEqual(['run 2', 'BYPASS']);
    });

    it('bypasses requests with Authorization unless the route opts in', async () => {
      const route = counting();
      const { get } = await startApp((router) => {
        router.get('/private', cache.cached(), route.handler);
        router.get('/shared', cache.cached({ allowAuthorization: true }), route.handler);
      });
      await get('/private');
      const authorized = await get('/private').set('Authorization', 'Bearer alice');
      expect([authorized.text, authorized.headers['x-cache']]).toEqual(['run 2', 'BYPASS']);
      await get('/shared').set('Authorization', 'Bearer alice');
      expect((await get('/shared').set('Authorization', 'Bearer bob')).headers['x-cache']).toBe('HIT');
    });

    it('does not let a client force a recompute: no-cache, Pragma or an injected request are still hits', async () => {
      const route = counting();
      const { get, app, host } = await startApp((router) => router.get('/page', cache.cached(), route.handler));
      await get('/page');
      expect((await get('/page').set('Cache-Control', 'no-cache')).headers['x-cache']).toBe('HIT');
      expect((await get('/page').set('Pragma', 'no-cache').set('Cache-Control', 'max-age=0')).headers['x-cache']).toBe('HIT');
      const injected = await inject(app.callback(), { url: '/page', headers: { host } });
      expect(injected.headers['x-cache']).toBe('HIT');
      expect(route.runs()).toBe(1);
    });

    it('sends a stream larger than maxBodyBytes whole but does not store it', async () => {
      const big = randomBytes(64 * 1024);
      const { get } = await startApp((router) =>
        router.get('/big', cache.cached({ maxBodyBytes: 10_000 }), (ctx) => {
          ctx.type = 'application/octet-stream';
          ctx.body = Readable.from([big.subarray(0, 8000), big.subarray(8000, 30000), big.subarray(30000)]);
        }),
      );
      for (let i = 0; i < 2; i++) {
        const response = await get('/big').buffer(true);
        expect(response.headers['x-cache']).toBe('MISS');
        expect(Buffer.compare(response.body as Buffer, big)).toBe(0);
      }
    });

    it('skips the cache entirely when unless(ctx) says so', async () => {
      const route = counting();
      const { get } = await startApp((router) =>
        router.get('/page', cache.cached({ unless: (ctx) => ctx.query.preview === '1' }), route.handler),
      );
      await get('/page?preview=1');
      const bypassed = await get('/page?preview=1');
      expect([bypassed.text, bypassed.headers['x-cache']]).toEqual(['run 2', 'BYPASS']);
      await get('/page');
      expect((await get('/page')).headers['x-cache']).toBe('HIT');
    });

    it('recomputes and stores when forcedUpdate(ctx) says so', async () => {
      const route = counting();
      let force = false;
      const { get } = await startApp((router) =>
        router.get('/page', cache.cached({ forcedUpdate: () => force, queryString: false }), route.handler),
      );
      await get('/page');
      force = true;
      expect((await get('/page')).text).toBe('run 2');
      force = false;
      const after = await get('/page');
      expect([after.text, after.headers['x-cache']]).toEqual(['run 2', 'HIT']);
    });
  });

  describe('CachedResponse', () => {
    it('may be returned, with its own timeout, status, headers and type', async () => {
      let runs = 0;
      const { get } = await startApp((router) =>
        router.get('/product', cache.cached({ timeout: 60 }), () => {
          runs++;
          return new CachedResponse(`{"run":${runs}}`, { timeout: 0.3, status: 200, headers: { 'X-Source': 'db' }, type: 'json' });
        }),
      );
      const miss = await get('/product');
      expect([miss.body, miss.headers['content-type'], miss.headers['x-source']]).toEqual([{ run: 1 }, 'application/json; charset=utf-8', 'db']);
      expect((await get('/product')).headers['x-cache']).toBe('HIT');
      await time.pass(400);
      expect((await get('/product')).body).toEqual({ run: 2 });
    });

    it('may be assigned to ctx.body; Koa infers the type from the real body', async () => {
      const { get } = await startApp((router) => {
        router.get('/html', cache.cached(), (ctx) => {
          ctx.body = new CachedResponse('<p>hi</p>');
        });
        router.get('/object', cache.cached(), (ctx) => {
          ctx.body = new CachedResponse({ ok: true }, { status: 200 });
        });
        router.get('/buffer', cache.cached(), (ctx) => {
          ctx.body = new CachedResponse(Buffer.from([1, 2, 3]));
        });
      });
      for (let i = 0; i < 2; i++) {
        const html = await get('/html');
        expect([html.text, html.headers['content-type']]).toEqual(['<p>hi</p>', 'text/html; charset=utf-8']);
        expect((await get('/object')).body).toEqual({ ok: true });
        const buffer = await get('/buffer').buffer(true);
        expect([...(buffer.body as Buffer)]).toEqual([1, 2, 3]);
      }
      expect((await get('/html')).headers['x-cache']).toBe('HIT');
    });

    it('honours a timeout of 0: never expires, even when the middleware says otherwise', async () => {
      const route = counting();
      const { get } = await startApp((router) =>
        router.get('/forever', cache.cached({ timeout: 0.2 }), (ctx) => {
          route.handler(ctx);
          return new CachedResponse(ctx.body, { timeout: 0 });
        }),
      );
      await get('/forever');
      await time.pass(300);
      expect((await get('/forever')).headers['x-cache']).toBe('HIT');
      expect(route.runs()).toBe(1);
    });

    it('is unwrapped on a bypassed request too', async () => {
      const { get } = await startApp((router) => router.get('/me', cache.cached(), () => new CachedResponse('<p>me</p>')));
      const response = await get('/me').set('Authorization', 'Bearer alice');
      expect([response.text, response.headers['x-cache']]).toEqual(['<p>me</p>', 'BYPASS']);
    });

    it('carries tags: invalidating one makes the response a miss', async () => {
      const route = counting();
      const { get } = await startApp((router) =>
        router.get('/product/1', cache.cached(), (ctx) => {
          route.handler(ctx);
          return new CachedResponse(ctx.body, { tags: ['product:1'] });
        }),
      );
      await get('/product/1');
      expect((await get('/product/1')).headers['x-cache']).toBe('HIT');
      await cache.invalidateTags(['product:1']);
      const after = await get('/product/1');
      expect([after.text, after.headers['x-cache']]).toEqual(['run 2', 'MISS']);
    });
  });
});

describe('cache.cached() when the store fails', () => {
  it('serves the route and reports the failure instead of an error page', async () => {
    const cache = new Cache({ store: `redis://127.0.0.1:${await freePort()}`, operationTimeoutMs: 50 });
    const errors: Error[] = [];
    cache.on('error', (err: Error) => errors.push(err));
    try {
      const route = counting();
      const { get } = await startApp((router) => router.get('/page', cache.cached(), route.handler));
      const first = await get('/page');
      const second = await get('/page');
      expect([first.status, first.text, second.status, second.text]).toEqual([200, 'run 1', 200, 'run 2']);
      expect(errors.length).toBeGreaterThan(0);
    } finally {
      await closeApps();
      await cache.close();
    }
  });
});

describe('cache.cached() on the memory store', () => {
  afterEach(closeApps);

  it('takes an entry it cannot read for a miss, and reports it', async () => {
    const cache = new Cache();
    const errors: Error[] = [];
    cache.on('error', (err: Error) => errors.push(err));
    const { get } = await startApp((router) => router.get('/page', cache.cached(), counting().handler));
    await cache.set('response:/page', 'not a response entry');
    const response = await get('/page');
    expect([response.status, response.text, response.headers['x-cache']]).toEqual([200, 'run 1', 'MISS']);
    expect(errors[0].message).toMatch(/decode of "response:\/page" failed/);
  });
});

describe('cache.cached() options', () => {
  const cache = new Cache();

  it.each<[string, Record<string, unknown>, RegExp]>([
    ['a negative timeout', { timeout: -1 }, /^timeout must be/],
    ['a bad duration', { staleWhileRevalidate: 'soon' }, /^staleWhileRevalidate "soon"/],
    ['a negative staleIfError', { staleIfError: -5 }, /^staleIfError must/],
    ['a negative refreshMargin', { refreshMargin: -1 }, /^refreshMargin must/],
    ['zero refreshConcurrency', { refreshConcurrency: 0 }, /^refreshConcurrency must/],
    ['a fractional maxBodyBytes', { maxBodyBytes: 1.5 }, /^maxBodyBytes must/],
    ['a status out of range', { statuses: [200, 99] }, /^statuses must/],
    ['a bad header name', { varyHeaders: ['Accept Language'] }, /^varyHeaders:/],
    ['POST without makeCacheKey', { methods: ['GET', 'POST'] }, /^methods POST need makeCacheKey/],
    ['an unknown option', { staleWhileRevalidation: 10 }, /no option "staleWhileRevalidation"/],
    ['a non-function unless', { unless: true }, /^unless must be a function/],
    ['an empty keyPrefix', { keyPrefix: '' }, /^keyPrefix must be/],
    ['a bad cacheStatusHeader', { cacheStatusHeader: true }, /^cacheStatusHeader must be/],
  ])('refuses %s, naming the option', (_label, options, message) => {
    expect(() => cache.cached(options)).toThrow(message);
  });

  it('refuses a bad CachedResponse where it is written', () => {
    expect(() => new CachedResponse('x', { timeout: -1 })).toThrow(RangeError);
    expect(() => new CachedResponse('x', { status: 1000 })).toThrow(/status of CachedResponse/);
    expect(() => new CachedResponse('x', { tags: [''] })).toThrow(/tags of CachedResponse/);
  });
});
