// Templates holding {% cache %} tags: rendered cold (misses) and warm (hits), they must give what
// plain nunjucks gives with the tags stripped. Every fragment's body depends only on its name and
// vary values, so a hit is always the right output. Each case has its own Cache.
const { page } = require('../case');

const card = { 'card.njk': '{% cache 60, "card", p.id %}<b>{{ p.name }}</b>{% endcache %}' };
const products = { products: [{ id: 1, name: 'A' }, { id: 2, name: 'B' }, { id: 3, name: 'C' }] };
const syncEquivalent = { expect: 'sync-equivalent' };

module.exports = [
  page('a named fragment with vary values', '<p>{% cache 60, "f", id, lang %}{{ id }}-{{ lang }}{% endcache %}</p>', { id: 1, lang: 'en' }),
  page('an anonymous fragment', 'a{% cache 60 %}static{% endcache %}b{% cache 60 %}other{% endcache %}c'),
  page('a fragment with a timeout expression and none', '{% cache t * 2, "t" %}x{% endcache %}{% cache none, "n" %}y{% endcache %}{% cache 0, "z" %}z{% endcache %}', { t: 30 }),
  page('a fragment with tags=[…]', '{% cache 60, "tagged", id, tags=["product:" + id] %}P{{ id }}{% endcache %}', { id: 4 }),
  page('fragments escape once, autoescape on', '{% cache 60, "e", html %}{{ html }}{{ html | safe }}{% endcache %}|{{ html }}', { html: '<i>&"</i>' }),
  page('fragments with autoescape off', '{% cache 60, "e", html %}{{ html }}{% endcache %}', { html: '<i>' }, { options: { autoescape: false } }),
  page('fragments with whitespace markers', 'a  {%- cache 60, "w" -%}  body  {%- endcache -%}  b  {% cache 60, "w2" -%}  x  {%- endcache %}  c'),
  page('fragments with trimBlocks and lstripBlocks', 'a\n  {% cache 60, "tb" %}\n  body\n  {% endcache %}\nb', {}, { options: { trimBlocks: true, lstripBlocks: true } }),
  page('fragments with custom delimiters', '<% cache 60, "d", x %><$ x $><% endcache %>|<%- cache 60, "d2" -%>  y  <%- endcache -%>', { x: 'X' }, {
    options: { tags: { blockStart: '<%', blockEnd: '%>', variableStart: '<$', variableEnd: '$>', commentStart: '<#', commentEnd: '#>' } },
  }),
  page('a fragment tag over several lines, then an error', '{% cache 60,\n  "multi",\n  id %}{{ id }}{% endcache %}\nline 4 {{ explode() }}', { id: 1 }, { fails: true }),
  page('an error inside a fragment', 'a\n{% cache 60, "err" %}\n  {{ explode() }}\n{% endcache %}', {}, { fails: true }),
  page('a fragment in renderString', '{% cache 60, "s", x %}[{{ x }}]{% endcache %}', { x: 1 }, { string: true }),
  page('a fragment holding an include', '{% cache 60, "inc" %}{% include "p.njk" %}{% endcache %}', {}, { files: { 'p.njk': 'included' } }),
  page('a fragment holding a for with an include', '{% cache 60, "list" %}{% for p in products %}{% include "p.njk" %}{% endfor %}{% endcache %}', products, {
    files: { 'p.njk': '({{ p.name }})' },
  }),
  page('a fragment holding a macro call', '{% macro b(x) %}<b>{{ x }}</b>{% endmacro %}{% cache 60, "m", v %}{{ b(v) }}{% endcache %}', { v: 'm' }),
  page('a fragment holding an async filter', '{% cache 60, "af", v %}{{ v | later }}{% endcache %}', { v: 'a' }),
  page('nested fragments', '{% cache 60, "outer" %}o[{% cache 60, "inner" %}i{% endcache %}]{% endcache %}'),
  page('fragments inside a for over products', '{% for p in products %}{% cache 60, "row", p.id %}{{ p.name }}{% endcache %}{% endfor %}|end', products),
  page('fragments inside a for with else on an empty list', '{% for p in products %}{% cache 60, "row", p.id %}{{ p.name }}{% endcache %}{% else %}none{% endfor %}', { products: [] }),
  page('fragments inside a for over an object', '{% for k, v in obj %}{% cache 60, "kv", k, v %}{{ k }}={{ v }}{% endcache %}{% endfor %}', { obj: { a: 1, b: 2 } }),
  page('fragments inside a for with a loop variable named class', '{% for class in items %}{% cache 60, "cls", class %}{{ class }}{% endcache %}{% endfor %}', { items: ['a', 'b'] }),
  page('fragments inside a for with four names', '{% for a, b, c, d in rows %}{% cache 60, "r4", a, b, c, d %}{{ a }}{{ b }}{{ c }}{{ d }}{% endcache %}{% endfor %}', { rows: [[1, 2, 3, 4], [5, 6, 7, 8]] }),
  page("a fragment in a for's else", '{% for p in products %}-{% else %}{% cache 60, "else" %}none{% endcache %}{% endfor %}|end', { products: [] }),
  page("a fragment inside if in a for's else", '{% for p in products %}-{% else %}{% if true %}{% cache 60, "else-if" %}none{% endcache %}{% endif %}{% endfor %}|end', { products: [] }),
  page('fragments inside if', '{% if show %}{% cache 60, "if" %}shown{% endcache %}{% else %}hidden{% endif %}|end', { show: true }),
  page('a fragment inside a block of a child template', '{% extends "base.njk" %}{% block b %}{% cache 60, "blk" %}child{% endcache %}{% endblock %}', {}, {
    files: { 'base.njk': '[{% block b %}{% endblock %}]' },
  }),
  page('a fragment inside asyncEach', '{% asyncEach p in products %}{% cache 60, "ae", p.id %}{{ p.name }}{% endcache %}{% endeach %}', products),
  page('an included template holding a fragment', 'a{% include "card.njk" %}b', { p: { id: 9, name: 'Nine' } }, { files: card }),
  page('an included template holding a fragment, from inside for with else', '{% for p in products %}{% include "card.njk" %}{% else %}none{% endfor %}|end', products, { ...syncEquivalent, files: card }),
  page('an included template holding a fragment, from inside nested for', '{% for row in rows %}{% for p in row %}{% include "card.njk" %}{% endfor %};{% endfor %}|end', {
    rows: [[{ id: 1, name: 'A' }], [{ id: 2, name: 'B' }, { id: 3, name: 'C' }]],
  }, { ...syncEquivalent, files: card }),
  page('an included template holding a fragment, from inside for over an object', '{% for key, p in byKey %}{{ key }}{% include "card.njk" %}{% endfor %}|end', {
    byKey: { x: { id: 1, name: 'A' }, y: { id: 2, name: 'B' } },
  }, { ...syncEquivalent, files: card }),
  page('an included template holding a fragment, from inside if inside for', '{% for p in products %}{% if p.id > 1 %}{% include "card.njk" %}{% endif %}{% endfor %}|end', products, { ...syncEquivalent, files: card }),
  page('an included template holding a fragment, from a for inside a child block', '{% extends "base.njk" %}{% block b %}{% for p in products %}{% include "card.njk" %}{% endfor %}{% endblock %}', products, {
    ...syncEquivalent,
    files: { ...card, 'base.njk': '[{% block b %}{% endblock %}]' },
  }),
  page('an included template holding a fragment, with the async loader, from inside for', '{% for p in products %}{% include "card.njk" %}{% endfor %}|end', products, {
    ...syncEquivalent,
    loader: 'async',
    files: card,
  }),
  page('an included template holding a fragment, from a block inside for in the parent', '{% extends "list.njk" %}{% block item %}{% include "card.njk" %}{% endblock %}', products, {
    ...syncEquivalent,
    files: { ...card, 'list.njk': '{% for p in products %}{% block item %}{{ p.id }}{% endblock %}{% endfor %}|end' },
  }),
];
