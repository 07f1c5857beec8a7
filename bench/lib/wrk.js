// wrk (Debian package `wrk`), the load generator of every HTTP scenario: installed on first use
// when missing (as .ci/run installs redis-server), run as a child process, its numbers read from a
// Lua `done` hook that prints them as JSON.
'use strict';

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn, spawnSync } = require('node:child_process');
const { track } = require('./child');

/** wrk's version line, or undefined when there is no `wrk` on PATH. */
function wrkVersion() {
  const probe = spawnSync('wrk', ['--version'], { encoding: 'utf8' });
  if (probe.error) return undefined;
  return /^wrk (\S+)/m.exec(`${probe.stdout}${probe.stderr}`)?.[1] ?? 'unknown version';
}

/**
 * Makes sure wrk is there: `apt-get install -y wrk` when it is not (after `apt-get update` if the
 * first attempt fails). Throws an error saying what to do when that is impossible.
 */
function ensureWrk() {
  const found = wrkVersion();
  if (found) return found;
  console.log('bench: wrk is missing, installing it: apt-get install -y wrk');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const apt = (args) => spawnSync('apt-get', args, { stdio: 'inherit', env });
  let attempt = apt(['install', '-y', '-qq', 'wrk']);
  if (!attempt.error && attempt.status !== 0 && apt(['update', '-qq']).status === 0) attempt = apt(['install', '-y', '-qq', 'wrk']);
  const installed = wrkVersion();
  if (installed) return installed;
  const why = attempt.error ? `apt-get could not run (${attempt.error.code ?? attempt.error.message})` : `apt-get install -y wrk exited with ${attempt.status ?? attempt.signal}`;
  throw new Error(
    `bench: wrk is needed for the HTTP scenarios and is not installed; ${why}. ` +
      'Install the Debian package as root (apt-get install -y wrk) or put a wrk 4.x binary on PATH, then rerun.',
  );
}

// Besides the summary: p99.9 and the slowest request. By done(), wrk has applied its correction for
// coordinated omission to `latency` (stats_correct: each request slower than the run's interval per
// connection adds samples for the requests that would have been sent meanwhile), so a stall of
// every connection weighs in the percentiles as it would for visitors arriving at the run's rate;
// the slowest request is as measured.
const DONE = `
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('\\nKFC_WRK {"requests":%d,"durationUs":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50Us":%d,"p99Us":%d,"p999Us":%d,"maxUs":%d,"meanUs":%.1f}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9), latency.max, latency.mean))
end
`;
/** A new URL for every request: `<path>?kfcn=<run tag>-<n>` (wrk -t1: one Lua state, one counter). */
const NEW_URL = `
local tag, n, sep = "", 0, "?"
init = function(args)
  tag = args[1] or ""
  if string.find(wrk.path, "?", 1, true) then sep = "&" end
end
request = function()
  n = n + 1
  return wrk.format(nil, wrk.path .. sep .. "kfcn=" .. tag .. "-" .. n)
end
`;
/** The paths given after \`--\`, in turn, one request each. */
const PATHS = `
local paths, i = {}, 0
init = function(args)
  for _, p in ipairs(args) do paths[#paths + 1] = p end
end
request = function()
  i = i % #paths + 1
  return wrk.format(nil, paths[i])
end
`;

let scripts;
function scriptFiles() {
  if (scripts) return scripts;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kfc-wrk-'));
  process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  scripts = { report: path.join(dir, 'report.lua'), newUrl: path.join(dir, 'new-url.lua'), paths: path.join(dir, 'paths.lua') };
  fs.writeFileSync(scripts.report, DONE);
  fs.writeFileSync(scripts.newUrl, NEW_URL + DONE);
  fs.writeFileSync(scripts.paths, PATHS + DONE);
  return scripts;
}

let runs = 0;
/**
 * One `wrk -t<threads> -c<connections> -d<seconds>s` against `url`. Resolves requests/second,
 * latency percentiles (p50, p99, p99.9, max) and the raw counts; rejects when any request failed (socket errors, timeouts or a status ≥ 400),
 * so that a broken subject cannot look fast. `newUrl`: every request a URL not requested before (a
 * different tag per run); `paths`: the paths (of `url`'s server) requested in turn instead.
 */
function wrk(url, { seconds, connections = 32, threads = 1, newUrl = false, paths, timeoutSeconds = 10 }) {
  const args = [`-t${threads}`, `-c${connections}`, `-d${Math.max(1, Math.round(seconds))}s`, `--timeout`, `${timeoutSeconds}s`];
  args.push('-s', newUrl ? scriptFiles().newUrl : paths ? scriptFiles().paths : scriptFiles().report, url);
  if (newUrl) args.push('--', `${process.pid}-${++runs}`);
  else if (paths) args.push('--', ...paths);
  return new Promise((resolve, reject) => {
    const child = track(spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] }));
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.stderr.on('data', (chunk) => (err += chunk));
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      const line = /^KFC_WRK (.*)$/m.exec(out)?.[1];
      if (code !== 0 || !line) return reject(new Error(`wrk ${args.join(' ')}: exited with ${code ?? signal}\n${out}${err}`));
      const r = JSON.parse(line);
      const failed = r.connect + r.read + r.write + r.timeout + r.status;
      if (failed) {
        return reject(new Error(`wrk ${url}: ${failed} failed requests (connect ${r.connect}, read ${r.read}, write ${r.write}, timeout ${r.timeout}, status ≥ 400 ${r.status})`));
      }
      if (r.requests === 0) return reject(new Error(`wrk ${url}: no request completed`));
      const seconds = r.durationUs / 1e6;
      resolve({
        rate: r.requests / seconds,
        requests: r.requests,
        seconds,
        bytesPerRequest: r.bytes / r.requests,
        p50Ms: r.p50Us / 1000,
        p99Ms: r.p99Us / 1000,
        p999Ms: r.p999Us / 1000,
        maxMs: r.maxUs / 1000,
        meanMs: r.meanUs / 1000,
      });
    });
  });
}

module.exports = { ensureWrk, wrkVersion, wrk };
