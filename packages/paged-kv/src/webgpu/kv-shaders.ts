/**
 * The WGSL of the GPU KV store and paged attention, generated for one layout so that the
 * dimensions are constants the shader compiler can unroll with.
 *
 * Storage: each layer's K and V live in buffers of `blocksPerBuffer` blocks ("shards"): the K of
 * the shard's blocks, then their V, each block `[kvHead][slot][dim]` as in the CPU `KvStore`.
 * float32 is an `array<f32>`; the 16-bit types are packed two to a 32-bit word (element `2i` in
 * the low half, as a little-endian `Uint16Array` holds them), unpacked to f32 in the kernels, so
 * the bytes of a shard equal those of the CPU store's blocks and no `shader-f16` feature is needed.
 *
 * Every kernel binds at most four storage buffers (the least any device offers in compatibility
 * mode) and reads the per-shard constants from a uniform.
 *
 * This module is browser compatible.
 * @module
 */
import type { KvDType } from '../kv-store-layout.js';

/** Threads per workgroup of every kernel. */
export const WORKGROUP_SIZE = 64;
/** Positions one attention workgroup scores (one partition of a row's context). */
export const PARTITION = 256;
/** Words of the step metadata before the per-row records. */
export const META_HEADER = 4;
/** Words of one row's record: context length, where its block table starts, its slot, padding. */
export const META_ROW = 4;

/** The constants a store's kernels are generated for. */
export interface KernelLayout {
  readonly numKvHeads: number;
  readonly blockSize: number;
  readonly headDim: number;
  readonly dtype: KvDType;
}

/** The attention's constants on top of the layout. */
export interface AttentionLayout extends KernelLayout {
  readonly numQueryHeads: number;
  readonly scale: number;
  readonly shards: number;
}

/** A WGSL float literal of `value` (f32 precision). */
function float(value: number): string {
  const text = Math.fround(value).toPrecision(9);
  return text.includes('.') || text.includes('e') ? text : `${text}.0`;
}

/** Declarations every kernel over the store shares: dimensions, the shard uniform, the element codec. */
function common(layout: KernelLayout): string {
  const { numKvHeads: H, blockSize: BS, headDim: D, dtype } = layout;
  const word = dtype === 'float32' ? 'f32' : 'u32';
  return `
const H = ${H}u;
const BS = ${BS}u;
const D = ${D}u;
const E = ${H * BS * D}u;
const WG = ${WORKGROUP_SIZE}u;
alias KvWord = ${word};
struct Shard { first: u32, count: u32, index: u32, pad: u32 }
@group(0) @binding(0) var<uniform> shard: Shard;
fn inShard(block: u32) -> bool { return block >= shard.first && block - shard.first < shard.count; }
${codec(dtype)}
`;
}

/** `load(kv, i)` of element `i` as f32, and `pack(a, b)` of two elements into a storage word. */
function codec(dtype: KvDType): string {
  switch (dtype) {
    case 'float32':
      return 'fn decode(w: KvWord, i: u32) -> f32 { return w; }';
    case 'float16':
      return `fn decode(w: KvWord, i: u32) -> f32 { return unpack2x16float(w)[i & 1u]; }
fn pack(a: f32, b: f32) -> u32 { return pack2x16float(vec2f(a, b)); }`;
    case 'bfloat16':
      return `fn decode(w: KvWord, i: u32) -> f32 { return bitcast<f32>(select(w << 16u, w & 0xffff0000u, (i & 1u) == 1u)); }
fn bf16(x: f32) -> u32 {
  let bits = bitcast<u32>(x);
  if ((bits & 0x7f800000u) == 0x7f800000u && (bits & 0x7fffffu) != 0u) { return (bits >> 16u) | 0x40u; }
  return ((bits + 0x7fffu + ((bits >> 16u) & 1u)) >> 16u) & 0xffffu;
}
fn pack(a: f32, b: f32) -> u32 { return bf16(a) | (bf16(b) << 16u); }`;
  }
}

/** The word index of element `i` (16-bit types hold two elements a word). */
function wordOf(dtype: KvDType, i: string): string {
  return dtype === 'float32' ? i : `(${i}) >> 1u`;
}

/**
 * Writes the K and V rows of a step into the slots its metadata names, for the blocks of one
 * shard. Dispatch `(ceil(units / WG), rows)`, a unit being one element (float32) or two (16-bit).
 */
export function writeKernel(layout: KernelLayout): string {
  const pair = layout.dtype === 'float32' ? 1 : 2;
  const store =
    pair === 1
      ? `kv[at] = keys[src];
  kv[v + at] = values[src];`
      : `kv[at >> 1u] = pack(keys[src], keys[src + 1u]);
  kv[(v + at) >> 1u] = pack(values[src], values[src + 1u]);`;
  return `${common(layout)}
@group(0) @binding(1) var<storage, read> step: array<u32>;
@group(0) @binding(2) var<storage, read> keys: array<f32>;
@group(0) @binding(3) var<storage, read> values: array<f32>;
@group(0) @binding(4) var<storage, read_write> kv: array<KvWord>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) g: vec3u) {
  let e = g.x * ${pair}u;
  let row = g.y;
  if (e >= H * D || row >= step[0]) { return; }
  let slot = step[${META_HEADER}u + row * ${META_ROW}u + 2u];
  let block = slot / BS;
  if (!inShard(block)) { return; }
  let at = (((block - shard.first) * H + e / D) * BS + slot % BS) * D + e % D;
  let v = shard.count * E;
  let src = row * H * D + e;
  ${store}
}
`;
}

/**
 * Scores one partition of `PARTITION` positions of one row's context for one query head, over the
 * blocks of one shard, and writes the partial result: the largest score `m`, the sum `l` of
 * `exp(score - m)` and the `headDim` sums of `exp(score - m) * v`. Positions in other shards score
 * nothing (a partial with `l = 0` when none is here). Dispatch `(partitions, numQueryHeads, rows)`.
 */
export function attentionKernel(layout: AttentionLayout): string {
  const { dtype, numQueryHeads, numKvHeads, scale } = layout;
  const load = (i: string): string => `decode(kv[${wordOf(dtype, i)}], ${i})`;
  return `${common(layout)}
const QH = ${numQueryHeads}u;
const GROUP = ${numQueryHeads / numKvHeads}u;
const P = ${PARTITION}u;
const SCALE = ${float(scale)};
const NONE = -3.0e38;
@group(0) @binding(1) var<storage, read> step: array<u32>;
@group(0) @binding(2) var<storage, read> query: array<f32>;
@group(0) @binding(3) var<storage, read> kv: array<KvWord>;
@group(0) @binding(4) var<storage, read_write> partials: array<f32>;
var<workgroup> q: array<f32, D>;
var<workgroup> weights: array<f32, P>;
var<workgroup> reduced: array<f32, WG>;
var<workgroup> context: u32;

fn slotBase(block: u32, kvh: u32, pos: u32) -> u32 {
  return (((block - shard.first) * H + kvh) * BS + pos % BS) * D;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) t: u32) {
  let part = wid.x;
  let qh = wid.y;
  let row = wid.z;
  let info = ${META_HEADER}u + row * ${META_ROW}u;
  if (t == 0u) { context = step[info]; }
  let ctx = workgroupUniformLoad(&context);
  let start = part * P;
  if (start >= ctx) { return; }
  let table = step[info + 1u];
  let count = min(ctx - start, P);
  let kvh = qh / GROUP;
  for (var d = t; d < D; d += WG) { q[d] = query[(row * QH + qh) * D + d]; }
  workgroupBarrier();

  var m = NONE;
  for (var j = t; j < P; j += WG) {
    var s = NONE;
    if (j < count) {
      let pos = start + j;
      let block = step[table + pos / BS];
      if (inShard(block)) {
        let base = slotBase(block, kvh, pos);
        var dot = 0.0;
        for (var d = 0u; d < D; d++) { dot += q[d] * ${load('base + d')}; }
        s = dot * SCALE;
      }
    }
    weights[j] = s;
    m = max(m, s);
  }
  reduced[t] = m;
  workgroupBarrier();
  for (var half = WG / 2u; half > 0u; half >>= 1u) {
    if (t < half) { reduced[t] = max(reduced[t], reduced[t + half]); }
    workgroupBarrier();
  }
  let top = reduced[0];
  workgroupBarrier();

  var l = 0.0;
  for (var j = t; j < P; j += WG) {
    let s = weights[j];
    let w = select(0.0, exp(s - top), s > -1.0e38);
    weights[j] = w;
    l += w;
  }
  reduced[t] = l;
  workgroupBarrier();
  for (var half = WG / 2u; half > 0u; half >>= 1u) {
    if (t < half) { reduced[t] += reduced[t + half]; }
    workgroupBarrier();
  }

  let out = (((shard.index * step[0] + row) * QH + qh) * step[1] + part) * (D + 2u);
  let v = shard.count * E;
  for (var d = t; d < D; d += WG) {
    var acc = 0.0;
    for (var j = 0u; j < count; j++) {
      let w = weights[j];
      if (w > 0.0) {
        let pos = start + j;
        let i = v + slotBase(step[table + pos / BS], kvh, pos) + d;
        acc += w * ${load('i')};
      }
    }
    partials[out + 2u + d] = acc;
  }
  if (t == 0u) {
    partials[out] = top;
    partials[out + 1u] = reduced[0];
  }
}
`;
}

/**
 * Combines a row's partials of every shard and partition into its attention output, rescaling
 * each by `exp(m - max m)`. Dispatch `(numQueryHeads, rows)`.
 */
export function combineKernel(layout: AttentionLayout): string {
  const { headDim, numQueryHeads, shards } = layout;
  return `
const D = ${headDim}u;
const QH = ${numQueryHeads}u;
const P = ${PARTITION}u;
const SHARDS = ${shards}u;
const WG = ${WORKGROUP_SIZE}u;
@group(0) @binding(0) var<storage, read> step: array<u32>;
@group(0) @binding(1) var<storage, read> partials: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

fn at(s: u32, row: u32, qh: u32, part: u32) -> u32 {
  return (((s * step[0] + row) * QH + qh) * step[1] + part) * (D + 2u);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) t: u32) {
  let qh = wid.x;
  let row = wid.y;
  let parts = (step[${META_HEADER}u + row * ${META_ROW}u] + P - 1u) / P;
  var top = -3.0e38;
  for (var s = 0u; s < SHARDS; s++) {
    for (var p = 0u; p < parts; p++) {
      let i = at(s, row, qh, p);
      if (partials[i + 1u] > 0.0) { top = max(top, partials[i]); }
    }
  }
  var total = 0.0;
  for (var s = 0u; s < SHARDS; s++) {
    for (var p = 0u; p < parts; p++) {
      let i = at(s, row, qh, p);
      if (partials[i + 1u] > 0.0) { total += partials[i + 1u] * exp(partials[i] - top); }
    }
  }
  for (var d = t; d < D; d += WG) {
    var acc = 0.0;
    for (var s = 0u; s < SHARDS; s++) {
      for (var p = 0u; p < parts; p++) {
        let i = at(s, row, qh, p);
        if (partials[i + 1u] > 0.0) { acc += partials[i + 2u + d] * exp(partials[i] - top); }
      }
    }
    out[(row * QH + qh) * D + d] = acc / total;
  }
}
`;
}

/**
 * Copies one block to another block of the same shard, K and V, as raw 32-bit words (the
 * copy-on-write of blocks that WebGPU's `copyBufferToBuffer` cannot do: it refuses copies within
 * one buffer). The uniform holds `(source, target, words of V's offset)`; dispatch a grid whose
 * threads stride over the block's words.
 */
export function copyKernel(layout: KernelLayout): string {
  const words = (layout.numKvHeads * layout.blockSize * layout.headDim) / (layout.dtype === 'float32' ? 1 : 2);
  return `
const W = ${words}u;
const WG = ${WORKGROUP_SIZE}u;
struct Copy { src: u32, dst: u32, v: u32, pad: u32 }
@group(0) @binding(0) var<uniform> copy: Copy;
@group(0) @binding(1) var<storage, read_write> kv: array<u32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) g: vec3u, @builtin(num_workgroups) n: vec3u) {
  for (var w = g.x; w < W; w += n.x * WG) {
    kv[copy.dst * W + w] = kv[copy.src * W + w];
    kv[copy.v + copy.dst * W + w] = kv[copy.v + copy.src * W + w];
  }
}
`;
}
