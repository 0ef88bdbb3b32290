import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseSweepConfig, type SweepConfig } from '../../src/core/config';
import { Plan } from '../../src/core/contracts';
import { countTransformerParams } from '../../src/core/model/transformer';
import { createCommandParamCounter, lastNumber } from '../../src/core/plan/commandCounter';
import { buildPlan, budgetValues, candidateValues, canonicalJson, experimentWork, planSemanticDiagnostics, resolveRunDir, sanitizeName, validateSweepText } from '../../src/core/plan';
import { Calibration, CALIBRATION_FILE, fitCalibration, readCalibration } from '../../src/core/plan/calibration';
import { BUILTIN_THROUGHPUT, evaluationPasses, experimentSteps } from '../../src/core/plan/throughput';

const BASE = `name: unit
budgets: [1e12, 3e12, 1e13]
`;

let tmp: string;
before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'flopsfit-plan-'));
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function cfg(yaml: string): SweepConfig {
  const r = parseSweepConfig(yaml, 'x.sweep.yaml');
  assert.ok(r.config, `config should be valid: ${JSON.stringify(r.diagnostics)}`);
  return r.config;
}

function plan(yaml: string, extra: Partial<Parameters<typeof buildPlan>[1]> = {}) {
  return buildPlan(cfg(yaml), { configPath: path.join(tmp, 'x.sweep.yaml'), workspaceRoot: tmp, ...extra });
}

const log = Math.log;

describe('plan: the IsoFLOP grid', () => {
  it('plans a two-line config with the defaults (5 sizes × 3 budgets)', () => {
    const p = plan(BASE);
    assert.equal(p.experiments.length, 15);
    assert.deepEqual(
      p.budgets.map((b) => b.experiments),
      [5, 5, 5],
    );
    assert.equal(p.warnings.length, 0, JSON.stringify(p.warnings));
    assert.ok(p.budgets.every((b) => b.brackets));
  });

  it('counts N exactly with the transformer closed form (non-embedding by default)', () => {
    const p = plan(BASE);
    for (const e of p.experiments) {
      assert.equal(e.model.family, 'transformer');
      if (e.model.family !== 'transformer') continue;
      const c = countTransformerParams(e.model);
      assert.equal(e.params, c.nonEmbedding);
      assert.equal(e.paramsTotal, c.total);
      assert.equal(e.sizeValue, e.model.dModel);
      assert.equal(e.model.vocabSize, 128, 'vocab defaults to the synthetic data vocab');
    }
    // d64/L2 is the engine benchmark's 100,096-parameter model
    const d64 = p.experiments.find((e) => e.sizeValue === 64);
    assert.equal(d64?.params, 100096);
  });

  it('counts embeddings when planning.countEmbeddingParams is set', () => {
    const p = plan(BASE + 'planning: {countEmbeddingParams: true}\n');
    for (const e of p.experiments) assert.equal(e.params, e.paramsTotal);
    const q = plan(BASE);
    assert.notDeepEqual(
      p.experiments.map((e) => e.params),
      q.experiments.map((e) => e.params),
    );
  });

  it('keeps C = k·N·D up to the rounding of D to whole tokens', () => {
    for (const k of [6, 8]) {
      const p = plan(BASE + `planning: {flopsPerParamPerToken: ${k}}\n`);
      for (const e of p.experiments) {
        assert.equal(e.flopsPerParamPerToken, k);
        assert.ok(Number.isInteger(e.tokens));
        assert.ok(Math.abs(k * e.params * e.tokens - e.budget) <= (k * e.params) / 2 + 1e-6, `${k}·${e.params}·${e.tokens} vs ${e.budget}`);
        assert.equal(e.tokensPerParam, e.tokens / e.params);
      }
      const total = p.experiments.reduce((s, e) => s + k * e.params * e.tokens, 0);
      assert.ok(Math.abs(total - p.totalFlops) < 1e-6 * total);
    }
  });

  it('centres each budget\'s sizes in log N on the prior optimum, not at one end', () => {
    const p = plan(BASE + 'model: {family: transformer, size: {min: 16, max: 1024}}\n');
    for (const b of p.budgets) {
      const es = p.experiments.filter((e) => e.budget === b.budget);
      const logs = es.map((e) => log(e.params));
      const mean = logs.reduce((a, x) => a + x, 0) / logs.length;
      const nStar = Math.sqrt(b.budget / (6 * 20));
      assert.ok(Math.abs(b.priorOptimalParams - nStar) < 1e-6 * nStar);
      // within a quarter of a decade (dModel steps of 8 make N steps of ~10–40 % here)
      assert.ok(Math.abs(mean - log(nStar)) < 0.25 * log(10), `budget ${b.budget}: mean log N ${Math.exp(mean)} vs N* ${nStar}`);
      assert.ok(es.some((e) => e.params < nStar) && es.some((e) => e.params > nStar), 'sizes on both sides of N*');
      // the width follows planning.sizeSpread (default 10) rather than the whole size range
      const ratio = Math.max(...es.map((e) => e.params)) / Math.min(...es.map((e) => e.params));
      assert.ok(ratio > 5 && ratio < 20, `spread ${ratio}`);
    }
  });

  it('changes the grid as documented by sizesPerBudget, sizeSpread and priorTokensPerParam', () => {
    const three = plan(BASE + 'planning: {sizesPerBudget: 3}\n');
    const seven = plan(BASE + 'planning: {sizesPerBudget: 7}\n');
    assert.deepEqual(
      three.budgets.map((b) => b.sizeValues.length),
      [3, 3, 3],
    );
    assert.deepEqual(
      seven.budgets.map((b) => b.sizeValues.length),
      [7, 7, 7],
    );

    const narrow = plan(BASE + 'planning: {sizeSpread: 3}\n');
    const wide = plan(BASE + 'planning: {sizeSpread: 30}\n');
    const width = (p: Plan, i: number) => {
      const ns = p.experiments.filter((e) => e.budgetIndex === i).map((e) => e.params);
      return Math.max(...ns) / Math.min(...ns);
    };
    for (let i = 0; i < 3; i++) assert.ok(width(wide, i) > 2 * width(narrow, i), `budget ${i}: ${width(wide, i)} vs ${width(narrow, i)}`);

    const prior20 = plan(BASE);
    const prior80 = plan(BASE + 'planning: {priorTokensPerParam: 80}\n');
    const geoMean = (p: Plan, i: number) => {
      const ns = p.experiments.filter((e) => e.budgetIndex === i).map((e) => log(e.params));
      return ns.reduce((a, x) => a + x, 0) / ns.length;
    };
    // 4× the tokens per parameter halves N*: the grid moves down by about log 2
    for (let i = 0; i < 3; i++) {
      const shift = geoMean(prior20, i) - geoMean(prior80, i);
      assert.ok(shift > 0.4 && shift < 1.0, `shift ${shift}`);
    }
  });

  it('drops sizes outside the tokens-per-parameter band', () => {
    const p = plan(BASE + 'planning: {tokensPerParam: {min: 10, max: 40}}\n');
    assert.ok(p.experiments.length > 0);
    for (const e of p.experiments) assert.ok(e.tokensPerParam >= 10 && e.tokensPerParam <= 40, String(e.tokensPerParam));
    assert.ok(p.experiments.length < 15);
  });

  it('skips a budget with no feasible size, with a located warning saying why', () => {
    const text = 'name: unit\nbudgets: [1e6, 1e12]\n';
    const p = plan(text);
    assert.equal(p.budgets[0].experiments, 0);
    assert.match(p.budgets[0].skipped ?? '', /too small/);
    assert.equal(p.budgets[1].experiments, 5);
    const w = p.warnings.find((x) => x.code === 'budget-infeasible');
    assert.ok(w);
    assert.deepEqual(w.path, ['budgets', 0]);
    const ds = planSemanticDiagnostics(p, { text, fileName: 'x.sweep.yaml' });
    const d = ds.find((x) => x.code === 'budget-infeasible');
    assert.deepEqual(d?.range, { start: { line: 1, character: 10 }, end: { line: 1, character: 13 } });
    assert.equal(d?.severity, 'warning');

    const huge = plan('name: unit\nbudgets: [1e22]\n');
    assert.match(huge.budgets[0].skipped ?? '', /too large/);
    assert.ok(huge.warnings.some((x) => x.code === 'no-experiments'));
  });

  it('flags a grid that cannot bracket the prior optimum', () => {
    const p = plan('name: unit\nbudgets: [1e14]\nmodel: {family: transformer, size: {min: 16, max: 96}}\n');
    assert.equal(p.budgets[0].brackets, false);
    const w = p.warnings.find((x) => x.code === 'grid-not-bracketing');
    assert.ok(w);
    assert.match(w.message, /below the prior optimum/);
    assert.ok(p.experiments.every((e) => e.params < p.budgets[0].priorOptimalParams));
  });

  it('skips sizes that cannot be built, with the reason', () => {
    const p = plan(BASE + 'model: {family: transformer, nHeads: 6, size: {min: 16, max: 512, multiple: 8}}\n');
    assert.ok(p.experiments.length > 0);
    for (const e of p.experiments) {
      assert.equal(e.sizeValue % 6, 0);
      assert.ok(e.model.family === 'transformer' && e.model.nHeads === 6);
    }
    const w = p.warnings.find((x) => x.code === 'size-skipped');
    assert.ok(w);
    assert.match(w.message, /not divisible by nHeads 6/);

    const hd = plan(BASE + 'model: {family: transformer, headDim: 16, size: {min: 16, max: 512}}\n');
    for (const e of hd.experiments) assert.ok(e.model.family === 'transformer' && e.model.nHeads * 16 === e.model.dModel);
  });

  it('sweeps depth when size.param is nLayers', () => {
    const p = plan('name: unit\nbudgets: [1e13]\nmodel: {family: transformer, dModel: 128, size: {param: nLayers, min: 1, max: 24}}\n');
    assert.ok(p.experiments.length >= 3);
    for (const e of p.experiments) {
      assert.equal(e.sizeParam, 'nLayers');
      assert.ok(e.model.family === 'transformer' && e.model.dModel === 128 && e.model.nLayers === e.sizeValue);
    }
  });

  it('expands the hyperparameter grid and the seeds as a cartesian product', () => {
    const p = plan(BASE + 'sweep:\n  hyperparameters: {learningRate: [1e-3, 2e-3, 4e-3], warmupFraction: [0, 0.1]}\n  seeds: 2\n');
    assert.equal(p.experiments.length, 15 * 3 * 2 * 2);
    const cell = p.experiments.filter((e) => e.budgetIndex === 0 && e.sizeValue === p.budgets[0].sizeValues[0]);
    assert.equal(cell.length, 12);
    assert.deepEqual([...new Set(cell.map((e) => e.seed))].sort(), [0, 1]);
    for (const e of p.experiments) {
      assert.equal(e.training.learningRate, e.hyperparameters.learningRate, 'axes override the training settings');
      assert.equal(e.training.warmupFraction, e.hyperparameters.warmupFraction);
    }
    const explicit = plan(BASE + 'sweep: {seeds: [7, 11, 13]}\n');
    assert.deepEqual([...new Set(explicit.experiments.map((e) => e.seed))], [7, 11, 13]);
  });

  it('drops (budget, size, batch) cells that would train for fewer than minSteps steps', () => {
    const p = plan('name: unit\nbudgets: [1e12]\nsweep: {hyperparameters: {batchSize: [8, 8192]}}\n');
    assert.ok(p.experiments.length > 0);
    assert.ok(p.experiments.every((e) => e.training.batchSize === 8), 'a batch of 8192×128 tokens leaves < 10 steps');
    const w = p.warnings.find((x) => x.code === 'cell-infeasible');
    assert.ok(w);
    assert.deepEqual(w.path, ['sweep', 'hyperparameters', 'batchSize']);
  });

  it('log-spaces a {min, max, count} budget range', () => {
    assert.deepEqual(budgetValues(cfg('name: u\nbudgets: {min: 1e12, max: 1e14, count: 5}\n')), [1e12, 3.16e12, 1e13, 3.16e13, 1e14]);
    assert.deepEqual(budgetValues(cfg('name: u\nbudgets: [1e13, 1e12]\n')), [1e12, 1e13]);
  });

  it('probes candidates log-spaced, rounded to the multiple, de-duplicated', () => {
    assert.deepEqual(candidateValues(16, 64, 16, 10), [16, 32, 48, 64]);
    const c = candidateValues(8, 100000, 8, 20);
    assert.equal(c.length, 20);
    assert.ok(c.every((v) => v % 8 === 0 && v >= 8 && v <= 100000));
    for (let i = 1; i < c.length; i++) assert.ok(c[i] > c[i - 1]);
    const big = c.filter((v) => v > 1000);
    const ratios = big.slice(1).map((v, i) => v / big[i]);
    assert.ok(Math.max(...ratios) / Math.min(...ratios) < 1.3, 'roughly constant ratio');
    assert.deepEqual(candidateValues(10, 15, 16, 10), []);
  });
});

describe('plan: ids', () => {
  it('gives every experiment a unique id that is stable across runs', () => {
    const text = BASE + 'sweep: {hyperparameters: {learningRate: [1e-3, 3e-3]}, seeds: 2}\n';
    const a = plan(text);
    const b = plan(text);
    assert.deepEqual(
      a.experiments.map((e) => e.id),
      b.experiments.map((e) => e.id),
    );
    assert.equal(new Set(a.experiments.map((e) => e.id)).size, a.experiments.length);
    for (const e of a.experiments) assert.match(e.id, /^[0-9a-f]{16}$/);
  });

  it('changes the ids when any setting of the experiment changes', () => {
    const ids = (text: string) => new Set(plan(text).experiments.map((e) => e.id));
    const base = ids(BASE);
    const variants = [
      'training: {learningRate: 0.002}\n',
      'training: {batchSize: 8}\n',
      'training: {backend: wasm}\n',
      'data: {source: synthetic, seed: 1}\n',
      'data: {source: synthetic, branching: 4}\n',
      'model: {family: transformer, contextLength: 64}\n',
      'model: {family: transformer, tiedEmbeddings: true}\n',
      'planning: {flopsPerParamPerToken: 8}\n',
      'sweep: {seeds: [1]}\n',
    ];
    for (const v of variants) {
      const other = ids(BASE + v);
      const shared = [...other].filter((id) => base.has(id));
      assert.equal(shared.length, 0, `${v.trim()} kept ${shared.length} ids`);
    }
    // a changed name is a different sweep
    assert.equal([...ids(BASE.replace('unit', 'other'))].filter((id) => base.has(id)).length, 0);
    // settings that do not reach an experiment keep the ids
    assert.deepEqual(ids(BASE + 'fit: {bootstrap: 50}\n'), base);
    assert.deepEqual(ids(BASE + 'description: notes\n'), base);
  });

  it('keeps the ids when the workspace moves (paths are hashed relative to it)', () => {
    const text = 'name: unit\nbudgets: [1e12]\ndata: {source: text, path: data/corpus.txt}\n';
    const c = cfg(text);
    const a = buildPlan(c, { configPath: '/a/ws/x.sweep.yaml', workspaceRoot: '/a/ws', noFileSystem: true });
    const b = buildPlan(c, { configPath: '/b/elsewhere/x.sweep.yaml', workspaceRoot: '/b/elsewhere', noFileSystem: true });
    assert.ok(a.experiments.length > 0);
    assert.deepEqual(
      a.experiments.map((e) => e.id),
      b.experiments.map((e) => e.id),
    );
    assert.equal(a.experiments[0].data.source === 'text' && a.experiments[0].data.path, '/a/ws/data/corpus.txt');
  });
});

describe('plan: output, run directory, data checks, estimates', () => {
  it('produces JSON that validates against the contracts Plan schema', () => {
    const p = plan(BASE + 'sweep: {hyperparameters: {learningRate: [1e-3, 3e-3]}}\n');
    const round = JSON.parse(JSON.stringify(p));
    const r = Plan.safeParse(round);
    assert.ok(r.success, JSON.stringify(r.error?.issues?.slice(0, 3)));
    for (const e of round.experiments) {
      for (const key of ['id', 'budget', 'sizeValue', 'params', 'tokens', 'tokensPerParam', 'hyperparameters', 'seed']) assert.ok(key in e, key);
    }
    assert.ok(p.totalFlops > 0 && p.totalTokens > 0);
    assert.ok(p.estimatedSecondsRange[0] <= p.estimatedSeconds && p.estimatedSeconds <= p.estimatedSecondsRange[1]);
  });

  it('resolves the run directory: default .flopsfit/<sanitised name>/, or run.directory', () => {
    const c = cfg('name: "My sweep: v2/ß"\nbudgets: [1e12]\n');
    assert.equal(resolveRunDir(c, '/ws/sub/x.sweep.yaml', '/ws'), path.join('/ws', '.flopsfit', 'My-sweep-v2'));
    assert.equal(sanitizeName('../..'), 'sweep');
    const d = cfg('name: s\nbudgets: [1e12]\nrun: {directory: runs/s1}\n');
    assert.equal(resolveRunDir(d, '/ws/x.sweep.yaml', '/ws'), path.join('/ws', 'runs', 's1'));
    const abs = cfg('name: s\nbudgets: [1e12]\nrun: {directory: /data/runs}\n');
    assert.equal(resolveRunDir(abs, '/ws/x.sweep.yaml', '/ws'), '/data/runs');
    // without a workspace: the nearest folder with .git/.vscode above the config, else its folder
    const ws = path.join(tmp, 'proj');
    fs.mkdirSync(path.join(ws, '.vscode'), { recursive: true });
    fs.mkdirSync(path.join(ws, 'sweeps'), { recursive: true });
    assert.equal(resolveRunDir(c, path.join(ws, 'sweeps', 'x.sweep.yaml')), path.join(ws, '.flopsfit', 'My-sweep-v2'));
  });

  it('warns about a missing data file and a file too small for the largest D', () => {
    const missing = 'name: unit\nbudgets: [1e12]\ndata: {source: text, path: nope.txt}\n';
    const p = plan(missing);
    const w = p.warnings.find((x) => x.code === 'data-missing');
    assert.ok(w);
    assert.deepEqual(w.path, ['data', 'path']);
    const d = planSemanticDiagnostics(p, { text: missing, fileName: 'x.sweep.yaml' }).find((x) => x.code === 'data-missing');
    assert.equal(missing.split('\n')[2].slice(d!.range.start.character, d!.range.end.character), 'nope.txt');

    fs.writeFileSync(path.join(tmp, 'small.txt'), 'x'.repeat(100000));
    const small = plan('name: unit\nbudgets: [1e12]\ndata: {source: text, path: small.txt}\n');
    assert.ok(!small.warnings.some((x) => x.code === 'data-missing'));
    const t = small.warnings.find((x) => x.code === 'data-too-small');
    assert.ok(t, JSON.stringify(small.warnings));
    assert.match(t.message, /allowRepeat/);
    assert.ok(small.experiments.every((e) => e.data.source === 'text' && e.data.path === path.join(tmp, 'small.txt')));
  });

  it('estimates time from an injected calibration, else finished runs, else built-in figures', () => {
    const builtin = plan(BASE);
    assert.match(builtin.throughputSource, /built-in estimate for wasm/);
    const slow = plan(BASE, { throughput: { flopsPerSecond: 1e9, source: 'calibration' } });
    const fast = plan(BASE, { throughput: { flopsPerSecond: 4e9, source: 'calibration' } });
    assert.match(slow.throughputSource, /^calibration/);
    assert.ok(Math.abs(slow.estimatedSeconds / fast.estimatedSeconds - 4) < 1e-9);

    const ws = fs.mkdtempSync(path.join(tmp, 'measured-'));
    const runDir = path.join(ws, '.flopsfit', 'unit', 'experiments', 'abc');
    fs.mkdirSync(runDir, { recursive: true });
    const result = { id: 'abc', status: 'completed', params: 1e5, tokens: 1e6, steps: 10, flops: 6e11, backend: 'wasm', elapsedSeconds: 100 };
    fs.writeFileSync(path.join(runDir, 'result.json'), JSON.stringify(result));
    const measured = buildPlan(cfg(BASE + 'run: {parallel: 1}\n'), { configPath: path.join(ws, 'x.sweep.yaml'), workspaceRoot: ws });
    assert.match(measured.throughputSource, /measured: median of 1 finished run/);
    // measured rates already include per-step costs; the estimate counts executed FLOPs
    // (6·N_total + attention per token), not just k·N·D
    const work = measured.experiments.reduce((s, e) => s + experimentWork(e), 0);
    assert.ok(work > measured.totalFlops);
    assert.ok(Math.abs(measured.estimatedSeconds - work / 6e9) < 1e-6 * measured.estimatedSeconds);
  });

  it('estimates from <runDir>/calibration.json on a matching backend, after injected figures and finished runs', () => {
    const ws = fs.mkdtempSync(path.join(tmp, 'calibrated-'));
    const run = path.join(ws, '.flopsfit', 'unit');
    fs.mkdirSync(run, { recursive: true });
    const sample = { sizeValue: 64, paramsTotal: 116480, dModel: 64, nLayers: 2, contextLength: 128, batchSequences: 16, workPerStep: 2e9, warmupSeconds: 0.5, steps: 4, seconds: 2, secondsPerStep: 0.5 };
    const cal = {
      version: 1,
      requestedBackend: 'auto',
      backend: 'wasm',
      device: 'wasm SIMD, test CPU',
      flopsPerSecond: 5e9,
      stepOverheadSeconds: 0.05,
      measuredAt: '2026-03-04T05:06:07.000Z',
      samples: [sample],
    };
    assert.ok(Calibration.safeParse(cal).success);
    fs.writeFileSync(path.join(run, CALIBRATION_FILE), JSON.stringify(cal));
    const at = (yaml: string, extra: Partial<Parameters<typeof buildPlan>[1]> = {}) => buildPlan(cfg(yaml), { configPath: path.join(ws, 'x.sweep.yaml'), workspaceRoot: ws, ...extra });
    const one = BASE + 'run: {parallel: 1}\n';

    const p = at(one);
    assert.match(p.throughputSource, /^calibrated on wasm \(wasm SIMD, test CPU\), 2026-03-04/);
    // one process: the sum over experiments of work / rate + steps · overhead + the wasm start-up
    const startup = BUILTIN_THROUGHPUT.wasm.startupSeconds;
    // training, per-step overhead, start-up, and the evaluations (forward passes: a third of a training token's FLOPs)
    const evalWork = (e: (typeof p.experiments)[number]) => (evaluationPasses(e) * e.training.evalTokens * (experimentWork(e) / e.tokens)) / 3;
    const expected = (f: number) => p.experiments.reduce((s, e) => s + (experimentWork(e) + evalWork(e)) / f + experimentSteps(e) * 0.05 + startup, 0);
    assert.ok(Math.abs(p.estimatedSeconds - expected(5e9)) < 1e-9 * expected(5e9), `${p.estimatedSeconds} vs ${expected(5e9)}`);
    // the range is the rate ±25 %
    assert.ok(Math.abs(p.estimatedSecondsRange[0] - expected(6.25e9)) < 1e-9 * expected(6.25e9));
    assert.ok(Math.abs(p.estimatedSecondsRange[1] - expected(3.75e9)) < 1e-9 * expected(3.75e9));
    assert.ok(p.estimatedSecondsRange[0] < p.estimatedSeconds && p.estimatedSeconds < p.estimatedSecondsRange[1]);

    // the backend actually used (wasm) matches an explicit `backend: wasm` too; another backend does not
    assert.match(at(one + 'training: {backend: wasm}\n').throughputSource, /^calibrated on wasm/);
    assert.match(at(one + 'training: {backend: cpu}\n').throughputSource, /^built-in estimate for cpu/);
    assert.equal(readCalibration(run, 'cpu').ok, false);

    // an injected figure outranks it
    assert.match(at(one, { throughput: { flopsPerSecond: 1e9, source: 'injected' } }).throughputSource, /^injected/);

    // finished runs outrank it
    const exp = path.join(run, 'experiments', 'abc');
    fs.mkdirSync(exp, { recursive: true });
    fs.writeFileSync(path.join(exp, 'result.json'), JSON.stringify({ id: 'abc', status: 'completed', params: 1e5, tokens: 1e6, steps: 10, flops: 6e11, backend: 'wasm', elapsedSeconds: 100 }));
    assert.match(at(one).throughputSource, /^measured: median of 1 finished run/);
    fs.rmSync(path.join(run, 'experiments'), { recursive: true });
    assert.match(at(one).throughputSource, /^calibrated/);
  });

  it('ignores a malformed or invalid calibration.json (built-in estimate, no crash)', () => {
    const ws = fs.mkdtempSync(path.join(tmp, 'badcal-'));
    const run = path.join(ws, '.flopsfit', 'unit');
    fs.mkdirSync(run, { recursive: true });
    const file = path.join(run, CALIBRATION_FILE);
    const good = {
      version: 1,
      requestedBackend: 'auto',
      backend: 'wasm',
      device: 'd',
      flopsPerSecond: 5e9,
      stepOverheadSeconds: 0.01,
      measuredAt: '2026-03-04T05:06:07Z',
      samples: [{ sizeValue: 64, paramsTotal: 1, dModel: 64, nLayers: 1, contextLength: 8, batchSequences: 1, workPerStep: 1, warmupSeconds: 0, steps: 1, seconds: 1, secondsPerStep: 1 }],
    };
    const bad: Array<[string, string]> = [
      ['not JSON', '{"version": 1, '],
      ['empty', ''],
      ['an array', '[]'],
      ['a negative rate', JSON.stringify({ ...good, flopsPerSecond: -1 })],
      ['an infinite rate', JSON.stringify({ ...good }).replace('"flopsPerSecond":5000000000', '"flopsPerSecond":1e400')],
      ['a later version', JSON.stringify({ ...good, version: 2 })],
      ['no samples', JSON.stringify({ ...good, samples: [] })],
      ['a bad date', JSON.stringify({ ...good, measuredAt: 'yesterday' })],
    ];
    for (const [what, text] of bad) {
      fs.writeFileSync(file, text);
      const p = buildPlan(cfg(BASE), { configPath: path.join(ws, 'x.sweep.yaml'), workspaceRoot: ws });
      assert.match(p.throughputSource, /^built-in estimate for wasm/, what);
      assert.ok(Number.isFinite(p.estimatedSeconds) && p.estimatedSeconds > 0, what);
      const r = readCalibration(run, 'auto');
      assert.ok(!r.ok && r.reason === 'invalid', what);
    }
    fs.writeFileSync(file, JSON.stringify(good));
    assert.match(buildPlan(cfg(BASE), { configPath: path.join(ws, 'x.sweep.yaml'), workspaceRoot: ws }).throughputSource, /^calibrated on wasm \(d\)/);
  });

  it('plans a command model through an injected parameter counter', () => {
    const text = `name: cmd
budgets: [1e12, 1e13]
model:
  family: command
  command: [python, train.py, --width, "{size}", --tokens, "{tokens}", --lr, "{lr}"]
  countParams: [python, count.py, "{size}"]
  size: {min: 16, max: 1024, multiple: 16}
`;
    const calls: number[] = [];
    const p = plan(text, {
      countParams: (s) => {
        calls.push(s);
        return s === 48 ? { error: 'boom' } : 24 * s * s;
      },
    });
    assert.ok(calls.length > 0 && p.experiments.length > 0);
    for (const e of p.experiments) {
      assert.equal(e.params, 24 * e.sizeValue * e.sizeValue);
      assert.ok(e.model.family === 'command' && e.model.cwd === tmp);
    }
    assert.ok(p.warnings.some((w) => w.code === 'size-skipped' && /boom/.test(w.message)));
    // no counter (untrusted editor): nothing planned, an info diagnostic on countParams
    const untrusted = validateSweepText(text, path.join(tmp, 'x.sweep.yaml'), { workspaceRoot: tmp });
    assert.equal(untrusted.plan?.experiments.length, 0);
    const info = untrusted.diagnostics.find((d) => d.code === 'params-unknown');
    assert.equal(info?.severity, 'info');
    assert.deepEqual(info?.path, ['model', 'countParams']);
  });

  it('warns about unknown placeholders of a command model', () => {
    const p = plan(`name: cmd
budgets: [1e12]
model: {family: command, command: [t, "{size}", "{nope}"], countParams: [c, "{size}"], size: {min: 16, max: 64}}
`, { countParams: (s) => 1000 * s });
    const w = p.warnings.find((x) => x.code === 'unknown-placeholder');
    assert.ok(w);
    assert.deepEqual(w.path, ['model', 'command', 2]);
  });

  it('refuses to expand a plan beyond the experiment limit', () => {
    const p = plan(BASE + 'sweep: {seeds: 1000, hyperparameters: {learningRate: [1e-3, 2e-3, 3e-3, 4e-3, 5e-3, 6e-3, 7e-3, 8e-3]}}\n');
    assert.equal(p.experiments.length, 0);
    assert.ok(p.warnings.some((w) => w.code === 'too-many-experiments'));
    const v = validateSweepText(BASE + 'sweep: {seeds: 1000, hyperparameters: {learningRate: [1e-3, 2e-3, 3e-3, 4e-3, 5e-3, 6e-3, 7e-3, 8e-3]}}\n', path.join(tmp, 'x.sweep.yaml'));
    assert.ok(v.diagnostics.some((d) => d.severity === 'error' && d.code === 'too-many-experiments'));
  });
});

describe('plan: canonical JSON', () => {
  it('writes the same text as JSON.stringify of a key-sorted copy', () => {
    const v = { b: [3, { z: 1, a: -0, m: [null, 'x'] }], a: 1.5e-7, c: { y: true, x: undefined }, d: 'é"' };
    assert.equal(canonicalJson(v), '{"a":1.5e-7,"b":[3,{"a":0,"m":[null,"x"],"z":1}],"c":{"y":true},"d":"é\\""}');
    const memo = new WeakMap<object, string>();
    assert.equal(canonicalJson(v, memo), canonicalJson(v));
    assert.equal(canonicalJson(v, memo), canonicalJson(v), 'memoised text is the same');
  });
});

describe('plan: semantic diagnostics', () => {
  it('accepts the (config, plan, text) form too', () => {
    const text = 'name: unit\nbudgets: [1e6, 1e12]\n';
    const c = cfg(text);
    const p = buildPlan(c, { configPath: path.join(tmp, 'x.sweep.yaml'), workspaceRoot: tmp });
    const a = planSemanticDiagnostics(p, { text, fileName: 'x.sweep.yaml' });
    const b = planSemanticDiagnostics(c, p, text);
    assert.ok(a.length > 0);
    assert.deepEqual(b, a);
  });
});

describe('plan: the CLI parameter counter', () => {
  it('runs countParams with {size}, reads the last number printed, caches, and reports failures', () => {
    assert.equal(lastNumber('model width 64\nN = 1,234,567\n'), 1234567);
    assert.equal(lastNumber('params: 3.5e6'), 3.5e6);
    assert.equal(lastNumber('none'), undefined);
    const c = cfg(`name: cmd
budgets: [1e12]
model:
  family: command
  command: [train]
  countParams: [${JSON.stringify(process.execPath)}, -e, "console.log('N =', 100 * {size} * {size})"]
  size: {min: 16, max: 64}
`);
    assert.ok(c.model.family === 'command');
    if (c.model.family !== 'command') return;
    const counter = createCommandParamCounter(c.model, tmp);
    assert.equal(counter(32), 102400);
    assert.equal(counter(32), 102400, 'cached');
    const bad = createCommandParamCounter({ ...c.model, countParams: [process.execPath, '-e', 'process.exit(3)'] }, tmp);
    const r = bad(8);
    assert.ok(typeof r === 'object' && /exited with 3/.test(r.error), JSON.stringify(r));
    const missing = createCommandParamCounter({ ...c.model, countParams: ['/nonexistent/counter', '{size}'] }, tmp);
    const m = missing(8);
    assert.ok(typeof m === 'object' && /command not found/.test(m.error), JSON.stringify(m));
  });
});

describe('plan: calibration fit', () => {
  it('recovers overhead and rate from two or more exact samples', () => {
    const f = 4e9;
    const a = 0.02;
    const pts = [1e8, 1e9, 5e9].map((w) => ({ workPerStep: w, secondsPerStep: a + w / f }));
    const fit = fitCalibration(pts);
    assert.ok(Math.abs(fit.flopsPerSecond / f - 1) < 1e-9, String(fit.flopsPerSecond));
    assert.ok(Math.abs(fit.stepOverheadSeconds - a) < 1e-9, String(fit.stepOverheadSeconds));
    const two = fitCalibration(pts.slice(0, 2));
    assert.ok(Math.abs(two.flopsPerSecond / f - 1) < 1e-9);
  });

  it('clamps: no negative overhead, overhead below the fastest step, one size gives overhead 0', () => {
    // time growing faster than work (a negative intercept): overhead 0, a positive rate
    const neg = fitCalibration([
      { workPerStep: 1e9, secondsPerStep: 0.1 },
      { workPerStep: 2e9, secondsPerStep: 0.5 },
    ]);
    assert.equal(neg.stepOverheadSeconds, 0);
    assert.ok(neg.flopsPerSecond > 0 && Number.isFinite(neg.flopsPerSecond));
    // time shrinking with work (noise): overhead at most 0.9 of the fastest step, rate positive
    const down = fitCalibration([
      { workPerStep: 1e6, secondsPerStep: 0.5 },
      { workPerStep: 1e9, secondsPerStep: 0.4 },
    ]);
    assert.ok(down.stepOverheadSeconds >= 0 && down.stepOverheadSeconds <= 0.9 * 0.4 + 1e-12);
    assert.ok(down.flopsPerSecond > 0 && Number.isFinite(down.flopsPerSecond));
    const single = fitCalibration([{ workPerStep: 3e9, secondsPerStep: 1 }]);
    assert.equal(single.stepOverheadSeconds, 0);
    assert.ok(Math.abs(single.flopsPerSecond - 3e9) < 1);
    // one size: the fallback overhead (clamped below the step), the rate from the rest
    const fallback = fitCalibration([{ workPerStep: 3e9, secondsPerStep: 1 }], 0.25);
    assert.equal(fallback.stepOverheadSeconds, 0.25);
    assert.ok(Math.abs(fallback.flopsPerSecond - 4e9) < 1);
    const capped = fitCalibration([{ workPerStep: 1e6, secondsPerStep: 0.01 }], 1);
    assert.equal(capped.stepOverheadSeconds, 0.005);
    assert.ok(Math.abs(capped.flopsPerSecond - 2e8) < 1e-3);
    assert.throws(() => fitCalibration([]), /no usable calibration sample/);
  });
});
