import { strict as assert } from 'node:assert';
import { CliError } from '../../src/cli/util';
import { countTransformerParams } from '../../src/core/model/transformer';
import {
  flopsPerToken,
  formatTable,
  lookupPeak,
  median,
  parseOptions,
  salvageSteps,
  summarize,
  type BenchConfig,
  type RunOutcome,
} from '../../bench/gpu-bench';
import { parseWorkerArgs } from '../../bench/gpu-worker';

const cfg: BenchConfig = { d: 768, layers: 8, heads: 12, context: 512, batch: 32, vocab: 256, steps: 10, warmup: 2 };

describe('GPU benchmark (bench/gpu.sh) helpers', () => {
  it('finds the peak of the cards nvidia-smi names', () => {
    assert.equal(lookupPeak('NVIDIA H100 80GB HBM3')?.name, 'H100 SXM');
    assert.equal(lookupPeak('NVIDIA H100 PCIe')?.name, 'H100 PCIe');
    assert.equal(lookupPeak('NVIDIA H200')?.bf16, 989.4);
    assert.equal(lookupPeak('NVIDIA A100-SXM4-80GB')?.fp32, 19.5);
    assert.equal(lookupPeak('NVIDIA L4')?.name, 'L4');
    assert.equal(lookupPeak('NVIDIA L40S')?.name, 'L40S');
    assert.equal(lookupPeak('NVIDIA A10')?.name, 'A10');
    assert.equal(lookupPeak('NVIDIA GeForce RTX 4090')?.fp32, 82.6);
    assert.equal(lookupPeak('Tesla T4')?.name, 'T4');
    assert.equal(lookupPeak('NVIDIA Quadro P1000'), undefined);
  });

  it('counts model FLOPs per token as 6·(N_nonemb + d·V) + 6·L·T·d, consistent with the closed form', () => {
    const c = countTransformerParams({ dModel: 768, nLayers: 8, contextLength: 512, vocabSize: 256, mlpRatio: 4, tiedEmbeddings: false });
    assert.equal(flopsPerToken(cfg), 6 * (c.nonEmbedding + 768 * 256) + c.attentionFlopsPerToken);
    assert.equal(flopsPerToken(cfg), 6 * (56_704_512 + 196_608) + 6 * 8 * 512 * 768);
  });

  it('computes tokens/s, TFLOP/s, MFU and the ratios to PyTorch from the median step', () => {
    const perStep = flopsPerToken(cfg) * 32 * 512;
    const outcomes: RunOutcome[] = [
      { engine: 'torch-fp32', ok: true, device: 'H100', stepMs: [200, 100, 100], wallSeconds: 5 },
      { engine: 'torch-bf16', ok: true, device: 'H100', stepMs: [50], wallSeconds: 5 },
      { engine: 'webgpu', ok: true, device: 'WebGPU: H100', stepMs: [400, 400, 1000], wallSeconds: 50, partial: true },
      { engine: 'tensorflow-gpu', ok: false, reason: 'not installed', wallSeconds: 0 },
    ];
    const peak = lookupPeak('NVIDIA H100 80GB HBM3');
    const rows = summarize(outcomes, cfg, peak);
    assert.deepEqual(rows.map((r) => r.engine), ['torch-fp32', 'torch-bf16', 'webgpu']);
    const [t32, bf, wg] = rows;
    assert.equal(t32.msPerStep, 100);
    assert.equal(t32.tokensPerSecond, (32 * 512) / 0.1);
    assert.ok(Math.abs(t32.tflops - perStep / 0.1 / 1e12) < 1e-9);
    assert.ok(Math.abs(t32.mfu! - t32.tflops / 66.9) < 1e-12, 'fp32 engines against the fp32 peak');
    assert.ok(Math.abs(bf.mfu! - bf.tflops / 989.4) < 1e-12, 'bf16 against the bf16 peak');
    assert.equal(wg.ratioTorchFp32, 0.25);
    assert.equal(wg.ratioTorchBest, 0.125);
    assert.equal(wg.partial, true);
    const table = formatTable(rows, outcomes);
    assert.match(table, /webgpu \(partial\)/);
    assert.match(table, /tensorflow-gpu: not measured: not installed/);
    assert.equal(summarize(outcomes, cfg, undefined)[0].mfu, undefined, 'no MFU without a known peak');
  });

  it('salvages the timed steps of a run killed by its time box', () => {
    const err = '[webgpu] step 1 (warmup): 9000 ms, loss 5.5\n[webgpu] step 2: 812 ms, loss 5.4\n[webgpu] step 3: 790.5 ms, loss 5.3\n';
    assert.deepEqual(salvageSteps(err), [812, 790.5]);
    assert.equal(median([3, 1, 2, 10]), 2.5);
  });

  it('parses options and rejects bad ones with a usage error', () => {
    const o = parseOptions(['--tiny', '--engines', 'webgpu,torch-fp32', '--batch', '8']);
    assert.ok(o !== 'help');
    assert.deepEqual(o.engines, ['torch-fp32', 'webgpu']);
    assert.equal(o.config.d, 64);
    assert.equal(o.config.batch, 8);
    assert.equal(parseOptions(['--help']), 'help');
    for (const bad of [['--engines', 'torch'], ['--d', '30'], ['--batch', '0'], ['--nope'], ['extra'], ['--time-box', '1']]) {
      assert.throws(() => parseOptions(bad), (e: unknown) => e instanceof CliError && e.exitCode === 2, bad.join(' '));
    }
  });

  it('the engine worker parses its arguments strictly', () => {
    assert.equal(parseWorkerArgs(['--backend', 'wasm', '--max-seconds', '30']).maxSeconds, 30);
    assert.throws(() => parseWorkerArgs(['--d', '30', '--heads', '4']), /not divisible/);
    assert.throws(() => parseWorkerArgs(['--bogus', '1']), /unknown option/);
    assert.throws(() => parseWorkerArgs(['--steps']), /needs a value/);
  });
});
