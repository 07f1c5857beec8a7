/**
 * A JSON text of a render's data — Maps, Sets, undefined and functions included — taken after the
 * render: comparing it with plain nunjucks' shows whether rendering changed the caller's data.
 */
function snapshot(value) {
  return JSON.stringify(describe(value));
}

function describe(value) {
  if (value === undefined) return '(undefined)';
  if (typeof value === 'function') return `(function ${value.name})`;
  if (typeof value !== 'object' || value === null) return value;
  if (value instanceof Map) return { Map: [...value].map(([k, v]) => [describe(k), describe(v)]) };
  if (value instanceof Set) return { Set: [...value].map(describe) };
  if (Array.isArray(value)) return value.map(describe);
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, describe(v)]));
}

module.exports = { snapshot };
