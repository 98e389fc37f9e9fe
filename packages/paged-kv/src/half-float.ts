/**
 * Conversions between float32 and the two 16-bit storage formats of the KV store: IEEE 754
 * binary16 (`float16`) and bfloat16 (the top half of a float32). Both round to nearest even.
 *
 * This module is browser compatible.
 * @module
 */

const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

/** bfloat16 bits of `value` (round to nearest even; NaN stays NaN). Cost: O(1). */
export function toBfloat16(value: number): number {
  F32[0] = value;
  const bits = U32[0]!;
  if ((bits & 0x7f800000) === 0x7f800000 && (bits & 0x7fffff) !== 0) return (bits >>> 16) | 0x40;
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

/** The float32 value of bfloat16 bits. Cost: O(1). */
export function fromBfloat16(bits: number): number {
  U32[0] = bits << 16;
  return F32[0]!;
}

/** IEEE binary16 bits of `value` (round to nearest even, overflow to infinity). Cost: O(1). */
export function toFloat16(value: number): number {
  F32[0] = value;
  const x = U32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  let mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa !== 0 ? 0x200 : 0);
  const e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = mantissa & ((1 << shift) - 1);
    let result = mantissa >>> shift;
    if (rest > half || (rest === half && (result & 1) === 1)) result += 1;
    return sign | result;
  }
  let result = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (result & 1) === 1)) result += 1; // may carry into the exponent: correct
  return sign | result;
}

let float16Table: Float32Array | undefined;

/** The float32 value of binary16 bits (through a 256 KiB table built on first use). Cost: O(1). */
export function fromFloat16(bits: number): number {
  return float16Decoder()[bits & 0xffff]!;
}

/** The decoding table of every binary16 value. */
export function float16Decoder(): Float32Array {
  return (float16Table ??= buildFloat16Table());
}

function buildFloat16Table(): Float32Array {
  const table = new Float32Array(65536);
  for (let bits = 0; bits < 65536; bits += 1) {
    const sign = bits & 0x8000 ? -1 : 1;
    const exponent = (bits >>> 10) & 0x1f;
    const mantissa = bits & 0x3ff;
    let value: number;
    if (exponent === 0) value = mantissa * 2 ** -24;
    else if (exponent === 0x1f) value = mantissa === 0 ? Infinity : NaN;
    else value = (1 + mantissa / 1024) * 2 ** (exponent - 15);
    table[bits] = sign * value;
  }
  return table;
}
