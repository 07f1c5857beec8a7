/**
 * What a template is without this library: each `{% cache … %}` becomes `{% if 1 %}` and each
 * `{% endcache %}` becomes `{% endif %}`, padded to the same length with newlines kept. A no-op
 * block tag (rather than deleting the tag) keeps what the lexer does around a block tag —
 * `{%-`/`-%}`, trimBlocks, lstripBlocks — and keeps every line and column of an error message.
 * Cache tags inside {% raw %} are rewritten too: the corpus has none there.
 */
function stripCacheTags(source, tags = {}) {
  return source.replace(cacheTagPattern(tags), (tag, open, keyword, close) => {
    const replacement = keyword === 'cache' ? ' if 1' : ' endif';
    const inside = tag.slice(open.length, tag.length - close.length);
    return open + replacement + inside.slice(replacement.length).replace(/[^\n]/g, ' ') + close;
  });
}

function hasCacheTags(source, tags = {}) {
  return cacheTagPattern(tags).test(source);
}

/** `{% cache … %}` / `{% endcache %}` in the case's block delimiters, `-` markers included. */
function cacheTagPattern({ blockStart = '{%', blockEnd = '%}' }) {
  const start = escapeRegExp(blockStart);
  const end = escapeRegExp(blockEnd);
  return new RegExp(`(${start}-?)\\s*(cache|endcache)\\b[\\s\\S]*?(-?${end})`, 'g');
}

function escapeRegExp(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

module.exports = { stripCacheTags, hasCacheTags };
