import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend, tf } from '../../src/engine/backend';
import { experimentSmokeStep } from '../../src/engine/backends/modelSmoke';
import { classifyBackendError, errorMessage, smokeTest } from '../../src/engine/backends/smoke';
import {
  describeGpu,
  detectNvidiaGpus,
  detectTfjsNode,
  initTfjsNode,
  parseNvidiaSmi,
  visibleGpus,
} from '../../src/engine/backends/tfjsNode';
import {
  describeAdapter,
  findSharedLibrary,
  isSoftwareAdapter,
  probeWebGpu,
  type AdapterInfoLike,
  type DawnModule,
  type DawnRoute,
} from '../../src/engine/backends/webgpu';

function errWithCode(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

describe('backend failure classification', () => {
  const cases: [unknown, string][] = [
    [errWithCode("Cannot find module '@tensorflow/tfjs-node-gpu'\nRequire stack:\n- /x", 'MODULE_NOT_FOUND'), 'not-installed'],
    [new Error('libcudart.so.11.0: cannot open shared object file: No such file or directory'), 'driver-missing'],
    [new Error('Could not load dynamic library libcudnn.so.8'), 'driver-missing'],
    [new Error('CUDA driver version is insufficient for CUDA runtime version'), 'driver-missing'],
    [new Error('OOM when allocating tensor with shape[32,512,4096]'), 'out-of-memory'],
    [new Error('ResourceExhaustedError: failed to allocate 2.00GiB'), 'out-of-memory'],
    [new Error('Aborted(OOM). Build with -sASSERTIONS for more info.'), 'out-of-memory'],
    [new Error('Buffer size (4294967296) exceeds the max buffer size limit (2147483648).'), 'out-of-memory'],
    [new Error('WebGPU error on llvmpipe: Binding size (134221824) of [Buffer] is larger than the maximum storage buffer binding size (134217728).'), 'out-of-memory'],
    [new RangeError('WebAssembly.Memory(): could not allocate memory'), 'out-of-memory'],
    [new Error('no suitable adapter found'), 'no-adapter'],
    [new Error("Kernel 'Foo' not registered for backend 'webgpu'"), 'init-failed'],
  ];
  for (const [err, kind] of cases) {
    it(`${kind}: ${errorMessage(err)}`, () => {
      assert.equal(classifyBackendError(err).kind, kind);
    });
  }

  it('uses the given fallback kind for unknown errors and keeps only the first line', () => {
    const c = classifyBackendError(new Error('something odd\n    at foo (x.js:1:1)'), 'smoke-failed');
    assert.deepEqual(c, { kind: 'smoke-failed', message: 'something odd' });
  });

  it('shortens very long messages and handles non-Error values', () => {
    assert.equal(errorMessage('x'.repeat(400)).length, 300);
    assert.equal(errorMessage({ a: 1 }), '{"a":1}');
    assert.equal(errorMessage(''), 'unknown error');
  });
});

describe('smokeTest', () => {
  it('passes a finite loss and reports the time', async () => {
    const r = await smokeTest(async () => 5.54);
    assert.equal(r.ok, true);
    assert.ok(r.ok && r.loss === 5.54 && r.ms >= 0);
  });

  it('fails a non-finite loss', async () => {
    for (const bad of [NaN, Infinity]) {
      const r = await smokeTest(() => bad);
      assert.equal(r.ok, false);
      assert.ok(!r.ok && r.kind === 'smoke-failed' && r.reason.includes('non-finite'));
    }
  });

  it('classifies a thrown out-of-memory error', async () => {
    const r = await smokeTest(() => {
      throw new Error('OOM when allocating tensor');
    });
    assert.ok(!r.ok && r.kind === 'out-of-memory' && r.reason === 'OOM when allocating tensor');
  });

  it('fails on out-of-band device errors even when the loss looks fine', async () => {
    const errors = ['Buffer size (4294967296) exceeds the max buffer size limit (2147483648).\n - While calling CreateBuffer', 'Invalid BindGroup'];
    const r = await smokeTest(() => 9.6, { drainErrors: () => errors.splice(0) });
    assert.ok(!r.ok && r.kind === 'out-of-memory');
    assert.ok(!r.ok && r.reason.endsWith('(+1 more)'));
  });

  it('times out a step that hangs', async () => {
    const r = await smokeTest(() => new Promise<number>(() => {}), { timeoutMs: 20 });
    assert.ok(!r.ok && r.kind === 'smoke-failed' && /longer than/.test(r.reason));
  });
});

describe('WebGPU adapters', () => {
  const llvmpipeGles: AdapterInfoLike = {
    vendor: '',
    architecture: '',
    device: 'llvmpipe-llvm-15-0-6-256-bits-',
    description: 'OpenGL version OpenGL ES 3.2 Mesa 22.3.6',
    isFallbackAdapter: false,
  };
  const lavapipe: AdapterInfoLike = { vendor: 'mesa', architecture: 'software', device: 'llvmpipe (LLVM 19.1.7, 256 bits)', description: 'Mesa 25.0.7' };
  const h100: AdapterInfoLike = { vendor: 'nvidia', architecture: 'hopper', device: 'NVIDIA H100 80GB HBM3', description: '550.54.15', isFallbackAdapter: false };

  it('recognises software rasterisers and fallback adapters', () => {
    assert.equal(isSoftwareAdapter(llvmpipeGles), true);
    assert.equal(isSoftwareAdapter(lavapipe), true);
    assert.equal(isSoftwareAdapter({ vendor: 'google', device: 'SwiftShader Device (Subzero)' }), true);
    assert.equal(isSoftwareAdapter({ vendor: 'x', device: 'y', isFallbackAdapter: true }), true);
    assert.equal(isSoftwareAdapter(h100), false);
    assert.equal(isSoftwareAdapter({ vendor: 'amd', architecture: 'rdna-3', device: 'AMD Radeon RX 7900 XTX' }), false);
  });

  it('describes adapters in one line', () => {
    assert.equal(
      describeAdapter(llvmpipeGles, 'OpenGL ES'),
      'llvmpipe (LLVM 15.0.6, 256 bits), OpenGL ES 3.2 Mesa 22.3.6 (Dawn OpenGL ES, software)',
    );
    assert.equal(describeAdapter(h100, 'Vulkan'), 'NVIDIA H100 80GB HBM3, 550.54.15 (hopper, Dawn Vulkan)');
    assert.equal(describeAdapter({}, 'Vulkan', false), 'unknown adapter (Dawn Vulkan)');
  });

  /** A fake Dawn whose routes hand out the given adapters (null: none), recording create() flags. */
  function fakeDawn(byFlag: Record<string, AdapterInfoLike | null | Error>, calls: { flags: string[]; opts: unknown }[]): DawnModule {
    return {
      globals: { GPUBufferUsageFake: 1 },
      create(flags: string[]) {
        return {
          async requestAdapter(opts?: Record<string, unknown>) {
            calls.push({ flags, opts });
            const a = byFlag[flags.join(',')];
            if (a instanceof Error) throw a;
            return a ? { info: a, requestDevice: async () => ({}) } : null;
          },
        };
      },
    };
  }
  /** a machine with a GPU device node and every library */
  const hw = { gpuDeviceNodes: () => ['/dev/dri/renderD128'], findLibrary: (n: string) => `/usr/lib/${n}` };
  const routes: DawnRoute[] = [
    { name: 'Vulkan', flags: [], adapterOptions: {}, needs: 'libvulkan.so.1' },
    { name: 'OpenGL ES', flags: ['backend=opengles'], adapterOptions: { featureLevel: 'compatibility' }, env: { EGL_PLATFORM: 'surfaceless' } },
  ];

  it('prefers a hardware adapter and reports what it skipped', async () => {
    const calls: { flags: string[]; opts: unknown }[] = [];
    const r = await probeWebGpu({ allowSoftware: false, env: {}, routes, loadDawn: async () => fakeDawn({ '': null, 'backend=opengles': h100 }, calls), ...hw });
    assert.ok(r.ok);
    assert.equal(r.choice.route.name, 'OpenGL ES');
    assert.equal(r.choice.software, false);
    assert.deepEqual(r.skipped, ['Vulkan: no adapter']);
    assert.deepEqual(calls[1].opts, { powerPreference: 'high-performance', featureLevel: 'compatibility' });
    assert.equal((globalThis as Record<string, unknown>).GPUBufferUsageFake, 1);
    delete (globalThis as Record<string, unknown>).GPUBufferUsageFake;
  });

  it('refuses a software adapter for auto and takes it when asked explicitly', async () => {
    const env: NodeJS.ProcessEnv = {};
    const dawn = fakeDawn({ '': new Error('Vulkan exploded'), 'backend=opengles': llvmpipeGles }, []);
    const auto = await probeWebGpu({ allowSoftware: false, env, routes, loadDawn: async () => dawn, ...hw });
    assert.ok(!auto.ok);
    assert.equal(auto.kind, 'software-adapter');
    assert.match(auto.reason, /llvmpipe.*slower than wasm/);
    assert.equal(env.EGL_PLATFORM, 'surfaceless', 'sets EGL_PLATFORM when unset');
    const explicit = await probeWebGpu({ allowSoftware: true, env, routes, loadDawn: async () => dawn, ...hw });
    assert.ok(explicit.ok && explicit.choice.software);
    assert.deepEqual(explicit.ok && explicit.skipped, ['Vulkan: Vulkan exploded', `OpenGL ES: software adapter ${describeAdapter(llvmpipeGles, 'OpenGL ES')}`]);
  });

  it('leaves a user-set EGL_PLATFORM alone', async () => {
    const env: NodeJS.ProcessEnv = { EGL_PLATFORM: 'device' };
    await probeWebGpu({ allowSoftware: true, env, routes, loadDawn: async () => fakeDawn({}, []) });
    assert.equal(env.EGL_PLATFORM, 'device');
  });

  it('says when the webgpu package is missing', async () => {
    const r = await probeWebGpu({
      allowSoftware: true,
      env: {},
      routes,
      loadDawn: async () => {
        throw errWithCode("Cannot find package 'webgpu'", 'ERR_MODULE_NOT_FOUND');
      },
    });
    assert.ok(!r.ok && r.kind === 'not-installed' && r.reason.includes('npm install webgpu'));
  });

  it('with no adapter at all, names libvulkan when the loader is missing', async () => {
    const dawn = async () => fakeDawn({}, []);
    const noLoader = await probeWebGpu({ allowSoftware: true, env: {}, routes, loadDawn: dawn, findLibrary: () => undefined });
    assert.ok(!noLoader.ok);
    assert.equal(noLoader.kind, 'driver-missing');
    assert.match(noLoader.reason, /^no WebGPU adapter \(Vulkan: libvulkan.so.1 not found; OpenGL ES: no adapter\); .*libvulkan1/);
    const none = await probeWebGpu({ allowSoftware: true, env: {}, routes, loadDawn: dawn, ...hw });
    assert.ok(!none.ok);
    assert.equal(none.kind, 'no-adapter');
    assert.equal(none.reason, 'no WebGPU adapter (Vulkan: no adapter; OpenGL ES: no adapter)');
  });

  it('auto does not even load Dawn on a Linux machine without GPU device nodes', async () => {
    let loaded = false;
    const r = await probeWebGpu({
      allowSoftware: false,
      env: {},
      routes,
      gpuDeviceNodes: () => [],
      loadDawn: async () => {
        loaded = true;
        return fakeDawn({ 'backend=opengles': llvmpipeGles }, []);
      },
    });
    if (process.platform === 'linux') {
      assert.ok(!r.ok && r.kind === 'no-device');
      assert.equal(loaded, false);
    } else assert.ok(!r.ok && r.kind === 'software-adapter');
  });

  it('finds shared libraries on LD_LIBRARY_PATH', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-lib-'));
    fs.writeFileSync(path.join(dir, 'libflopsfit-test.so.1'), '');
    assert.equal(findSharedLibrary('libflopsfit-test.so.1', { LD_LIBRARY_PATH: `/nonexistent:${dir}` }), path.join(dir, 'libflopsfit-test.so.1'));
    assert.equal(findSharedLibrary('libflopsfit-test.so.1', {}), undefined);
  });
});

describe('tfjs-node detection', () => {
  const smi = '0, NVIDIA H100 80GB HBM3, 81559, 550.54.15\n1, NVIDIA H100 80GB HBM3, 81559, 550.54.15\n';

  it('parses nvidia-smi csv', () => {
    assert.deepEqual(parseNvidiaSmi(smi)[0], { index: 0, name: 'NVIDIA H100 80GB HBM3', memoryMiB: 81559, driver: '550.54.15' });
    assert.equal(parseNvidiaSmi('No devices were found\n').length, 0);
    assert.equal(describeGpu(parseNvidiaSmi(smi)[1]), 'NVIDIA H100 80GB HBM3, 81559 MiB, driver 550.54.15');
  });

  it('applies CUDA_VISIBLE_DEVICES', () => {
    const gpus = parseNvidiaSmi(smi);
    assert.equal(visibleGpus(gpus, {}).length, 2);
    assert.deepEqual(visibleGpus(gpus, { CUDA_VISIBLE_DEVICES: '1' }).map((g) => g.index), [1]);
    assert.deepEqual(visibleGpus(gpus, { CUDA_VISIBLE_DEVICES: '1,7,0' }).map((g) => g.index), [1]);
    assert.equal(visibleGpus(gpus, { CUDA_VISIBLE_DEVICES: '' }).length, 0);
    assert.equal(visibleGpus(gpus, { CUDA_VISIBLE_DEVICES: '-1' }).length, 0);
    assert.equal(visibleGpus(gpus, { CUDA_VISIBLE_DEVICES: 'GPU-1234' }).length, 2);
  });

  it('falls back to /proc/driver/nvidia when nvidia-smi is missing, and explains an empty result', () => {
    const enoent = () => {
      throw errWithCode('spawn nvidia-smi ENOENT', 'ENOENT');
    };
    const viaProc = detectNvidiaGpus({ env: {}, nvidiaSmi: enoent, procGpus: () => ['Model: \t\t NVIDIA L4\nIRQ: 42\n'] });
    assert.deepEqual(viaProc.gpus, [{ index: 0, name: 'NVIDIA L4' }]);
    const none = detectNvidiaGpus({ env: {}, nvidiaSmi: enoent, procGpus: () => [] });
    assert.equal(none.gpus.length, 0);
    assert.match(none.reason ?? '', /nvidia-smi not found/);
    const hidden = detectNvidiaGpus({ env: { CUDA_VISIBLE_DEVICES: '' }, nvidiaSmi: () => smi, procGpus: () => [] });
    assert.match(hidden.reason ?? '', /hides all 2 GPU/);
  });

  it('prefers tfjs-node-gpu and reports the GPU it would use', () => {
    const resolveAll = (id: string) => `/nm/${id}`;
    const d = detectTfjsNode({ env: {}, resolve: resolveAll, nvidiaSmi: () => smi, procGpus: () => [] });
    assert.deepEqual(d, { module: 'tfjs-node-gpu', installed: ['tfjs-node-gpu', 'tfjs-node'], gpu: 'NVIDIA H100 80GB HBM3, 81559 MiB, driver 550.54.15' });
    const onlyCpu = detectTfjsNode({ env: {}, resolve: (id) => (id.endsWith('-gpu') ? (() => { throw new Error('nope'); })() : id), nvidiaSmi: () => smi });
    assert.deepEqual(onlyCpu, { module: 'tfjs-node', installed: ['tfjs-node'] });
    const none = detectTfjsNode({ resolve: () => { throw new Error('nope'); } });
    assert.equal(none.module, undefined);
    assert.match(none.reason ?? '', /neither/);
  });

  it('refuses tensorflow-gpu without the package or without a visible GPU, loading nothing', async () => {
    const missing = await initTfjsNode('tensorflow-gpu', { resolve: () => { throw new Error('nope'); } });
    assert.ok(!missing.ok && missing.kind === 'not-installed');
    const noGpu = await initTfjsNode('tensorflow-gpu', {
      env: {},
      resolve: (id) => id,
      nvidiaSmi: () => { throw errWithCode('spawn nvidia-smi ENOENT', 'ENOENT'); },
      procGpus: () => [],
    });
    assert.ok(!noGpu.ok && noGpu.kind === 'no-device' && /no NVIDIA GPU found/.test(noGpu.reason));
  });
});

describe('smoke steps on a real backend (cpu)', () => {
  it('initBackend skips a backend whose smoke step runs out of memory, saying so, and leaks no tensors', async function () {
    this.timeout(60000);
    await initBackend('cpu');
    const lines: string[] = [];
    const before = tf.memory().numTensors;
    const info = await initBackend('tensorflow', (l) => lines.push(l), {
      smokeStep: async () => {
        if (tf.getBackend() === 'wasm') throw new Error('Aborted(OOM)');
        return 1.5;
      },
    });
    assert.equal(info.name, 'cpu');
    assert.match(info.fallbacks[0], /^tensorflow: not installed/);
    assert.match(info.fallbacks[1], /^wasm: out of memory in a one-step smoke test on wasm.*\(Aborted\(OOM\)/);
    assert.ok(lines.some((l) => /skipped wasm: out of memory/.test(l)));
    // the default smoke step (no smokeStep given) cleans up after itself
    await initBackend('wasm');
    await initBackend('cpu');
    assert.equal(tf.memory().numTensors, before);
  });

  it('experimentSmokeStep trains one step of the experiment-sized model and disposes it', async function () {
    this.timeout(60000);
    await initBackend('cpu');
    const model = { family: 'transformer' as const, dModel: 16, nLayers: 1, nHeads: 2, contextLength: 8, vocabSize: 32, mlpRatio: 4, tiedEmbeddings: false };
    const training = {
      batchSize: 2, learningRate: 1e-3, schedule: 'constant' as const, warmupFraction: 0, minLrRatio: 0.1, weightDecay: 0.1, beta1: 0.9, beta2: 0.95,
      gradClip: 1, evalTokens: 8, evalInterval: 0, checkpointInterval: 0, backend: 'cpu' as const, allowRepeat: true,
    };
    const spec = {
      id: 'smoke', sweep: 's', budget: 1, budgetIndex: 0, sizeParam: 'dModel', sizeValue: 16, params: 1, paramsTotal: 1, tokens: 16, tokensPerParam: 1,
      flopsPerParamPerToken: 6, hyperparameters: {}, seed: 3, model, data: { source: 'synthetic' as const, vocabSize: 32, branching: 2, seed: 1 }, training,
    };
    const before = tf.memory().numTensors;
    const loss = await experimentSmokeStep(spec)!();
    assert.ok(Math.abs(loss - Math.log(32)) < 0.1, `initial loss ${loss} ≈ ln 32`);
    assert.equal(tf.memory().numTensors, before);
    assert.equal(experimentSmokeStep({ ...spec, model: { family: 'command', command: ['x'], cwd: '/' } }), undefined);
  });
});
