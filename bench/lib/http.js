// Runs a `kind: 'http'` scenario: every subject served by a process of its own (bench/lib/serve.js),
// each checked once, warmed up, then loaded by `wrk -t1 -c32` on loopback in interleaved rounds
// (A, B, C, A, B, C, …; the smoke run's quick settings load them all at once). Per round and
// subject: requests/second, latency, and the server's CPU time per request and share of one core
// (near 100 %: the server, not wrk, is the limit).
'use strict';

const path = require('node:path');
const { quick } = require('./common');
const { startChild } = require('./child');
const { wrk } = require('./wrk');
const { delta, checkExpectation } = require('./expect');

const SERVE = path.join(__dirname, 'serve.js');
const DEFAULT_PATH = '/page';

function settingsOf(scenario) {
  const env = (name) => (process.env[name] ? Number(process.env[name]) : undefined);
  return {
    rounds: env('BENCH_ROUNDS') ?? (quick ? 1 : scenario.rounds ?? 9),
    seconds: env('BENCH_SECONDS') ?? (quick ? 1 : scenario.seconds ?? 3),
    warmupSeconds: quick ? 0 : scenario.warmupSeconds ?? 2,
    threads: 1,
    connections: 32,
  };
}

const cpuMicros = async (server) => {
  const { user, system } = await server.ask('cpu');
  return user + system;
};

async function runHttp(scenario, file, scenarioName) {
  const settings = settingsOf(scenario);
  const names = Object.keys(scenario.subjects);
  const servers = {};
  try {
    // Started side by side (each loads the library and its app: a second or more under load).
    const started = await Promise.allSettled(names.map((name) => startChild(SERVE, [file, name], { profile: `${scenarioName}.${name}` })));
    started.forEach((outcome, i) => outcome.status === 'fulfilled' && (servers[names[i]] = outcome.value));
    const failed = started.find((outcome) => outcome.status === 'rejected');
    if (failed) throw failed.reason;
    const url = (name) => `http://127.0.0.1:${servers[name].ready.port}${scenario.subjects[name].path ?? DEFAULT_PATH}`;

    // Every subject answers 200 (and, with sameBody, the same bytes) before anything is measured.
    const bodies = {};
    for (const name of names) {
      const subject = scenario.subjects[name];
      const res = await fetch(subject.newUrl ? `${url(name)}${url(name).includes('?') ? '&' : '?'}kfc-check=1` : url(name));
      bodies[name] = Buffer.from(await res.arrayBuffer());
      if (res.status !== 200) throw new Error(`${name}: GET ${url(name)} answered ${res.status}`);
    }
    if (scenario.sameBody) {
      const [first, ...rest] = names;
      for (const name of rest) if (!bodies[name].equals(bodies[first])) throw new Error(`${name} does not send the same body as ${first}`);
    }

    const load = (name, seconds) => wrk(url(name), { seconds, threads: settings.threads, connections: settings.connections, newUrl: scenario.subjects[name].newUrl });
    if (settings.warmupSeconds) for (const name of names) await load(name, settings.warmupSeconds);

    const samples = Object.fromEntries(names.map((name) => [name, []]));
    const measure = async (name) => {
      const server = servers[name];
      const [cpuBefore, probeBefore] = [await cpuMicros(server), await server.ask('probe')];
      const run = await load(name, settings.seconds);
      const [cpuAfter, probeAfter] = [await cpuMicros(server), await server.ask('probe')];
      const probe = delta(probeBefore, probeAfter);
      checkExpectation(name, scenario.subjects[name], probe);
      samples[name].push({
        ...run,
        cpuUsPerRequest: (cpuAfter - cpuBefore) / run.requests,
        serverCpuPercent: ((cpuAfter - cpuBefore) / 1e6 / run.seconds) * 100,
        probe,
      });
    };
    for (let r = 0; r < settings.rounds; r++) {
      // Quick settings (the smoke run: numbers not meaningful) load every subject at once.
      if (quick) await Promise.all(names.map(measure));
      else for (const name of names) await measure(name);
      if (!quick) process.stdout.write(`  round ${r + 1}/${settings.rounds}: ${names.map((n) => `${n} ${Math.round(samples[n][r].rate)}/s`).join(', ')}\n`);
    }
    const subjects = Object.fromEntries(
      names.map((name) => [name, { label: scenario.subjects[name].label ?? name, bodyBytes: bodies[name].length, newUrl: !!scenario.subjects[name].newUrl, samples: samples[name] }]),
    );
    return { settings, subjects };
  } finally {
    await Promise.all(Object.values(servers).map((server) => server.stop()));
  }
}

module.exports = { runHttp, DEFAULT_PATH };
