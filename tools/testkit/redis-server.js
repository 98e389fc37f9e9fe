import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Whether `port` on 127.0.0.1 can be bound now. */
function portIsFree(port) {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A free loopback port whose cluster bus port (port + 10000) is free too. */
async function freePort() {
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const port = 20000 + Math.floor(Math.random() * 30000);
    if ((await portIsFree(port)) && (await portIsFree(port + 10000))) return port;
  }
  throw new Error('no free loopback port for redis-server');
}

/**
 * Sends one command with redis-cli and returns its output (trimmed).
 * @param {number} port
 * @param {string[]} args
 */
export async function redisCli(port, ...args) {
  const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 15_000 });
  return stdout.trim();
}

class RedisNode {
  constructor(port, directory, args) {
    this.port = port;
    this.url = `redis://127.0.0.1:${port}`;
    this.directory = directory;
    this.args = args;
    this.child = null;
  }

  async start() {
    if (this.child !== null) return;
    const child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', ...this.args], {
      cwd: this.directory,
      stdio: 'ignore',
    });
    this.child = child;
    child.once('exit', () => {
      if (this.child === child) this.child = null;
    });
    for (let attempt = 0; attempt < 200; attempt += 1) {
      if (this.child !== child) throw new Error(`redis-server on port ${this.port} exited while starting`);
      const pong = await redisCli(this.port, 'ping').catch(() => '');
      if (pong === 'PONG') return;
      await sleep(25);
    }
    throw new Error(`redis-server on port ${this.port} did not answer`);
  }

  async stop() {
    const child = this.child;
    if (child === null) return;
    this.child = null;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }

  get running() {
    return this.child !== null;
  }
}

function serverArgs({ maxmemory = '64mb', cluster = false, extra = [] }) {
  return [
    '--save',
    '',
    '--appendonly',
    'no',
    '--maxmemory',
    maxmemory,
    '--maxmemory-policy',
    'allkeys-lru',
    ...(cluster
      ? ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '2000']
      : []),
    ...extra,
  ];
}

/**
 * Makes a self-signed certificate for 127.0.0.1 with openssl, in `directory`; returns the paths
 * of its files and their PEM text.
 * @param {string} directory
 */
async function selfSignedCertificate(directory) {
  const certFile = join(directory, 'cert.pem');
  const keyFile = join(directory, 'key.pem');
  await run(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      keyFile,
      '-out',
      certFile,
    ],
    { timeout: 15_000 },
  );
  return { certFile, keyFile, cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') };
}

/**
 * Starts Debian's `redis-server` on a free loopback port, with nothing saved to disk and LRU
 * eviction past `maxmemory`. With `tls`, it also listens for TLS on a second port (`tlsUrl`), with a
 * self-signed certificate made by openssl (`certificate`), and asks clients for a certificate
 * signed by it.
 * @param {{ maxmemory?: string, args?: string[], tls?: boolean }} [options]
 */
export async function startRedis({ maxmemory, args = [], tls = false } = {}) {
  const directory = mkdtempSync(join(tmpdir(), 'mem-redis-'));
  let certificate;
  let tlsPort;
  const extra = [...args];
  if (tls) {
    certificate = await selfSignedCertificate(directory);
    tlsPort = await freePort();
    extra.push(
      '--tls-port',
      String(tlsPort),
      '--tls-cert-file',
      certificate.certFile,
      '--tls-key-file',
      certificate.keyFile,
      '--tls-ca-cert-file',
      certificate.certFile,
      '--tls-auth-clients',
      'yes',
    );
  }
  const node = new RedisNode(await freePort(), directory, serverArgs({ maxmemory, extra }));
  await node.start();
  return {
    port: node.port,
    url: node.url,
    tlsUrl: tls ? `rediss://127.0.0.1:${tlsPort}` : undefined,
    certificate: certificate && { cert: certificate.cert, key: certificate.key },
    get running() {
      return node.running;
    },
    cli: (...command) => redisCli(node.port, ...command),
    stop: () => node.stop(),
    restart: async () => {
      await node.stop();
      await node.start();
    },
    start: () => node.start(),
    close: async () => {
      await node.stop();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

/**
 * Starts a Redis Cluster of `masters` masters (no replicas) on free loopback ports, created with
 * `redis-cli --cluster create`, and waits until every node reports `cluster_state:ok`.
 * @param {{ masters?: number, maxmemory?: string }} [options]
 */
export async function startRedisCluster({ masters = 3, maxmemory } = {}) {
  const nodes = [];
  try {
    for (let i = 0; i < masters; i += 1) {
      const directory = mkdtempSync(join(tmpdir(), 'mem-redis-cluster-'));
      const node = new RedisNode(await freePort(), directory, serverArgs({ maxmemory, cluster: true }));
      nodes.push(node);
      await node.start();
    }
    await run(
      'redis-cli',
      [
        '--cluster',
        'create',
        ...nodes.map((node) => `127.0.0.1:${node.port}`),
        '--cluster-replicas',
        '0',
        '--cluster-yes',
      ],
      { timeout: 30_000 },
    );
    for (let attempt = 0; attempt < 400; attempt += 1) {
      const states = await Promise.all(nodes.map((node) => redisCli(node.port, 'cluster', 'info').catch(() => '')));
      if (states.every((info) => info.includes('cluster_state:ok'))) break;
      await sleep(25);
    }
  } catch (error) {
    await Promise.all(nodes.map((node) => node.stop()));
    throw error;
  }
  return {
    urls: nodes.map((node) => node.url),
    ports: nodes.map((node) => node.port),
    cli: (index, ...command) => redisCli(nodes[index].port, ...command),
    stopNode: (index) => nodes[index].stop(),
    startNode: (index) => nodes[index].start(),
    close: async () => {
      await Promise.all(nodes.map((node) => node.stop()));
      for (const node of nodes) rmSync(node.directory, { recursive: true, force: true });
    },
  };
}
