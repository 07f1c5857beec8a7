// Whitespace control, autoescape, throwOnUndefined, trimBlocks/lstripBlocks and custom delimiters.
const { page } = require('../case');

const delimiters = { tags: { blockStart: '<%', blockEnd: '%>', variableStart: '<$', variableEnd: '$>', commentStart: '<#', commentEnd: '#>' } };

module.exports = [
  page('whitespace control on blocks', '<ul>\n  {%- for i in items %}\n    <li>{{ i }}</li>\n  {%- endfor %}\n</ul>', { items: [1, 2] }),
  page('whitespace control on both sides', 'a   {%- if true -%}   b   {%- endif -%}   c'),
  page('whitespace control on variables', 'a  {{- x -}}  b  {{ x -}}  c  {{- x }}  d', { x: 'X' }),
  page('whitespace control on comments', 'a  {#- c -#}  b  {# c -#}  c'),
  page('whitespace control around include', 'x\n  {%- include "p.njk" -%}\n  y', {}, { files: { 'p.njk': '  P  ' } }),
  page('whitespace kept without markers', ' {% if true %} in {% endif %} \n'),
  page('trimBlocks', '{% if true %}\nline\n{% endif %}\nafter', {}, { options: { trimBlocks: true } }),
  page('lstripBlocks', 'a\n    {% if true %}\n    b\n    {% endif %}\nc', {}, { options: { lstripBlocks: true } }),
  page('trimBlocks and lstripBlocks with a loop', '<ul>\n  {% for i in items %}\n  <li>{{ i }}</li>\n  {% endfor %}\n</ul>', { items: ['a', 'b'] }, { options: { trimBlocks: true, lstripBlocks: true } }),
  page('trimBlocks with an include in a loop', '{% for i in items %}\n{% include "p.njk" %}\n{% endfor %}\nend', { items: [1, 2] }, {
    options: { trimBlocks: true, lstripBlocks: true },
    files: { 'p.njk': '{% if i %}\n<{{ i }}>\n{% endif %}\n' },
  }),
  page('autoescape on by default', '{{ html }}|{{ html | safe }}', { html: '<b>"&\'</b>' }),
  page('autoescape off', '{{ html }}|{{ html | escape }}|{{ html | e | safe }}', { html: '<b>"&</b>' }, { options: { autoescape: false } }),
  page('autoescape off through an include', '{{ html }}{% include "p.njk" %}', { html: '<i>' }, { options: { autoescape: false }, files: { 'p.njk': '{{ html }}' } }),
  page('autoescape of macro output and set blocks', '{% macro m(x) %}<{{ x }}>{% endmacro %}{{ m("&") }}{% set s %}<{{ "&" }}>{% endset %}{{ s }}'),
  page('autoescape of an included template', '{{ html }}|{% include "p.njk" %}', { html: '<b>' }, { files: { 'p.njk': '{{ html }}{{ html | safe }}' } }),
  page('throwOnUndefined with defined values', '{{ a }}{{ b.c }}{{ missing is defined }}', { a: 1, b: { c: 2 } }, { options: { throwOnUndefined: true } }),
  page('throwOnUndefined on an undefined output', '{{ a }}{{ missing }}', { a: 1 }, { options: { throwOnUndefined: true }, fails: true }),
  page('throwOnUndefined inside an include', '{% include "p.njk" %}', {}, { options: { throwOnUndefined: true }, files: { 'p.njk': 'x{{ missing }}' }, fails: true }),
  page('throwOnUndefined inside a loop', '{% for i in items %}{{ i.name }}{% endfor %}', { items: [{ name: 'a' }, {}] }, { options: { throwOnUndefined: true }, fails: true }),
  page('throwOnUndefined with default on an undefined value', '{{ missing | default("d") }}', {}, { options: { throwOnUndefined: true } }),
  page('throwOnUndefined on a null output', '{{ nothing }}', { nothing: null }, { options: { throwOnUndefined: true }, fails: true }),
  page('custom delimiters', '<% if x %><$ x $><% endif %><# comment #>|<% for i in items %><$ i $>,<% endfor %>', { x: 'yes', items: [1, 2] }, { options: delimiters }),
  page('custom delimiters keep the default ones literal', '{{ x }} {% if %} {# #} <$ x $>', { x: 1 }, { options: delimiters }),
  page('custom delimiters with whitespace control', 'a  <%- if true -%>  b  <%- endif -%>  c <$- x -$> d  <#- c -#>  e', { x: 'X' }, { options: delimiters }),
  page('custom delimiters through include and extends', '<% extends "base.njk" %><% block b %>child<% include "p.njk" %><% endblock %>', { v: 1 }, {
    options: delimiters,
    files: { 'base.njk': '[<% block b %>base<% endblock %>]', 'p.njk': '(<$ v $>)' },
  }),
  page('custom delimiters with a loop and an include', '<% for x in items %><% include "p.njk" %><% else %>none<% endfor %>', { items: ['a', 'b'] }, {
    options: delimiters,
    files: { 'p.njk': '<<$ x $>>' },
  }),
  page('renderString source', 'string {{ x }} {% if x %}ok{% endif %}', { x: 1 }, { string: true }),
  page('renderString including a file', '{% include "p.njk" %}!', {}, { string: true, files: { 'p.njk': 'from file' } }),
];
