// The scenarios: every bench/scenarios/<name>.js, in `order` (default 100), then by name.
'use strict';

const fs = require('node:fs');
const path = require('node:path');

const DIR = path.join(__dirname, '..', 'scenarios');
const KINDS = ['http', 'render', 'custom'];

/** Name, file and what the file exports, without running anything (requiring a scenario is cheap). */
function listScenarios() {
  return fs
    .readdirSync(DIR)
    .filter((file) => file.endsWith('.js'))
    .map((file) => {
      const full = path.join(DIR, file);
      const spec = require(full);
      const name = file.slice(0, -3);
      if (!KINDS.includes(spec.kind)) throw new Error(`bench/scenarios/${file}: kind must be one of ${KINDS.join(', ')}`);
      if (spec.kind === 'custom' ? typeof spec.run !== 'function' : !spec.subjects) throw new Error(`bench/scenarios/${file}: a ${spec.kind} scenario exports ${spec.kind === 'custom' ? 'run()' : 'subjects'}`);
      return { name, file: full, title: spec.title ?? name, order: spec.order ?? 100, optIn: !!spec.optIn, kind: spec.kind, spec };
    })
    .sort((a, b) => a.order - b.order || a.name.localeCompare(b.name));
}

module.exports = { DIR, listScenarios };
