// Every nunjucks tag, from the templating docs, without the extension's own tag.
const { page } = require('../case');

const forms = {
  'forms.njk':
    '{% macro field(name, value="", type="text") %}<input type="{{ type }}" name="{{ name }}" value="{{ value }}">{% endmacro %}' +
    '{% macro label(text) %}<label>{{ text }}{{ site }}</label>{% endmacro %}' +
    '{% macro who() %}[{{ user }}]{% endmacro %}',
};
const layout = {
  'base.njk': '<title>{% block title %}Base{% endblock %}</title><main>{% block content %}base content{% endblock %}</main><footer>{% block footer %}{{ year }}{% endblock %}</footer>',
};

module.exports = [
  // if / elif / else
  page('if true', '{% if x %}yes{% endif %}|', { x: 1 }),
  page('if false with else', '{% if x %}yes{% else %}no{% endif %}', { x: 0 }),
  page('if / elif / else picks elif', '{% if n > 5 %}big{% elif n > 2 %}middle{% elseif n > 0 %}small{% else %}none{% endif %}', { n: 3 }),
  page('elseif spelling', '{% if n > 5 %}big{% elseif n > 0 %}small{% endif %}', { n: 1 }),
  page('if on undefined, empty array and empty string', '{% if missing %}a{% endif %}{% if [] %}b{% endif %}{% if "" %}c{% endif %}{% if [0] %}d{% endif %}'),
  page('nested if', '{% if a %}{% if b %}ab{% else %}a{% endif %}{% else %}-{% endif %}', { a: true, b: false }),
  page('inline if expression', '{{ "on" if flag else "off" }}|{{ "shown" if flag }}|{{ "hidden" if not flag }}', { flag: true }),
  page('if with and / or / not / in', '{% if a and not b %}1{% endif %}{% if b or a %}2{% endif %}{% if "x" in list %}3{% endif %}{% if 2 in [1, 2] %}4{% endif %}', { a: 1, b: 0, list: ['x'] }),
  page('if with is tests', '{% if 4 is divisibleby(2) %}d{% endif %}{% if x is defined %}x{% endif %}{% if y is undefined %}y{% endif %}{% if 3 is odd %}o{% endif %}{% if n is number %}n{% endif %}{% if s is string %}s{% endif %}{% if none is null %}0{% endif %}', { x: 1, n: 2, s: 'a' }),
  page('ifAsync tag', '{% ifAsync x %}yes{% else %}no{% endif %}', { x: true }),

  // set
  page('set a value', '{% set x = 2 * 3 %}{{ x }}'),
  page('set several names at once', '{% set a, b = "same" %}{{ a }}{{ b }}'),
  page('set block', '{% set body %}<b>{{ name }}</b>{% endset %}{{ body }}|{{ body | length }}', { name: 'Ann' }),
  page('set overrides context, then reads back', '{{ x }}{% set x = "new" %}{{ x }}', { x: 'old' }),
  page('set inside if leaks out of it', '{% if true %}{% set x = "in" %}{% endif %}{{ x }}'),
  page('set block with filters', '{% set shouted %}{{ "abc" | upper }}{% endset %}{{ shouted | lower }}'),

  // macros, caller, call
  page('macro with defaults and keyword arguments', '{% macro m(a, b=2, c="c") %}{{ a }}-{{ b }}-{{ c }}{% endmacro %}{{ m(1) }}|{{ m(1, 3) }}|{{ m(1, c="z") }}'),
  page('macro does not see the outer frame but sees the context', '{% set local = "L" %}{% macro m() %}[{{ local }}|{{ ctx }}]{% endmacro %}{{ m() }}', { ctx: 'C' }),
  page('macro calling a macro', '{% macro inner(x) %}<{{ x }}>{% endmacro %}{% macro outer(x) %}{{ inner(x) }}{{ inner(x + 1) }}{% endmacro %}{{ outer(1) }}'),
  page('recursive macro', '{% macro tree(node) %}{{ node.name }}{% if node.children %}({% for c in node.children %}{{ tree(c) }}{% endfor %}){% endif %}{% endmacro %}{{ tree(root) }}', {
    root: { name: 'a', children: [{ name: 'b', children: [{ name: 'c' }] }, { name: 'd' }] },
  }),
  page('macro output is safe', '{% macro b(x) %}<b>{{ x }}</b>{% endmacro %}{{ b("<i>") }}'),
  page('call block with caller()', '{% macro box(title) %}<div>{{ title }}:{{ caller() }}</div>{% endmacro %}{% call box("T") %}inside {{ name }}{% endcall %}', { name: 'n' }),
  page('call block with caller arguments', '{% macro list(items) %}<ul>{% for i in items %}<li>{{ caller(i) }}</li>{% endfor %}</ul>{% endmacro %}{% call(item) list(items) %}[{{ item }}]{% endcall %}', { items: ['a', 'b'] }),
  page('caller() called twice', '{% macro twice() %}{{ caller() }}{{ caller() }}{% endmacro %}{% call twice() %}x{% endcall %}'),
  page('nested call blocks', '{% macro w(t) %}<{{ t }}>{{ caller() }}</{{ t }}>{% endmacro %}{% call w("a") %}{% call w("b") %}in{% endcall %}{% endcall %}'),

  // import / from import
  page('import as a namespace', '{% import "forms.njk" as forms %}{{ forms.field("user") }}{{ forms.label("Name") }}', {}, { files: forms }),
  page('from import with an alias', '{% from "forms.njk" import field, label as lbl %}{{ field("pw", type="password") }}{{ lbl("L") }}', {}, { files: forms }),
  page('import without context', '{% from "forms.njk" import who %}{{ who() }}', { user: 'ann' }, { files: forms }),
  page('import with context', '{% from "forms.njk" import who with context %}{{ who() }}', { user: 'ann' }, { files: forms }),
  page('import with context as namespace', '{% import "forms.njk" as f with context %}{{ f.who() }}', { user: 'bob' }, { files: forms }),
  page('import without context explicitly', '{% import "forms.njk" as f without context %}{{ f.who() }}', { user: 'bob' }, { files: forms }),
  page('import of exported top-level set', '{% import "vars.njk" as vars %}{{ vars.color }}', {}, { files: { 'vars.njk': '{% set color = "red" %}' } }),
  page('dynamic import name', '{% import name as f %}{{ f.label("x") }}', { name: 'forms.njk' }, { files: forms }),

  // include
  page('include', 'a{% include "part.njk" %}b', { v: 1 }, { files: { 'part.njk': '[{{ v }}]' } }),
  page('include sees set variables', '{% set v = "set" %}{% include "part.njk" %}', {}, { files: { 'part.njk': '[{{ v }}]' } }),
  page('include with a dynamic name', '{% include tpl %}|{% include "p" + n + ".njk" %}', { tpl: 'p1.njk', n: 2 }, { files: { 'p1.njk': 'one', 'p2.njk': 'two' } }),
  page('include ignore missing', '[{% include "nope.njk" ignore missing %}]'),
  page('include ignore missing of a present template', '[{% include "part.njk" ignore missing %}]', {}, { files: { 'part.njk': 'here' } }),
  page('include of an include', '{% include "a.njk" %}', { v: 'x' }, { files: { 'a.njk': 'a({% include "b.njk" %})', 'b.njk': 'b({{ v }})' } }),
  page('include in a subfolder and a relative include', '{% include "sub/a.njk" %}', {}, { files: { 'sub/a.njk': 'A{% include "./b.njk" %}', 'sub/b.njk': 'B' } }),
  page('include the same template twice', '{% include "p.njk" %}{% set v = 2 %}{% include "p.njk" %}', { v: 1 }, { files: { 'p.njk': '<{{ v }}>' } }),
  page('set inside an include does not leak', '{% include "p.njk" %}[{{ v }}]', {}, { files: { 'p.njk': '{% set v = "inner" %}{{ v }}' } }),
  page('include inside a macro', '{% macro m() %}<{% include "p.njk" %}>{% endmacro %}{{ m() }}{{ m() }}', {}, { files: { 'p.njk': 'P' } }),
  page('include inside set block', '{% set s %}{% include "p.njk" %}{% endset %}{{ s }}{{ s }}', {}, { files: { 'p.njk': 'P' } }),
  page('include inside a call block', '{% macro w() %}<{{ caller() }}>{% endmacro %}{% call w() %}{% include "p.njk" %}{% endcall %}', {}, { files: { 'p.njk': 'P' } }),
  page('include inside a filter block', '{% filter upper %}{% include "p.njk" %}{% endfilter %}', {}, { files: { 'p.njk': 'low' } }),

  // extends / block / super
  page('extends with blocks', '{% extends "base.njk" %}{% block title %}Child{% endblock %}', { year: 2024 }, { files: layout }),
  page('super()', '{% extends "base.njk" %}{% block content %}[{{ super() }}] more{% endblock %}', {}, { files: layout }),
  page('three levels of extends', '{% extends "mid.njk" %}{% block content %}leaf<{{ super() }}>{% endblock %}', {}, {
    files: { ...layout, 'mid.njk': '{% extends "base.njk" %}{% block content %}mid<{{ super() }}>{% endblock %}{% block title %}Mid{% endblock %}' },
  }),
  page('dynamic extends', '{% extends layoutName %}{% block title %}D{% endblock %}', { layoutName: 'base.njk' }, { files: layout }),
  page('conditional extends expression', '{% extends "base.njk" if fancy else "plain.njk" %}{% block title %}C{% endblock %}', { fancy: false }, {
    files: { ...layout, 'plain.njk': 'plain:{% block title %}{% endblock %}' },
  }),
  page('content outside blocks of a child is dropped', '{% extends "base.njk" %}dropped{% block title %}T{% endblock %}', {}, { files: layout }),
  page('blocks without extends render in place', 'a{% block one %}1{% endblock %}b{% block two %}2{% endblock %}c'),
  page('nested blocks overridden', '{% extends "outer.njk" %}{% block inner %}INNER{% endblock %}', {}, {
    files: { 'outer.njk': '<{% block outer %}o[{% block inner %}i{% endblock %}]{% endblock %}>' },
  }),
  page('block inside if in the parent', '{% extends "cond.njk" %}{% block b %}child{% endblock %}', { show: true }, {
    files: { 'cond.njk': '{% if show %}[{% block b %}parent{% endblock %}]{% else %}none{% endif %}' },
  }),
  page('block with super inside if in the child', '{% extends "base.njk" %}{% block content %}{% if x %}{{ super() }}!{% endif %}{% endblock %}', { x: 1 }, { files: layout }),
  page('set in a child template top level is seen by blocks', '{% extends "base.njk" %}{% set who = "kid" %}{% block title %}{{ who }}{% endblock %}', {}, { files: layout }),
  page('an included template extending a layout', '[{% include "child.njk" %}]', {}, {
    files: { ...layout, 'child.njk': '{% extends "base.njk" %}{% block title %}inc{% endblock %}' },
  }),
  page('extends then include inside a block', '{% extends "base.njk" %}{% block content %}{% include "p.njk" %}{% endblock %}', {}, {
    files: { ...layout, 'p.njk': 'included' },
  }),

  // filter blocks, raw, verbatim, switch, comments
  page('filter block', '{% filter upper %}shout {{ name }}{% endfilter %}', { name: 'it' }),
  page('filter block with arguments', '{% filter replace("a", "o") %}banana{% endfilter %}'),
  page('filter block nested', '{% filter upper %}{% filter trim %}  x  {% endfilter %}y{% endfilter %}'),
  page('raw', '{% raw %}{{ not }} {% evaluated %}{% endraw %}'),
  page('verbatim', '{% verbatim %}{{ x }}{% endverbatim %}{{ x }}', { x: 1 }),
  page('switch with case and default', '{% switch v %}{% case "a" %}A{% case "b" %}B{% default %}other{% endswitch %}|{% switch 9 %}{% case 1 %}1{% default %}dflt{% endswitch %}', { v: 'b' }),
  page('switch fall-through cases', '{% switch n %}{% case 1 %}{% case 2 %}one-or-two{% case 3 %}three{% endswitch %}', { n: 1 }),
  page('switch with no match and no default', '[{% switch n %}{% case 1 %}one{% endswitch %}]', { n: 5 }),
  page('comments', 'a{# a comment {{ x }} #}b{#\nmultiline\n#}c'),

  // expressions, literals, globals
  page('math operators', '{{ 7 // 2 }} {{ 7 % 3 }} {{ 2 ** 10 }} {{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ 7 / 2 }} {{ -3 }}'),
  page('comparisons', '{{ 1 < 2 }} {{ 2 <= 2 }} {{ 1 == "1" }} {{ 1 === "1" }} {{ 1 != 2 }} {{ 1 !== 1 }}'),
  page('string concatenation with ~', '{{ "a" ~ 1 ~ none }}'),
  page('array and dict literals', '{{ [1, [2, 3]] }} {{ {a: 1}.a }} {{ {"k": "v"}["k"] }} {{ (1, 2) }}'),
  page('attribute and item lookup', '{{ user.name }} {{ user["name"] }} {{ list[1] }} {{ user.missing }} {{ user.missing.deeper }}', { user: { name: 'Ann' }, list: ['a', 'b'] }),
  page('method calls on values', '{{ "abc".toUpperCase() }} {{ items.join("-") }} {{ name.split("").reverse().join("") }}', { items: [1, 2], name: 'abc' }),
  page('regular expression literal', '{{ r/a(b+)/g.test("xabbb") }} {{ "a-b-c".replace(r/-/g, "+") }}'),
  page('globals range, cycler and joiner', '{% for i in range(0, 6, 2) %}{{ i }}{% endfor %}|{% set c = cycler("odd", "even") %}{% for i in range(3) %}{{ c.next() }}{% endfor %}|{% set j = joiner(", ") %}{% for i in [1, 2, 3] %}{{ j() }}{{ i }}{% endfor %}'),
  page('custom globals and functions from data', '{{ site }} {{ greet("you") }} {{ f(2) }}', () => ({ f: (n) => n * 21 })),
  page('functions receive keyword arguments', '{{ show(1, b=2) | dump }}', () => ({ show: (...args) => args })),
  page('output of undefined and null', '[{{ missing }}][{{ nothing }}][{{ zero }}][{{ f }}]', { nothing: null, zero: 0, f: false }),
];
