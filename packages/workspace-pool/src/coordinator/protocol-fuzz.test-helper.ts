/**
 * Random values to post on the coordinator's ports: anything structured clone can carry, and
 * near-misses of real messages (requests, answers, events, control messages) with fields of every
 * wrong kind. Deterministic from the `random` generator given.
 */

/** Field names of the protocol's messages, so that random objects come close to real ones. */
const FIELDS = ['id', 'op', 'pool', 'size', 'label', 'slot', 'serial', 'throwIfBlocked', 'kind', 'event', 'ok'];
const OPS = ['acquire', 'release', 'defragment', 'stats', 'snapshot', 'ACQUIRE', '', 'toString', '__proto__'];

function pick<T>(random: () => number, values: readonly T[]): T {
  return values[Math.floor(random() * values.length)]!;
}

/** A number of any kind: integers near the edges, fractions, NaN, infinities, negative zero. */
export function fuzzNumber(random: () => number): number {
  return pick(random, [
    0,
    -0,
    1,
    -1,
    1.5,
    NaN,
    Infinity,
    -Infinity,
    2 ** 31,
    2 ** 32,
    2 ** 53,
    2 ** 60,
    Number.MAX_VALUE,
    Math.floor(random() * 100),
    Math.floor(random() * 1e9),
  ]);
}

/** A scalar of any cloneable kind. */
function fuzzScalar(random: () => number): unknown {
  return pick(random, [
    () => null,
    () => undefined,
    () => random() < 0.5,
    () => fuzzNumber(random),
    () => pick(random, ['', 'activations', 'x'.repeat(1 + Math.floor(random() * 64)), '0', 'release']),
    () => BigInt(Math.floor(random() * 1000)),
    () => new Date(0),
    () => new Uint8Array(Math.floor(random() * 8)),
    () => new SharedArrayBuffer(8),
    () => new Map([[1, 2]]),
    () => new Error('fuzz'),
  ])();
}

/** Any cloneable value, nested up to `depth` levels. */
export function fuzzValue(random: () => number, depth = 2): unknown {
  const roll = random();
  if (depth <= 0 || roll < 0.4) return fuzzScalar(random);
  if (roll < 0.5) return Array.from({ length: Math.floor(random() * 4) }, () => fuzzValue(random, depth - 1));
  const object: Record<string, unknown> = {};
  for (let i = Math.floor(random() * 6); i > 0; i -= 1) {
    object[pick(random, FIELDS)] = random() < 0.5 ? fuzzValue(random, depth - 1) : fuzzScalar(random);
  }
  return object;
}

/**
 * A request of the client protocol with some fields right and some wrong: `id` from `nextId` (a
 * usable id) or of a wrong kind, `op` real or not, fields of the right or a wrong type.
 */
export function fuzzRequest(
  random: () => number,
  nextId: () => number,
  pools: readonly string[],
): Record<string, unknown> {
  const request: Record<string, unknown> = {
    id: random() < 0.85 ? nextId() : fuzzScalar(random),
    op: random() < 0.8 ? pick(random, OPS) : fuzzScalar(random),
  };
  const field = (good: () => unknown): unknown => (random() < 0.6 ? good() : fuzzValue(random, 1));
  if (random() < 0.9) request.pool = field(() => pick(random, [...pools, 'nope']));
  if (random() < 0.8) request.size = field(() => 1 + Math.floor(random() * 8192));
  if (random() < 0.3) request.label = field(() => 'fuzz');
  if (random() < 0.6) request.slot = field(() => Math.floor(random() * 8));
  if (random() < 0.6) request.serial = field(() => Math.floor(random() * 64));
  if (random() < 0.3) request.throwIfBlocked = field(() => random() < 0.5);
  return request;
}
