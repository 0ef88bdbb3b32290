/**
 * bench/gpu.sh (the PyTorch engine's GPU benchmark, bench/gpu_torch_bench.py) without a GPU:
 * the CPU smoke mode runs the whole script path at toy shapes and must print every row; without
 * the smoke flag it must refuse with exit 3; and the spec it hands the engine is the benchmark
 * spec of bench/common.ts.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { benchExperiment, type BenchConfig } from '../../bench/common';
import { requireTorch, TEST_PYTHON } from './torchHelpers';

const ROOT = path.resolve(__dirname, '../..');
const SCRIPT = path.join(ROOT, 'bench/gpu.sh');

function hasCuda(): boolean {
  const r = spawnSync(TEST_PYTHON, ['-c', 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)'], { stdio: 'ignore', timeout: 120_000 });
  return r.status === 0;
}

describe('GPU benchmark bench/gpu.sh (torch engine, no GPU)', function () {
  this.timeout(300_000);
  let tmp: string;
  beforeEach(function () {
    requireTorch(this);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'flopsfit-gpubench-test-'));
  });
  afterEach(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('--cpu-smoke runs every run and writes one table with every row, logs and JSON', () => {
    const out = path.join(tmp, 'out');
    const r = spawnSync('bash', [SCRIPT, '--cpu-smoke', '--out', out, '--python', TEST_PYTHON], { encoding: 'utf8', timeout: 280_000 });
    assert.equal(r.status, 0, `exit ${r.status}\n${r.stdout}\n${r.stderr}`);
    const table = fs.readFileSync(path.join(out, 'gpu-table.md'), 'utf8');
    assert.match(table, /CPU SMOKE RUN/);
    assert.match(table, /PyTorch \S+, CUDA/);
    const rows = table.split('\n').filter((l) => /^\| (engine|reference) /.test(l));
    const expected: string[] = [];
    for (const shape of ['gpt2-small', 'd256', 'd128']) {
      for (const c of ['off', 'on']) expected.push(`engine ${shape}-compile-${c}`, `reference ${shape}-compile-${c}`);
    }
    for (const n of [1, 2, 4]) expected.push(`engine packed ×${n} (d128)`);
    assert.deepEqual(
      rows.map((l) => l.split('|')[1].trim()),
      expected,
    );
    const cell = (run: string, col: number): string => rows.find((l) => l.split('|')[1].trim() === run)!.split('|')[col].trim();
    // every single engine run (compiled ones run uncompiled where torch has no torch.compile) has a figure
    for (const run of expected.filter((e) => e.startsWith('engine') && !e.includes('packed'))) {
      assert.match(cell(run, 3), /^[\d,]+$/, `${run}: tokens/s`);
    }
    // the uncompiled reference runs too, and the engine's ratio to it is shown
    for (const shape of ['gpt2-small', 'd256', 'd128']) {
      assert.match(cell(`reference ${shape}-compile-off`, 3), /^[\d,]+$/);
      assert.match(cell(`engine ${shape}-compile-off`, 5), /^\d+\.\d\d$/);
    }
    // packing: n runs, each with its figure, and the aggregate over the time all of them ran at once
    // (on 2 shared cores their timed steps may not overlap: then the row says so)
    const res = JSON.parse(fs.readFileSync(path.join(out, 'gpu-results.json'), 'utf8')) as {
      smoke: boolean;
      rows: Array<{ run: string; tokensPerSecond: number | null; perProcess?: number[]; overlapSeconds?: number; note?: string }>;
    };
    assert.equal(res.smoke, true);
    for (const n of [1, 2, 4]) {
      const p = res.rows.find((x) => x.run === `engine packed ×${n} (d128)`)!;
      assert.equal(p.perProcess!.length, n);
      for (const x of p.perProcess!) assert.ok(x > 0);
      if (p.tokensPerSecond === null) assert.match(p.note!, /did not overlap/);
      else assert.ok(p.tokensPerSecond > 0 && p.overlapSeconds! > 0, JSON.stringify(p));
    }
    // per-run logs of the real trainer
    const logs = fs.readdirSync(path.join(out, 'logs'));
    assert.ok(logs.includes('engine-gpt2-small-compile-off.log') && logs.includes('engine-gpt2-small-compile-off.metrics.jsonl'), logs.join(' '));
    assert.ok(logs.includes('reference-d128-compile-off.log') && logs.includes('engine-pack-4-4.log'), logs.join(' '));
    assert.match(fs.readFileSync(path.join(out, 'logs', 'engine-d128-compile-off.log'), 'utf8'), /on torch \[PyTorch/);
  });

  it('exits 3 with a clear line when there is no GPU and no smoke flag', function () {
    if (hasCuda()) this.skip(); // on a GPU machine this would run the real benchmark
    const out = path.join(tmp, 'out');
    const r = spawnSync('bash', [SCRIPT, '--out', out, '--python', TEST_PYTHON], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 3, `exit ${r.status}\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout + r.stderr, /no CUDA GPU.*nothing was run/);
    assert.ok(!fs.existsSync(path.join(out, 'gpu-table.md')), 'no table without a GPU');
  });

  it('skips the runs past its budget, says so in every row, and exits 4 when nothing was measured', () => {
    const out = path.join(tmp, 'out');
    const r = spawnSync('bash', [SCRIPT, '--cpu-smoke', '--budget', '10', '--out', out, '--python', TEST_PYTHON], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 4, `exit ${r.status}\n${r.stdout}\n${r.stderr}`);
    const rows = fs.readFileSync(path.join(out, 'gpu-table.md'), 'utf8').split('\n').filter((l) => /^\| (engine|reference) /.test(l));
    assert.equal(rows.length, 15);
    for (const row of rows) assert.match(row, /skipped: the 10 s budget is spent/, row);
  });

  it('kills a run at its time box and says so (exit 4: nothing measured)', () => {
    const out = path.join(tmp, 'out');
    const args = [SCRIPT, '--cpu-smoke', '--time-box', '0.3', '--only', 'd128-compile-off', '--out', out, '--python', TEST_PYTHON];
    const r = spawnSync('bash', args, { encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 4, `exit ${r.status}\n${r.stdout}\n${r.stderr}`);
    const rows = fs.readFileSync(path.join(out, 'gpu-table.md'), 'utf8').split('\n').filter((l) => /^\| (engine|reference) /.test(l));
    assert.equal(rows.length, 2);
    for (const row of rows) assert.match(row, /killed after its time box/, row);
  });

  it('refuses bad options with exit 2 and the reason', () => {
    for (const [args, re] of [
      [['--bogus'], /unknown option --bogus/],
      [['--cpu-smoke', '--only', 'd128'], /--only: unknown run d128 \(runs: gpt2-small-compile-off,/],
      [['--cpu-smoke', '--budget', '3'], /--budget must be at least 10/],
    ] as Array<[string[], RegExp]>) {
      const r = spawnSync('bash', [SCRIPT, ...args, '--out', path.join(tmp, 'out'), '--python', TEST_PYTHON], { encoding: 'utf8', timeout: 60_000 });
      assert.equal(r.status, 2, `${args.join(' ')}: exit ${r.status}\n${r.stdout}\n${r.stderr}`);
      assert.match(r.stdout + r.stderr, re);
    }
  });

  it('packing: the aggregate counts only the tokens trained while every run was in its timed steps', () => {
    // run A: 100 tokens/s from t=0 to 10; run B: 50 tokens/s from t=4 to 20 → window 4..10, 6 s, 600 + 300 tokens
    const code = [
      'import sys; sys.path.insert(0, "bench"); import gpu_torch_bench as g',
      'a = [(0, 0), (5, 500), (10, 1000)]; b = [(4, 0), (20, 800)]',
      'print(g.overlap_rate([a, b])); print(g.overlap_rate([a, [(11, 0), (12, 5)]])); print(g.overlap_rate([a]))',
    ].join('\n');
    const r = spawnSync(TEST_PYTHON, ['-c', code], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), ['(150.0, 6)', '(None, 0.0)', '(100.0, 10)']);
  });

  it('hands the engine the benchmark spec of bench/common.ts for every shape', () => {
    for (const shape of ['gpt2-small', 'd256', 'd128']) {
      const r = spawnSync(TEST_PYTHON, [path.join(ROOT, 'bench/gpu_torch_bench.py'), '--print-spec', shape], { encoding: 'utf8', timeout: 60_000 });
      assert.equal(r.status, 0, r.stderr);
      const { config, spec } = JSON.parse(r.stdout) as { config: BenchConfig; spec: unknown };
      if (shape === 'gpt2-small') assert.deepEqual([config.d, config.layers, config.heads, config.context], [768, 12, 12, 1024]);
      assert.deepEqual(spec, benchExperiment(config, { id: `bench-${shape}`, backend: 'torch', seed: 1, allowRepeat: false }).spec, shape);
    }
  });
});
