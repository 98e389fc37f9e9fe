/**
 * KV tiers against the clients they are built on, in one process, interleaved: a load of 64 KV
 * blocks from Redis through `@mem/kv-connector-redis` and `KvTierConnector` (checked, then copied
 * into the KV store, as a scheduler does) against the `redis` client's own pipelined GETs of the
 * same keys; a save against pipelined SETs; a lookup of 64 hashes against one PING (one round
 * trip) and against 64 EXISTS awaited one by one (64 round trips); and the disk tier of
 * `@mem/paged-kv/node` against plain `readFile` (both its promise and its callback form, which the
 * tier uses) and `writeFile` of as many files of the same size.
 * It starts its own redis-server on a free loopback port and stops it at the end.
 */
import { mkdirSync, mkdtempSync, readFile as readFileCallback, readdirSync, rmSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KvStore, KvTierConnector, type KvBlockTier } from '@mem/paged-kv';
import { DiskKvTier } from '@mem/paged-kv/node';
import { RedisKvTier } from '@mem/kv-connector-redis';
import { startRedis } from '@mem/testkit/redis-server';
import { seededRandom } from '@mem/testkit/seeded-random';
import { RESP_TYPES, createClient } from 'redis';
import { summarize } from '../statistics.js';
import type { BenchContext, Suite } from '../suite.js';

/** A mid-sized model's block: 4 layers, 4 KV heads of 64, 16 tokens, float32: 128 KiB per value. */
const LAYOUT = { numLayers: 4, numKvHeads: 4, headDim: 64, blockSize: 16 } as const;
const BLOCKS = 64;
const CONNECTOR = '@mem/paged-kv KvTierConnector';

/** One implementation of an asynchronous case: `run` performs the operation once. */
interface AsyncImpl {
  readonly name: string;
  run(): Promise<unknown>;
}

/**
 * Times every implementation `samples` times, one operation per sample, round by round with the
 * first rotating, and records each (and its GB/s when the case moves `bytes`).
 */
async function compareAsync(
  context: BenchContext,
  caseName: string,
  impls: readonly AsyncImpl[],
  bytes = 0,
): Promise<number[]> {
  const samples = context.quick ? 10 : 30;
  for (const impl of impls) await impl.run(); // warm-up
  const timings = impls.map(() => [] as number[]);
  for (let round = 0; round < samples; round += 1) {
    for (let k = 0; k < impls.length; k += 1) {
      const index = (round + k) % impls.length;
      const started = process.hrtime.bigint();
      await impls[index]!.run();
      timings[index]!.push(Number(process.hrtime.bigint() - started));
    }
    context.progress(caseName, round + 1, samples);
  }
  return impls.map((impl, index) => {
    const { nsPerOp } = context.record(caseName, impl.name, summarize(timings[index]!));
    if (bytes > 0) context.figure(caseName, impl.name, Math.round((bytes / nsPerOp) * 1000) / 1000, 'GB/s');
    return nsPerOp;
  });
}

/** A store of `BLOCKS` blocks of random K and V, 64 digests, and a connector over `tier`. */
function fixture(tier: KvBlockTier): { store: KvStore; connector: KvTierConnector; hashes: Uint32Array } {
  const store = new KvStore({ ...LAYOUT, numBlocks: 2 * BLOCKS });
  const random = seededRandom(14);
  for (let layer = 0; layer < LAYOUT.numLayers; layer += 1) {
    for (const array of [store.keys(layer), store.values(layer)]) {
      for (let i = 0; i < array.length; i += 1) array[i] = random() - 0.5;
    }
  }
  const hashes = Uint32Array.from({ length: BLOCKS * 4 }, () => Math.floor(random() * 2 ** 32));
  return { store, connector: new KvTierConnector({ tier, store, model: 'bench-model' }), hashes };
}

const BLOCK_INDEXES = Array.from({ length: BLOCKS }, (_, i) => i);

/** A load as the scheduler does it: fetch and check, then copy each block into the store. */
async function loadInto(connector: KvTierConnector, hashes: Uint32Array): Promise<number> {
  const loaded = await connector.load(hashes);
  if (loaded.count !== BLOCKS) throw new Error(`the tier delivered ${loaded.count} of ${BLOCKS} blocks`);
  for (let i = 0; i < loaded.count; i += 1) loaded.write(i, BLOCKS + i);
  return loaded.count;
}

/** The plain `redis` client, values as Buffers, with the tier's socket setting (a pipeline goes to the socket at once). */
function rawClient(url: string) {
  return createClient({
    url,
    socket: { writableHighWaterMark: 1 << 30 } as object,
    commandOptions: { typeMapping: { [RESP_TYPES.BLOB_STRING]: Buffer } },
  });
}

type RawClient = ReturnType<typeof rawClient>;

/** Redis's count of socket reads (`total_reads_processed`). */
async function redisReads(raw: RawClient): Promise<number> {
  const info = String(await raw.info('stats'));
  return Number(/total_reads_processed:(\d+)/.exec(info)?.[1] ?? NaN);
}

/**
 * How many socket reads Redis needed to receive one call of `impl` (the median of 5): the commands
 * of one pipelined call arrive together and are read at once, those awaited one by one each need
 * a read of their own. The INFO that reads the count after the call costs one read itself.
 */
async function socketReads(raw: RawClient, impl: AsyncImpl): Promise<number> {
  const reads: number[] = [];
  for (let i = 0; i < 5; i += 1) {
    const before = await redisReads(raw);
    await impl.run();
    reads.push((await redisReads(raw)) - before - 1);
  }
  return reads.sort((a, b) => a - b)[2]!;
}

async function redisCases(context: BenchContext): Promise<void> {
  const redis = await startRedis({ maxmemory: '512mb' });
  const tier = await RedisKvTier.connect({ url: redis.url });
  const raw = rawClient(redis.url);
  raw.on('error', () => {});
  await raw.connect();
  try {
    const { connector, hashes } = fixture(tier);
    const keys = BLOCK_INDEXES.map((i) => connector.keyOf(hashes, i));
    const bytes = BLOCKS * connector.valueBytes;
    if (!(await connector.save(hashes, BLOCK_INDEXES))) throw new Error('could not save to Redis');
    const values = (await tier.get(keys)) as Buffer[];
    const rawKeys = keys.map((key) => `raw/${key}`);

    await compareAsync(
      context,
      `load ${BLOCKS} blocks of ${connector.valueBytes >> 10} KiB from Redis`,
      [
        { name: 'redis client: pipelined GET', run: () => Promise.all(keys.map((key) => raw.get(key))) },
        { name: `${CONNECTOR} over RedisKvTier: load (checked)`, run: () => connector.load(hashes) },
        { name: `${CONNECTOR} over RedisKvTier: load + copy into KvStore`, run: () => loadInto(connector, hashes) },
      ],
      bytes,
    );
    await compareAsync(
      context,
      `save ${BLOCKS} blocks of ${connector.valueBytes >> 10} KiB to Redis`,
      [
        {
          name: 'redis client: pipelined SET',
          run: () => Promise.all(rawKeys.map((key, i) => raw.set(key, values[i]!))),
        },
        { name: `${CONNECTOR} over RedisKvTier: save (encoded)`, run: () => connector.save(hashes, BLOCK_INDEXES) },
      ],
      bytes,
    );
    const lookupCase = `lookup of ${BLOCKS} hashes in Redis`;
    const lookups: AsyncImpl[] = [
      { name: `${CONNECTOR} over RedisKvTier: lookup`, run: () => connector.lookup(hashes) },
      { name: 'redis client: one PING (one round trip)', run: () => raw.ping() },
      {
        name: `redis client: ${BLOCKS} EXISTS one after another`,
        run: async () => {
          for (const key of keys) await raw.exists(key);
        },
      },
    ];
    await compareAsync(context, lookupCase, lookups);
    for (const impl of [lookups[0]!, lookups[2]!]) {
      context.figure(lookupCase, impl.name, await socketReads(raw, impl), 'Redis socket reads per call (round trips)');
    }
  } finally {
    await raw.close().catch(() => raw.destroy());
    await tier.close();
    await redis.close();
  }
}

async function diskCases(context: BenchContext): Promise<void> {
  const directory = mkdtempSync(join(tmpdir(), 'mem-bench-kv-tier-'));
  try {
    const tier = await DiskKvTier.open({ directory: join(directory, 'tier'), maxBytes: 1 << 30 });
    const { connector, hashes } = fixture(tier);
    const bytes = BLOCKS * connector.valueBytes;
    if (!(await connector.save(hashes, BLOCK_INDEXES))) throw new Error('could not save to the directory');
    const files = readdirSync(tier.directory).map((name) => join(tier.directory, name));
    const values = await Promise.all(files.map((file) => readFile(file)));
    const plain = join(directory, 'plain');
    mkdirSync(plain);

    await compareAsync(
      context,
      `load ${BLOCKS} blocks of ${connector.valueBytes >> 10} KiB from a directory`,
      [
        { name: 'fs: readFile of each file', run: () => Promise.all(files.map((file) => readFile(file))) },
        {
          name: 'fs: readFile of each file (callback form)',
          run: () =>
            Promise.all(
              files.map(
                (file) =>
                  new Promise((resolve, reject) =>
                    readFileCallback(file, (error, bytes) => (error === null ? resolve(bytes) : reject(error))),
                  ),
              ),
            ),
        },
        { name: `${CONNECTOR} over DiskKvTier: load + copy into KvStore`, run: () => loadInto(connector, hashes) },
      ],
      bytes,
    );
    await compareAsync(
      context,
      `save ${BLOCKS} blocks of ${connector.valueBytes >> 10} KiB to a directory`,
      [
        {
          name: 'fs: writeFile of each file',
          run: () => Promise.all(values.map((value, i) => writeFile(join(plain, String(i)), value))),
        },
        {
          name: `${CONNECTOR} over DiskKvTier: save (encoded, renamed into place)`,
          run: () => connector.save(hashes, BLOCK_INDEXES),
        },
      ],
      bytes,
    );
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

const suite: Suite = {
  name: 'kv-tier',
  description: 'KV tiers: Redis load/save/lookup against the redis client, the disk tier against fs',
  async run(context) {
    await redisCases(context);
    await diskCases(context);
  },
};

export default suite;
