// The cases named in the issue the library is fixing, each its own jest test, titled as there.
// `output` is what the issue says plain nunjucks prints: the corpus checks plain nunjucks agrees.
const { page } = require('../case');

const many = (n) => Array.from({ length: n }, (_, i) => i);
const products = (n) => ({ products: many(n).map((i) => ({ id: i, name: `P${i}` })) });
const LONG = { timeoutMs: 120_000 };
const entry = { 'a.njk': '<{{ x }}>' };

const sections = {
  '1. for p in products with an include over 500 products': [
    page('renders all 500 cards', '{% for p in products %}{% include "card.njk" %}{% endfor %}|end', products(500), {
      files: { 'card.njk': '<li>{{ p.name }}</li>' },
    }),
  ],
  '2. for x in items with an include and else, items undefined or null, prints none': [
    page('items undefined', '{% for x in items %}{% include "a.njk" %}{% else %}none{% endfor %}', {}, { files: entry, output: 'none' }),
    page('items null', '{% for x in items %}{% include "a.njk" %}{% else %}none{% endfor %}', { items: null }, { files: entry, output: 'none' }),
  ],
  '3. for k, v in obj with an include and else over a non-empty object, a string, and one name over an object': [
    page('two names over a non-empty object: no else branch', '{% for k, v in obj %}<{% include "kv.njk" %}>{% else %}EMPTY{% endfor %}', { obj: { a: 1, b: 2 } }, {
      files: { 'kv.njk': '{{ k }}={{ v }};' },
      output: '<a=1;><b=2;>',
    }),
    page('a loop over a string with an include inside', '{% for ch in word %}{% include "ch.njk" %}{% else %}EMPTY{% endfor %}', { word: 'abc' }, {
      files: { 'ch.njk': '[{{ ch }}]' },
      output: '[a][b][c]',
    }),
    page('a single name over an object with an include inside', '{% for k in obj %}{% include "k.njk" %}{% else %}EMPTY{% endfor %}', { obj: { a: 1, b: 2 } }, {
      files: { 'k.njk': '[{{ k }}]' },
    }),
  ],
  "4. for a, b, c, d in rows with an include leaves the caller's data unchanged": [
    // Plain nunjucks binds unpacked names for the loop body only: the include sees loop.* alone.
    page('four names over rows', '{% for a, b, c, d in rows %}{{ a }}{{ b }}{{ c }}{{ d }}{% include "row.njk" %}{% endfor %}', { rows: [[1, 2, 3, 4], [5, 6, 7, 8]] }, {
      files: { 'row.njk': '[{{ a }}{{ loop.index }}]' },
      output: '1234[1]5678[2]',
    }),
  ],
  '5. loop variables named class, default, new, output, frame, context, cb, next with an include inside': ['class', 'default', 'new', 'output', 'frame', 'context', 'cb', 'next'].map((name) =>
    page(`named ${name}`, `{% for ${name} in items %}{% include "v.njk" %}{% endfor %}`, { items: ['a', 'b'] }, {
      files: { 'v.njk': `[{{ ${name} }}]` },
      output: '[a][b]',
    }),
  ),
  '6. 100,000-item loops with an include inside if inside for, and with a block inside the loop': [
    page('an include inside if inside for', '{% for x in items %}{% if x % 2 == 0 %}{% include "even.njk" %}{% endif %}{% endfor %}|end', { items: many(100_000) }, {
      ...LONG,
      files: { 'even.njk': '{{ x }},' },
    }),
    page('a block inside the loop', '{% for x in items %}{% block item %}{{ x }},{% endblock %}{% endfor %}|end', { items: many(100_000) }, LONG),
  ],
  '7. nested loops, set, ignore missing, errors in includes, block/super() in if, async loaders and filters in loops, as plain nunjucks': [
    page('nested loops with an include', '{% for row in rows %}{% for x in row %}{% include "a.njk" %}{% endfor %};{% endfor %}', { rows: [[1, 2], [], [3]] }, { files: entry }),
    page('set inside a loop with an include', '{% set total = 0 %}{% for x in [1, 2, 3] %}{% set total = total + x %}{% include "a.njk" %}{% endfor %}={{ total }}', {}, { files: { 'a.njk': '<{{ x }}:{{ total }}>' } }),
    page('include ignore missing inside a loop', '{% for x in [1, 2] %}[{% include "nope.njk" ignore missing %}{% include "a.njk" ignore missing %}]{% endfor %}', {}, { files: entry }),
    page('an error thrown inside an included template inside a loop', '{% for x in [1, 2] %}{% include "boom.njk" %}{% endfor %}', {}, {
      files: { 'boom.njk': '{% if x == 2 %}{{ explode() }}{% endif %}ok' },
      fails: true,
    }),
    page('block and super() inside if', '{% extends "base.njk" %}{% block content %}{% if show %}[{{ super() }}]{% endif %}{% endblock %}', { show: true }, {
      files: { 'base.njk': '{% if show %}<{% block content %}base{% endblock %}>{% endif %}' },
    }),
    page('block and super() inside if inside for', '{% extends "base.njk" %}{% block item %}{{ super() }}!{% endblock %}', { items: [1, 2] }, {
      files: { 'base.njk': '{% for x in items %}{% if x %}{% block item %}{{ x }}{% endblock %}{% endif %}{% endfor %}' },
    }),
    page('asyncEach with an include and the async loader', '{% asyncEach x in [1, 2, 3] %}{% include "a.njk" %}{% endeach %}|end', {}, { files: entry, loader: 'async' }),
    page('a loop in a template the async loader loads', '{% include "list.njk" %}|end', { items: [1, 2] }, {
      files: { 'list.njk': '{% for x in items %}({{ x }}){% endfor %}' },
      loader: 'async',
    }),
    page('an async filter inside a loop with an include', '{% for x in [1, 2] %}{{ x | later }}{% include "a.njk" %}{% endfor %}|end', {}, { files: entry }),
    page('an async filter inside if inside a loop', '{% for x in [1, 2] %}{% if x > 1 %}{{ x | later }}{% endif %}{% endfor %}|end'),
  ],
  '8. a cache tag in an included template rendered from inside for and from inside if, cold and warm': [
    page('from inside for', '{% for p in products %}{% include "card.njk" %}{% endfor %}|end', products(3), {
      files: { 'card.njk': '{% cache 60, "issue-card", p.id %}<li>{{ p.name }}</li>{% endcache %}' },
      expect: 'sync-equivalent',
      output: '<li>P0</li><li>P1</li><li>P2</li>|end',
    }),
    page('from inside if', '{% if show %}{% include "card.njk" %}{% endif %}|end', { show: true, p: { id: 7, name: 'Seven' } }, {
      files: { 'card.njk': '{% cache 60, "issue-card", p.id %}<li>{{ p.name }}</li>{% endcache %}' },
      expect: 'sync-equivalent',
      output: '<li>Seven</li>|end',
    }),
  ],
};

module.exports = Object.entries(sections).flatMap(([section, cases]) => cases.map((kase) => ({ ...kase, section })));
