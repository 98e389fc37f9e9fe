/**
 * A {@link KvBlockTier} on Redis, for `@mem/paged-kv`'s `KvTierConnector`: every server of a fleet
 * that connects to the same Redis (or Redis Cluster) shares the KV blocks any of them saved.
 *
 * Each block is one key holding its whole value (header and payload together), so Redis's own
 * eviction (`maxmemory` with an LRU policy) removes a block entirely or not at all. Every operation
 * sends one command per key and lets the client pipeline the commands issued together: a lookup
 * of 64 blocks is 64 `EXISTS` written at once and answered in one round trip; on a Redis Cluster,
 * where multi-key commands must stay within one hash slot, the same per-key commands go to each
 * node owning a key, all nodes in parallel. Keys carry no hash tag, so blocks spread over every
 * node.
 *
 * Failures never reach the caller as a crash: connection errors are counted (`connectionErrors`)
 * and the client reconnects by itself; commands issued while Redis is unreachable fail at once
 * (there is no offline queue), and a command that outlives `commandTimeoutMs` fails; the connector
 * counts a failed operation as a miss and the scheduler recomputes. A `get` keeps the values Redis
 * answered when it failed for other keys (a cluster node down), so a load still delivers the
 * leading blocks up to the first that failed.
 *
 * This module runs in Node.js only.
 * @module
 */
import { Buffer } from 'node:buffer';
import { MemError, assertInteger, assertOptions, invalidArgument } from '@mem/types';
import type { KvBlockTier, KvTierEntry } from '@mem/paged-kv';
import { RESP_TYPES, createClient, createCluster } from 'redis';

/** Options of {@link RedisKvTier.connect}. */
export interface RedisKvTierOptions {
  /**
   * `redis://[user:password@]host:port[/db]` (or `rediss://` for TLS) of a single Redis, or of any
   * node of a Redis Cluster (found out by asking the node; the others are discovered).
   */
  readonly url: string;
  /** How long the commands of one operation may take together, in milliseconds, before it fails (0: no limit). @defaultValue 2000 */
  readonly commandTimeoutMs?: number;
  /** How long connecting may take, in milliseconds. @defaultValue 5000 */
  readonly connectTimeoutMs?: number;
  /** TLS settings of a `rediss://` URL (refused with a `redis://` one). @defaultValue Node's trusted roots, no client certificate */
  readonly tls?: RedisKvTierTlsOptions;
}

/** TLS settings of a `rediss://` connection, as Node's `tls.connect` takes them (PEM text or bytes). */
export interface RedisKvTierTlsOptions {
  /** The certificate authorities to trust instead of Node's roots: for a server certificate of a private CA. */
  readonly ca?: string | Uint8Array;
  /** The client's certificate chain, for a server that asks clients for one (`tls-auth-clients yes`). */
  readonly cert?: string | Uint8Array;
  /** The private key of `cert`. */
  readonly key?: string | Uint8Array;
}

/** The client's socket options for TLS. */
type TlsSocketOptions = { tls: true } & { -readonly [name in keyof RedisKvTierTlsOptions]?: string | Buffer };

/** Checks `options.tls` and returns it as socket options for `tls.connect`. */
function tlsSocketOptions(tls: unknown, url: string): TlsSocketOptions | undefined {
  const secure = url.startsWith('rediss:');
  if (tls === undefined) return secure ? { tls: true } : undefined;
  if (!secure) throw invalidArgument('options.tls', tls, 'absent with a redis:// URL (TLS needs rediss://)');
  const given = assertOptions<RedisKvTierTlsOptions>(tls, 'options.tls', ['ca', 'cert', 'key']);
  const socket: TlsSocketOptions = { tls: true };
  for (const name of ['ca', 'cert', 'key'] as const) {
    const value = given[name];
    if (value === undefined) continue;
    if (typeof value !== 'string' && !(value instanceof Uint8Array)) {
      throw invalidArgument(`options.tls.${name}`, value, 'PEM text (a string or a Uint8Array)');
    }
    socket[name] = typeof value === 'string' ? value : Buffer.from(value);
  }
  return socket;
}

/** The commands the tier sends, as both client kinds offer them (values as Buffers). */
interface BlockCommands {
  exists(key: string): Promise<number>;
  get(key: string): Promise<Buffer | null>;
  set(key: string, value: Buffer): Promise<unknown>;
  close(): Promise<void>;
  destroy(): void;
}

/** The tier's counts besides what the connector counts. */
export interface RedisKvTierStats {
  /** Whether it talks to a Redis Cluster. */
  readonly cluster: boolean;
  /** Errors the client reported on its connections (each reconnect attempt against a down server counts). */
  readonly connectionErrors: number;
  /** Commands sent. */
  readonly commands: number;
}

const BUFFERS = { [RESP_TYPES.BLOB_STRING]: Buffer } as const;

/** How many bytes of commands the socket accepts before it asks the client to wait: more than one operation sends. */
const WRITE_HIGH_WATER_MARK = 1 << 30;

/**
 * KV block values in Redis or a Redis Cluster, for a `KvTierConnector`.
 *
 * @example
 * ```ts
 * import { KvStore, KvTierConnector } from '@mem/paged-kv';
 * import { RedisKvTier } from '@mem/kv-connector-redis';
 * const store = new KvStore({ numLayers: 2, numBlocks: 64, numKvHeads: 2, blockSize: 16, headDim: 8 });
 * const tier = await RedisKvTier.connect({ url: 'redis://127.0.0.1:6379' });
 * const connector = new KvTierConnector({ tier, store, model: 'my-model' });
 * // ... a Scheduler with { tier: { connector } }; on shutdown:
 * await connector.flush();
 * await tier.close();
 * ```
 */
export class RedisKvTier implements KvBlockTier {
  /** `'redis'`. */
  readonly name = 'redis';
  /** Whether it talks to a Redis Cluster. */
  readonly cluster: boolean;
  readonly #commands: BlockCommands;
  readonly #timeoutMs: number;
  #connectionErrors = 0;
  #commandCount = 0;
  #closed = false;

  private constructor(commands: BlockCommands, cluster: boolean, timeoutMs: number, errors: { count: () => void }) {
    this.#commands = commands;
    this.#timeoutMs = timeoutMs;
    this.cluster = cluster;
    errors.count = () => {
      this.#connectionErrors += 1;
    };
  }

  /**
   * Connects to the Redis at `url`, or to the Redis Cluster that node belongs to.
   * Cost: a connection (a cluster client opens one per master as it needs them).
   * @throws MemError INVALID_ARGUMENT if an option is invalid (also `tls` with a `redis://` URL);
   * NOT_FOUND if Redis cannot be reached within `connectTimeoutMs`, or the TLS handshake fails (the
   * cause attached).
   */
  static async connect(options: RedisKvTierOptions): Promise<RedisKvTier> {
    if (options === undefined) throw invalidArgument('options', options, 'an object');
    const opts = assertOptions<RedisKvTierOptions>(options, 'options', [
      'url',
      'commandTimeoutMs',
      'connectTimeoutMs',
      'tls',
    ]);
    if (typeof opts.url !== 'string' || !/^rediss?:\/\/[^/\s]+/.test(opts.url)) {
      throw invalidArgument('options.url', opts.url, 'a redis:// or rediss:// URL');
    }
    const tls = tlsSocketOptions(opts.tls, opts.url);
    const timeout =
      opts.commandTimeoutMs === undefined
        ? 2000
        : assertInteger(opts.commandTimeoutMs, 'options.commandTimeoutMs', { min: 0, max: 3_600_000 });
    const connectTimeout =
      opts.connectTimeoutMs === undefined
        ? 5000
        : assertInteger(opts.connectTimeoutMs, 'options.connectTimeoutMs', { min: 1, max: 3_600_000 });
    const errors = { count: (): void => {} };
    const onError = (): void => errors.count();
    const clientOptions = {
      disableOfflineQueue: true,
      socket: {
        ...tls,
        connectTimeout,
        reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 1000),
        // The client writes until the socket asks it to wait, then writes the rest one event-loop
        // turn at a time: with the default mark of 16 KiB, a save of many blocks would take a turn
        // per block or two (and a busy server has few turns to give), and every load queued behind it.
        // The commands are in memory either way; this lets one turn hand them all to the socket.
        writableHighWaterMark: WRITE_HIGH_WATER_MARK,
      },
      commandOptions: { typeMapping: BUFFERS },
    };
    const probe = createClient({
      url: opts.url,
      ...clientOptions,
      socket: { ...clientOptions.socket, reconnectStrategy: false },
    });
    probe.on('error', onError);
    let clusterEnabled: boolean;
    try {
      await probe.connect();
      clusterEnabled = String(await probe.info('cluster')).includes('cluster_enabled:1');
    } catch (cause) {
      probe.destroy();
      throw new MemError('NOT_FOUND', `cannot reach Redis at ${opts.url}: ${(cause as Error).message}`, { cause });
    }
    if (!clusterEnabled) {
      probe.destroy();
      const client = createClient({ url: opts.url, ...clientOptions });
      client.on('error', onError);
      await RedisKvTier.#open(
        () => client.connect(),
        () => client.destroy(),
        opts.url,
      );
      return new RedisKvTier(client as unknown as BlockCommands, false, timeout, errors);
    }
    probe.destroy();
    const cluster = createCluster({ rootNodes: [{ url: opts.url }], defaults: clientOptions });
    cluster.on('error', onError);
    await RedisKvTier.#open(
      () => cluster.connect(),
      () => cluster.destroy(),
      opts.url,
    );
    return new RedisKvTier(cluster as unknown as BlockCommands, true, timeout, errors);
  }

  static async #open(connect: () => Promise<unknown>, destroy: () => void, url: string): Promise<void> {
    try {
      await connect();
    } catch (cause) {
      destroy();
      throw new MemError('NOT_FOUND', `cannot reach Redis at ${url}: ${(cause as Error).message}`, { cause });
    }
  }

  /**
   * A snapshot of the counts.
   * Cost: O(1).
   * @throws never
   */
  stats(): RedisKvTierStats {
    return { cluster: this.cluster, connectionErrors: this.#connectionErrors, commands: this.#commandCount };
  }

  /** One `EXISTS` per key, pipelined. Rejects when Redis fails for any key. */
  async lookup(keys: readonly string[]): Promise<number> {
    const found = await this.#each(keys, (key) => this.#commands.exists(key));
    let count = 0;
    while (count < found.length && found[count] === 1) count += 1;
    return count;
  }

  /**
   * One `GET` per key, pipelined; values come back as Buffers. Where Redis failed for a key (its
   * cluster node is down) or did not answer it within `commandTimeoutMs`, its place holds the
   * Error, and the values answered are still returned: the connector uses the leading ones.
   * Rejects only once the tier is closed.
   */
  get(keys: readonly string[]): Promise<readonly (Uint8Array | null | Error)[]> {
    return this.#settled(keys, (key) => this.#commands.get(key));
  }

  /** One `SET` per entry, pipelined, without copying the values. Rejects when Redis fails for any entry. */
  async set(entries: readonly KvTierEntry[]): Promise<void> {
    await this.#each(entries, ({ key, value }) =>
      this.#commands.set(key, Buffer.from(value.buffer, value.byteOffset, value.byteLength)),
    );
  }

  /**
   * Closes the connections after the commands in flight are answered. Idempotent.
   * @throws never
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#commands.close().catch(() => this.#commands.destroy());
  }

  /** Like {@link RedisKvTier.#settled}, but rejects with the first failure. */
  async #each<T, R>(items: readonly T[], command: (item: T) => Promise<R>): Promise<R[]> {
    const results = await this.#settled(items, command);
    const failed = results.find((result) => result instanceof Error);
    if (failed !== undefined) throw failed;
    return results as R[];
  }

  /**
   * Sends one command per item in the same tick (so the client pipelines them) and resolves with
   * each answer, or the Error of each command that failed or was not answered within the timeout.
   */
  #settled<T, R>(items: readonly T[], command: (item: T) => Promise<R>): Promise<(R | Error)[]> {
    if (this.#closed) return Promise.reject(new MemError('USE_AFTER_RELEASE', 'the Redis KV tier was closed'));
    this.#commandCount += items.length;
    const results = new Array<R | Error | undefined>(items.length);
    let unanswered = items.length;
    if (unanswered === 0) return Promise.resolve([]);
    return new Promise((resolve) => {
      // After a long synchronous task the timer fires before the answers waiting in the socket are
      // read: give them one turn of the event loop's I/O phase before giving up on the rest.
      const timer =
        this.#timeoutMs === 0
          ? undefined
          : setTimeout(
              () =>
                setImmediate(() => {
                  const late = new MemError('EXHAUSTED', `Redis did not answer within ${this.#timeoutMs} ms`);
                  for (let i = 0; i < results.length; i += 1) if (results[i] === undefined) results[i] = late;
                  finish();
                }),
              this.#timeoutMs,
            );
      const finish = (): void => {
        if (unanswered < 0) return; // finished already
        unanswered = -1;
        clearTimeout(timer);
        resolve(results as (R | Error)[]);
      };
      items.forEach((item, i) => {
        let sent: Promise<R>;
        try {
          sent = command(item);
        } catch (error) {
          sent = Promise.reject(error);
        }
        sent
          .catch((error: unknown) => (error instanceof Error ? error : new Error(String(error))))
          .then((result) => {
            if (unanswered < 0) return; // answered after the timeout: dropped
            results[i] = result;
            unanswered -= 1;
            if (unanswered === 0) finish();
          });
      });
    });
  }
}
