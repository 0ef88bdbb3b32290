/** Approach 1, decision outputs (deadweight), published presets, and their place in fit.json. */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fitApproach1, type TrainingCurve } from '../../src/core/fit/approach1';
import { computeForLoss, deadweight, optimalLoss } from '../../src/core/fit/allocation';
import { fitRunDir } from '../../src/core/fit/runDirFit';
import { extraOptionsFromConfig } from '../../src/core/fit/configOptions';
import { parseSweepConfig } from '../../src/core/config';
import { FitReport } from '../../src/core/fit/types';
import { PRESETS, evaluatePresets, presetAllocation, presetHyper, type HyperPreset } from '../../src/core/fit/presets';
import { run as runFit } from '../../src/cli/commands/fit';
import { CliError } from '../../src/cli/util';
import { fitSummaryLines } from '../../src/engine/runner/fitSummary';
import { TRUTH, goldenMin, trueLoss, trueOptimalN } from './fit-helpers';

/** Curves of the ground-truth loss: 24 sizes, each trained to 400 tokens per parameter. */
function curves(): TrainingCurve[] {
  const out: TrainingCurve[] = [];
  for (let i = 0; i < 24; i++) {
    const N = 1e7 * 10 ** (i / 8);
    const planned = 400 * N;
    const points = Array.from({ length: 30 }, (_, j) => {
      const tokens = planned * 10 ** (-3 + (3 * (j + 1)) / 30);
      return { tokens, loss: trueLoss(N, tokens) };
    });
    out.push({ id: `n${i}`, N, plannedTokens: planned, points });
  }
  return out;
}

describe('Approach 1 (lower envelope of training curves)', () => {
  it('recovers a = β/(α+β) of the true law from the envelope', () => {
    const a = TRUTH.beta / (TRUTH.alpha + TRUTH.beta);
    const f = fitApproach1(curves(), { bootstrap: 30, seed: 2 });
    assert.ok(Math.abs(f.nOpt.exponent - a) < 0.03, `a = ${f.nOpt.exponent}, expected ${a}`);
    assert.ok(Math.abs(f.nOpt.exponent + f.dOpt.exponent - 1) < 1e-9, 'C = 6·N·D on the envelope');
    assert.ok(f.intervals?.['nOpt.exponent']);
    // each envelope point is the best run at its C
    for (const e of f.envelope.slice(5, 10)) {
      const nStar = trueOptimalN(e.C);
      assert.ok(Math.abs(Math.log10(e.N / nStar)) < 0.2, `N ${e.N} vs the true optimum ${nStar}`);
    }
    assert.ok(f.warnings.some((w) => /not compute-optimal/.test(w)), 'the Chinchilla caveat is stated');
  });

  it('restricts the envelope to final points, or to points after a fraction of each run', () => {
    const all = curves();
    const final = fitApproach1(all, { restrict: 'final' });
    assert.equal(final.restrict, 'final');
    assert.ok(final.envelope.every((e) => all.find((c) => c.id === e.run)!.plannedTokens * 6 * all.find((c) => c.id === e.run)!.N >= e.C * 0.999));
    assert.ok(final.envelope.length <= all.length);
    const after = fitApproach1(all, { restrict: 'after', afterFraction: 0.5 });
    for (const e of after.envelope) {
      const c = all.find((x) => x.id === e.run)!;
      assert.ok(e.D >= 0.5 * c.plannedTokens * 0.999, 'no point from the first half of a run');
    }
    assert.throws(() => fitApproach1(all.slice(0, 1)), /at least 2 runs/);
  });
});

describe('decision outputs', () => {
  const m = TRUTH;
  it('the optimum wastes nothing; a misallocation wastes what an independent search says', () => {
    const C = 1e21;
    const nStar = trueOptimalN(C);
    assert.ok(deadweight(m, nStar, C / (6 * nStar))! < 1e-9);
    const N = 3 * nStar;
    const D = C / (6 * N);
    const lossBad = trueLoss(N, D);
    // independent: the smallest C' whose best allocation (golden-section over ln N) reaches lossBad
    const best = (c: number) => {
      const ln = goldenMin((x) => trueLoss(Math.exp(x), c / (6 * Math.exp(x))), Math.log(nStar) - 5, Math.log(nStar) + 5);
      return trueLoss(Math.exp(ln), c / (6 * Math.exp(ln)));
    };
    let lo = Math.log(C) - 3;
    let hi = Math.log(C);
    for (let i = 0; i < 100; i++) {
      const mid = (lo + hi) / 2;
      if (best(Math.exp(mid)) > lossBad) lo = mid;
      else hi = mid;
    }
    const expected = 1 - Math.exp(lo) / C;
    const dw = deadweight(m, N, D)!;
    assert.ok(dw > 0.01, `deadweight ${dw}`);
    assert.ok(Math.abs(dw - expected) < 1e-6, `${dw} vs ${expected}`);
    assert.ok(Math.abs(optimalLoss(m, computeForLoss(m, lossBad)!) - lossBad) < 1e-9);
    assert.equal(computeForLoss(m, m.E * 0.99), undefined, 'no compute reaches a loss below E');
  });
});

describe('published laws (presets)', () => {
  it("DeepSeek's hyperparameter law at C = 1e20: η = 9.860e−4, B = 1.017e6 tokens", () => {
    const p = PRESETS.find((x) => x.id === 'deepseek-hyper') as HyperPreset;
    const eta = presetHyper(p.learningRate!, { C: 1e20 })!;
    const bs = presetHyper(p.batchSize!, { C: 1e20 })!;
    assert.equal(+eta.toPrecision(4), 9.86e-4);
    assert.equal(+bs.toPrecision(4), 1.017e6);
  });

  it("Chinchilla's preset allocation is the closed form, and every preset names its source", () => {
    const a = presetAllocation(PRESETS.find((p) => p.id === 'chinchilla')!, 1e21)!;
    assert.ok(Math.abs(a.N / trueOptimalN(1e21) - 1) < 1e-9); // fit-helpers' TRUTH is Hoffmann's law
    for (const p of PRESETS) assert.ok(p.source.length > 20, p.id);
    const curvesAt = evaluatePresets([1e20, 1e21]);
    assert.equal(curvesAt.find((c) => c.id === 'steplaw-hyper')!.points.length, 0, 'a law of N and D needs an allocation');
    assert.equal(evaluatePresets([1e20], 6, (C) => ({ N: 1e9, D: C / 6e9 })).find((c) => c.id === 'steplaw-hyper')!.points.length, 1);
  });
});

describe('fit.json from a run directory with a learning-rate axis and eval curves', () => {
  function writeRunDir(): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-extras-'));
    const lines: string[] = [];
    for (const C of [1e17, 1e18, 1e19, 1e20]) {
      const nStar = trueOptimalN(C);
      const eta = 0.3118 * C ** -0.125;
      for (let j = -2; j <= 2; j++) {
        const N = nStar * 10 ** (j / 4);
        const D = C / (6 * N);
        for (let i = -2; i <= 2; i++) {
          const lr = eta * 2 ** i;
          const id = `c${Math.log10(C)}n${j + 2}l${i + 2}`;
          const loss = trueLoss(N, D) * (1 + 0.01 * i * i);
          lines.push(JSON.stringify({ id, budget: C, params: N, tokens: D, flops: C, loss, seed: 0, sizeValue: j, hyperparameters: { learningRate: lr } }));
          const ex = path.join(dir, 'experiments', id);
          fs.mkdirSync(ex, { recursive: true });
          const metrics = Array.from({ length: 10 }, (_, s) => {
            const t = (D * (s + 1)) / 10;
            return JSON.stringify({ step: s + 1, tokens: t, evalLoss: trueLoss(N, t) * (1 + 0.01 * i * i) });
          });
          fs.writeFileSync(path.join(ex, 'metrics.jsonl'), metrics.join('\n') + '\n');
        }
      }
    }
    fs.writeFileSync(path.join(dir, 'results.jsonl'), lines.join('\n') + '\n');
    return dir;
  }

  it('averages seeds the same way for the IsoFLOP points and the hyperparameter laws (one rule: seedGroupKey)', () => {
    // per cell, two seeds of three rates: the middle rate has the lowest MEAN loss, but one seed of
    // the highest rate is the lowest single run (the lr-grid example's case)
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-seeds-'));
    const lines: string[] = [];
    for (const C of [1e17, 1e18, 1e19]) {
      const nStar = trueOptimalN(C);
      for (let j = -2; j <= 2; j++) {
        const N = nStar * 10 ** (j / 4);
        const D = C / (6 * N);
        const base = trueLoss(N, D);
        const losses: Record<string, [number, number]> = { '0.001': [base * 1.03, base * 1.03], '0.003': [base * 1.01, base * 1.01], '0.01': [base * 1.035, base * 1.005] };
        for (const [lr, pair] of Object.entries(losses)) {
          pair.forEach((loss, seed) => {
            const id = `c${Math.log10(C)}n${j + 2}l${lr}s${seed}`;
            lines.push(JSON.stringify({ id, budget: C, params: N, tokens: D, flops: C, loss, seed, sizeValue: j, hyperparameters: { learningRate: Number(lr) } }));
          });
        }
      }
    }
    fs.writeFileSync(path.join(dir, 'results.jsonl'), lines.join('\n') + '\n');
    const report = fitRunDir(dir, { bootstrap: 0, methods: ['isoflop'] });
    const cells = report.hyper!.cells;
    assert.equal(cells.length, 15);
    for (const cell of cells) {
      assert.equal(cell.best.learningRate, 0.003, `cell C=${cell.budget} N=${cell.N}: the best mean rate`);
      const point = report.points.find((p) => p.budget === cell.budget && p.N === cell.N)!;
      assert.ok(Math.abs(point.loss - cell.bestLoss) < 1e-12, 'the IsoFLOP point and the hyper cell have the same (seed-averaged) best loss');
    }
    assert.equal(report.hyper!.laws.find((l) => l.name === 'learningRate')!.edgeCells, 0);
  });

  it('holds the hyperparameter law, Approach 1, the decision and the presets, and validates', () => {
    const dir = writeRunDir();
    const report = fitRunDir(dir, { bootstrap: 20, target: 1e21, methods: ['isoflop', 'vpnls'], extras: { approach1: { restrict: 'final' } } });
    const onDisk = FitReport.parse(JSON.parse(fs.readFileSync(path.join(dir, 'fit.json'), 'utf8')));
    assert.ok(onDisk.hyper && onDisk.approach1 && onDisk.decision && onDisk.presets);
    const lr = report.hyper!.laws.find((l) => l.name === 'learningRate')!;
    assert.ok(Math.abs(lr.exponents.C + 0.125) < 1e-6, `exponent ${lr.exponents.C}`);
    assert.ok(Math.abs(lr.prediction!.value - 0.3118 * 1e21 ** -0.125) < 1e-9);
    assert.equal(report.approach1!.restrict, 'final');
    assert.equal(report.decision!.reference, 'vpnls');
    const methods = report.decision!.rows.map((r) => r.method).sort();
    assert.deepEqual(methods, ['approach1', 'isoflop', 'vpnls']);
    assert.ok(report.decision!.rows.find((r) => r.method === 'vpnls')!.deadweight! < 1e-9);
    assert.equal(report.decision!.hyper[0].name, 'learningRate');
    assert.ok(report.presets!.some((p) => p.id === 'deepseek-hyper' && p.points.length > 0));
    const summary = fitSummaryLines(report, 'fit.json').join('\n');
    assert.match(summary, /learningRate\* = 0\.3118·C\^-0\.125 → /);
    assert.match(summary, /Approach 1 \(envelope of \d+ curves\)/);
    assert.match(summary, /VPNLS \(least squares\)/);
  });

  it('the CLI rejects bad --hyper and --approach1 values with a usage error', async () => {
    const dir = writeRunDir();
    for (const args of [
      ['--hyper', 'Q'],
      ['--approach1', 'after:2'],
      ['--approach1', 'sometimes'],
      ['--hyper-band', '2'],
    ]) {
      await assert.rejects(
        runFit(['--run-dir', dir, '--bootstrap', '0', '--workers', '1', ...args]),
        (e: unknown) => e instanceof CliError && e.exitCode === 2,
      );
    }
  });
});

describe('fit options from the config', () => {
  it('fit.hyper and fit.approach1 map to the extra options', () => {
    const r = parseSweepConfig('name: x\nbudgets: [1e12]\nfit:\n  hyper: { form: ND, band: 0.005 }\n  approach1: { points: after, afterFraction: 0.5 }\n', 'x.sweep.yaml');
    assert.ok(r.config);
    assert.deepEqual(extraOptionsFromConfig(r.config.fit), { hyper: { form: 'ND', band: 0.005 }, approach1: { restrict: 'after', afterFraction: 0.5 } });
    const off = parseSweepConfig('name: x\nbudgets: [1e12]\nfit:\n  hyper: { form: off }\n  approach1: { points: off }\n', 'x.sweep.yaml');
    assert.deepEqual(extraOptionsFromConfig(off.config!.fit), { hyper: false, approach1: false });
    assert.deepEqual(extraOptionsFromConfig(parseSweepConfig('name: x\nbudgets: [1e12]\n', 'x.sweep.yaml').config!.fit), {});
  });
});

describe('flopsfit fit --input with learning-rate columns', () => {
  it('fits the hyperparameter law from the file (ND form) and writes it into the report', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-hyper-csv-'));
    const file = path.join(dir, 'runs.csv');
    const rows = ['N,D,loss,lr,batch_size'];
    for (const N of [1e8, 2e8, 4e8]) {
      for (const D of [1e9, 4e9]) {
        const eta = 2 * N ** -0.7 * D ** 0.3;
        for (let i = -2; i <= 2; i++) rows.push([N, D, (2 + 400 / N ** 0.34 + 400 / D ** 0.28) * (1 + 0.02 * i * i), eta * 2 ** i, 64].join(','));
      }
    }
    fs.writeFileSync(file, rows.join('\n') + '\n');
    const out = path.join(dir, 'fit.json');
    const orig = process.stdout.write.bind(process.stdout);
    (process.stdout as { write: unknown }).write = () => true;
    try {
      assert.equal(await runFit(['--input', file, '--method', 'vpnls', '--bootstrap', '0', '--hyper', 'ND', '--hyper-band', '0', '--workers', '1', '--out', out]), 0);
    } finally {
      (process.stdout as { write: unknown }).write = orig;
    }
    const report = FitReport.parse(JSON.parse(fs.readFileSync(out, 'utf8')));
    const lr = report.hyper!.laws.find((l) => l.name === 'learningRate')!;
    assert.equal(report.hyper!.form, 'ND');
    assert.ok(Math.abs(lr.exponents.N + 0.7) < 1e-9 && Math.abs(lr.exponents.D - 0.3) < 1e-9, JSON.stringify(lr.exponents));
    assert.ok(!report.hyper!.names.includes('batchSize'), 'a constant column has no law');
  });
});
