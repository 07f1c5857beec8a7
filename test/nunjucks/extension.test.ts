import nunjucks from 'nunjucks';
import { Cache, createEnvironment, makeTemplateFragmentKey } from '../../src';
import { manualClock, timeOn } from '../support/clock';
import { cacheFactory, storeKinds } from '../support/stores';
import { render, renderString, viewsFolder } from '../support/templates';

describe.each(storeKinds)('the {%% cache %%} tag on the %s store', (kind) => {
  const caches = cacheFactory(kind, 'tag');
  const time = timeOn(kind);
  let cache: Cache;
  let env: nunjucks.Environment;
  let views: ReturnType<typeof viewsFolder>;
  beforeEach(() => {
    cache = caches.make();
    views = viewsFolder();
    env = createEnvironment({ cache, views: views.dir, noCache: true });
  });
  afterAll(() => caches.closeAll());

  it('renders the body once and serves the stored HTML under makeTemplateFragmentKey(name, vary)', async () => {
    views.write('page.njk', '<p>{% cache 60, "card", id, lang %}<b>{{ title }}</b>{% endcache %}</p>');
    expect(await render(env, 'page.njk', { id: 1, lang: 'en', title: 'First' })).toBe('<p><b>First</b></p>');
    expect(await render(env, 'page.njk', { id: 1, lang: 'en', title: 'Changed' })).toBe('<p><b>First</b></p>');
    expect(await cache.get(makeTemplateFragmentKey('card', [1, 'en']))).toBe('<b>First</b>');
    expect(await render(env, 'page.njk', { id: 2, lang: 'en', title: 'Second' })).toBe('<p><b>Second</b></p>');
  });

  it('gives identical output on a miss and a hit, escaped exactly once', async () => {
    views.write('esc.njk', '{% cache 60, "esc" %}<i>{{ unsafe }}</i>{{ safe | safe }}{% endcache %}|{{ unsafe }}');
    const context = { unsafe: '<script>&"', safe: '<em>ok</em>' };
    const miss = await render(env, 'esc.njk', context);
    const hit = await render(env, 'esc.njk', context);
    expect(miss).toBe('<i>&lt;script&gt;&amp;&quot;</i><em>ok</em>|&lt;script&gt;&amp;&quot;');
    expect(hit).toBe(miss);
    const raw = createEnvironment({ cache: caches.make(), views: views.dir, autoescape: false });
    expect(await render(raw, 'esc.njk', context)).toBe('<i><script>&"</i><em>ok</em>|<script>&"');
    expect(await render(raw, 'esc.njk', context)).toBe('<i><script>&"</i><em>ok</em>|<script>&"');
  });

  it('evaluates every argument as an expression at render time', async () => {
    views.write('expr.njk', '{% cache t * 2, prefix + "-frag", user.id %}{{ user.name }}{% endcache %}');
    await render(env, 'expr.njk', { t: 30, prefix: 'side', user: { id: 9, name: 'Ann' } });
    expect(await cache.get(makeTemplateFragmentKey('side-frag', [9]))).toBe('Ann');
  });

  it('expires fragments after the timeout; none means the default and 0 never expires', async () => {
    const quick = caches.make({ defaultTimeout: 0.3, clock: time.clock });
    const qenv = createEnvironment({ cache: quick, views: views.dir });
    views.write('ttl.njk', '{% cache 0.3, "short" %}{{ v }}{% endcache %}{% cache none, "dflt" %}{{ v }}{% endcache %}{% cache 0, "forever" %}{{ v }}{% endcache %}{% cache "1h", "hour" %}{{ v }}{% endcache %}');
    expect(await render(qenv, 'ttl.njk', { v: 'a' })).toBe('aaaa');
    expect(await render(qenv, 'ttl.njk', { v: 'b' })).toBe('aaaa');
    await time.pass(450);
    expect(await render(qenv, 'ttl.njk', { v: 'c' })).toBe('ccaa');
  });

  it("'del' deletes the fragment and renders it fresh without storing it", async () => {
    views.write('del.njk', '{% cache t, "frag", 1 %}{{ v }}{% endcache %}{% cache 60, "other" %}{{ v }}{% endcache %}');
    await render(env, 'del.njk', { t: 60, v: 'old' });
    expect(await render(env, 'del.njk', { t: 'del', v: 'new' })).toBe('newold');
    expect(await cache.has(makeTemplateFragmentKey('frag', [1]))).toBe(false);
    expect(await cache.get(makeTemplateFragmentKey('other'))).toBe('old');
    expect(await render(env, 'del.njk', { t: 60, v: 'newer' })).toBe('newerold');
  });

  it('is invalidated from code with makeTemplateFragmentKey', async () => {
    views.write('product.njk', '{% for p in products %}{% cache 300, "product", p.id %}[{{ p.name }}]{% endcache %}{% endfor %}');
    await render(env, 'product.njk', { products: [{ id: 1, name: 'A' }, { id: 2, name: 'B' }] });
    expect(await cache.delete(makeTemplateFragmentKey('product', [2]))).toBe(true);
    expect(await render(env, 'product.njk', { products: [{ id: 1, name: 'A2' }, { id: 2, name: 'B2' }] })).toBe('[A][B2]');
  });

  describe('anonymous fragments', () => {
    it('never share a key: same line, other column, other template', async () => {
      views.write('a.njk', '{% cache 60 %}{{ v }}1{% endcache %}{% cache 60 %}{{ v }}2{% endcache %}');
      views.write('b.njk', '{% cache 60 %}{{ v }}1{% endcache %}{% cache 60 %}{{ v }}2{% endcache %}');
      expect(await render(env, 'a.njk', { v: 'a' })).toBe('a1a2');
      expect(await render(env, 'b.njk', { v: 'b' })).toBe('b1b2');
      expect(await render(env, 'a.njk', { v: 'x' })).toBe('a1a2');
      expect(await render(env, 'b.njk', { v: 'x' })).toBe('b1b2');
    });

    it('are invalidated when the template is edited', async () => {
      views.write('edit.njk', '{% cache 60 %}{{ v }}{% endcache %}');
      expect(await render(env, 'edit.njk', { v: 'first' })).toBe('first');
      expect(await render(env, 'edit.njk', { v: 'second' })).toBe('first');
      views.write('edit.njk', '{% cache 60 %}{{ v }}{% endcache %}<!-- edited -->');
      expect(await render(env, 'edit.njk', { v: 'third' })).toBe('third<!-- edited -->');
    });

    it('work in string templates too', async () => {
      expect(await renderString(env, 'x{% cache 60 %}{{ v }}{% endcache %}', { v: 1 })).toBe('x1');
      expect(await renderString(env, 'x{% cache 60 %}{{ v }}{% endcache %}', { v: 2 })).toBe('x1');
      expect(await renderString(env, 'y{% cache 60 %}{{ v }}{% endcache %}', { v: 3 })).toBe('y3');
    });
  });

  it('works with custom delimiters', async () => {
    const custom = createEnvironment({ cache, views: views.dir, tags: { blockStart: '<%', blockEnd: '%>' } });
    views.write('custom.njk', '<% for i in [1, 2] %><%- cache 60, "item", i -%> {{ i * 10 }} <%- endcache %><% endfor %>');
    expect(await render(custom, 'custom.njk')).toBe('1020');
    expect(await cache.get(makeTemplateFragmentKey('item', [2]))).toBe('20');
  });

  it('works inside for and if, nested in another cache block, and around include', async () => {
    views.write('inc.njk', '<{{ x }}>');
    views.write('nest.njk', [
      '{% for x in xs %}{% if x > 1 %}{% cache 60, "outer", x %}',
      'O{{ x }}:{% cache 60, "inner", x %}{% include "inc.njk" %}{% endcache %}',
      '{% endcache %}{% endif %}{% endfor %}',
    ].join(''));
    expect(await render(env, 'nest.njk', { xs: [1, 2, 3] })).toBe('O2:<2>O3:<3>');
    expect(await render(env, 'nest.njk', { xs: [1, 2, 3] })).toBe('O2:<2>O3:<3>');
    expect(await cache.get(makeTemplateFragmentKey('inner', [3]))).toBe('<3>');
  });

  it('works in a template included from inside for/if (output is never dropped)', async () => {
    views.write('card.njk', '{% cache 60, "card", item %}({{ item }}){% endcache %}');
    views.write('list.njk', '{% for item in items %}{% include "card.njk" %}{% else %}none{% endfor %}|{% if show %}{% include "card.njk" %}{% endif %}');
    expect(await render(env, 'list.njk', { items: ['a', 'b'], show: true, item: 'z' })).toBe('(a)(b)|(z)');
    expect(await render(env, 'list.njk', { items: ['a', 'b'], show: true, item: 'z' })).toBe('(a)(b)|(z)');
    expect(await render(env, 'list.njk', { items: [], show: false })).toBe('none|');
  });

  it('works inside blocks of an extending template', async () => {
    views.write('layout.njk', '<main>{% if true %}{% block content %}default{% endblock %}{% endif %}</main>');
    views.write('child.njk', '{% extends "layout.njk" %}{% block content %}{% cache 60, "content" %}{{ v }}{% endcache %}{% endblock %}');
    expect(await render(env, 'child.njk', { v: 'one' })).toBe('<main>one</main>');
    expect(await render(env, 'child.njk', { v: 'two' })).toBe('<main>one</main>');
  });

  it.each([
    ['macro', '{% macro m() %}\n{% cache 60 %}x{% endcache %}\n{% endmacro %}{{ m() }}'],
    ['set', '{% set captured %}\n{% cache 60 %}x{% endcache %}\n{% endset %}{{ captured }}'],
    ['call', '{% macro wrap() %}{{ caller() }}{% endmacro %}{% call wrap() %}\n{% cache 60 %}x{% endcache %}\n{% endcall %}'],
    ['filter', '{% filter upper %}\n{% cache 60 %}x{% endcache %}\n{% endfilter %}'],
  ])('fails loudly inside {%% %s %%}, naming the template and line', async (block, source) => {
    views.write(`in-${block}.njk`, source);
    await expect(render(env, `in-${block}.njk`)).rejects.toThrow(
      new RegExp(`in-${block}\\.njk\\) \\[Line 2, Column 4\\][\\s\\S]*cannot be used inside \\{% ${block} %\\}`),
    );
  });

  describe('errors', () => {
    it('from the body reach the render callback with the template name and line, and store nothing', async () => {
      views.write('broken.njk', 'ok\n{% cache 60, "broken" %}\n{{ missing() }}\n{% endcache %}');
      // Placed where nunjucks places it without the tag (its lines count from 0: this is the third).
      await expect(render(env, 'broken.njk')).rejects.toThrow(/broken\.njk\) \[Line 2, Column 10\][\s\S]*Unable to call `missing`/);
      expect(await cache.has(makeTemplateFragmentKey('broken'))).toBe(false);
      await expect(render(env, 'broken.njk', { missing: () => 'fixed' })).resolves.toBe('ok\n\nfixed\n');
    });

    it('from an async filter in the body are reported too', async () => {
      env.addFilter('fails', (_v: unknown, cb: (err: Error) => void) => setTimeout(() => cb(new Error('filter broke')), 1), true);
      views.write('afilter.njk', '{% cache 60, "af" %}{{ 1 | fails }}{% endcache %}');
      await expect(render(env, 'afilter.njk')).rejects.toThrow(/filter broke/);
    });

    it('after the tag, once it answered asynchronously, reach the render callback (no crash)', async () => {
      views.write('after.njk', '{% cache 60, "after" %}a{% endcache %}{{ boom() }}');
      await expect(render(env, 'after.njk')).rejects.toThrow(/Unable to call `boom`/);
      await expect(render(env, 'after.njk')).rejects.toThrow(/Unable to call `boom`/);
    });

    it.each([
      ['no endcache', '{% cache 60 %}x', /\[Line 1, Column 4\][\s\S]*has no \{% endcache %\}/],
      ['a missing comma', 'line\n{% cache 60 "x" %}y{% endcache %}', /\[Line 2, Column 13\][\s\S]*expected comma/],
      ['no timeout', '{% cache %}y{% endcache %}', /needs a timeout/],
      ['a negative timeout', '\n{% cache -1, "x" %}y{% endcache %}', /\[Line 2, Column 4\][\s\S]*bad\.njk line 2: timeout must be a finite number of seconds >= 0, got -1/],
      ['an unparsable timeout', '{% cache "soon", "x" %}y{% endcache %}', /timeout "soon" is not a duration/],
      ['an undefined name', '{% cache 60, typo %}y{% endcache %}', /fragment name must be a non-empty string, got undefined/],
      ['an unknown keyword', '{% cache 60, "x", colour="red" %}y{% endcache %}', /unknown keyword argument colour/],
    ])('%s fails with the template name and line', async (_label, source, message) => {
      views.write('bad.njk', source);
      const failure = render(env, 'bad.njk');
      await expect(failure).rejects.toThrow(/\(.*bad\.njk\)/);
      await expect(render(env, 'bad.njk')).rejects.toThrow(message);
    });
  });

  it('renders the body once for concurrent renders of the same missing fragment', async () => {
    let renders = 0;
    env.addFilter('slow', (v: unknown, cb: (err: null, out: unknown) => void) => {
      renders++;
      setTimeout(() => cb(null, v), 20);
    }, true);
    views.write('slow.njk', '{% cache 60, "slow" %}{{ "x" | slow }}{% endcache %}');
    const pages = await Promise.all(Array.from({ length: 25 }, () => render(env, 'slow.njk')));
    expect(renders).toBe(1);
    expect(new Set(pages)).toEqual(new Set(['x']));
  });

  it('renders a page of thousands of hits without exhausting the stack', async () => {
    views.write('many.njk', '{% for i in items %}{% cache 60, "n", i %}{{ i }},{% endcache %}{% endfor %}');
    const items = Array.from({ length: 5000 }, (_, i) => i);
    const first = await render(env, 'many.njk', { items });
    expect(await render(env, 'many.njk', { items })).toBe(first);
    expect(first.split(',').length).toBe(5001);
  });
});

describe('the {% cache %} tag with a memory store', () => {
  it('answers a page of hits synchronously: no promise round trip per fragment', async () => {
    const cache = new Cache();
    const env = createEnvironment({ cache, views: __dirname });
    const source = '{% for i in items %}{% cache 60, "s", i %}{{ i }}{% endcache %}{% endfor %}';
    await renderString(env, source, { items: [1, 2, 3] });
    const get = jest.spyOn(cache, 'get');
    // nunjucks defers only a top-level render's final callback; with a parent frame it calls back
    // as soon as the template is done, so a synchronous answer proves no fragment waited.
    const template = new nunjucks.Template(source, env) as unknown as {
      render(context: object, parentFrame: unknown, cb: (err: Error | null, out?: string) => void): void;
    };
    const { Frame } = nunjucks.runtime as unknown as { Frame: new () => unknown };
    let html: string | undefined;
    template.render({ items: [1, 2, 3] }, new Frame(), (_err, out) => (html = out));
    expect(html).toBe('123');
    expect(get).not.toHaveBeenCalled();
  });
});

describe('debug markers', () => {
  it('wrap each top-level fragment in comments with its key, HIT/MISS/DELETED and age', async () => {
    const clock = manualClock();
    const cache = new Cache({ clock });
    const env = createEnvironment({ cache, views: __dirname, debugMarkers: true });
    const page = '{% cache t, "box", 1 %}<b>{% cache 60, "inner" %}i{% endcache %}</b>{% endcache %}';
    const key = makeTemplateFragmentKey('box', [1]);
    expect(await renderString(env, page, { t: 60 })).toBe(`<!-- kfc MISS box ${key} age=0.0s --><b>i</b><!-- /kfc box -->`);
    await clock.pass(120);
    expect(await renderString(env, page, { t: 60 })).toMatch(new RegExp(`^<!-- kfc HIT box ${key} age=0\\.1s --><b>i</b><!-- /kfc box -->$`));
    expect(await renderString(env, page, { t: 'del' })).toBe(`<!-- kfc DELETED box ${key} --><b>i</b><!-- /kfc box -->`);
    expect(await cache.get(key)).toBeUndefined(); // markers are never stored
    await renderString(env, page, { t: 60 });
    expect(await cache.get(key)).toBe('<b>i</b>');
  });

  it('are off by default', async () => {
    const env = createEnvironment({ cache: new Cache(), views: __dirname });
    expect(await renderString(env, '{% cache 60, "x" %}x{% endcache %}')).toBe('x');
  });
});
