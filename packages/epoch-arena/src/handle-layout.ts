/**
 * The bit layout of an arena handle: one JavaScript number that packs where an allocation lives,
 * how long it is, which arena issued it and in which generation, so that handing out and
 * checking a handle creates no object.
 *
 * ```
 *  bit 52     47 46          37 36         28 27                       0
 *     | arena id |  generation  |   length    |  address (8-byte units)  |
 *     |  6 bits  |   10 bits    |   9 bits    |         28 bits          |
 * ```
 *
 * - **address** (28 bits): the allocation's start in 8-byte units, so every allocation starts on
 *   an 8-byte boundary (the minimum alignment). A block arena splits it into a block index (high
 *   bits) and an offset inside the block (low `log2(blockSize) - 3` bits); a shared arena uses it as
 *   the offset inside its one shared region. 2^28 units are 2 GiB per arena and generation.
 * - **length** (9 bits): the byte length, 0 to 510, inline. 511 is an escape: the allocation is 511
 *   bytes or longer and its exact length sits in an 8-byte header just before its first byte (the
 *   length and a check word that binds it to the handle's tag, so a damaged or forged header is
 *   rejected). Keys (at most 256 bytes) never need the header.
 * - **generation** (10 bits): how many times the arena has been reset, modulo 1024. A handle whose
 *   generation differs from the arena's is stale. A handle kept across an exact multiple of 1024
 *   resets is not detected as stale: the check is an ABA tag, not a proof.
 * - **arena id** (6 bits, never 0): which arena issued the handle. Arenas of one process get ids
 *   from a counter that starts at a random value, arenas of one pool get distinct ids, and a handle
 *   whose id differs is foreign. More than 63 arenas alive at once share ids, so foreign detection
 *   is best effort beyond that.
 *
 * The largest handle is below 2^53, so every handle is a safe integer that survives arithmetic-free
 * storage in a `Float64Array`, a JSON document or a `postMessage`. Handles above 2^31 are not small
 * integers to V8: keep many of them in a `Float64Array` rather than a plain array to avoid boxing.
 *
 * Checks made by every access through a handle, in order: a number, an integer, in range of the
 * layout (else INVALID_ARGUMENT); the arena id (FOREIGN_HANDLE); the generation (STALE_HANDLE);
 * the address inside the bytes used in this generation, and for long allocations the header
 * (INVALID_ARGUMENT). What cannot be caught: a number forged by arithmetic on a real handle that
 * lands on another allocation of the same arena and generation; arenas keep no per-allocation
 * record, which is what makes their reset O(blocks).
 *
 * This module is browser compatible.
 * @module
 */

/** 2^28: the multiplier that puts the tag-and-length word above the address. */
export const ADDRESS_SPAN = 268435456;
/** Bits of the address field. */
export const ADDRESS_BITS = 28;
/** Bits of the inline length field. */
export const LENGTH_BITS = 9;
/** The inline length value that means "the length is in the header". */
export const LENGTH_ESCAPE = 511;
/** Bits of the generation field. */
export const GENERATION_BITS = 10;
/** Mask of the generation field. */
export const GENERATION_MASK = 1023;
/** The largest arena id. */
export const MAX_ARENA_ID = 63;
/** Size of the header in front of an escaped-length allocation. */
export const HEADER_SIZE = 8;
/** The value mixed into the header's check word. */
const HEADER_CHECK = 0x5a17c0de;

/**
 * The tag of an arena in one generation: arena id and generation, the top 16 bits of a handle.
 * Cost: O(1).
 */
export function arenaTag(id: number, generation: number): number {
  return (id << GENERATION_BITS) | (generation & GENERATION_MASK);
}

/** The word above the address for a tag: `tag << 9`; add the length and multiply by 2^28. */
export function tagBase(tag: number): number {
  return tag << LENGTH_BITS;
}

/** The top 25 bits of a handle (tag and length), or NaN-ish garbage for a non-handle. */
function handleTop(handle: number): number {
  return Math.floor(handle / ADDRESS_SPAN);
}

/** The check word stored beside a long allocation's length in its header. */
function headerCheck(length: number, tag: number): number {
  return (length ^ HEADER_CHECK ^ (tag * 0x9e37)) | 0;
}

/** Writes the header of a long allocation at `position` of `bytes` (little-endian words). */
export function writeHeader(bytes: Uint8Array, position: number, length: number, tag: number): void {
  writeWord(bytes, position, length);
  writeWord(bytes, position + 4, headerCheck(length, tag));
}

/**
 * Reads the length in the header at `position`, or -1 if the header's check word does not match
 * the tag (a damaged header, or a forged handle pointing at bytes that are no header).
 */
export function readHeader(bytes: Uint8Array, position: number, tag: number): number {
  const length = readWord(bytes, position) >>> 0;
  return readWord(bytes, position + 4) === headerCheck(length, tag) ? length : -1;
}

function writeWord(bytes: Uint8Array, position: number, value: number): void {
  bytes[position] = value & 255;
  bytes[position + 1] = (value >>> 8) & 255;
  bytes[position + 2] = (value >>> 16) & 255;
  bytes[position + 3] = (value >>> 24) & 255;
}

function readWord(bytes: Uint8Array, position: number): number {
  return bytes[position]! | (bytes[position + 1]! << 8) | (bytes[position + 2]! << 16) | (bytes[position + 3]! << 24);
}

/** The fields of a handle, decoded without checking them against any arena. */
export interface DecodedHandle {
  /** The arena id field. */
  readonly arenaId: number;
  /** The generation field (the arena's generation modulo 1024 when it was issued). */
  readonly generation: number;
  /** The inline length field; 511 means the length is in a header. */
  readonly inlineLength: number;
  /** The address field in 8-byte units. */
  readonly address: number;
}

/**
 * Splits `handle` into its fields, or returns `undefined` if it is not a number of the layout
 * (not a number, not an integer, negative, or 2^53 and above). Slow path only.
 */
export function decodeHandle(handle: unknown): DecodedHandle | undefined {
  if (typeof handle !== 'number' || !Number.isSafeInteger(handle) || handle < 0) return undefined;
  const top = handleTop(handle);
  return {
    arenaId: top >>> (LENGTH_BITS + GENERATION_BITS),
    generation: (top >>> LENGTH_BITS) & GENERATION_MASK,
    inlineLength: top & LENGTH_ESCAPE,
    address: handle - top * ADDRESS_SPAN,
  };
}
