import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { parseSweepConfig } from '../../src/core/config';
import { buildPlan } from '../../src/core/plan';
import { defaultParallelism, type Host } from '../../src/core/plan/parallelism';
import { runSweep } from '../../src/engine/runner';
import { fakePlan, fakeSpec, tempDir } from './runnerHelpers';
import * as fs from 'node:fs';

const host = (cores: number, gpu: boolean): Host => ({ cores, gpuLikely: () => gpu });

/** The parallelism the plan's estimate assumed ("…; N at once"). */
function planParallel(yaml: string, h: Host): { parallel: number; experiments: Parameters<typeof defaultParallelism>[0] } {
  const r = parseSweepConfig(yaml, 'x.sweep.yaml');
  assert.ok(r.config, JSON.stringify(r.diagnostics));
  const plan = buildPlan(r.config, { configPath: path.join('/tmp', 'x.sweep.yaml'), workspaceRoot: '/tmp', noFileSystem: true, countParams: (s) => 1000 * s, host: h });
  const m = /; (\d+) at once$/.exec(plan.throughputSource);
  assert.ok(m, plan.throughputSource);
  return { parallel: Number(m[1]), experiments: plan.experiments };
}

describe('default parallelism: the plan estimate and the runner agree', () => {
  const base = 'name: t\nbudgets: [1e12, 3e12]\n';
  const command = `${base}model: {family: command, command: [t, "{size}"], countParams: [c, "{size}"], size: {min: 16, max: 64}}\n`;
  const cases: [string, string, Host, number][] = [
    ['wasm on 8 cores', `${base}training: {backend: wasm}\n`, host(8, false), 8],
    ['cpu on 3 cores', `${base}training: {backend: cpu}\n`, host(3, true), 3],
    ['auto without a GPU', base, host(4, false), 4],
    ['auto with a GPU', base, host(4, true), 1],
    ['tensorflow (uses every core itself)', `${base}training: {backend: tensorflow}\n`, host(8, false), 1],
    ['webgpu', `${base}training: {backend: webgpu}\n`, host(8, false), 1],
    ['a command trainer', command, host(8, false), 1],
  ];
  for (const [name, yaml, h, expected] of cases) {
    it(`${name}: ${expected} at once`, () => {
      const p = planParallel(yaml, h);
      assert.equal(p.parallel, expected);
      // the runner decides from the plan's experiments with the same function
      assert.ok(p.experiments.length > 0);
      assert.equal(defaultParallelism(p.experiments, h), expected);
    });
  }

  it('run.parallel overrides the default in the estimate', () => {
    assert.equal(planParallel(`${base}run: {parallel: 3}\n`, host(8, false)).parallel, 3);
  });

  it('the runner uses that default when no --parallel is given', async function () {
    this.timeout(60_000);
    const runDir = path.join(tempDir(), 'run');
    try {
      const specs = [fakeSpec(1, 1e8, 16, ['--steps', '2']), fakeSpec(2, 1e8, 24, ['--steps', '2'])];
      const lines: string[] = [];
      await runSweep({ plan: fakePlan(runDir, specs), handleSignals: false, write: (l) => lines.push(l), fit: async () => [] });
      const m = lines.map((l) => /, parallel (\d+)$/.exec(l)).find(Boolean);
      assert.ok(m, lines.join('\n'));
      assert.equal(Number(m[1]), defaultParallelism(specs));
    } finally {
      fs.rmSync(path.dirname(runDir), { recursive: true, force: true });
    }
  });
});
