import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FitReport, fitRunDir, fitScalingLaws, parseCsv, readPointsFile, readResultsRows } from '../../src/core/fit';
import { formatReport, run as runFit } from '../../src/cli/commands/fit';
import { CliError } from '../../src/cli/util';
import { isoflopGrid } from './fit-helpers';

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'ff-fit-'));
}

async function capture(fn: () => Promise<number>): Promise<{ code: number; out: string }> {
  const orig = process.stdout.write.bind(process.stdout);
  let out = '';
  (process.stdout as { write: unknown }).write = (chunk: string | Uint8Array) => {
    out += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    return true;
  };
  try {
    const code = await fn();
    return { code, out };
  } finally {
    (process.stdout as { write: unknown }).write = orig;
  }
}

describe('fit input files', () => {
  it('parses CSV with quotes, CRLF and column aliases; derives D from C', () => {
    const dir = tmpDir();
    const f = path.join(dir, 'runs.csv');
    fs.writeFileSync(f, 'params,"Compute",final_loss,name\r\n1e6,6e12,3.5,"a, b"\r\n2e6,6e12,3.4,c\r\n');
    const { points } = readPointsFile(f);
    assert.equal(points.length, 2);
    assert.equal(points[0].id, 'a, b');
    assert.equal(points[0].D, 1e6);
    assert.equal(points[1].C, 6e12);
    assert.deepEqual(parseCsv('a,b\n"x""y",2\n'), [
      ['a', 'b'],
      ['x"y', '2'],
    ]);
  });

  it('derives C = k·N·D when only D is given, with a custom k', () => {
    const dir = tmpDir();
    const f = path.join(dir, 'r.json');
    fs.writeFileSync(f, JSON.stringify({ points: [{ N: 10, D: 100, loss: 2 }] }));
    assert.equal(readPointsFile(f, 8).points[0].C, 8000);
  });

  it('reads JSON arrays and JSONL', () => {
    const dir = tmpDir();
    const a = path.join(dir, 'a.json');
    fs.writeFileSync(a, JSON.stringify([{ N: 1, D: 2, loss: 3, budget: 12 }]));
    assert.deepEqual(readPointsFile(a).points, [{ N: 1, D: 2, C: 12, loss: 3, budget: 12 }]);
    const b = path.join(dir, 'b.jsonl');
    fs.writeFileSync(b, '{"N":1,"C":6,"loss":3}\n\n{"N":2,"C":12,"loss":2.5}\n');
    assert.equal(readPointsFile(b).points.length, 2);
  });

  it('names the row of malformed input', () => {
    const dir = tmpDir();
    const f = path.join(dir, 'x.csv');
    fs.writeFileSync(f, 'N,D,loss\n1,2,3\n1,-2,3\n');
    assert.throws(() => readPointsFile(f), /x\.csv line 3: column 'D' must be a positive finite number, got '-2'/);
    fs.writeFileSync(f, 'N,D,loss\n1,2,3\n1,2\n');
    assert.throws(() => readPointsFile(f), /x\.csv line 3: has 2 field\(s\), the header has 3/);
    fs.writeFileSync(f, 'N,D,loss\n1,2,\n');
    assert.throws(() => readPointsFile(f), /line 2: missing value for column 'loss'/);
    fs.writeFileSync(f, 'N,D,loss\n1,Infinity,3\n');
    assert.throws(() => readPointsFile(f), /line 2: column 'D' must be a positive finite number/);
    fs.writeFileSync(f, 'size,loss\n1,3\n');
    assert.throws(() => readPointsFile(f), /x\.csv: missing column: two of N \(parameters\), D \(tokens\), C \(FLOPs\)/);
    fs.writeFileSync(f, 'tokens,loss\n1,3\n');
    assert.throws(() => readPointsFile(f), /x\.csv: missing column: one more of N \(parameters\) or C \(FLOPs\) \(found only D \(tokens\)/);
    fs.writeFileSync(f, 'N,D,loss\n1,2,NaN\n');
    assert.throws(() => readPointsFile(f), /x\.csv line 2: column 'loss' must be a positive finite number, got 'NaN'/);
    fs.writeFileSync(f, 'N,C,D,loss\n1,,,3\n');
    assert.throws(() => readPointsFile(f), /x\.csv line 2: needs two of N, D, C; missing value for column 'D' and 'C'/);
    const j = path.join(dir, 'y.json');
    fs.writeFileSync(j, '[{"N":1,"D":2,"loss":3},{"N":"big","D":2,"loss":3}]');
    assert.throws(() => readPointsFile(j), /y\.json row 2: column 'N' must be a positive finite number, got 'big'/);
    fs.writeFileSync(j, '{"N": 1');
    assert.throws(() => readPointsFile(j), /y\.json: not valid JSON/);
  });
});

describe('fit input: any two of N, D, C; budgets as given', () => {
  it('derives N from C and D, D from C and N, C from N and D, with the chosen k', () => {
    const dir = tmpDir();
    const f = path.join(dir, 'cd.csv');
    fs.writeFileSync(f, 'compute_budget,tokens,loss\n6e18,1e9,3.1\n');
    const [p] = readPointsFile(f).points;
    assert.equal(p.N, 6e18 / (6 * 1e9));
    assert.equal(p.budget, 6e18);
    fs.writeFileSync(f, 'flops,tokens,loss\n8e18,1e9,3.1\n');
    assert.equal(readPointsFile(f, 8).points[0].N, 1e9);
    fs.writeFileSync(f, 'params,flops,loss\n1e9,6e18,3.1\n');
    assert.equal(readPointsFile(f).points[0].D, 1e9);
    // a budget column and no C: the budget is the compute
    fs.writeFileSync(f, 'budget,tokens,loss\n6e18,1e9,3.1\n');
    const loaded = readPointsFile(f);
    assert.equal(loaded.points[0].C, 6e18);
    assert.match(loaded.warnings.join(), /C is taken from column 'budget'/);
  });

  it('groups budgets from C with a tolerance and reports them as given (6e18, not 6000000000000074000)', () => {
    const dir = tmpDir();
    const f = path.join(dir, 'nd.csv');
    // C = 6·N·D computed from N and D: within 1e-15 of 6e18 and 2e19, not equal to them
    const rows = ['N,D,loss'];
    for (const [C, sizes] of [[6e18, [1e8, 2e8, 4e8]], [2e19, [1e8, 2e8, 4e8]]] as const) {
      for (const N of sizes) rows.push(`${N},${C / (6 * N) * (1 + 3e-16)},${3 + Math.log(N / 2e8) ** 2}`);
    }
    fs.writeFileSync(f, rows.join('\n') + '\n');
    const r = fitScalingLaws(readPointsFile(f).points, { methods: ['isoflop'], bootstrap: 0 });
    assert.deepEqual(r.isoflop!.groups.map((g) => g.budget), [6e18, 2e19]);
    assert.ok(!formatReport(r).includes('6000000000000'), 'the summary prints 6e18');
  });
});

describe('fitRunDir', function () {
  this.timeout(120_000);
  it('reads results.jsonl, skips malformed lines with a warning and writes fit.json atomically', () => {
    const dir = tmpDir();
    const rows = isoflopGrid({ noise: 0.002, sizes: 5 }).map((p, i) => ({
      id: `e${i}`,
      budget: p.budget,
      params: p.N,
      tokens: Math.round(p.D),
      flops: p.C,
      loss: p.loss,
      seed: 0,
      sizeValue: i,
      hyperparameters: {},
    }));
    const lines = rows.map((r) => JSON.stringify(r));
    lines.splice(3, 0, '{"id": "broken", "budget": 1e18', JSON.stringify({ ...rows[0], id: 'neg', loss: -1 }));
    fs.writeFileSync(path.join(dir, 'results.jsonl'), lines.join('\n') + '\n');
    const { points, warnings } = readResultsRows(path.join(dir, 'results.jsonl'));
    assert.equal(points.length, rows.length);
    assert.equal(warnings.length, 2);
    assert.match(warnings[0], /results\.jsonl line 4: not valid JSON, skipped/);
    assert.match(warnings[1], /results\.jsonl line 5: loss: .*skipped/);

    const report = fitRunDir(dir, { methods: ['isoflop'], bootstrap: 20, seed: 3 });
    const onDisk = FitReport.parse(JSON.parse(fs.readFileSync(path.join(dir, 'fit.json'), 'utf8')));
    assert.deepEqual(onDisk, JSON.parse(JSON.stringify(report)));
    assert.equal(onDisk.points.length, rows.length);
    assert.equal(onDisk.points[0].id, 'e0');
    assert.match(onDisk.warnings[0], /line 4: not valid JSON/);
    assert.equal(onDisk.isoflop!.usedGroups, 7);
    assert.deepEqual(fs.readdirSync(dir).sort(), ['fit.json', 'results.jsonl']);
  });

  it('averages seeds and keeps the best hyperparameter setting per (budget, N) cell', () => {
    const dir = tmpDir();
    const base = { budget: 1e18, params: 1e6, tokens: 1.6e11, flops: 1e18, sizeValue: 1 };
    const rows = [
      { ...base, id: 'a0', seed: 0, loss: 3.0, hyperparameters: { lr: 1e-3 } },
      { ...base, id: 'a1', seed: 1, loss: 3.2, hyperparameters: { lr: 1e-3 } },
      { ...base, id: 'b0', seed: 0, loss: 2.9, hyperparameters: { lr: 3e-3 } },
      { ...base, id: 'b1', seed: 1, loss: 3.0, hyperparameters: { lr: 3e-3 } },
      { ...base, id: 'c0', seed: 0, loss: 2.5, params: 2e6, tokens: 8e10, hyperparameters: { lr: 1e-3 } },
    ];
    fs.writeFileSync(path.join(dir, 'results.jsonl'), rows.map((r) => JSON.stringify(r)).join('\n'));
    const { points, warnings } = readResultsRows(path.join(dir, 'results.jsonl'));
    assert.equal(points.length, 2);
    assert.equal(points[0].id, 'b0');
    assert.ok(Math.abs(points[0].loss - 2.95) < 1e-12);
    assert.equal(points[1].loss, 2.5);
    assert.match(warnings.join(), /5 results reduced to 2 points: .*seed is averaged \(2 cell\(s\)\); the best hyperparameter setting .* \(1 cell\(s\)\)/);
  });

  it('reports a missing results file clearly', () => {
    assert.throws(() => fitRunDir(tmpDir()), /no results yet: .*results\.jsonl does not exist/);
  });
});

describe('flopsfit fit (CLI)', function () {
  this.timeout(120_000);
  it('--input … --json prints the report with the documented shape', async () => {
    const dir = tmpDir();
    const f = path.join(dir, 'grid.csv');
    const pts = isoflopGrid({ noise: 0.002, sizes: 5 });
    fs.writeFileSync(f, 'N,D,C,loss\n' + pts.map((p) => `${p.N},${p.D},${p.C},${p.loss}`).join('\n') + '\n');
    const { code, out } = await capture(() => runFit(['--input', f, '--bootstrap', '30', '--seed', '5', '--target', '1e22', '--json']));
    assert.equal(code, 0);
    const j = JSON.parse(out);
    FitReport.parse(j);
    for (const k of ['E', 'A', 'B', 'alpha', 'beta', 'a', 'b', 'objective', 'starts', 'converged']) assert.ok(k in j.parametric, k);
    for (const k of ['groups', 'a', 'b', 'logCoefficient']) assert.ok(k in j.isoflop, k);
    assert.equal(j.isoflop.groups.length, 7);
    assert.equal(j.bootstrap.samples, 30);
    assert.equal(j.bootstrap.confidence, 0.95);
    assert.equal(j.bootstrap.intervals['parametric.alpha'].length, 2);
    assert.ok(j.bootstrap.se['isoflop.a'] > 0);
    assert.ok(j.prediction.parametric.nOpt > 0);
    assert.ok(!out.includes('NaN') && !out.includes('null'));
  });

  it('prints a readable summary and writes --out', async () => {
    const dir = tmpDir();
    const f = path.join(dir, 'grid.json');
    fs.writeFileSync(f, JSON.stringify(isoflopGrid({ sizes: 5 }).map(({ N, D, loss }) => ({ N, D, loss }))));
    const out = path.join(dir, 'report.json');
    const r = await capture(() => runFit(['--input', f, '--method', 'isoflop', '--bootstrap', '0', '--out', out]));
    assert.equal(r.code, 0);
    assert.match(r.out, /IsoFLOP \(approach 2\): 7 of 7 budgets used/);
    assert.match(r.out, /N_opt ∝ C\^a: a = 0\.4[45]/);
    assert.match(r.out, /Compute-optimal table/);
    assert.doesNotMatch(r.out, /Parametric/);
    FitReport.parse(JSON.parse(fs.readFileSync(out, 'utf8')));
  });

  it('usage and input errors are CliErrors with clear messages', async () => {
    await assert.rejects(runFit([]), (e: unknown) => e instanceof CliError && e.exitCode === 2 && /exactly one of/.test(e.message));
    await assert.rejects(runFit(['--input', 'x.csv', '--method', 'both']), (e: unknown) => e instanceof CliError && /--method: 'both'/.test(e.message));
    await assert.rejects(runFit(['--input', 'x.csv', '--confidence', '95']), (e: unknown) => e instanceof CliError && /between 0 and 1/.test(e.message));
    const dir = tmpDir();
    const f = path.join(dir, 'few.csv');
    fs.writeFileSync(f, 'N,D,loss\n1e6,1e7,3\n2e6,1e7,2.9\n');
    await assert.rejects(runFit(['--input', f, '--method', 'parametric']), (e: unknown) => e instanceof CliError && e.exitCode === 1 && /^few\.csv: .*at least 5 points; got 2/.test(e.message));
    // every run at one size: the message names the file and says no budget has 3 sizes
    const one = path.join(dir, 'one.csv');
    fs.writeFileSync(one, 'N,D,loss\n1e6,1e8,3.1\n1e6,2e8,3.0\n1e6,4e8,2.9\n1e6,8e8,2.85\n1e6,1.6e9,2.8\n');
    await assert.rejects(
      runFit(['--input', one, '--bootstrap', '0']),
      (e: unknown) => e instanceof CliError && /^one\.csv: IsoFLOP fit needs budgets with at least 3 distinct model sizes; no budget has 3 .*the parametric fit needs at least 2 distinct model sizes/.test(e.message),
    );
  });

  it('--run-dir fits results.jsonl and writes fit.json', async () => {
    const dir = tmpDir();
    const rows = isoflopGrid({ sizes: 5 }).map((p, i) => ({ id: `e${i}`, budget: p.budget, params: p.N, tokens: Math.round(p.D), flops: p.C, loss: p.loss, seed: 0, sizeValue: i, hyperparameters: {} }));
    fs.writeFileSync(path.join(dir, 'results.jsonl'), rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const r = await capture(() => runFit(['--run-dir', dir, '--method', 'isoflop', '--bootstrap', '10']));
    assert.equal(r.code, 0);
    assert.match(r.out, /wrote .*fit\.json/);
    FitReport.parse(JSON.parse(fs.readFileSync(path.join(dir, 'fit.json'), 'utf8')));
  });

  it('<config> fits the sweep\'s run directory with the config\'s fit settings', async () => {
    const dir = tmpDir();
    fs.mkdirSync(path.join(dir, 'runs'));
    fs.writeFileSync(path.join(dir, 'demo.sweep.yaml'), 'name: demo\nbudgets: [1e18, 1e21]\nfit:\n  bootstrap: 20\n  confidence: 0.8\n  methods: [isoflop]\nrun:\n  directory: runs\n');
    const rows = isoflopGrid({ sizes: 5, noise: 0.002 }).map((p, i) => ({ id: `e${i}`, budget: p.budget, params: p.N, tokens: Math.round(p.D), flops: p.C, loss: p.loss, seed: 0, sizeValue: i, hyperparameters: {} }));
    fs.writeFileSync(path.join(dir, 'runs', 'results.jsonl'), rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const r = await capture(() => runFit([path.join(dir, 'demo.sweep.yaml'), '--workspace', dir, '--json']));
    assert.equal(r.code, 0);
    const report = FitReport.parse(JSON.parse(fs.readFileSync(path.join(dir, 'runs', 'fit.json'), 'utf8')));
    assert.equal(report.settings.confidence, 0.8);
    assert.equal(report.settings.bootstrap, 20);
    assert.deepEqual(report.settings.methods, ['isoflop']);
    // The config documents the default target as 10× the largest budget.
    assert.equal(report.prediction!.budget, 1e22);
    assert.deepEqual(JSON.parse(r.out).settings, report.settings);
  });
});

