/**
 * WebGPU in Node: Dawn's prebuilt binding (npm `webgpu`, an optional dependency) under
 * `@tensorflow/tfjs-backend-webgpu` (also optional).
 *
 * Works with any GPU that has Vulkan (Linux, Windows), Metal (macOS) or D3D12 drivers, whatever
 * CUDA version is installed, and, at toy speed, on Mesa's software rasterisers, which is how CI
 * tests this path without a GPU.
 *
 * What it takes (measured in the engine benchmarks; see bench/README.md, "GPU"):
 *  - Dawn's `globals` (GPUBufferUsage, ...) on globalThis and `navigator.gpu` set BEFORE
 *    `@tensorflow/tfjs-backend-webgpu` is loaded: it registers the backend only if `navigator.gpu`
 *    exists at load time, and Node 20 has no `navigator`.
 *  - tfjs asks `navigator.gpu.requestAdapter({powerPreference})` and nothing else, so
 *    `navigator.gpu` is a thin wrapper that hands out the adapter chosen here (Dawn backend and
 *    feature level included).
 *  - Dawn's default backend on Linux is Vulkan (needs libvulkan.so.1 and a driver ICD). Its
 *    OpenGL ES backend is tried next, with `featureLevel: 'compatibility'` and, when no display is
 *    present, EGL_PLATFORM=surfaceless (without it EGL fails with EGL_NOT_INITIALIZED); on stock
 *    Debian Mesa that gives llvmpipe.
 *  - A software adapter (llvmpipe, lavapipe, SwiftShader, WARP) is 5–20x slower than the wasm
 *    backend, so `auto` refuses it; an explicit `backend: webgpu` takes it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { classifyBackendError, errorMessage, type FailureKind } from './smoke';

/** The subset of GPUAdapterInfo we read. */
export interface AdapterInfoLike {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  isFallbackAdapter?: boolean;
}

interface AdapterLike {
  info?: AdapterInfoLike;
  features?: { has(name: string): boolean };
  limits?: Record<string, unknown>;
  requestDevice(descriptor?: unknown): Promise<unknown>;
}

interface GpuLike {
  requestAdapter(options?: Record<string, unknown>): Promise<AdapterLike | null>;
  getPreferredCanvasFormat?(): string;
  wgslLanguageFeatures?: unknown;
}

/** What `import('webgpu')` gives. */
export interface DawnModule {
  create(flags: string[]): GpuLike;
  globals: Record<string, unknown>;
}

/** One way to ask Dawn for an adapter. */
export interface DawnRoute {
  /** Dawn backend, for logs: 'default' (Vulkan / Metal / D3D12) or 'opengles' */
  name: string;
  /** flags for `create()` */
  flags: string[];
  /** extra options for requestAdapter */
  adapterOptions: Record<string, unknown>;
  /** environment this route needs when unset (EGL_PLATFORM) */
  env?: Record<string, string>;
  /** a shared library the route cannot work without (checked first: Dawn would only warn) */
  needs?: string;
}

export interface AdapterChoice {
  route: DawnRoute;
  info: AdapterInfoLike;
  software: boolean;
  /** one-line description recorded as the run's device */
  device: string;
}

export type WebGpuProbe =
  | { ok: true; choice: AdapterChoice; gpu: GpuLike; adapter: AdapterLike; skipped: string[] }
  | { ok: false; kind: FailureKind; reason: string; software?: AdapterChoice };

export type WebGpuInit =
  | { ok: true; device: string; software: boolean; route: string }
  | { ok: false; kind: FailureKind; reason: string };

export interface WebGpuOptions {
  /** take a software adapter when no hardware one exists (explicit `backend: webgpu`) */
  allowSoftware: boolean;
  log?: (message: string) => void;
  /** environment to read and to fill in (EGL_PLATFORM); default process.env */
  env?: NodeJS.ProcessEnv;
  /** for tests: loads Dawn instead of `import('webgpu')` */
  loadDawn?: () => Promise<DawnModule>;
  /** routes to try, in order (default defaultRoutes(env)) */
  routes?: DawnRoute[];
  /** for tests: GPU device nodes present (default: /dev/dri/renderD*, /dev/nvidia<N>) */
  gpuDeviceNodes?: () => string[];
  /** for tests: finds a shared library (default findSharedLibrary) */
  findLibrary?: (name: string, env: NodeJS.ProcessEnv) => string | undefined;
}

const SOFTWARE = /llvmpipe|lavapipe|softpipe|swiftshader|swrast|software|basic render driver|\bwarp\b/i;

/** True for CPU-emulated adapters: far slower than the wasm backend, never chosen by auto. */
export function isSoftwareAdapter(info: AdapterInfoLike): boolean {
  if (info.isFallbackAdapter) return true;
  return [info.vendor, info.architecture, info.device, info.description].some((s) => typeof s === 'string' && SOFTWARE.test(s));
}

/** e.g. "NVIDIA H100 80GB HBM3 (nvidia, Vulkan)" or "llvmpipe (LLVM 15.0.6, 256 bits), OpenGL ES 3.2 Mesa 22.3.6 [software]". */
export function describeAdapter(info: AdapterInfoLike, routeName: string, software = isSoftwareAdapter(info)): string {
  const device = prettyDevice(info.device ?? '');
  const head = device || info.description || info.vendor || 'unknown adapter';
  const desc = info.description && info.description !== head ? info.description.replace(/^OpenGL version /, '') : '';
  const tags = [info.vendor, info.architecture].filter((s): s is string => !!s && !head.toLowerCase().includes(s.toLowerCase()));
  tags.push(`Dawn ${routeName}`);
  if (software) tags.push('software');
  return `${head}${desc ? `, ${desc}` : ''} (${tags.join(', ')})`;
}

/** Dawn's GLES route mangles the renderer string ("llvmpipe-llvm-15-0-6-256-bits-"). */
function prettyDevice(device: string): string {
  const m = /^llvmpipe-llvm-(\d+)-(\d+)-(\d+)-(\d+)-bits-?$/.exec(device);
  if (m) return `llvmpipe (LLVM ${m[1]}.${m[2]}.${m[3]}, ${m[4]} bits)`;
  return device.trim();
}

/** Dawn's GPUAdapterInfo exposes its fields as prototype getters: copy them one by one. */
function adapterInfo(adapter: AdapterLike): AdapterInfoLike {
  const i = adapter.info;
  if (!i) return {};
  return { vendor: i.vendor, architecture: i.architecture, device: i.device, description: i.description, isFallbackAdapter: i.isFallbackAdapter };
}

/** True when no X11/Wayland display is available, so EGL must run surfaceless. */
export function headless(env: NodeJS.ProcessEnv): boolean {
  return !env.DISPLAY && !env.WAYLAND_DISPLAY;
}

/** Dawn's native backend first (Vulkan / Metal / D3D12), then OpenGL ES (compatibility). */
export function defaultRoutes(env: NodeJS.ProcessEnv): DawnRoute[] {
  const routes: DawnRoute[] = [
    {
      name: process.platform === 'darwin' ? 'Metal' : process.platform === 'win32' ? 'D3D12' : 'Vulkan',
      flags: [],
      adapterOptions: {},
      needs: process.platform === 'linux' ? 'libvulkan.so.1' : undefined,
    },
  ];
  if (process.platform === 'linux') {
    routes.push({
      name: 'OpenGL ES',
      flags: ['backend=opengles'],
      adapterOptions: { featureLevel: 'compatibility' },
      env: headless(env) ? { EGL_PLATFORM: 'surfaceless' } : undefined,
    });
  }
  return routes;
}

/** A variable, so that type-checking and bundling never need the optional package. */
const DAWN_PACKAGE: string = 'webgpu';

async function importDawn(): Promise<DawnModule> {
  // `webgpu` is an ES module: import() loads it from CommonJS (esbuild leaves this import alone)
  return (await import(DAWN_PACKAGE)) as DawnModule;
}

/**
 * Looks for a WebGPU adapter. Prefers a hardware adapter on any route; a software one only when
 * allowed. Does not touch tfjs.
 */
export async function probeWebGpu(options: WebGpuOptions): Promise<WebGpuProbe> {
  const env = options.env ?? process.env;
  const log = options.log ?? (() => {});
  const findLibrary = options.findLibrary ?? findSharedLibrary;
  if (!options.allowSoftware && process.platform === 'linux' && (options.gpuDeviceNodes ?? gpuDeviceNodes)().length === 0) {
    // without a device node only a CPU rasteriser can answer: do not even load Dawn
    return { ok: false, kind: 'no-device', reason: 'no GPU device node (/dev/dri/renderD*, /dev/nvidia*): only a software adapter could exist' };
  }
  let dawn: DawnModule;
  try {
    dawn = await (options.loadDawn ?? importDawn)();
  } catch (err) {
    const c = classifyBackendError(err);
    const reason =
      c.kind === 'not-installed'
        ? 'the optional npm package `webgpu` is not installed (npm install webgpu@0.6.2)'
        : `could not load Dawn (npm \`webgpu\`): ${c.message}`;
    return { ok: false, kind: c.kind === 'not-installed' ? 'not-installed' : 'driver-missing', reason };
  }
  for (const [k, v] of Object.entries(dawn.globals)) {
    if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
  }
  const skipped: string[] = [];
  let software: { choice: AdapterChoice; gpu: GpuLike; adapter: AdapterLike } | undefined;
  for (const route of options.routes ?? defaultRoutes(env)) {
    if (route.needs && !findLibrary(route.needs, env)) {
      skipped.push(`${route.name}: ${route.needs} not found`);
      continue;
    }
    for (const [k, v] of Object.entries(route.env ?? {})) {
      if (env[k] === undefined) {
        env[k] = v;
        log(`webgpu: set ${k}=${v} (no display) for Dawn's ${route.name} route`);
      }
    }
    let gpu: GpuLike;
    let adapter: AdapterLike | null;
    try {
      gpu = dawn.create(route.flags);
      adapter = await gpu.requestAdapter({ powerPreference: 'high-performance', ...route.adapterOptions });
    } catch (err) {
      skipped.push(`${route.name}: ${errorMessage(err)}`);
      continue;
    }
    if (!adapter) {
      skipped.push(`${route.name}: no adapter`);
      continue;
    }
    const info = adapterInfo(adapter);
    const isSoftware = isSoftwareAdapter(info);
    const choice: AdapterChoice = { route, info, software: isSoftware, device: describeAdapter(info, route.name, isSoftware) };
    if (!isSoftware) return { ok: true, choice, gpu, adapter, skipped };
    skipped.push(`${route.name}: software adapter ${choice.device}`);
    software ??= { choice, gpu, adapter };
  }
  if (software && options.allowSoftware) return { ok: true, ...software, skipped };
  if (software) {
    return {
      ok: false,
      kind: 'software-adapter',
      reason: `only a software adapter (${software.choice.device}), slower than wasm; set backend: webgpu to use it anyway`,
      software: software.choice,
    };
  }
  const why = skipped.length ? skipped.join('; ') : 'no routes';
  const vulkanMissing = skipped.some((x) => x.includes('libvulkan.so.1 not found'));
  const hint = vulkanMissing ? "; for Vulkan install the loader (Debian/Ubuntu: libvulkan1) and the GPU driver's Vulkan ICD" : '';
  return { ok: false, kind: vulkanMissing ? 'driver-missing' : 'no-adapter', reason: `no WebGPU adapter (${why})${hint}` };
}

/** GPU device nodes a hardware adapter would need on Linux. */
export function gpuDeviceNodes(): string[] {
  const out: string[] = [];
  for (const [dir, re] of [['/dev/dri', /^renderD\d+$/], ['/dev', /^nvidia\d+$/]] as const) {
    try {
      for (const f of fs.readdirSync(dir)) if (re.test(f)) out.push(path.join(dir, f));
    } catch {
      /* no such directory */
    }
  }
  return out;
}

/** Looks for a shared library where the dynamic loader would (without running ldconfig). */
export function findSharedLibrary(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const dirs = [
    ...(env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean),
    `/usr/lib/${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu`,
    `/lib/${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu`,
    '/usr/lib64',
    '/lib64',
    '/usr/lib',
    '/lib',
    '/usr/local/lib',
  ];
  try {
    // directories the loader's cache also covers (e.g. NVIDIA's, on some distributions)
    for (const f of fs.readdirSync('/etc/ld.so.conf.d')) {
      if (!f.endsWith('.conf')) continue;
      for (const line of fs.readFileSync(path.join('/etc/ld.so.conf.d', f), 'utf8').split('\n')) {
        const d = line.trim();
        if (d.startsWith('/')) dirs.push(d);
      }
    }
  } catch {
    /* not Linux, or no ld.so.conf.d */
  }
  for (const d of dirs) {
    const p = path.join(d, name);
    if (fs.existsSync(p)) return p;
  }
  return undefined;
}

interface WebGpuState {
  device: string;
  software: boolean;
  route: string;
  errors: string[];
}

let state: WebGpuState | undefined;
/** tfjs-backend-webgpu registers its factory once, at require time; kept to re-register after releaseWebGpu. */
let factory: { factory: () => unknown; priority: number } | undefined;

type Registry = Record<string, { factory: () => unknown; priority: number } | undefined>;
function registryFactory(): Registry {
  return (tf.engine() as unknown as { registryFactory: Registry }).registryFactory;
}

/**
 * Device limits tfjs-backend-webgpu 4.22 does not request but needs: it binds one storage buffer
 * per kernel input, and WebGPU's default of 8 per shader stage is less than the adapter offers.
 */
export const RAISED_LIMITS = ['maxStorageBuffersPerShaderStage', 'maxUniformBuffersPerShaderStage'] as const;

/** Adds RAISED_LIMITS (at the adapter's maximum) to the device tfjs requests. */
export function withRaisedLimits(adapter: AdapterLike): AdapterLike {
  return new Proxy(adapter, {
    get(target, prop) {
      if (prop === 'requestDevice') {
        return (descriptor: { requiredLimits?: Record<string, unknown> } = {}) => {
          const limits: Record<string, unknown> = { ...descriptor.requiredLimits };
          for (const k of RAISED_LIMITS) {
            const v = target.limits?.[k];
            if (typeof v === 'number' && limits[k] === undefined) limits[k] = v;
          }
          return target.requestDevice({ ...descriptor, requiredLimits: limits });
        };
      }
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

/** The navigator.gpu tfjs will use: hands out the chosen adapter's route with tfjs's options. */
function installNavigatorGpu(gpu: GpuLike, route: DawnRoute): void {
  const wrapper: GpuLike = {
    requestAdapter: async (opts?: Record<string, unknown>) => {
      const adapter = await gpu.requestAdapter({ ...opts, ...route.adapterOptions });
      return adapter ? withRaisedLimits(adapter) : null;
    },
    getPreferredCanvasFormat: () => gpu.getPreferredCanvasFormat?.() ?? 'rgba8unorm',
    wgslLanguageFeatures: gpu.wgslLanguageFeatures,
  };
  const g = globalThis as { navigator?: Record<string, unknown> };
  if (g.navigator === undefined) {
    Object.defineProperty(globalThis, 'navigator', { value: { gpu: wrapper }, configurable: true, writable: true });
  } else {
    Object.defineProperty(g.navigator, 'gpu', { value: wrapper, configurable: true, writable: true });
  }
}

function optionalRequire(name: string): unknown {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(name);
}

/**
 * Sets up Dawn + tfjs-backend-webgpu and makes `webgpu` tfjs's current backend. Idempotent: a
 * second call reuses the first adapter.
 */
export async function initWebGpu(options: WebGpuOptions): Promise<WebGpuInit> {
  const log = options.log ?? (() => {});
  if (state && tf.findBackend('webgpu')) {
    if (state.software && !options.allowSoftware) {
      return { ok: false, kind: 'software-adapter', reason: `only a software adapter (${state.device})` };
    }
    if (!(await tf.setBackend('webgpu'))) return { ok: false, kind: 'init-failed', reason: "tf.setBackend('webgpu') failed" };
    state.errors.length = 0;
    return { ok: true, device: state.device, software: state.software, route: state.route };
  }
  try {
    require.resolve('@tensorflow/tfjs-backend-webgpu');
  } catch {
    return {
      ok: false,
      kind: 'not-installed',
      reason: 'the optional npm package `@tensorflow/tfjs-backend-webgpu` is not installed (npm install @tensorflow/tfjs-backend-webgpu@4.22.0)',
    };
  }
  const probe = await probeWebGpu(options);
  if (!probe.ok) return { ok: false, kind: probe.kind, reason: probe.reason };
  for (const s of probe.skipped) log(`webgpu: skipped ${s}`);
  installNavigatorGpu(probe.gpu, probe.choice.route);
  try {
    if (!registryFactory().webgpu) {
      if (factory) tf.registerBackend('webgpu', factory.factory as never, factory.priority);
      else optionalRequire('@tensorflow/tfjs-backend-webgpu');
      // the package registers its factory only when navigator.gpu existed at load time
      factory = registryFactory().webgpu;
      if (!factory) {
        return { ok: false, kind: 'init-failed', reason: '@tensorflow/tfjs-backend-webgpu did not register (loaded before navigator.gpu was set?)' };
      }
    }
    const ok = await tf.setBackend('webgpu');
    if (!ok || tf.getBackend() !== 'webgpu') {
      return { ok: false, kind: 'init-failed', reason: `tf.setBackend('webgpu') failed on ${probe.choice.device}` };
    }
    await tf.ready();
  } catch (err) {
    const c = classifyBackendError(err);
    return { ok: false, kind: c.kind, reason: c.message };
  }
  state = { device: probe.choice.device, software: probe.choice.software, route: probe.choice.route.name, errors: [] };
  watchDeviceErrors(state);
  chunkAddN();
  log(`webgpu: adapter ${probe.choice.device}`);
  return { ok: true, device: state.device, software: state.software, route: state.route };
}

interface DeviceLike {
  addEventListener?(type: string, listener: (ev: { error?: { message?: string } }) => void): void;
  onuncapturederror?: unknown;
  lost?: Promise<{ reason?: string; message?: string }>;
}

interface WebGpuBackendLike {
  device?: DeviceLike & { limits?: Record<string, number> };
  read(dataId: unknown): Promise<unknown>;
  readSync(dataId: unknown): unknown;
  disposeData(dataId: unknown, force?: boolean): boolean;
}

/**
 * WebGPU reports allocation failures and validation errors as events, not exceptions: the kernels
 * "run" and later reads return garbage. Record them, and make every read from the device throw
 * once one happened, so a training loop fails with the reason instead of training on garbage.
 */
function watchDeviceErrors(s: WebGpuState): void {
  const backend = tf.backend() as unknown as WebGpuBackendLike;
  const device = backend.device;
  if (!device) return;
  const onError = (ev: { error?: { message?: string } }) => {
    if (s.errors.length < 20) s.errors.push(ev?.error?.message ?? 'uncaptured WebGPU error');
  };
  try {
    if (typeof device.addEventListener === 'function') device.addEventListener('uncapturederror', onError);
    else device.onuncapturederror = onError;
  } catch {
    /* not supported by this Dawn build: the smoke test still checks the loss */
  }
  void device.lost?.then((info) => {
    if (info?.reason !== 'destroyed') s.errors.push(`WebGPU device lost: ${info?.message ?? info?.reason ?? 'unknown'}`);
  });
  const check = () => {
    if (s.errors.length > 0) {
      const more = s.errors.length > 1 ? ` (+${s.errors.length - 1} more)` : '';
      throw new Error(`WebGPU error on ${s.device}: ${errorMessage(s.errors[0])}${more}`);
    }
  };
  const read = backend.read.bind(backend);
  const readSync = backend.readSync.bind(backend);
  backend.read = async (dataId) => {
    const v = await read(dataId);
    check();
    return v;
  };
  backend.readSync = (dataId) => {
    const v = readSync(dataId);
    check();
    return v;
  };
}

interface TensorInfoLike {
  dataId: unknown;
}
const CHUNKED = Symbol.for('flopsfit.chunkedAddN');

/**
 * tfjs-backend-webgpu's AddN binds all N inputs to one shader, which fails validation (and then
 * yields garbage) once N + 1 exceeds maxStorageBuffersPerShaderStage. The optimizer's global
 * gradient norm adds one term per parameter (4 + 12·layers of them), so replace the kernel with
 * one that sums in chunks the device can bind.
 */
export function chunkAddN(): void {
  const orig = tf.getKernel('AddN', 'webgpu') as (tf.KernelConfig & { [CHUNKED]?: true }) | undefined;
  if (!orig || orig[CHUNKED]) return;
  const base = orig.kernelFunc;
  const kernelFunc: tf.KernelFunc = (args) => {
    const inputs = args.inputs as unknown as TensorInfoLike[];
    const backend = args.backend as unknown as WebGpuBackendLike;
    const max = Math.max(2, (backend.device?.limits?.maxStorageBuffersPerShaderStage ?? 8) - 1);
    if (inputs.length <= max) return base(args);
    const temps: TensorInfoLike[] = [];
    let level = inputs;
    while (level.length > max) {
      const next: TensorInfoLike[] = [];
      for (let i = 0; i < level.length; i += max) {
        const chunk = level.slice(i, i + max);
        if (chunk.length === 1) {
          next.push(chunk[0]);
          continue;
        }
        const out = base({ ...args, inputs: chunk as never }) as unknown as TensorInfoLike;
        temps.push(out);
        next.push(out);
      }
      level = next;
    }
    const result = base({ ...args, inputs: level as never });
    for (const t of temps) backend.disposeData(t.dataId);
    return result;
  };
  tf.unregisterKernel('AddN', 'webgpu');
  tf.registerKernel({ ...orig, kernelFunc, [CHUNKED]: true } as tf.KernelConfig);
}

/** Errors the WebGPU device reported since the last call (for the smoke test). */
export function drainWebGpuErrors(): string[] {
  if (!state) return [];
  return state.errors.splice(0);
}

/**
 * Lets the process exit: dawn.node keeps Node alive while `navigator.gpu` holds a reference to
 * it. Call after training on webgpu (removes tfjs's webgpu backend and the device).
 */
export function releaseWebGpu(): void {
  factory ??= registryFactory().webgpu;
  if (registryFactory().webgpu) {
    if (tf.getBackend() === 'webgpu') {
      // switch away first so tfjs does not dispose the backend in use under someone
      const other = ['wasm', 'cpu'].find((b) => tf.findBackend(b));
      if (other) void tf.setBackend(other);
    }
    tf.removeBackend('webgpu');
  }
  const nav = (globalThis as { navigator?: Record<string, unknown> }).navigator;
  if (nav && 'gpu' in nav) delete nav.gpu;
  state = undefined;
}
