/**
 * The load client process of the `io` suite: closed-loop request/response over loopback
 * connections (each connection sends a request, waits for its whole response, records the
 * latency, and sends the next one), checking every response byte for byte; and the upstream echo
 * server of the proxy case (plain Node, the same for both proxies).
 */
import { Buffer } from 'node:buffer';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import {
  percentileOfSorted,
  type FromClient,
  type LoadResult,
  type LoadSpec,
  type Percentiles,
  type ToClient,
} from './io-protocol.js';

const send = (message: FromClient): void => void process.send!(message);

/** Payload bytes: a function of the index, so that a misplaced byte shows. */
function payload(size: number): Buffer {
  const bytes = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i += 1) bytes[i] = (i * 31 + (i >>> 8)) & 0xff;
  return bytes;
}

/** Latencies in microseconds, the most recent 2^21 of them. */
class Latencies {
  readonly #values = new Float64Array(1 << 21);
  count = 0;
  add(micros: number): void {
    this.#values[this.count & (this.#values.length - 1)] = micros;
    this.count += 1;
  }
  percentiles(): Percentiles {
    const sorted = this.#values.slice(0, Math.min(this.count, this.#values.length)).sort();
    return {
      count: this.count,
      p50: percentileOfSorted(sorted, 50),
      p99: percentileOfSorted(sorted, 99),
      p999: percentileOfSorted(sorted, 99.9),
    };
  }
}

/** Latencies by series. */
const series = new Map<string, Latencies>();

/** One connection's response reader: TCP (the echo of `body`) or HTTP (a response whose body is `body`). */
class Exchange {
  readonly #body: Buffer;
  readonly #http: boolean;
  #header: Buffer[] = [];
  #expected = 0;
  #received = 0;
  mismatches = 0;

  constructor(body: Buffer, http: boolean) {
    this.#body = body;
    this.#http = http;
    this.reset();
  }

  reset(): void {
    this.#expected = this.#http ? -1 : this.#body.length;
    this.#received = 0;
    this.#header = [];
  }

  /** Takes a chunk; returns true when the response is complete. */
  take(chunk: Buffer): boolean {
    if (this.#expected < 0) {
      this.#header.push(chunk);
      const head = this.#header.length === 1 ? chunk : Buffer.concat(this.#header);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return false;
      const length = /content-length: *(\d+)/i.exec(head.subarray(0, end).toString('latin1'));
      this.#expected = length === null ? 0 : Number(length[1]);
      chunk = head.subarray(end + 4);
    }
    if (chunk.length > 0) {
      const at = this.#received;
      if (at + chunk.length > this.#expected || !chunk.equals(this.#body.subarray(at, at + chunk.length))) {
        this.mismatches += 1;
      }
      this.#received += chunk.length;
    }
    return this.#received >= this.#expected;
  }
}

async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const body = payload(spec.size);
  const request =
    spec.protocol === 'http'
      ? Buffer.concat([
          Buffer.from(`POST / HTTP/1.1\r\nHost: bench\r\nContent-Length: ${spec.size}\r\n\r\n`, 'latin1'),
          body,
        ])
      : body;
  let latencies = series.get(spec.series);
  if (latencies === undefined) series.set(spec.series, (latencies = new Latencies()));
  const exchanges: Exchange[] = [];
  let requests = 0;
  const started = performance.now();
  const deadline = started + spec.seconds * 1000;
  const sockets = await Promise.all(
    Array.from({ length: spec.connections }, async (_, index) => {
      const socket = connect(spec.ports[index % spec.ports.length]!, '127.0.0.1');
      socket.setNoDelay(true);
      await once(socket, 'connect');
      return socket;
    }),
  );
  await Promise.all(
    sockets.map(
      (socket: Socket) =>
        new Promise<void>((resolve, reject) => {
          const exchange = new Exchange(body, spec.protocol === 'http');
          exchanges.push(exchange);
          let sentAt = performance.now();
          socket.on('data', (chunk: Buffer) => {
            if (!exchange.take(chunk)) return;
            const now = performance.now();
            latencies!.add((now - sentAt) * 1000);
            requests += 1;
            exchange.reset();
            if (now >= deadline) {
              socket.end();
              resolve();
              return;
            }
            sentAt = now;
            socket.write(request);
          });
          socket.on('error', reject);
          socket.write(request);
        }),
    ),
  );
  const seconds = (performance.now() - started) / 1000;
  for (const socket of sockets) socket.destroy();
  return {
    requests,
    seconds,
    bytes: requests * spec.size * 2,
    mismatches: exchanges.reduce((sum, exchange) => sum + exchange.mismatches, 0),
  };
}

async function startUpstream(): Promise<number> {
  const server = createServer((socket) => {
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk: Buffer) => {
      if (!socket.write(chunk)) socket.pause();
    });
    socket.on('drain', () => socket.resume());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

process.on('message', async (message: ToClient) => {
  if (message.type === 'load') send({ type: 'result', result: await runLoad(message.load) });
  else if (message.type === 'percentiles') {
    send({
      type: 'percentiles',
      percentiles: series.get(message.series)?.percentiles() ?? { count: 0, p50: NaN, p99: NaN, p999: NaN },
    });
  } else if (message.type === 'upstream') send({ type: 'upstream', port: await startUpstream() });
  else process.exit(0);
});
send({ type: 'ready' });
