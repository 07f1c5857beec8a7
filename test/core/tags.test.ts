import type nunjucks from 'nunjucks';
import { Cache, createEnvironment, makeTemplateFragmentKey } from '../../src';
import { engineOf } from '../../src/core/registry';
import { tagKey } from '../../src/core/tags';
import { cacheFactory, eventually, redisUrl, storeKinds, uniquePrefix } from '../support/stores';
import { render, viewsFolder } from '../support/templates';

describe.each(storeKinds)('tag invalidation on the %s store', (kind) => {
  const caches = cacheFactory(kind, 'tags');
  let cache: Cache;
  beforeEach(() => {
    cache = caches.make();
  });
  afterAll(() => caches.closeAll());

  it('makes every entry carrying any invalidated tag a miss, and only those', async () => {
    await cache.set('p1', 'one', { timeout: 60, tags: ['product:1', 'list'] });
    await cache.set('p2', 'two', { tags: ['product:2', 'list'] });
    await cache.set('plain', 'untagged');
    expect(await cache.getMany(['p1', 'p2', 'plain'])).toEqual(['one', 'two', 'untagged']);
    await cache.invalidateTags(['product:1']);
    expect(await cache.getMany(['p1', 'p2', 'plain'])).toEqual([undefined, 'two', 'untagged']);
    await cache.invalidateTags(['list']);
    expect(await cache.get('p2')).toBeUndefined();
    expect(await cache.get('plain')).toBe('untagged');
  });

  it('lets entries written after an invalidation be hits again', async () => {
    await cache.set('k', 'old', { tags: ['t'] });
    await cache.invalidateTags(['t']);
    await cache.set('k', 'new', { tags: ['t'] });
    expect(await cache.get('k')).toBe('new');
    if (kind === 'memory') expect(cache.peek('k')).toBe('new');
  });

  it('costs one store write per tag, whatever the number of entries (no key walking)', async () => {
    await Promise.all(Array.from({ length: 500 }, (_, i) => cache.set(`item${i}`, i, { tags: ['catalog'] })));
    const store = engineOf(cache, 'test').store as unknown as Record<string, (...args: unknown[]) => unknown>;
    const calls: string[] = [];
    for (const method of ['get', 'getMany', 'set', 'add', 'delete', 'clear']) {
      const original = store[method].bind(store);
      jest.spyOn(store, method).mockImplementation((...args: unknown[]) => (calls.push(method), original(...args)));
    }
    await cache.invalidateTags(['catalog']);
    expect(calls).toEqual(['set']);
    jest.restoreAllMocks();
    expect(await cache.get('item0')).toBeUndefined();
    expect(await cache.get('item499')).toBeUndefined();
  });

  it('counts a lost tag version (evicted) as a miss, never serving the old entry', async () => {
    await cache.set('k', 'v', { tags: ['gone'] });
    await cache.delete(tagKey('gone'));
    expect(await cache.get('k')).toBeUndefined();
    expect(cache.peek('k')).toBeUndefined();
  });

  it('works through getOrSet, taking tag versions before computing', async () => {
    let runs = 0;
    const compute = async () => {
      runs++;
      if (runs === 1) await cache.invalidateTags(['racy']); // an edit lands while computing
      return `v${runs}`;
    };
    expect(await cache.getOrSet('g', compute, { tags: ['racy'] })).toBe('v1');
    expect(await cache.getOrSet('g', compute, { tags: ['racy'] })).toBe('v2');
    expect(await cache.getOrSet('g', compute, { tags: ['racy'] })).toBe('v2');
    expect(runs).toBe(2);
  });

  it('refuses bad tags naming the key', async () => {
    await expect(cache.set('k', 'v', { tags: 'product:1' as never })).rejects.toThrow(/tags of key "k" must be an array/);
    await expect(cache.set('k', 'v', { tags: [''] })).rejects.toThrow(/tags of key "k" must be non-empty strings/);
    await expect(cache.invalidateTags([1 as never])).rejects.toThrow(/tags of invalidateTags/);
  });

  describe('on fragments', () => {
    let env: nunjucks.Environment;
    let views: ReturnType<typeof viewsFolder>;
    let renders: string[];
    beforeEach(() => {
      views = viewsFolder();
      env = createEnvironment({ cache, views: views.dir });
      renders = [];
      env.addGlobal('rendered', (what: string) => (renders.push(what), ''));
      views.write('card.njk', '{% cache 300, "product", p.id, tags=["product:" + p.id] %}{{ rendered("card " + p.id) }}[{{ p.name }}]{% endcache %}');
      views.write('list.njk', '{% cache 300, "list", tags=["lists"] %}{{ rendered("list") }}{% for p in products %}{% include "card.njk" %}{% endfor %}{% endcache %}');
    });

    it('keyword tags=[…] makes the fragment a miss once a tag is invalidated', async () => {
      const products = [{ id: 1, name: 'A' }];
      expect(await render(env, 'card.njk', { p: products[0] })).toBe('[A]');
      expect(await render(env, 'card.njk', { p: { id: 1, name: 'A2' } })).toBe('[A]');
      await cache.invalidateTags(['product:1']);
      expect(await render(env, 'card.njk', { p: { id: 1, name: 'A2' } })).toBe('[A2]');
      expect(await cache.get(makeTemplateFragmentKey('product', [1]))).toBe('[A2]');
    });

    it('an outer fragment carries the tags of the fragments inside it', async () => {
      const products = [{ id: 1, name: 'A' }, { id: 2, name: 'B' }];
      expect(await render(env, 'list.njk', { products })).toBe('[A][B]');
      expect(renders).toEqual(['list', 'card 1', 'card 2']);
      renders = [];
      products[1].name = 'B2';
      expect(await render(env, 'list.njk', { products })).toBe('[A][B]');
      expect(renders).toEqual([]);

      await cache.invalidateTags(['product:2']);
      expect(await render(env, 'list.njk', { products })).toBe('[A][B2]');
      expect(renders).toEqual(['list', 'card 2']); // card 1 stayed cached
      renders = [];

      // The re-rendered list picked up card 1's tags from its cached entry too.
      await cache.invalidateTags(['product:1']);
      products[0].name = 'A2';
      expect(await render(env, 'list.njk', { products })).toBe('[A2][B2]');
      expect(renders).toEqual(['list', 'card 1']);
    });

    it('does not store an outer fragment when an inner one could not record its tags (store failing)', async () => {
      const products = [{ id: 1, name: 'A' }];
      // The store fails just when the card asks for its tag versions (as when Redis is coming back).
      const engine = engineOf(cache, 'test');
      const [tagVersions, tagVersionsNow] = [engine.tagVersions.bind(engine), engine.tagVersionsNow.bind(engine)];
      jest.spyOn(engine, 'tagVersions').mockImplementation(async (tags, ttlMs) => (tags.includes('product:1') ? undefined : tagVersions(tags, ttlMs)));
      jest.spyOn(engine, 'tagVersionsNow').mockImplementation((tags, ttlMs) => (tags.includes('product:1') ? undefined : tagVersionsNow(tags, ttlMs)));
      expect(await render(env, 'list.njk', { products })).toBe('[A]');
      jest.restoreAllMocks();
      expect(await cache.get(makeTemplateFragmentKey('list'))).toBeUndefined(); // it could not know it depends on product:1
      expect(await cache.get(makeTemplateFragmentKey('product', [1]))).toBeUndefined();
      expect(await render(env, 'list.njk', { products })).toBe('[A]');
      await cache.invalidateTags(['product:1']);
      products[0].name = 'A2';
      expect(await render(env, 'list.njk', { products })).toBe('[A2]');
    });

    it('refuses tags that are not a list of strings, naming the template', async () => {
      views.write('badtags.njk', '{% cache 60, "x", tags="product" %}x{% endcache %}');
      await expect(render(env, 'badtags.njk')).rejects.toThrow(/badtags\.njk[\s\S]*tags of the fragment must be an array/);
    });
  });
});

(redisUrl ? describe : describe.skip)('tag invalidation across processes on Redis', () => {
  it('an invalidation by one cache is seen by another sharing the store', async () => {
    const prefix = uniquePrefix('tags-shared');
    const a = new Cache({ store: redisUrl, keyPrefix: prefix, operationTimeoutMs: 2000 });
    const b = new Cache({ store: redisUrl, keyPrefix: prefix, operationTimeoutMs: 2000 });
    await a.set('k', 'v', { tags: ['shared'] });
    expect(await b.get('k')).toBe('v');
    await b.invalidateTags(['shared']);
    expect(await eventually(() => a.get('k'), undefined, 100)).toBeUndefined();
    await a.clear();
    await Promise.all([a.close(), b.close()]);
  });
});
