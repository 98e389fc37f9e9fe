import wabtInit from 'wabt';
import { readFileSync } from 'node:fs';
const wabt = await wabtInit();
const text = readFileSync('packages/paged-kv/src/wasm/attention-kernels.wat', 'utf8');
const mod = wabt.parseWat('a.wat', text, { simd: true });
const bytes = mod.toBinary({}).buffer;
const module = new WebAssembly.Module(bytes);
const memory = new WebAssembly.Memory({ initial: 2000 });
const { exports: k } = new WebAssembly.Instance(module, { env: { memory } });
const H = +process.argv[2] || 32, KVH = +process.argv[3] || 8, D = +process.argv[4] || 64, BS = 16, L = +process.argv[5] || 1024;
const g = H / KVH;
const numBlocks = Math.ceil(L / BS) + 3;
const blockEl = KVH * BS * D;
const f32 = new Float32Array(memory.buffer);
const kBase = 0, vBase = numBlocks * blockEl * 4;
for (let i = 0; i < numBlocks * blockEl; i++) { f32[i] = Math.random() * 2 - 1; f32[numBlocks * blockEl + i] = Math.random() * 2 - 1; }
const tableArr = Array.from({ length: Math.ceil(L / BS) }, (_, i) => (i * 7 + 3) % numBlocks);
// ensure distinct
const scratch = 2 * numBlocks * blockEl * 4 + 1024 * 64;
const table = scratch; const u32 = new Uint32Array(memory.buffer);
tableArr.forEach((b, i) => (u32[table / 4 + i] = b));
const work = table + 16384; const run = Math.min(64, Math.floor(16384 / (4 * D)));
const tile = work + 2 * 16384;
const rec = k.record(D, run);
const q = Float32Array.from({ length: H * D }, () => Math.random() * 2 - 1);
const scale = 1 / Math.sqrt(D);
const i32 = new Int32Array(memory.buffer);
function attendAll(out) {
  for (let h = 0; h < KVH; h++) {
    for (let t = 0; t < g; t++) {
      const r = tile + t * rec;
      for (let d = 0; d < D; d++) f32[r / 4 + d] = q[(h * g + t) * D + d];
      i32[(r + 8 * D + 8) / 4] = L;
    }
    k.begin(tile, g, D, run);
    k.attend(kBase + h * BS * D * 4, vBase + h * BS * D * 4, blockEl * 4, table, tableArr.length, 0, BS, D, 0, run, tile, g, scale, work);
    k.end(tile, g, D, run);
    for (let t = 0; t < g; t++) { const r = tile + t * rec + D * 4; for (let d = 0; d < D; d++) out[(h * g + t) * D + d] = f32[r / 4 + d]; }
  }
}
function reference(out) {
  const s = new Float64Array(L);
  for (let qh = 0; qh < H; qh++) {
    const h = (qh / g) | 0; let max = -Infinity;
    for (let p = 0; p < L; p++) { const at = (tableArr[(p / BS) | 0] * blockEl + h * BS * D + (p % BS) * D); let dot = 0; for (let d = 0; d < D; d++) dot += q[qh * D + d] * f32[at + d]; s[p] = dot * scale; if (s[p] > max) max = s[p]; }
    let sum = 0; for (let p = 0; p < L; p++) { s[p] = Math.exp(s[p] - max); sum += s[p]; }
    for (let d = 0; d < D; d++) { let a = 0; for (let p = 0; p < L; p++) { const at = numBlocks * blockEl + tableArr[(p / BS) | 0] * blockEl + h * BS * D + (p % BS) * D; a += s[p] * f32[at + d]; } out[qh * D + d] = a / sum; }
  }
}
const a = new Float32Array(H * D), b = new Float32Array(H * D);
attendAll(a); reference(b);
let maxErr = 0; for (let i = 0; i < a.length; i++) maxErr = Math.max(maxErr, Math.abs(a[i] - b[i]));
console.log('max abs err', maxErr, a[0], b[0]);
for (let w = 0; w < 50; w++) attendAll(a);
let best = Infinity;
for (let r = 0; r < 10; r++) { const t0 = performance.now(); for (let w = 0; w < 50; w++) attendAll(a); best = Math.min(best, (performance.now() - t0) / 50); }
const flops = 4 * H * L * D;
console.log('ms', best.toFixed(3), 'GFLOP/s', (flops / best / 1e6).toFixed(2));
let bestR = Infinity; for (let r = 0; r < 3; r++) { const t0 = performance.now(); reference(b); bestR = Math.min(bestR, performance.now() - t0); }
console.log('js-ish ref ms', bestR.toFixed(2), (flops / bestR / 1e6).toFixed(2));
