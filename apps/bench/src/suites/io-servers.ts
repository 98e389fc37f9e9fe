/**
 * The servers of the `io` suite, each written the plain way with Node's own allocation, and with
 * the pooled helpers of `@mem/buffer-pool/node`:
 * - echo: every chunk read is written back (Node: a `'data'` handler writing the chunk Node
 *   allocated; pooled: `PooledIo.accept` reading into pooled buffers, `PooledIo.write` sending them);
 * - proxy: every chunk read from the client goes to an upstream echo server and back (pooled: the
 *   upstream connection reads through `PooledIo.connect`);
 * - http: an HTTP/1.1 server that answers each POST with its body (Node: the body's chunks
 *   collected and `Buffer.concat`ed; pooled: copied into one pooled buffer sized by
 *   `content-length`, sent with `PooledIo.write`). Node's HTTP parser reads the socket in C++ into
 *   its own buffer in both cases: the pool serves the body and the response.
 * Both sides pause reading while the other side's socket is full.
 */
import { Buffer } from 'node:buffer';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { IoBuffer } from '@mem/buffer-pool';
import type { PooledIo } from '@mem/buffer-pool/node';
import type { ServerConfig } from './io-protocol.js';

function quiet(socket: Socket): void {
  socket.on('error', () => socket.destroy());
}

/** Writes `chunk` to `to`, pausing `from` until `to` drains when it is full (Node's own buffers). */
function forward(from: Socket, to: Socket, chunk: Buffer): void {
  if (!to.write(chunk)) from.pause();
}

function nodeEcho(): Server {
  return createServer((socket) => {
    quiet(socket);
    socket.on('data', (chunk: Buffer) => forward(socket, socket, chunk));
    socket.on('drain', () => socket.resume());
  });
}

function pooledEcho(io: PooledIo): Server {
  return createServer({ pauseOnConnect: true }, (connection) => {
    const socket: Socket = io.accept(connection, (chunk) => io.write(socket, chunk));
    socket.on('drain', () => socket.resume());
    quiet(socket);
  });
}

function nodeProxy(upstreamPort: number): Server {
  return createServer((client) => {
    const upstream = connect(upstreamPort, '127.0.0.1');
    for (const socket of [client, upstream]) quiet(socket);
    client.on('data', (chunk: Buffer) => forward(client, upstream, chunk));
    upstream.on('data', (chunk: Buffer) => forward(upstream, client, chunk));
    upstream.on('drain', () => client.resume());
    client.on('drain', () => upstream.resume());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
}

function pooledProxy(io: PooledIo, upstreamPort: number): Server {
  return createServer({ pauseOnConnect: true }, (connection) => {
    const upstream: Socket = io.connect({ port: upstreamPort, host: '127.0.0.1' }, (chunk: IoBuffer) =>
      io.write(client, chunk),
    );
    const client: Socket = io.accept(connection, (chunk) => io.write(upstream, chunk));
    for (const socket of [client, upstream]) quiet(socket);
    upstream.on('drain', () => client.resume());
    client.on('drain', () => upstream.resume());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
}

function nodeHttp(): Server {
  return createHttpServer((request: IncomingMessage, response: ServerResponse) => {
    const parts: Buffer[] = [];
    request.on('data', (part: Buffer) => parts.push(part));
    request.on('end', () => {
      const body = Buffer.concat(parts);
      response.writeHead(200, { 'content-length': body.length });
      response.end(body);
    });
  });
}

function pooledHttp(io: PooledIo): Server {
  return createHttpServer((request: IncomingMessage, response: ServerResponse) => {
    const body = io.pool.alloc(Number(request.headers['content-length'] ?? 0));
    request.on('data', (part: Buffer) => body.write(part));
    request.on('error', () => body[Symbol.dispose]());
    request.on('end', () => {
      response.writeHead(200, { 'content-length': body.length });
      io.write(response, body);
      response.end();
    });
  });
}

/** The server `config` asks for (`io` for the pooled ones). */
export function createBenchServer(config: ServerConfig, io: PooledIo | undefined): Server {
  const upstream = config.upstreamPort ?? 0;
  if (config.impl === 'node') {
    if (config.kind === 'echo') return nodeEcho();
    return config.kind === 'proxy' ? nodeProxy(upstream) : nodeHttp();
  }
  if (config.kind === 'echo') return pooledEcho(io!);
  return config.kind === 'proxy' ? pooledProxy(io!, upstream) : pooledHttp(io!);
}
