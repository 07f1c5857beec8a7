// A redis-server of the caller's own, on a free port and without persistence, that it may pause,
// kill and restart: the fault tests and the fault benchmarks share this one implementation.
'use strict';

const { spawn } = require('node:child_process');
const net = require('node:net');

/** A port nobody listens on right now. */
async function freePort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function answers(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.setTimeout(200, () => (socket.destroy(), resolve(false)));
    socket.on('error', () => resolve(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', () => (socket.destroy(), resolve(true)));
  });
}

/** Starts one; resolves once it answers PING. Always `stop()` it, also on error. */
async function startOwnRedis() {
  const port = await freePort();
  let child;
  const own = {
    port,
    url: `redis://127.0.0.1:${port}`,
    pause: () => child?.kill('SIGSTOP'),
    resume: () => child?.kill('SIGCONT'),
    /** Synchronous, for exit handlers: no waiting for the process to go. */
    kill: () => child?.kill('SIGKILL'),
    async stop() {
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGCONT');
      child.kill('SIGKILL');
      await exited;
    },
    async start() {
      child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
        stdio: 'ignore',
      });
      child.once('error', () => undefined); // reported below as "did not start"
      for (let i = 0; i < 100 && !(await answers(port)); i++) await new Promise((resolve) => setTimeout(resolve, 50));
      if (!(await answers(port))) throw new Error(`redis-server did not start on port ${port}`);
    },
  };
  await own.start();
  return own;
}

module.exports = { freePort, startOwnRedis };
