/**
 * Known-answer checks of the hyperparameter laws and the decision outputs on reference data that
 * has no licence and so is never committed (it lives in ../shared/reference-data, or in
 * $FLOPSFIT_REFERENCE_DATA). Run with `npm run check:reference:hyper`; exits 1 when a check fails
 * or the data is missing.
 *
 *   Step Law (Li et al. 2025), dense_lr_bs_loss.csv: log-log least squares over every run within
 *   0.25 % of its (N, D) cell's best `smooth loss` gives η* ∝ N^−0.766·D^0.197 (the raw `loss`
 *   column: N^−0.793·D^0.278).
 *   Llama 3, Figure 2 IsoFLOP points: at 3.8e25 FLOPs the Approach-2 allocation (a parabola per
 *   budget) uses 58–60 % more
 *   tokens than the parametric fits' (Huber and VPNLS) and wastes about 6.3–6.5 % of the compute.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { addExtras } from '../src/core/fit/extras';
import { fitScalingLaws } from '../src/core/fit/fit';
import { parseCsv } from '../src/core/fit/io';
import { fitHyperLaws, type HyperRun } from '../src/core/fit/hyperLaws';

const root = process.env.FLOPSFIT_REFERENCE_DATA ?? path.resolve(__dirname, '../../shared/reference-data');
let failures = 0;

function check(label: string, value: number, lo: number, hi: number): void {
  const ok = value >= lo && value <= hi;
  if (!ok) failures++;
  process.stdout.write(`${ok ? 'ok  ' : 'FAIL'} ${label}: ${value.toFixed(4)} (expected ${+lo.toFixed(6)} to ${+hi.toFixed(6)})\n`);
}

function readCsv(rel: string): { header: string[]; rows: string[][] } {
  const file = path.join(root, rel);
  if (!fs.existsSync(file)) {
    process.stderr.write(`reference data not found: ${file} (set FLOPSFIT_REFERENCE_DATA to the reference-data folder)\n`);
    process.exit(1);
  }
  const all = parseCsv(fs.readFileSync(file, 'utf8'));
  return { header: all[0].map((h) => h.trim()), rows: all.slice(1) };
}

// Step Law
{
  const { header, rows } = readCsv('steplaw2025/dense_lr_bs_loss.csv');
  const col = (n: string) => header.indexOf(n);
  for (const [lossCol, eN, eD] of [
    ['smooth loss', -0.766, 0.197],
    ['loss', -0.793, 0.278],
  ] as const) {
    const runs: HyperRun[] = rows.map((r) => {
      const N = Number(r[col('N')]);
      const D = Number(r[col('D')]);
      return { N, D, C: 6 * N * D, loss: Number(r[col(lossCol)]), values: { learningRate: Number(r[col('lr')]) } };
    });
    const fit = fitHyperLaws(runs, { form: 'ND', band: 0.0025, bootstrap: 0 });
    const lr = fit.laws.find((l) => l.name === 'learningRate')!;
    check(`Step Law η* exponent of N (${lossCol})`, lr.exponents.N, eN - 0.0015, eN + 0.0015);
    check(`Step Law η* exponent of D (${lossCol})`, lr.exponents.D, eD - 0.0015, eD + 0.0015);
  }
}

// Llama 3: Approach 2 against the parametric fits at 3.8e25 FLOPs
{
  const { header, rows } = readCsv('llama3-isoflops/isoflops_points.csv');
  const col = (n: string) => header.indexOf(n);
  const points = rows.map((r) => {
    const C = Number(r[col('compute_budget')]);
    const D = Number(r[col('training_tokens')]);
    return { C, D, N: C / (6 * D), loss: Number(r[col('validation_loss')]), budget: C };
  });
  // Approach 2 as Llama 3 fitted it: one parabola per budget (not the default Akima optimum)
  const report = fitScalingLaws(points, { methods: ['isoflop', 'vpnls'], bootstrap: 0, target: 3.8e25, optimum: 'parabola' });
  addExtras(report, {}, { presets: false });
  const iso = report.decision!.rows.find((r) => r.method === 'isoflop')!;
  check('Llama 3: Approach-2 tokens vs the least-squares parametric fit (VPNLS) at 3.8e25', iso.tokensVsReference!, 0.575, 0.605);
  check('Llama 3: compute the Approach-2 allocation wastes (deadweight)', iso.deadweight!, 0.0625, 0.0655);
}

process.stdout.write(failures ? `${failures} reference check(s) failed\n` : 'all hyperparameter reference checks passed\n');
process.exit(failures ? 1 : 0);
