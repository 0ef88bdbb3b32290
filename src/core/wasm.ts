/**
 * The few WebAssembly JS-API members the project's own SIMD kernels use (src/core/fit/wasmObjective.ts,
 * src/engine/kernels/attention.ts). The tsconfig has no DOM lib, so they are typed here; Node and
 * browsers both provide the `WebAssembly` global at run time. Types only.
 */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}

export interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
}
