// Async filters, asyncEach/asyncAll and an async loader. Where plain nunjucks drops the output of
// an include that goes async inside for/if (nunjucks#792), the right output is the expectation.
const { page } = require('../case');

const async = { loader: 'async' };
const syncEquivalent = { loader: 'async', expect: 'sync-equivalent' };
const part = { 'p.njk': '<{{ x }}>' };
const layout = { 'base.njk': '[{% block a %}A{% endblock %}|{% block b %}B{% endblock %}]' };

module.exports = [
  page('async filter', '{{ "a" | later }}{{ x | later | upper }}', { x: 'b' }),
  page('async filter inside if', '{% if x %}{{ x | later }}{% else %}no{% endif %}', { x: 'y' }),
  page('async filter inside for', 'S{% for x in items %}{{ x | later }}{% endfor %}E', { items: ['a', 'b', 'c'] }),
  page('async filter inside for over an object', '{% for k, v in obj %}{{ k }}={{ v | later }};{% endfor %}', { obj: { a: 1, b: 2 } }),
  page('async filter inside nested for and if', '{% for row in rows %}{% for c in row %}{% if c %}{{ c | later }}{% endif %}{% endfor %}/{% endfor %}', { rows: [['a', ''], ['b']] }),
  page('async filter in a for head', '{% for x in items | later %}[{{ x }}]{% endfor %}', { items: 'ab' }),
  page('async filter with arguments after a sync filter', '{{ "a" | shout | later }}'),
  page('async filter inside an include', '[{% include "p.njk" %}]', { x: 'v' }, { files: { 'p.njk': '{{ x | later }}' } }),
  page('async filter inside an include inside for', '{% for x in items %}{% include "p.njk" %}{% endfor %}|end', { items: [1, 2] }, {
    files: { 'p.njk': '{{ x | later }}' },
    expect: 'sync-equivalent',
  }),
  page('async filter inside an include inside if', '{% if x %}{% include "p.njk" %}{% endif %}|end', { x: 1 }, {
    files: { 'p.njk': '{{ x | later }}' },
    expect: 'sync-equivalent',
  }),
  page('asyncEach over an array', '{% asyncEach x in items %}{{ loop.index }}:{{ x }},{% endeach %}', { items: ['a', 'b'] }),
  page('asyncEach over an object', '{% asyncEach k, v in obj %}{{ k }}{{ v }}{% endeach %}', { obj: { a: 1, b: 2 } }),
  page('asyncEach over an empty array with else', '{% asyncEach x in items %}{{ x }}{% else %}empty{% endeach %}', { items: [] }),
  page('asyncEach with an include and an async filter', '{% asyncEach x in items %}{% include "p.njk" %}{{ x | later }}{% endeach %}', { items: [1, 2] }, { files: part }),
  page('asyncAll over an array', '{% asyncAll x in items %}{{ x | later }}{% endall %}', { items: ['a', 'b', 'c'] }),
  page('asyncAll with an include', '{% asyncAll x in items %}{% include "p.njk" %}{% endall %}', { items: [1, 2, 3] }, { files: part }),

  page('async loader: include', 'a{% include "p.njk" %}b', { x: 1 }, { ...async, files: part }),
  page('async loader: include of an include', '{% include "a.njk" %}', { x: 1 }, { ...async, files: { 'a.njk': 'a{% include "p.njk" %}', ...part } }),
  page('async loader: extends', '{% extends "base.njk" %}{% block a %}child{% endblock %}', {}, { ...async, files: layout }),
  page('async loader: import', '{% import "m.njk" as m %}{{ m.hi("x") }}', {}, { ...async, files: { 'm.njk': '{% macro hi(n) %}hi {{ n }}{% endmacro %}' } }),
  page('async loader: from import', '{% from "m.njk" import hi %}{{ hi("y") }}', {}, { ...async, files: { 'm.njk': '{% macro hi(n) %}hi {{ n }}{% endmacro %}' } }),
  page('async loader: include ignore missing', '[{% include "nope.njk" ignore missing %}]', {}, async),
  page('async loader: include inside asyncEach', '{% asyncEach x in items %}{% include "p.njk" %}{% endeach %}|end', { items: [1, 2] }, { ...async, files: part }),
  page('async loader: include inside for', '{% for x in items %}{% include "p.njk" %}{% endfor %}|end', { items: [1, 2, 3] }, { ...syncEquivalent, files: part }),
  page('async loader: include inside if', '{% if x %}{% include "p.njk" %}{% endif %}|end', { x: 1 }, { ...syncEquivalent, files: part }),
  page('async loader: include inside if inside for', '{% for x in items %}{% if x > 1 %}{% include "p.njk" %}{% endif %}{% endfor %}|end', { items: [1, 2, 3] }, { ...syncEquivalent, files: part }),
  page('async loader: include inside for with else', '{% for x in items %}{% include "p.njk" %}{% else %}none{% endfor %}|end', { items: [] }, { ...syncEquivalent, files: part }),
  page('async loader: include inside for over an object', '{% for k, x in obj %}{{ k }}{% include "p.njk" %}{% endfor %}|end', { obj: { a: 1, b: 2 } }, { ...syncEquivalent, files: part }),
  page('async loader: block overridden with an include, inside for in the parent', '{% extends "list.njk" %}{% block item %}{% include "p.njk" %}{% endblock %}', { items: [1, 2] }, {
    ...syncEquivalent,
    files: { ...part, 'list.njk': '{% for x in items %}{% block item %}{{ x }}{% endblock %}{% endfor %}|end' },
  }),
  page('async loader: block inside if in the parent', '{% extends "cond.njk" %}{% block b %}child{% endblock %}', { show: true }, {
    ...syncEquivalent,
    files: { 'cond.njk': '{% if show %}[{% block b %}parent{% endblock %}]{% endif %}|end' },
  }),
];
