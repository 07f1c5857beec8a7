import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import nunjucks from 'nunjucks';
import { Cache, CacheExtension } from '../../src';
import { cacheFactory, storeKinds } from '../support/stores';
import { render, viewsFolder } from '../support/templates';

/**
 * Adding the extension to an Environment an app already has: whatever created it, templates render
 * as before, and the tag renders correctly or fails loudly, naming the file that holds it.
 */
describe.each(storeKinds)('the extension added to an existing Environment, on the %s store', (kind) => {
  const caches = cacheFactory(kind, 'drop-in');
  let views: ReturnType<typeof viewsFolder>;
  let env: nunjucks.Environment;
  beforeEach(() => {
    views = viewsFolder();
    env = new nunjucks.Environment(new nunjucks.FileSystemLoader(views.dir));
    env.addExtension('CacheExtension', new CacheExtension(caches.make()));
  });
  afterAll(() => caches.closeAll());

  it('renders a tag reached through an include inside a macro, call, set or filter block', async () => {
    views.write('card.njk', '{% cache 60, "card", p %}[{{ p }}]{% endcache %}');
    views.write('page.njk', [
      'A{% macro m(p) %}{% include "card.njk" %}{% endmacro %}{{ m(1) }}{{ m(2) }}',
      '{% macro wrap() %}<{{ caller() }}>{% endmacro %}{% call wrap() %}{% set p = 3 %}{% include "card.njk" %}{% endcall %}',
      '{% set p = 4 %}{% set captured %}{% include "card.njk" %}{% endset %}{{ captured }}',
      '{% filter upper %}{% include "card.njk" %}{% endfilter %}B',
    ].join(''));
    expect(await render(env, 'page.njk')).toBe('A[1][2]<[3]>[4][4]B');
    expect(await render(env, 'page.njk')).toBe('A[1][2]<[3]>[4][4]B');
  });

  it('renders synchronously too (env.render without a callback): from process memory, or the body in place', async () => {
    views.write('sync.njk', '{% cache 60, "sync" %}<b>{{ n }}</b>{% endcache %}|{{ n }}');
    expect(env.render('sync.njk', { n: 1 })).toBe('<b>1</b>|1');
    expect(env.render('sync.njk', { n: 2 })).toBe(kind === 'memory' ? '<b>1</b>|2' : '<b>2</b>|2');
    expect(env.renderString('{% cache 60, "s2" %}x{% endcache %}', {})).toBe('x');
  });

  it('fails loudly where a body cannot finish at once in a synchronous render', () => {
    env.addFilter('later', (value: unknown, cb: (err: null, out: unknown) => void) => setImmediate(() => cb(null, value)), true);
    views.write('later.njk', 'x\n{% cache 60, "later" %}{{ 1 | later }}{% endcache %}');
    expect(() => env.render('later.njk', {})).toThrow(/later\.njk line 2 was reached where nunjucks cannot wait \(a render without a callback\)/);
  });

  it('refuses an undefined vary value, naming the template, line and argument', async () => {
    views.write('typo.njk', '<ul>\n{% cache 300, "product", prodct.id, lang %}x{% endcache %}');
    await expect(render(env, 'typo.njk', { product: { id: 1 }, lang: 'en' })).rejects.toThrow(
      /\{% cache %\} in typo\.njk line 2: vary value 1 \(argument 3 of \{% cache %\}\) is undefined/,
    );
    views.write('null.njk', '{% cache 300, "product", none %}x{% endcache %}');
    await expect(render(env, 'null.njk')).resolves.toBe('x'); // an explicit null is ''
  });

  it('names the file holding a tag inside a macro, not the template importing it', async () => {
    views.write('macros.njk', '{% macro card() %}\n{% cache 60 %}x{% endcache %}\n{% endmacro %}');
    views.write('importer.njk', '{% import "macros.njk" as m %}{{ m.card() }}');
    await expect(render(env, 'importer.njk')).rejects.toThrow(/\{% cache %\} in macros\.njk line 2 cannot be used inside \{% macro %\}/);
  });

  it('writes error messages with the delimiters the Environment uses', async () => {
    const custom = new nunjucks.Environment(new nunjucks.FileSystemLoader(views.dir), { tags: { blockStart: '<%', blockEnd: '%>', variableStart: '<$', variableEnd: '$>' } });
    custom.addExtension('CacheExtension', new CacheExtension(caches.make()));
    views.write('custom.njk', '<% cache %>x<% endcache %>');
    await expect(render(custom, 'custom.njk')).rejects.toThrow(/<% cache %> needs a timeout: <% cache timeout/);
    views.write('custom-macro.njk', '<% macro m() %><% cache 1 %>x<% endcache %><% endmacro %>');
    await expect(render(custom, 'custom-macro.njk')).rejects.toThrow(/<% cache %> in custom-macro\.njk line 1 cannot be used inside <% macro %>/);
  });
});

describe('an Environment from another copy of nunjucks', () => {
  it('gets single escaping and the macro guard: SafeStrings and hooks come from its own copy', async () => {
    // A second copy on disk, as an app with its own nunjucks (or one under koa-views) has.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kfc-nunjucks-copy-'));
    fs.cpSync(path.dirname(require.resolve('nunjucks/package.json')), path.join(dir, 'node_modules', 'nunjucks'), { recursive: true });
    fs.cpSync(path.join(path.dirname(require.resolve('nunjucks/package.json')), '..', 'a-sync-waterfall'), path.join(dir, 'node_modules', 'a-sync-waterfall'), { recursive: true });
    fs.cpSync(path.join(path.dirname(require.resolve('nunjucks/package.json')), '..', 'asap'), path.join(dir, 'node_modules', 'asap'), { recursive: true });
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const other = require(path.join(dir, 'node_modules', 'nunjucks')) as typeof nunjucks;
    expect(other.runtime.SafeString).not.toBe(nunjucks.runtime.SafeString);
    const views = viewsFolder();
    views.write('card.njk', '{% cache 60, "card", p %}[{{ p }}]{% endcache %}');
    const env = new other.Environment(new other.FileSystemLoader(views.dir));
    env.addExtension('CacheExtension', new CacheExtension(new Cache()));
    const page = '{% cache 60, "x" %}<i>{{ v }}</i>{% endcache %}{% for p in ps %}{% include "card.njk" %}{% endfor %}';
    const ctx = { v: '<b>', ps: [1, 2] };
    const html = await new Promise((resolve, reject) => env.renderString(page, ctx, (err, out) => (err ? reject(err) : resolve(out))));
    expect(html).toBe('<i>&lt;b&gt;</i>[1][2]');
    views.write('guarded.njk', '{% macro m() %}{% cache 1 %}x{% endcache %}{% endmacro %}');
    await expect(new Promise((resolve, reject) => env.render('guarded.njk', {}, (err, out) => (err ? reject(err) : resolve(out))))).rejects.toThrow(
      /cannot be used inside \{% macro %\}/,
    );
    fs.rmSync(dir, { recursive: true });
  });
});
