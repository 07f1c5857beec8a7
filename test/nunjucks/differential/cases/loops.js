// Every loop form, each with its body plain, in an include, in a block and in an include inside
// if — with and without else. A for with an include inside is exactly what the extension
// rewrites, so these must render as plain nunjucks' for does, down to the caller's data.
const { page } = require('../case');

const AWKWARD_NAMES = require('../awkward-names');

const rows = (width) => [1, 2].map((r) => Array.from({ length: width }, (_, c) => `${r}${c}`));

/** What is iterated: the loop's names, the expression after `in`, and the data. */
const forms = [
  ['an array', ['x'], 'items', { items: ['a', 'b', 'c'] }],
  ['an array literal', ['x'], '[1, 2, 3]', {}],
  ['an empty array', ['x'], 'items', { items: [] }],
  ['an array of objects', ['p'], 'people', { people: [{ name: 'Ann' }, { name: 'Bob' }] }],
  ['an object with one name', ['k'], 'obj', { obj: { a: 1, b: 2 } }],
  ['an object with two names', ['k', 'v'], 'obj', { obj: { a: 1, b: 2 } }],
  ['an empty object with two names', ['k', 'v'], 'obj', { obj: {} }],
  ['an array of pairs with two names', ['k', 'v'], 'pairs', { pairs: [['a', 1], ['b', 2]] }],
  ['a string', ['ch'], 'word', { word: 'abc' }],
  ['a string literal', ['ch'], '"xyz"', {}],
  ['an empty string', ['ch'], 'word', { word: '' }],
  ['a Map with one name', ['entry'], 'map', () => ({ map: new Map([['a', 1], ['b', 2]]) })],
  ['a Map with two names', ['k', 'v'], 'map', () => ({ map: new Map([['a', 1], ['b', 2]]) })],
  ['a Set', ['x'], 'set', () => ({ set: new Set(['s1', 's2']) })],
  ['a generator', ['x'], 'gen', () => ({ gen: (function* generate() { yield 'g1'; yield 'g2'; })() })],
  ['an iterable object', ['x'], 'iterable', () => ({ iterable: { *[Symbol.iterator]() { yield 'i1'; yield 'i2'; } } })],
  ['an array-like object', ['x'], 'like', { like: { length: 2, 0: 'a', 1: 'b' } }],
  ['a number', ['x'], 'n', { n: 3 }],
  ['true', ['x'], 'flag', { flag: true }],
  ['undefined', ['x'], 'missing', {}],
  ['null', ['x'], 'nothing', { nothing: null }],
  ['rows with three names', ['a', 'b', 'c'], 'rows', { rows: rows(3) }],
  ['rows with four names', ['a', 'b', 'c', 'd'], 'rows', { rows: rows(4) }],
  ['rows with five names', ['a', 'b', 'c', 'd', 'e'], 'rows', { rows: rows(5) }],
  ['rows shorter than the names', ['a', 'b', 'c', 'd'], 'rows', { rows: [['1'], ['2', '3']] }],
  ['an object with three names', ['k', 'v', 'w'], 'obj', { obj: { a: 1 } }],
  ['range()', ['i'], 'range(3)', {}],
  ['a filtered array', ['x'], 'items | reverse', { items: ['a', 'b'] }],
  ...AWKWARD_NAMES.map((name) => ['an array', [name], 'items', { items: ['a', 'b'] }]),
  ['an object', ['output', 'frame'], 'obj', { obj: { a: 1, b: 2 } }],
  ['rows', ['context', 'cb', 'next'], 'rows', { rows: rows(3) }],
];

/** The loop's names and loop.* variables: what each iteration prints, in place or in an include. */
const printed = (names) =>
  `[${names.map((n) => `{{ ${n} }}`).join(',')}|{{ loop.index }}/{{ loop.length }}/{{ loop.revindex0 }}{{ " first" if loop.first }}{{ " last" if loop.last }}]`;

const bodies = [
  ['', (names) => printed(names)],
  [' with an include inside', () => '{% include "item.njk" %}'],
  [' with a block inside', (names) => `{% block item %}${printed(names)}{% endblock %}`],
  [' with an include inside if inside for', () => '{% if loop.index %}{% include "item.njk" %}{% endif %}'],
];

const matrix = forms.flatMap(([form, names, iterable, data]) =>
  bodies.flatMap(([bodyLabel, body]) =>
    [false, true].map((withElse) =>
      page(
        `for ${names.join(', ')} in ${form}${bodyLabel}${withElse ? ', with else' : ''}`,
        `<{% for ${names.join(', ')} in ${iterable} %}${body(names)}${withElse ? '{% else %}EMPTY' : ''}{% endfor %}>`,
        data,
        { files: { 'item.njk': printed(names) } },
      ),
    ),
  ),
);

const item = { 'item.njk': '({{ x }}{{ y }}:{{ loop.index }})' };

/** Nesting, set and loop.* in loops, each also with an include inside. */
const shapes = [
  ['nested loops', '{% for x in outer %}{% for y in x.inner %}BODY{% endfor %}/{% endfor %}', { outer: [{ inner: [1, 2] }, { inner: [] }, { inner: [3] }] }],
  ['nested loops reading the outer loop', '{% for x in [1, 2] %}{% set outerIndex = loop.index %}{% for y in ["a", "b"] %}{{ outerIndex }}{{ loop.index }}BODY{% endfor %}{% endfor %}', {}],
  ['nested loops with the same name', '{% for x in [1, 2] %}{% for x in ["a", "b"] %}BODY{% endfor %}{{ x }}{% endfor %}', {}],
  ['three nested loops', '{% for x in [1, 2] %}{% for y in [3, 4] %}{% for z in [5] %}{{ z }}BODY{% endfor %}{% endfor %}{% endfor %}', {}],
  ['set inside a loop', '{% set y = "before" %}{% for x in [1, 2] %}{% set y = x * 10 %}BODY{% endfor %}after={{ y }}', {}],
  ['set block inside a loop', '{% for x in [1, 2] %}{% set y %}<{{ x }}>{% endset %}BODY{% endfor %}', {}],
  ['set of a new name inside a loop', '{% for x in [1, 2] %}{% if loop.first %}{% set y = "first" %}{% endif %}BODY{% endfor %}[{{ y }}]', {}],
  ['loop variables after the loop', '{% for x in [1, 2] %}BODY{% endfor %}[{{ x }}][{{ loop.index }}]', {}],
  ['a loop over loop-dependent data', '{% for x in items %}{% for y in range(loop.index) %}BODY{% endfor %};{% endfor %}', { items: ['a', 'b', 'c'] }],
  ['a loop inside an include inside a loop', '{% for x in [1, 2] %}{% include "inner.njk" %}{% endfor %}', {}],
  ['a loop inside a macro called in a loop', '{% macro m(x) %}{% for y in [x, x + 1] %}BODY{% endfor %}{% endmacro %}{% for x in [1, 3] %}{{ m(x) }}{% endfor %}', {}],
  ['a loop with cycler and joiner', '{% set c = cycler("a", "b") %}{% for x in [1, 2, 3] %}{{ c.next() }}{% set y = x %}BODY{% endfor %}', {}],
  ['a loop with if / elif / else inside', '{% for x in [1, 2, 3] %}{% if x == 1 %}one{% elif x == 2 %}BODY{% else %}many{% endif %}{% endfor %}', {}],
  ["an if inside a loop's else", '{% for x in items %}-{% else %}{% if true %}BODY{% endif %}{% endfor %}', { items: [] }],
  ["a loop inside a loop's else", '{% for x in items %}-{% else %}{% for y in [1, 2] %}BODY{% endfor %}{% endfor %}', { items: [] }],
  ['a loop inside if', '{% if items %}{% for x in items %}BODY{% endfor %}{% else %}none{% endif %}', { items: [1, 2] }],
  ['a loop inside a block of a child template', '{% extends "base.njk" %}{% block b %}{% for x in [1, 2] %}BODY{% endfor %}{% endblock %}', {}],
  ['a loop inside a filter block', '{% filter upper %}{% for x in ["a", "b"] %}BODY{% endfor %}{% endfilter %}', {}],
  // The loop.* bindings: the extension writes them straight into the loop's own object.
  ['loop captured and read after its loop', '{% for x in [1, 2] %}{% set l = loop %}BODY{% endfor %}[{{ l.index }}{{ l.last }}]', {}],
  ['loop replaced by an object in the body', '{% for x in [1, 2, 3] %}{{ loop.index }}{{ loop.mine }}BODY{% set loop = { mine: "m" } %}{% endfor %}', {}],
  ['loop in the data', '{% for x in [1, 2] %}{{ loop.index }}BODY{% endfor %}{{ loop }}', { loop: 'data' }],
  ['a loop named with a dot-free awkward name', '{% for variables in [1, 2] %}BODY{{ variables }}{% endfor %}', {}],
  ['a loop inside a call block', '{% macro w() %}<{{ caller() }}>{% endmacro %}{% call w() %}{% for x in ["a", "b"] %}BODY{% endfor %}{% endcall %}', {}],
];

const shapeFiles = { ...item, 'inner.njk': '{% for y in ["a", "b"] %}BODY{% endfor %}', 'base.njk': '[{% block b %}{% endblock %}]' };
const withBody = (source, body) => source.replace(/BODY/g, body);

const shaped = shapes.flatMap(([title, source, data]) => [
  page(title, withBody(source, '({{ x }}{{ y }})'), data, { files: mapValues(shapeFiles, (s) => withBody(s, '({{ x }}{{ y }})')) }),
  page(`${title}, with an include inside`, withBody(source, '{% include "item.njk" %}'), data, {
    files: mapValues(shapeFiles, (s) => withBody(s, '{% include "item.njk" %}')),
  }),
]);

function mapValues(object, fn) {
  return Object.fromEntries(Object.entries(object).map(([k, v]) => [k, fn(v)]));
}

/** What nunjucks' loop bindings throw on: `loop` no longer an object at the next item. */
const failing = [
  ['loop replaced by a number in the body', '{% for x in [1, 2] %}BODY{% set loop = 7 %}{% endfor %}'],
  ['a loop named loop', '{% for loop in ["a", "b"] %}BODY{{ loop }}{% endfor %}'],
].flatMap(([title, source]) => [
  page(title, withBody(source, '({{ x }})'), {}, { fails: true }),
  page(`${title}, with an include inside`, withBody(source, '{% include "item.njk" %}'), {}, { files: item, fails: true }),
]);

module.exports = [...matrix, ...shaped, ...failing];
