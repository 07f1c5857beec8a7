// A subject server: `node bench/lib/serve.js <scenario file> <subject>` (started by bench/lib/http.js,
// one process per subject). Builds the subject's Koa app with its `app()`, listens on 127.0.0.1 and
// answers the runner over IPC: ready → { port }, cpu, memory, probe → the subject's counters, close.
'use strict';

const { serveApp } = require('./child');

const [file, name] = process.argv.slice(2);
const subject = require(file).subjects[name];
if (!subject) throw new Error(`${file} has no subject ${name}`);

(async () => {
  const built = await subject.app();
  const { app, probe, close } = typeof built?.listen === 'function' ? { app: built } : built;
  app.on('error', (err) => console.error(`${name}: ${err.stack ?? err}`));
  serveApp(app, { probe: () => probe?.(), close });
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
