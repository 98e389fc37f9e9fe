import { mkdtempSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expectMemError } from '@mem/testkit/expect-mem-error';
import { blockHashChain } from '../block-hash-chain.js';
import { KvTierConnector } from '../connector/kv-tier-connector.js';
import { generate, prompt, toyServer } from '../connector/toy-engine.test-helper.js';
import { KvStore } from '../kv-store.js';
import { DiskKvTier } from './disk-kv-tier.js';

let directory: string;
beforeEach(() => {
  directory = mkdtempSync(join(tmpdir(), 'mem-disk-tier-'));
});
afterEach(() => rmSync(directory, { recursive: true, force: true }));

const bytes = (n: number, fill: number): Uint8Array => new Uint8Array(n).fill(fill);
const kvFiles = (): string[] => readdirSync(directory).filter((name) => name.endsWith('.kv'));

describe('DiskKvTier', () => {
  it('stores values as files and reads them back in order, stopping at the first it lacks', async () => {
    const tier = await DiskKvTier.open({ directory, maxBytes: 1000 });
    await tier.set([
      { key: 'a', value: bytes(10, 1) },
      { key: 'b', value: bytes(20, 2) },
    ]);
    expect(kvFiles()).toHaveLength(2);
    expect(await tier.lookup(['a', 'b', 'c'])).toBe(2);
    expect(await tier.lookup(['c', 'a'])).toBe(0);
    expect((await tier.get(['a', 'b', 'c', 'a'])).map((value) => value?.[0])).toEqual([1, 2]);
    expect(tier.bytes).toBe(30);
  });

  it('removes the least recently used files past its byte budget', async () => {
    const tier = await DiskKvTier.open({ directory, maxBytes: 30 });
    await tier.set([{ key: 'a', value: bytes(10, 1) }]);
    await tier.set([{ key: 'b', value: bytes(10, 2) }]);
    await tier.set([{ key: 'c', value: bytes(10, 3) }]);
    await tier.get(['a']);
    await tier.set([{ key: 'd', value: bytes(10, 4) }]);
    expect(await tier.lookup(['b'])).toBe(0);
    expect(await tier.lookup(['a', 'c', 'd'])).toBe(3);
    await tier.set([{ key: 'huge', value: bytes(31, 5) }]);
    expect(await tier.lookup(['huge'])).toBe(0);
    expect(kvFiles()).toHaveLength(3);
  });

  it('finds the values of a previous run when reopened, oldest first within the budget', async () => {
    const first = await DiskKvTier.open({ directory, maxBytes: 100 });
    for (const key of ['a', 'b', 'c']) {
      await first.set([{ key, value: bytes(10, key.charCodeAt(0)) }]);
      await new Promise((resolve) => setTimeout(resolve, 15)); // distinct modification times
    }
    writeFileSync(join(directory, 'left-over.kv.1.2.tmp'), 'x');
    const reopened = await DiskKvTier.open({ directory, maxBytes: 25 });
    expect(await reopened.lookup(['a'])).toBe(0);
    expect(await reopened.lookup(['b', 'c'])).toBe(2);
    expect(readdirSync(directory).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });

  it('serves a KV cache across servers and restarts: same tokens, a truncated file is a short miss', async () => {
    const shared = prompt(3, 40);
    const follow = [...shared, ...prompt(4, 7)];
    const serve = async (tier: DiskKvTier) => {
      let connector!: KvTierConnector;
      const server = toyServer(64, {}, (store) => {
        connector = new KvTierConnector({ tier, store, model: 'toy' });
        return { connector };
      });
      return { server, connector };
    };
    const reference = await generate(toyServer(64), [follow]);
    const writer = await serve(await DiskKvTier.open({ directory, maxBytes: 1 << 20 }));
    await generate(writer.server, [shared]);
    await writer.connector.flush();
    const files = kvFiles();
    expect(files.length).toBe(11);

    const reader = await serve(await DiskKvTier.open({ directory, maxBytes: 1 << 20 }));
    expect(await generate(reader.server, [follow])).toEqual(reference);
    expect(reader.server.kv.stats().tierHitTokens).toBe(40);

    const key = reader.connector.keyOf(blockHashChain(shared, 4), 2);
    const { createHash } = await import('node:crypto');
    truncateSync(join(directory, `${createHash('sha256').update(key).digest('hex')}.kv`), 100);
    const third = await serve(await DiskKvTier.open({ directory, maxBytes: 1 << 20 }));
    expect(await generate(third.server, [follow])).toEqual(reference);
    expect(third.server.kv.stats().tierHitTokens).toBe(8);
    expect(third.connector.stats().errors.short).toBe(1);
  });

  it('open throws INVALID_ARGUMENT for bad options and NOT_FOUND for a directory it cannot use', async () => {
    for (const options of [
      undefined,
      null,
      {},
      { directory: '', maxBytes: 1 },
      { directory, maxBytes: 0 },
      { directory, maxBytes: 1, x: 1 },
    ]) {
      await expect(DiskKvTier.open(options as never)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    }
    const file = join(directory, 'a-file');
    writeFileSync(file, 'x');
    await expect(DiskKvTier.open({ directory: join(file, 'sub'), maxBytes: 10 })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    expectMemError(() => new KvStore({ numLayers: 0 } as never), 'INVALID_ARGUMENT');
  });
});
