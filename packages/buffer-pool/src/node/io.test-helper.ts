/**
 * Real loopback sockets and temporary files for the specs of the Node I/O helpers, and the checks
 * that every pooled buffer came back.
 */
import { expect } from 'vitest';
import { Buffer } from 'node:buffer';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BufferPool } from '../buffer-pool.js';
import type { PooledIo } from './pooled-io.js';

/** Starts a `pauseOnConnect` server on a free loopback port; resolves with it and its port. */
export async function listen(onConnection: (connection: Socket) => void): Promise<{ server: Server; port: number }> {
  const server = createServer({ pauseOnConnect: true }, onConnection);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

/** Closes `server` and resolves when every connection it counted has closed. */
export function close(server: Server): Promise<void> {
  return new Promise((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
}

/** An echo server whose connections read into pooled buffers and write them back with `io.write`. */
export function pooledEcho(io: PooledIo): Promise<{ server: Server; port: number }> {
  return listen((connection) => {
    const socket: Socket = io.accept(connection, (chunk) => io.write(socket, chunk));
    socket.on('drain', () => socket.resume());
    socket.on('error', () => socket.destroy());
  });
}

/** Sends `data` (then ends) and resolves with every byte received until the peer ended. */
export function exchange(port: number, data: Uint8Array): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const received: Buffer[] = [];
    const client = connect(port, '127.0.0.1', () => client.end(data));
    client.on('data', (chunk: Buffer) => received.push(chunk));
    client.on('end', () => resolve(Buffer.concat(received)));
    client.on('error', reject);
  });
}

/** Deterministic bytes: `length` of them, each a function of its index and `seed`, so that any misplaced byte shows. */
export function pattern(length: number, seed: number): Buffer {
  const bytes = Buffer.allocUnsafe(length);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < length; i += 1) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    bytes[i] = state & 0xff;
  }
  return bytes;
}

/** Buffers of `pool` held by someone (all classes together). */
export function inUse(pool: BufferPool): number {
  return pool.stats().classes.reduce((sum, entry) => sum + entry.inUse, 0);
}

/** Waits (collecting nothing) until `done()` holds, polling every few milliseconds; fails after `attempts`. */
export async function until(done: () => boolean, what: string, attempts = 500): Promise<void> {
  for (let attempt = 0; attempt < attempts && !done(); attempt += 1) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  expect(done(), what).toBe(true);
}

/** Checks that every pooled buffer came back and no write still holds one. */
export async function expectAllReturned(pool: BufferPool, io: PooledIo): Promise<void> {
  await until(() => inUse(pool) === 0 && io.stats().writesInFlight === 0, 'every pooled buffer returned');
}

/** A temporary directory, removed by the returned function. */
export function temporaryDirectory(): { directory: string; remove: () => void } {
  const directory = mkdtempSync(join(tmpdir(), 'mem-buffer-pool-io-'));
  return { directory, remove: () => rmSync(directory, { recursive: true, force: true }) };
}
