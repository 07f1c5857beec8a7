// Seeded random templates: for/if/include/block/set/macro/call nested over random data, loop
// variables drawn from ordinary and awkward names, and included templates some holding cache tags.
// The test `seed=S #I` renders generate(S, 50)[I]: print it with
//   node -e "console.log(require('./test/differential/generator').generate(S, 50)[I])"
const AWKWARD_NAMES = require('./awkward-names');
const { seededRandom } = require('./random');

const NAMES = ['x', 'y', 'item', 'row', 'k', 'v', 'name', 'p'];
const DEFINED_DATA_NAMES = ['list', 'words', 'people', 'obj', 'pairs', 'triples', 'text', 'flag'];
const DATA_NAMES = [...DEFINED_DATA_NAMES, 'missing'];
const MAX_DEPTH = 3;

function randomData(r) {
  const word = () => r.pick(['a', 'b', 'c', 'd']) + r.int(10);
  const words = () => Array.from({ length: r.int(4) }, word);
  return {
    list: words(),
    words: words(),
    people: Array.from({ length: r.int(4) }, () => ({ name: word(), tags: words() })),
    obj: Object.fromEntries(words().map((w) => [w, word()])),
    pairs: Array.from({ length: r.int(4) }, () => [word(), word()]),
    triples: Array.from({ length: r.int(3) }, () => [word(), word(), word()]),
    text: word() + word(),
    missing: undefined,
    flag: r.chance(0.5),
  };
}

/**
 * Writes one template. `includable` lists the partials it may include (only later ones, so there
 * is no recursion); `cacheFree` those that hold no cache tag, even through their includes.
 * Inside macro/call/set blocks nothing async may appear — no cache tag, no include of a partial
 * holding one, and with the async loader no include at all: nunjucks cannot wait there and the
 * extension does not claim to fix that.
 */
function templateWriter(r, { fragmentPrefix, includable, cacheFree, allowCache, asyncLoader }) {
  let blocks = 0;
  let macros = 0;
  let fragments = 0;
  const open = () => (r.chance(0.15) ? '{%-' : '{%');
  const close = () => (r.chance(0.15) ? '-%}' : '%}');
  const names = (count) => {
    const chosen = new Set();
    while (chosen.size < count) chosen.add(r.chance(0.3) ? r.pick(AWKWARD_NAMES) : r.pick(NAMES));
    return [...chosen];
  };
  const variable = (scope) => (r.chance(0.6) && scope.vars.length ? r.pick(scope.vars) : r.pick(DATA_NAMES));
  const expression = (scope) => {
    const base = variable(scope);
    return r.pick([base, base, `${base} | length`, `${base} ~ "!"`, `${base} | default("-")`, `${base}.name`]);
  };
  const condition = (scope) =>
    r.pick([variable(scope), `not ${variable(scope)}`, `${variable(scope)} | length > 1`, ...(scope.inLoop ? ['loop.first', 'loop.index > 1'] : [])]);

  const statements = (scope, depth) => Array.from({ length: 1 + r.int(3) }, () => statement(scope, depth)).join('');

  const statement = (scope, depth) => {
    const deeper = depth < MAX_DEPTH;
    const includesGoAsync = scope.inCapture && asyncLoader;
    const partials = scope.inForElse || includesGoAsync ? [] : scope.inCapture ? cacheFree : includable;
    const kind = r.weighted([
      ['text', 3],
      ['print', 4],
      ['for', deeper ? 4 : 0],
      ['if', deeper ? 3 : 0],
      ['include', partials.length ? 3 : 0],
      ['ignoreMissing', scope.inForElse || includesGoAsync ? 0 : 0.3],
      ['block', scope.inCapture || scope.inForElse ? 0 : 1],
      ['set', 1],
      ['setBlock', deeper ? 0.7 : 0],
      ['macro', deeper ? 0.7 : 0],
      ['call', deeper ? 0.7 : 0],
      ['cache', allowCache && !scope.inCapture ? 2 : 0],
    ]);
    const inner = (extra = {}) => statements({ ...scope, inForElse: false, ...extra, vars: [...scope.vars, ...(extra.vars ?? [])] }, depth + 1);
    switch (kind) {
      case 'text':
        return r.pick(['a', ' ', '\n', '  b  ', '-', '<i>']);
      case 'print':
        return `{{ ${scope.inLoop && r.chance(0.2) ? 'loop.index' : expression(scope)} }}`;
      case 'for': {
        const arity = r.pick([1, 1, 1, 1, 2, 2, 3, 4, 5]);
        const loopNames = names(arity);
        const iterable =
          arity === 1
            ? r.pick(['list', 'words', 'people', 'obj', 'text', 'missing', ...scope.vars.map((v) => `${v}.tags`)])
            : arity === 2
              ? r.pick(['obj', 'pairs', 'list'])
              : 'triples';
        const body = inner({ vars: loopNames, inLoop: true });
        // An include or block right in a for's else is a SyntaxError in plain nunjucks' compiled code.
        const otherwise = r.chance(0.4) ? `${open()} else ${close()}${inner({ inForElse: true })}` : '';
        return `${open()} for ${loopNames.join(', ')} in ${iterable} ${close()}${body}${otherwise}${open()} endfor ${close()}`;
      }
      case 'if': {
        const elif = r.chance(0.3) ? `{% elif ${condition(scope)} %}${inner()}` : '';
        const otherwise = r.chance(0.4) ? `{% else %}${inner()}` : '';
        return `${open()} if ${condition(scope)} ${close()}${inner()}${elif}${otherwise}${open()} endif ${close()}`;
      }
      case 'include':
        return `${open()} include "${r.pick(partials)}" ${close()}`;
      case 'ignoreMissing':
        return '{% include "absent.njk" ignore missing %}';
      case 'block':
        return `{% block b${blocks++} %}${inner()}{% endblock %}`;
      case 'set': {
        const name = r.pick(NAMES);
        scope.vars.push(name);
        return `{% set ${name} = ${expression(scope)} %}`;
      }
      case 'setBlock': {
        const name = r.pick(NAMES);
        const body = inner({ inCapture: true });
        scope.vars.push(name);
        return `{% set ${name} %}${body}{% endset %}{{ ${name} }}`;
      }
      case 'macro': {
        const m = `m${macros++}`;
        return `{% macro ${m}(arg) %}${inner({ vars: ['arg'], inCapture: true, inLoop: false })}{% endmacro %}{{ ${m}(${expression(scope)}) }}`;
      }
      case 'call': {
        const m = `w${macros++}`;
        return `{% macro ${m}(arg) %}<{{ arg }}:{{ caller() }}>{% endmacro %}{% call ${m}(${expression(scope)}) %}${inner({ inCapture: true })}{% endcall %}`;
      }
      case 'cache': {
        // The body depends on nothing but the vary value, so a hit is always the right output;
        // the value is always defined (the tag may refuse undefined), and no set reassigns it.
        const k = fragments++;
        if (r.chance(0.25)) return `${open()} cache 60 ${close()}static${k}${open()} endcache ${close()}`;
        const vary = scope.inLoop && r.chance(0.4) ? 'loop.index' : r.pick(DEFINED_DATA_NAMES);
        return `${open()} cache 60, "${fragmentPrefix}-${k}", ${vary} ${close()}[{{ ${vary} }}|{{ ${vary} | length }}]${open()} endcache ${close()}`;
      }
    }
  };

  return (depth) => statements({ vars: [], inLoop: false, inCapture: false, inForElse: false }, depth);
}

/** The `count` cases of one seed: a main template and up to three partials each, with their data. */
function generate(seed, count) {
  return Array.from({ length: count }, (_, index) => {
    const r = seededRandom(seed * 1000 + index);
    const asyncLoader = r.chance(0.25);
    const partialCount = r.int(4);
    const files = {};
    const holdsCache = new Set();
    const cacheFree = [];
    // Partials are written last first, so each may include the later ones.
    for (let i = partialCount - 1; i >= 0; i--) {
      const name = `p${i}.njk`;
      const includable = Object.keys(files);
      const allowCache = r.chance(0.5);
      const source = templateWriter(r, { fragmentPrefix: `p${i}`, includable, cacheFree: [...cacheFree], allowCache, asyncLoader })(1);
      files[name] = source;
      if (source.includes('cache') || includable.some((p) => holdsCache.has(p) && source.includes(`"${p}"`))) holdsCache.add(name);
      else cacheFree.push(name);
    }
    const main = templateWriter(r, { fragmentPrefix: 'main', includable: Object.keys(files), cacheFree, allowCache: r.chance(0.3), asyncLoader })(0);
    const data = randomData(r);
    return {
      section: `generated templates, seed ${seed}`,
      title: `seed=${seed} #${index}${asyncLoader ? ' (async loader)' : ''}`,
      main,
      data,
      files,
      loader: asyncLoader ? 'async' : 'sync',
      // With the async loader plain nunjucks drops includes inside for/if (nunjucks#792).
      expect: asyncLoader ? 'sync-equivalent' : 'plain',
    };
  });
}

module.exports = { generate };
