/**
 * The server process of the `io` suite: starts `threads` server threads (one port each), over one
 * shared pool for the pooled servers, and reports each measurement window (between the suite's
 * `start` and `stop`): CPU time, GC pauses and `arrayBuffers` of every thread, and the process's
 * RSS sampled every 100 ms.
 */
import { once } from 'node:events';
import { BufferPool, BufferPoolConfig } from '@mem/buffer-pool';
import { startWorker } from '@mem/testkit';
import type { FromServer, ServerConfig, ServerWindow, ThreadWindow, ToServer } from './io-protocol.js';
import type { FromThread, ThreadData, ToThread } from './io-server-thread.js';

const config = JSON.parse(process.argv[2]!) as ServerConfig;
const send = (message: FromServer): void => void process.send!(message);

/** 1 KiB to 128 KiB buffers, 256 MiB of budget over the classes; each thread keeps a local cache. */
const pool =
  config.impl === 'pooled'
    ? BufferPool.createShared(
        BufferPoolConfig.forNetwork()
          .withBudgetBytes(256 * 1024 * 1024)
          .withParallelism(config.threads),
        { leakDetection: 'off' },
      )
    : undefined;

const execArgv = process.execArgv.filter((flag) => flag !== '--expose-gc');
const threads = Array.from({ length: config.threads }, () =>
  startWorker(new URL('./io-server-thread.ts', import.meta.url), {
    workerData: { config, pool: pool?.descriptor() ?? null } satisfies ThreadData,
    execArgv,
  }),
);

function next(thread: (typeof threads)[number], type: FromThread['type']): Promise<FromThread> {
  return new Promise((resolve) => {
    const onMessage = (message: FromThread): void => {
      if (message.type !== type) return;
      thread.off('message', onMessage);
      resolve(message);
    };
    thread.on('message', onMessage);
  });
}

const ports = await Promise.all(
  threads.map(async (thread) => ((await next(thread, 'ready')) as { port: number }).port),
);
let rss: number[] = [];
let sampler: ReturnType<typeof setInterval> | undefined;
let started = 0;
let cpu = process.cpuUsage();

process.on('message', async (message: ToServer) => {
  if (message.type === 'start') {
    for (const thread of threads) thread.postMessage({ type: 'start' } satisfies ToThread);
    rss = [process.memoryUsage.rss()];
    sampler = setInterval(() => rss.push(process.memoryUsage.rss()), 100);
    started = performance.now();
    cpu = process.cpuUsage();
  } else if (message.type === 'stop') {
    const used = process.cpuUsage(cpu);
    const seconds = (performance.now() - started) / 1000;
    clearInterval(sampler);
    rss.push(process.memoryUsage.rss());
    const answers = await Promise.all(
      threads.map((thread) => {
        const answer = next(thread, 'window');
        thread.postMessage({ type: 'stop' } satisfies ToThread);
        return answer as Promise<{ window: ThreadWindow; fallbacks: number }>;
      }),
    );
    const sum = (pick: (window: ThreadWindow) => number): number =>
      answers.reduce((total, answer) => total + pick(answer.window), 0);
    const window: ServerWindow = {
      seconds,
      cpuMicros: used.user + used.system,
      gcPauseMs: sum((thread) => thread.gcPauseMs),
      gcCount: sum((thread) => thread.gcCount),
      rss,
      arrayBuffersMax: sum((thread) => thread.arrayBuffersMax),
      arrayBuffersLast: sum((thread) => thread.arrayBuffersLast),
      fallbacks: answers.reduce((total, answer) => total + answer.fallbacks, 0),
    };
    send({ type: 'window', window });
  } else {
    await Promise.all(
      threads.map((thread) => {
        const exited = once(thread, 'exit');
        thread.postMessage({ type: 'exit' } satisfies ToThread);
        return exited;
      }),
    );
    pool?.close();
    process.exit(0);
  }
});

send({ type: 'ready', ports });
