// A lone redis-server of the chaos suite's own, on a free port, with an append-only file in a temp
// dir: a SIGKILL and a restart then lose nothing it acknowledged, so what the suite sees lost was
// lost by the cache, not by Redis (scripts/own-redis.js runs without persistence).
'use strict';

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { command } = require('../redis-topology');
const { freePort } = require('../own-redis');

const running = new Set();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

async function startServer() {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kfc-chaos-redis-'));
  const args = ['--port', port, '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'no'];
  let child;
  const server = {
    port,
    url: `redis://127.0.0.1:${port}`,
    async start() {
      child = spawn('redis-server', args.map(String), { stdio: 'ignore' });
      running.add(child);
      child.once('exit', () => running.delete(child));
      for (let i = 0; i < 100; i++) {
        if (await command(port, ['PING'], 200).catch(() => false)) return;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      throw new Error(`chaos: redis-server did not start on port ${port}`);
    },
    pause: () => child.kill('SIGSTOP'),
    resume: () => child.kill('SIGCONT'),
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGCONT');
      child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      await server.kill();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  await server.start();
  return server;
}

module.exports = { startServer };
