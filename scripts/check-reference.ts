/**
 * Known-answer checks of the fits on published data in ../shared/reference-data (CI always has it;
 * some of it has no licence, so it is never copied into the repository). `npm run check:reference`;
 * FLOPSFIT_REFERENCE_DATA overrides the folder. Exit code 1 when a check fails, 2 when the data is
 * missing.
 *
 *  - Llama 3 Figure 2 (no licence): from a CSV with only budget, tokens and loss, D* ∝ C^0.537
 *    (the paper's value; its own method, one parabola per budget, within 0.005; the default Akima
 *    optimum within 0.015).
 *  - Porian et al. 2024 (MIT): the IsoFLOP exponent within 0.02 of a_basic on all 15
 *    configurations, and the per-budget N* within 10 % of the authors' (median over budgets).
 *  - Chinchilla (Epoch's extraction): fitting C < 1e21, the 23 runs above are predicted with a mean
 *    |relative loss error| of 1.05 % (± 0.05).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { backtest, fitScalingLaws, parseCsv, recordsToPoints } from '../src/core/fit';

const root = process.env.FLOPSFIT_REFERENCE_DATA ?? path.resolve(__dirname, '..', '..', 'shared', 'reference-data');
if (!fs.existsSync(root)) {
  process.stderr.write(`check:reference: no reference data at ${root} (set FLOPSFIT_REFERENCE_DATA)\n`);
  process.exit(2);
}

function records(file: string): Record<string, string>[] {
  const rows = parseCsv(fs.readFileSync(path.join(root, file), 'utf8').replace(/^\uFEFF/, ''));
  return rows.slice(1).map((r) => Object.fromEntries(rows[0].map((k, j) => [k, r[j]])));
}

let failures = 0;
function check(name: string, ok: boolean, detail: string): void {
  if (!ok) failures++;
  process.stdout.write(`${ok ? 'PASS' : 'FAIL'}  ${name}: ${detail}\n`);
}

async function main(): Promise<void> {
  // Llama 3: budget, tokens, loss only (N = C/(6·D))
  {
    const rows = records('llama3-isoflops/isoflops_points.csv').map((r) => ({ budget: r.compute_budget, tokens: r.training_tokens, loss: r.validation_loss }));
    const { points } = recordsToPoints(rows, (i) => `llama3 row ${i + 1}`, 6, 'llama3-isoflops/isoflops_points.csv');
    const paper = fitScalingLaws(points, { methods: ['isoflop'], bootstrap: 0, optimum: 'parabola' }).isoflop!;
    const robust = fitScalingLaws(points, { methods: ['isoflop'], bootstrap: 0 }).isoflop!;
    check('Llama 3, one parabola per budget (the paper\'s method)', Math.abs(paper.b - 0.537) <= 0.005, `D* ∝ C^${paper.b.toFixed(4)} (paper 0.537), ${paper.usedGroups} budgets`);
    check('Llama 3, default optimum (Akima)', Math.abs(robust.b - 0.537) <= 0.015, `D* ∝ C^${robust.b.toFixed(4)} (paper 0.537), ${robust.usedGroups} budgets`);
  }
  // Porian et al. 2024
  {
    const pts = records('porian2024/isoflop_points.csv');
    const fits = records('porian2024/published_fits.csv');
    const optimal = records('porian2024/optimal_pairs.csv');
    const key = (r: Record<string, string>) => ['source_file', 'dataset', 'hparams', 'warmup', 'decay', 'param_count', 'loss_split'].map((k) => r[k]).join('|');
    let worst = 0;
    let worstNStar = 0;
    for (const f of fits) {
      const { points } = recordsToPoints(
        pts.filter((r) => key(r) === key(f)).map((r) => ({ N: r.N, D: r.D, loss: r.loss, budget: r.C })),
        (i) => `porian row ${i + 1}`,
      );
      const iso = fitScalingLaws(points, { methods: ['isoflop'], bootstrap: 0 }).isoflop!;
      worst = Math.max(worst, Math.abs(iso.a - Number(f.a_basic)));
      const ratios: number[] = [];
      for (const o of optimal.filter((r) => key(r) === key(f) && Number(r.N_star) > 0)) {
        const g = iso.groups.find((x) => x.used && Math.abs(x.budget / Number(o.C) - 1) < 1e-9);
        if (g?.nOpt) ratios.push(Math.abs(Math.log(g.nOpt / Number(o.N_star))));
      }
      ratios.sort((x, y) => x - y);
      worstNStar = Math.max(worstNStar, ratios[Math.floor(ratios.length / 2)] ?? Infinity);
    }
    check('Porian 2024, IsoFLOP exponent on 15 configurations', worst <= 0.02, `worst |a − a_basic| = ${worst.toFixed(4)}`);
    check('Porian 2024, per-budget N*', worstNStar <= Math.log(1.1), `worst median |ln(N*/N*_paper)| = ${worstNStar.toFixed(4)}`);
  }
  // Chinchilla backtest
  {
    const rows = records('chinchilla/data.csv');
    const { points } = recordsToPoints(rows, (i) => `chinchilla row ${i + 1}`, 6, 'chinchilla/data.csv');
    const b = await backtest(points, { methods: ['parametric'] }, { kind: 'above', above: 1e21 }, fitScalingLaws);
    const m = b.parametric!.meanAbsRelError;
    check('Chinchilla backtest (fit C < 1e21, predict the rest)', b.test.points === 23 && Math.abs(m - 0.0105) <= 0.0005, `${b.test.points} held-out runs, mean |relative loss error| ${(m * 100).toFixed(3)} % (expected 1.05 %)`);
  }
  process.stdout.write(failures ? `check:reference: ${failures} check(s) failed\n` : 'check:reference: all checks passed\n');
  process.exit(failures ? 1 : 0);
}

void main();
