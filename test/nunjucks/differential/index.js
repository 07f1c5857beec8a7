// What the jest suite uses of the harness (typed in index.d.ts).
const path = require('node:path');
const { cases, generated, handWritten } = require('./corpus');
const { addExtras } = require('./extras');
const { makeLoader } = require('./loaders');
const { renderCase } = require('./render');
const { snapshot } = require('./snapshot');

const PLAIN_RENDERER = path.join(__dirname, 'plain-renderer.js');

module.exports = { cases, generated, handWritten, addExtras, makeLoader, renderCase, snapshot, PLAIN_RENDERER };
