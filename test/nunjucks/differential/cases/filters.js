// Every builtin filter family from the templating docs, plus custom sync ones.
const { page } = require('../case');

const people = [
  { name: 'Ann', age: 30, team: 'red', active: true },
  { name: 'bob', age: 25, team: 'blue', active: false },
  { name: 'Cid', age: 35, team: 'red', active: true },
];

module.exports = [
  page('abs, round, int, float', '{{ -3 | abs }} {{ 2.567 | round(2) }} {{ 2.5 | round(0, "floor") }} {{ 2.1 | round(0, "ceil") }} {{ "42" | int }} {{ "x" | int(7) }} {{ "ff" | int(0, 16) }} {{ "1.5" | float }} {{ "y" | float(0.5) }}'),
  page('batch', '{% for row in items | batch(2, "-") %}[{{ row | join(",") }}]{% endfor %}', { items: [1, 2, 3, 4, 5] }),
  page('capitalize, title, upper, lower', '{{ "hELLO wORLD" | capitalize }}|{{ "hello world" | title }}|{{ "up" | upper }}|{{ "DOWN" | lower }}'),
  page('center and indent', '[{{ "ab" | center(6) }}]|{{ "a\nb\nc" | indent(2) }}|{{ "a\nb" | indent(2, true) }}'),
  page('default and d, with boolean', '{{ missing | default("dflt") }} {{ "" | default("empty") }} {{ "" | default("empty", true) }} {{ nothing | d("n") }} {{ false | default("f", true) }}', { nothing: null }),
  page('dictsort', '{% for k, v in obj | dictsort %}{{ k }}={{ v }};{% endfor %}|{% for k, v in obj | dictsort(true, "value") %}{{ k }};{% endfor %}', { obj: { b: 2, A: 3, c: 1 } }),
  page('dump', '{{ data | dump }}|{{ data | dump(2) }}', { data: { a: [1, 'x'], b: null } }),
  page('escape, e, safe, forceescape', '{{ html | escape }}|{{ html | e }}|{{ html | safe }}|{{ html | safe | forceescape }}', { html: '<a href="x">&</a>' }),
  page('first, last, length, list', '{{ items | first }} {{ items | last }} {{ items | length }} {{ "abc" | list | join("|") }} {{ obj | length }} {{ "word" | first }}', { items: [1, 2, 3], obj: { a: 1, b: 2 } }),
  page('groupby', '{% for team, members in people | groupby("team") %}{{ team }}:{% for m in members %}{{ m.name }},{% endfor %};{% endfor %}', { people }),
  page('join with an attribute', '{{ people | join(", ", "name") }}|{{ [1, 2] | join }}', { people }),
  page('nl2br', '{{ "a\nb" | nl2br }}|{{ text | nl2br }}', { text: 'x<\ny' }),
  page('random of a one-item list', '{{ [7] | random }}'),
  page('reject, select, rejectattr, selectattr', '{{ [1, 2, 3, 4] | select("odd") | join }}|{{ [1, 2, 3, 4] | reject("even") | join }}|{{ people | selectattr("active") | join(",", "name") }}|{{ people | rejectattr("active") | join(",", "name") }}|{{ [1, 5, 9] | select("gt", 4) | join }}', { people }),
  page('replace', '{{ "aaa" | replace("a", "b", 2) }}|{{ "x.y.z" | replace(".", "") }}|{{ "abc" | replace(r/[ac]/g, "_") }}|{{ 12 | replace(1, 3) }}'),
  page('reverse and sort', '{{ [3, 1, 2] | sort | join }}|{{ [3, 1, 2] | sort(true) | join }}|{{ people | sort(false, true, "name") | join(",", "name") }}|{{ "abc" | reverse }}|{{ [1, 2] | reverse | join }}', { people }),
  page('slice', '{% for col in [1, 2, 3, 4, 5] | slice(2) %}[{{ col | join }}]{% endfor %}'),
  page('sum', '{{ [1, 2, 3] | sum }} {{ people | sum("age") }} {{ [1] | sum(start=10) }}', { people }),
  page('string, striptags, trim', '{{ 12 | string | length }}|{{ "<p>a  <b>b</b></p>\n c" | striptags }}|{{ "<p>a\nb</p>" | striptags(true) }}|[{{ "  t  " | trim }}]'),
  page('truncate and wordcount', '{{ "the quick brown fox" | truncate(9) }}|{{ "the quick brown fox" | truncate(9, true, "…") }}|{{ "one two three" | wordcount }}'),
  page('urlencode and urlize', '{{ "a b&c" | urlencode }}|{{ {q: "x y", n: 1} | urlencode }}|{{ "see http://example.com and www.x.org or a@b.com" | urlize | safe }}|{{ "http://example.com/long/path" | urlize(10, true) | safe }}'),
  page('filters chained with arguments', '{{ people | selectattr("active") | sort(false, false, "age") | join(" > ", "name") | upper }}', { people }),
  page('filters on undefined values', '[{{ missing | length }}][{{ missing | upper }}][{{ missing | default("") | trim }}][{{ missing | default("-") }}]'),
  page('custom sync filters', '{{ "a" | shout }} {{ "b" | wrap }} {{ "c" | wrap("<", ">") }}'),
  page('filter of a filter result in an if', '{% if people | selectattr("active") | length > 1 %}many{% endif %}', { people }),
  page('filter inside a for head', '{% for p in people | sort(false, false, "name") %}{{ p.name }}{% endfor %}', { people }),
  page('escaping a filter result', '{{ "<b>" | upper }} {{ "<b>" | safe | upper }} {{ "<b>" | replace("b", "i") }}'),
];
