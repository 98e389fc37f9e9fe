/** Sends one command with redis-cli to the server on `port` and returns its output, trimmed. */
export declare function redisCli(port: number, ...args: string[]): Promise<string>;

/** A redis-server this process started. */
export interface RedisServer {
  readonly port: number;
  /** `redis://127.0.0.1:<port>`. */
  readonly url: string;
  /** With `tls`: `rediss://127.0.0.1:<another port>`, where it asks clients for a certificate signed by `certificate`. */
  readonly tlsUrl: string | undefined;
  /** With `tls`: its self-signed certificate for 127.0.0.1 and the key (PEM): the CA to trust, and a client certificate it accepts. */
  readonly certificate: { readonly cert: string; readonly key: string } | undefined;
  /** Whether it runs now. */
  readonly running: boolean;
  /** Sends one command with redis-cli. */
  cli(...command: string[]): Promise<string>;
  /** Stops it (SIGTERM); its data is gone (nothing is saved). */
  stop(): Promise<void>;
  /** Starts it again on the same port (after `stop`). */
  start(): Promise<void>;
  /** Stops and starts it: an empty server on the same port. */
  restart(): Promise<void>;
  /** Stops it and removes its directory. */
  close(): Promise<void>;
}

/**
 * Starts Debian's redis-server on a free loopback port: `--save "" --appendonly no`, `maxmemory` (64mb) with allkeys-lru;
 * with `tls`, also a TLS port with a self-signed certificate made by openssl.
 */
export declare function startRedis(options?: {
  maxmemory?: string;
  args?: string[];
  tls?: boolean;
}): Promise<RedisServer>;

/** A Redis Cluster this process started. */
export interface RedisCluster {
  /** The masters' URLs. */
  readonly urls: string[];
  readonly ports: number[];
  /** Sends one command to master `index` with redis-cli. */
  cli(index: number, ...command: string[]): Promise<string>;
  /** Stops master `index` (its slots fail until it is back). */
  stopNode(index: number): Promise<void>;
  /** Starts master `index` again (it rejoins with its slots, empty). */
  startNode(index: number): Promise<void>;
  /** Stops every node and removes their directories. */
  close(): Promise<void>;
}

/** Starts `masters` (3) cluster-enabled redis-servers on free loopback ports and joins them with `redis-cli --cluster create`. */
export declare function startRedisCluster(options?: { masters?: number; maxmemory?: string }): Promise<RedisCluster>;
