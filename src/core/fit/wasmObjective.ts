/**
 * The Huber objective of ./parametric as a WebAssembly SIMD kernel (src/core/fit/wasm/huber.c,
 * embedded base64 in ./huberWasm.ts, so it loads the same way from source, the esbuild bundles,
 * worker threads and the browser). It computes the same sums two points at a time (f64x2) with
 * table-free exp/log accurate to about 1 ulp (value and gradient agree with the TypeScript kernel
 * to ~1e-13 relative), about 2.2× as fast as the scalar TypeScript kernel under node 20.
 * When WebAssembly SIMD is unavailable (or the module cannot be compiled synchronously, as on a
 * browser's main thread, which refuses modules over 4 KB) `makeWasmHuberObjective` returns
 * undefined and callers use the TypeScript kernel; an evaluation at a wild iterate (some z outside (−700, 30), where the
 * kernel's fast exp would leave its range) is handed to the TypeScript kernel too.
 *
 * One module instance per thread holds one data set at a time: each objective re-copies its data
 * when another objective was used in between (a multi-start calls one objective thousands of times
 * in a row, so that is rare).
 */
import type { WasmApi, WasmMemory } from '../wasm';
import { HUBER_WASM_BASE64 } from './huberWasm';

interface Kernel {
  memory: WasmMemory;
  huber: (base: number, n2: number, delta: number) => number;
  params: number;
  grad: number;
  heap: number;
  f64: Float64Array;
  owner: object | undefined;
}

let kernel: Kernel | null | undefined;

function decodeBase64(s: string): Uint8Array {
  if (typeof Buffer !== 'undefined') return new Uint8Array(Buffer.from(s, 'base64'));
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function loadKernel(): Kernel | null {
  if (kernel !== undefined) return kernel;
  kernel = null;
  try {
    const g = globalThis as { process?: { env?: Record<string, string | undefined> } };
    const wasm = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
    if (g.process?.env?.FLOPSFIT_FIT_WASM === '0' || !wasm) return kernel;
    const mod = new wasm.Module(decodeBase64(HUBER_WASM_BASE64));
    const inst = new wasm.Instance(mod, {});
    const ex = inst.exports as Record<string, unknown>;
    const memory = ex.memory as WasmMemory;
    const k: Kernel = {
      memory,
      huber: ex.huber as Kernel['huber'],
      params: (ex.params as () => number)(),
      grad: (ex.grad as () => number)(),
      heap: ((ex.heap as () => number)() + 15) & ~15,
      f64: new Float64Array(memory.buffer),
      owner: undefined,
    };
    kernel = k;
  } catch {
    kernel = null; // no WebAssembly SIMD here: the TypeScript kernel is used
  }
  return kernel;
}

/** Whether the WebAssembly kernel is in use on this thread. */
export function wasmObjectiveAvailable(): boolean {
  return loadKernel() !== null;
}

/**
 * The objective (same contract as makeHuberObjective) on the WebAssembly kernel, falling back to
 * `fallback` for evaluations outside the kernel's range; undefined when WebAssembly SIMD is absent.
 */
export function makeWasmHuberObjective(
  logN: Float64Array,
  logD: Float64Array,
  logL: Float64Array,
  weight: Float64Array | undefined,
  delta: number,
  fallback: (x: Float64Array, g: Float64Array) => number,
): ((x: Float64Array, g: Float64Array) => number) | undefined {
  const k = loadKernel();
  if (!k) return undefined;
  const n = logN.length;
  const n2 = (n + 1) & ~1;
  const bytes = k.heap + 32 * n2;
  const token = {};
  const load = () => {
    if (k.memory.buffer.byteLength < bytes) {
      k.memory.grow(Math.ceil((bytes - k.memory.buffer.byteLength) / 65536));
    }
    if (k.f64.buffer !== k.memory.buffer) k.f64 = new Float64Array(k.memory.buffer);
    const b = k.heap / 8;
    const f64 = k.f64;
    for (let i = 0; i < n2; i++) {
      const real = i < n;
      f64[b + i] = real ? logN[i] : 0;
      f64[b + n2 + i] = real ? logD[i] : 0;
      f64[b + 2 * n2 + i] = real ? logL[i] : 0;
      f64[b + 3 * n2 + i] = real ? (weight ? weight[i] : 1) : 0;
    }
    k.owner = token;
  };
  const p = k.params / 8;
  const gr = k.grad / 8;
  return (x, g) => {
    if (k.owner !== token) load();
    const f64 = k.f64;
    f64[p] = x[0];
    f64[p + 1] = x[1];
    f64[p + 2] = x[2];
    f64[p + 3] = x[3];
    f64[p + 4] = x[4];
    const f = k.huber(k.heap, n2, delta);
    if (f !== f) return fallback(x, g);
    g[0] = f64[gr];
    g[1] = f64[gr + 1];
    g[2] = f64[gr + 2];
    g[3] = f64[gr + 3];
    g[4] = f64[gr + 4];
    return f;
  };
}
