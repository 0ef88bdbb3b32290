import { strict as assert } from 'node:assert';
import { estimateExperimentMemoryMiB, GpuPool, type GpuInfo, isCudaError, parseNvidiaSmi, queryGpus, retryOnAnotherGpu } from '../../src/engine/runner/gpus';
import { tinySpec } from './engineHelpers';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runSweep } from '../../src/engine/runner';
import { FAKE_ENGINE, engineSpec, fakePlan, tempDir } from './runnerHelpers';

// nvidia-smi --query-gpu=index,uuid,name,memory.total,memory.used,utilization.gpu --format=csv,noheader,nounits
const FOUR_H100 = `0, GPU-aaaa, NVIDIA H100 80GB HBM3, 81559, 1, 0
1, GPU-bbbb, NVIDIA H100 80GB HBM3, 81559, 70000, 97
2, GPU-cccc, NVIDIA H100 80GB HBM3, 81559, [N/A], [N/A]
3, GPU-dddd, NVIDIA H100 80GB HBM3, 81559, 80000, 3
`;

function fixed(text: string): () => { gpus: GpuInfo[] } {
  return () => ({ gpus: parseNvidiaSmi(text) });
}

describe('runner GPUs', () => {
  it('parses nvidia-smi rows, marking GPUs whose fields are not numbers as failing', () => {
    const gpus = parseNvidiaSmi('WARNING: something\n' + FOUR_H100);
    assert.equal(gpus.length, 4);
    assert.deepEqual(gpus[0], { index: 0, uuid: 'GPU-aaaa', name: 'NVIDIA H100 80GB HBM3', memoryTotalMiB: 81559, memoryUsedMiB: 1, utilization: 0 });
    assert.equal(gpus[1].utilization, 97);
    assert.match(gpus[2].error ?? '', /memory.used \[N\/A\]/);
    assert.equal(gpus[3].error, undefined);
  });

  it('queryGpus explains a missing driver and a failing nvidia-smi', () => {
    const enoent = Object.assign(new Error('spawn nvidia-smi ENOENT'), { code: 'ENOENT' });
    assert.match(queryGpus(() => ({ status: null, stdout: '', stderr: '', error: enoent })).reason ?? '', /nvidia-smi not found/);
    assert.match(queryGpus(() => ({ status: 9, stdout: '', stderr: 'NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver.' })).reason ?? '', /exit 9.*could not communicate/);
    assert.equal(queryGpus(() => ({ status: 0, stdout: FOUR_H100, stderr: '' })).gpus.length, 4);
  });

  it('skips busy, full and failing GPUs with a logged reason, and sets CUDA_VISIBLE_DEVICES', () => {
    const lines: string[] = [];
    const pool = new GpuPool({ query: fixed(FOUR_H100), log: (l) => lines.push(l) });
    const a = pool.acquire('a', 4000);
    assert.deepEqual(a, { gpus: [0], env: { CUDA_VISIBLE_DEVICES: '0' } });
    assert.ok(lines.some((l) => /^gpu 1: skipped: busy \(97 % utilization/.test(l)), lines.join('\n'));
    assert.ok(lines.some((l) => /^gpu 2: skipped: not answering \(nvidia-smi reports memory.used \[N\/A\]/.test(l)), lines.join('\n'));
    assert.ok(lines.some((l) => /^gpu 3: skipped: full \(1559 MiB free of 81559 MiB, the experiment needs about 4000 MiB\)/.test(l)), lines.join('\n'));
    // GPU 0 holds one experiment (experimentsPerGpu 1): nothing is free now, and reasons are not repeated
    const n = lines.length;
    assert.equal(pool.acquire('b', 4000), undefined);
    assert.equal(lines.length, n);
    pool.release('a');
    assert.deepEqual(pool.acquire('b', 4000)?.gpus, [0]);
  });

  it('one experiment per GPU spreads over GPUs; experimentsPerGpu packs several on one', () => {
    const idle = '0, G0, A100, 40000, 0, 0\n1, G1, A100, 40000, 0, 0\n';
    const spread = new GpuPool({ query: fixed(idle) });
    assert.deepEqual(spread.acquire('a', 1000)?.env.CUDA_VISIBLE_DEVICES, '0');
    assert.deepEqual(spread.acquire('b', 1000)?.env.CUDA_VISIBLE_DEVICES, '1');
    assert.equal(spread.acquire('c', 1000), undefined);
    const packed = new GpuPool({ query: fixed(idle), experimentsPerGpu: 3 });
    const got = ['a', 'b', 'c', 'd', 'e', 'f'].map((id) => packed.acquire(id, 1000)?.gpus[0]);
    assert.deepEqual(got, [0, 1, 0, 1, 0, 1]);
    assert.equal(packed.acquire('g', 1000), undefined);
    assert.equal(GpuPool.parallelism(2, 1, 3), 6);
  });

  it('gpusPerExperiment gives each experiment several GPUs', () => {
    const four = '0, G0, L4, 23000, 0, 0\n1, G1, L4, 23000, 0, 0\n2, G2, L4, 23000, 0, 0\n3, G3, L4, 23000, 0, 0\n';
    const pool = new GpuPool({ query: fixed(four), gpusPerExperiment: 2 });
    assert.deepEqual(pool.acquire('a', 1000)?.env, { CUDA_VISIBLE_DEVICES: '0,1' });
    assert.deepEqual(pool.acquire('b', 1000)?.env, { CUDA_VISIBLE_DEVICES: '2,3' });
    assert.equal(pool.acquire('c', 1000), undefined);
    assert.equal(GpuPool.parallelism(4, 2), 2);
    assert.throws(() => new GpuPool({ gpusPerExperiment: 0 }), /gpusPerExperiment must be an integer ≥ 1/);
  });

  it('a CUDA error is retried once on another GPU, never on the one it failed on', () => {
    const idle = '0, G0, A100, 40000, 0, 0\n1, G1, A100, 40000, 0, 0\n';
    const pool = new GpuPool({ query: fixed(idle) });
    const first = pool.acquire('a', 1000)!;
    const failedOn = pool.held('a');
    pool.release('a');
    const r = retryOnAnotherGpu('RuntimeError: CUDA error: an illegal memory access was encountered', 0, failedOn);
    assert.equal(r.retry, true);
    assert.deepEqual(pool.acquire('a', 1000, r.exclude)?.gpus, [1]);
    assert.notDeepEqual(first.gpus, [1]);
    assert.equal(retryOnAnotherGpu('CUDA out of memory', 1, [1]).retry, false);
    assert.equal(retryOnAnotherGpu('non-finite training loss (NaN) at step 3', 0, [0]).retry, false);
    assert.ok(isCudaError('torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB'));
    assert.ok(!isCudaError('cannot open data file /x: ENOENT'));
  });

  it('estimates more memory for larger experiments, nothing for command trainers', () => {
    const small = estimateExperimentMemoryMiB(tinySpec());
    const big = tinySpec();
    const bigger = estimateExperimentMemoryMiB({ ...big, model: { ...(big.model as Extract<typeof big.model, { family: 'transformer' }>), dModel: 768, nLayers: 12, nHeads: 12, contextLength: 1024, vocabSize: 50257 } });
    assert.ok(small >= 600 && small < 700, String(small));
    assert.ok(bigger > 5000, String(bigger));
    assert.equal(estimateExperimentMemoryMiB({ ...big, model: { family: 'command', command: ['x'], cwd: '/' } }), 0);
  });
});

describe('runner: experiments placed on GPUs (fake nvidia-smi, fake engine)', function () {
  this.timeout(60_000);
  let dir: string;
  let savedPath: string | undefined;
  beforeEach(() => {
    dir = tempDir('flopsfit-gpus-');
    const bin = path.join(dir, 'bin');
    fs.mkdirSync(bin);
    // two idle 80 GB GPUs
    fs.writeFileSync(path.join(bin, 'nvidia-smi'), '#!/bin/sh\necho "0, GPU-aaa, NVIDIA H100, 81559, 10, 0"\necho "1, GPU-bbb, NVIDIA H100, 81559, 10, 0"\n', { mode: 0o755 });
    savedPath = process.env.PATH;
    process.env.PATH = `${bin}${path.delimiter}${process.env.PATH}`;
  });
  afterEach(() => {
    process.env.PATH = savedPath;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('gives each experiment a GPU, runs one per GPU, and retries a CUDA error once on another GPU', async () => {
    const runDir = path.join(dir, 'run');
    const specs = [4, 0, 0].map((seed, i) => {
      const s = engineSpec(i, seed);
      return { ...s, training: { ...s.training, backend: 'torch' as const } };
    });
    const lines: string[] = [];
    const out = await runSweep({ plan: fakePlan(runDir, specs), script: FAKE_ENGINE, handleSignals: false, write: (l) => lines.push(l) });
    assert.equal(out.exitCode, 0, lines.join('\n'));
    assert.equal(out.counts.completed, 3);
    assert.ok(lines.some((l) => /gpus: 0 NVIDIA H100 .*1 NVIDIA H100/.test(l)), 'the GPUs found are logged');
    for (const s of specs) {
      const log = fs.readFileSync(path.join(runDir, 'experiments', s.id, 'log.txt'), 'utf8');
      assert.match(log, /CUDA_VISIBLE_DEVICES=[01]\b/, `${s.id} ran on one GPU`);
    }
    const cuda = fs.readFileSync(path.join(runDir, "experiments", specs[0]!.id, 'log.txt'), 'utf8');
    // the first experiment (smallest) was placed on GPU 0, failed with a CUDA error there, and ran again on GPU 1
    assert.match(cuda, /CUDA_VISIBLE_DEVICES=0\b[\s\S]*CUDA error[\s\S]*CUDA_VISIBLE_DEVICES=1\b/, cuda);
    assert.ok(lines.some((l) => /CUDA error on GPU 0: retrying once on another GPU/.test(l)), lines.join('\n'));
  });
  it('with no parallel given, a fresh sweep runs as many at once as the GPUs hold (the GPU pool is set up before the first line)', async () => {
    const runDir = path.join(dir, 'run');
    const specs = [0, 0, 0].map((seed, i) => {
      const s = engineSpec(i, seed);
      return { ...s, training: { ...s.training, backend: 'torch' as const } };
    });
    const lines: string[] = [];
    // 2 GPUs × 2 experiments each = 4 slots, 3 experiments: 3 at once (not the CPU's core count)
    const out = await runSweep({ plan: fakePlan(runDir, specs), script: FAKE_ENGINE, handleSignals: false, write: (l) => lines.push(l), gpus: { experimentsPerGpu: 2 } });
    assert.equal(out.exitCode, 0, lines.join('\n'));
    assert.ok(lines.some((l) => /\(0 completed, 3 to run\), parallel 3$/.test(l)), lines.join('\n'));
  });

  it('an experiment that waits for a GPU starts when one frees up, and the sweep ends (no lost wake-up)', async () => {
    const runDir = path.join(dir, 'run');
    const bin = path.join(dir, 'bin');
    // GPU 1 is busy with another program until the test frees it
    fs.writeFileSync(
      path.join(bin, 'nvidia-smi'),
      `#!/bin/sh\necho "0, GPU-aaa, NVIDIA H100, 81559, 10, 0"\nif [ -f ${JSON.stringify(path.join(dir, 'free'))} ]; then u=0; else u=95; fi\necho "1, GPU-bbb, NVIDIA H100, 81559, 10, $u"\n`,
      { mode: 0o755 },
    );
    const s = engineSpec(0, 4); // a CUDA error on GPU 0
    const spec = { ...s, training: { ...s.training, backend: 'torch' as const } };
    const lines: string[] = [];
    const run = runSweep({ plan: fakePlan(runDir, [spec]), script: FAKE_ENGINE, handleSignals: false, write: (l) => lines.push(l) });
    for (const t0 = Date.now(); !lines.some((l) => /wait .* for a free GPU/.test(l)); ) {
      if (Date.now() - t0 > 30_000) assert.fail(`the retry never waited for a GPU:\n${lines.join('\n')}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(lines.some((l) => /gpu 1: skipped: busy/.test(l)), lines.join('\n'));
    fs.writeFileSync(path.join(dir, 'free'), '');
    const out = await run;
    assert.equal(out.exitCode, 0, lines.join('\n'));
    assert.match(fs.readFileSync(path.join(runDir, 'experiments', spec.id, 'log.txt'), 'utf8'), /CUDA_VISIBLE_DEVICES=1\b/);
  });
});
