/**
 * `npm run bench:slurm`: the Slurm executor against a real one-node Slurm cluster.
 *
 *  1. Submitting a 1,000-experiment sweep (runner + SlurmExecutor, in process: manifest, spec files,
 *     1,000 task scripts, one `sbatch --array`), target < 5 s; reference: one bare
 *     `sbatch --array=0-999 --hold --wrap` of the same size, measured in the same run.
 *  2. One poll of those 1,000 experiments (one squeue + the run directory's files), target < 1 s;
 *     reference: one bare `squeue` of the same jobs.
 *     (The tasks are submitted held — `--hold` — and cancelled afterwards: nothing trains.)
 *  3. Per-experiment scheduling overhead on this cluster: a sweep of 8 one-step command
 *     experiments; from submission to the wrapper's start record (queue + launch) and from the
 *     wrapper's exit record to the runner recording the outcome (following).
 *
 * Uses SLURM_CONF when set; otherwise (as root) starts a cluster with scripts/slurm/start-cluster.sh
 * and stops it at the end.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseSweepConfig, SlurmConfig } from '../src/core/config';
import { buildPlan, createCommandParamCounter } from '../src/core/plan';
import { runSweep } from '../src/engine/runner';
import { SlurmExecutor } from '../src/engine/runner/executors/slurm';
import { readTaskRecord } from '../src/engine/runner/executors/slurm/wrapper';

const root = path.resolve(__dirname, '..');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'flopsfit-bench-slurm-'));
let ownCluster: string | undefined;
if (!process.env.SLURM_CONF) {
  if (process.getuid?.() !== 0) {
    console.error('bench:slurm: set SLURM_CONF to a running cluster, or run as root to start one');
    process.exit(2);
  }
  ownCluster = path.join(work, 'cluster');
  const out = execFileSync('bash', [path.join(root, 'scripts/slurm/start-cluster.sh'), ownCluster], {
    encoding: 'utf8',
    env: { ...process.env, FLOPSFIT_SLURM_PORT: process.env.FLOPSFIT_SLURM_PORT ?? '6927', FLOPSFIT_SLURM_CPUS: '8' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  process.env.SLURM_CONF = /SLURM_CONF=(\S+)/.exec(out)![1];
}

const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;
const quiet = () => {};

function planFor(text: string, name: string) {
  const file = path.join(work, `${name}.sweep.yaml`);
  fs.writeFileSync(file, text);
  const parsed = parseSweepConfig(text, file);
  if (!parsed.config) throw new Error(JSON.stringify(parsed.diagnostics));
  const config = parsed.config;
  const countParams = config.model.family === 'command' ? createCommandParamCounter(config.model, work) : undefined;
  const plan = buildPlan(config, { configPath: file, ...(countParams ? { countParams } : {}) });
  plan.runDir = path.join(work, name);
  return { plan, config: parsed.config };
}

async function main(): Promise<void> {
  const lines: string[] = [];
  const report = (l: string) => {
    lines.push(l);
    console.log(l);
  };

  // ------------------------------------------------------------------ 1. submit 1,000
  const big = planFor(
    `name: bench1000
model: { family: transformer, nLayers: 1, nHeads: 2, contextLength: 16, size: { param: dModel, min: 4, max: 64, multiple: 4 } }
budgets: [1.0e9, 2.0e9, 4.0e9, 8.0e9, 1.6e10, 3.2e10, 6.4e10, 1.28e11, 2.56e11, 5.12e11]
planning: { sizesPerBudget: 5, sizeSpread: 100 }
sweep: { seeds: 20 }
training: { backend: wasm }
`,
    'bench1000',
  );
  const n = big.plan.experiments.length;
  const settings = SlurmConfig.parse({ sbatchArgs: ['--hold'] });

  const refArgs = ['--parsable', '--hold', `--array=0-${n - 1}`, '--job-name=flopsfit-bench-ref', `--output=/dev/null`, '--wrap=true'];
  let t = process.hrtime.bigint();
  const refJob = execFileSync('sbatch', refArgs, { encoding: 'utf8' }).trim().split(';')[0];
  const refSubmit = ms(t);
  spawnSync('scancel', [refJob]);

  let executor: SlurmExecutor | undefined;
  t = process.hrtime.bigint();
  const outcome = await runSweep({
    plan: big.plan,
    parallel: Number.MAX_SAFE_INTEGER,
    detach: true,
    handleSignals: false,
    write: quiet,
    executor: (events) => (executor = new SlurmExecutor({ runDir: big.plan.runDir, sweep: big.plan.sweep, settings, script: path.join(root, 'dist/flopsfit.js') }, events)),
  });
  const submit = ms(t);
  if (!outcome.detached || outcome.counts.running !== n) throw new Error(`expected ${n} submitted experiments, got ${JSON.stringify(outcome.counts)}`);
  report(`submit ${n} experiments (runner + one sbatch --array): ${(submit / 1000).toFixed(2)} s (target < 5 s: ${submit < 5000 ? 'met' : 'MISSED'}); bare sbatch of the same array ${(refSubmit / 1000).toFixed(2)} s → ratio ${(submit / refSubmit).toFixed(1)}×`);

  // ------------------------------------------------------------------ 2. one poll
  // Re-attach as a fresh runner would: follow the 1,000 held tasks, then time polls.
  const follower = new SlurmExecutor(
    { runDir: big.plan.runDir, sweep: big.plan.sweep, settings },
    { started: quiet, finished: quiet, write: quiet, prefix: () => '', annotate: quiet, save: quiet, batch: (fn) => fn() },
  );
  const manifest = JSON.parse(fs.readFileSync(path.join(big.plan.runDir, 'manifest.json'), 'utf8'));
  const specs = new Map(big.plan.experiments.map((e) => [e.id, e]));
  for (const id of manifest.order) await follower.recoverInterrupted(id, manifest.experiments[id], specs.get(id)!);
  const polls: number[] = [];
  for (let i = 0; i < 5; i++) {
    t = process.hrtime.bigint();
    await follower.poll();
    polls.push(ms(t));
  }
  const refPolls: number[] = [];
  for (let i = 0; i < 5; i++) {
    t = process.hrtime.bigint();
    execFileSync('squeue', ['--noheader', '--array', '--states=all', '--name=flopsfit-bench1000', '--format=%F|%K|%A|%T|%r|%N'], { encoding: 'utf8', maxBuffer: 64 << 20 });
    refPolls.push(ms(t));
  }
  const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
  report(`one poll of ${n} experiments (squeue + files), median of 5: ${med(polls).toFixed(0)} ms (target < 1 s: ${med(polls) < 1000 ? 'met' : 'MISSED'}); bare squeue ${med(refPolls).toFixed(0)} ms → ratio ${(med(polls) / med(refPolls)).toFixed(1)}×`);
  const arrayJob = manifest.experiments[manifest.order[0]].slurm.arrayJobId;
  spawnSync('scancel', [arrayJob]);
  void executor;

  // ------------------------------------------------------------------ 3. per-experiment overhead
  const trainer = path.join(root, 'test/fixtures/runner/fake-trainer.mjs');
  const small = planFor(
    `name: bench8
model:
  family: command
  command: ${JSON.stringify([process.execPath, trainer, '--size', '{size}', '--tokens', '{tokens}', '--seed', '{seed}', '--out', '{runDir}', '--steps', '1', '--step-ms', '1'])}
  countParams: ${JSON.stringify([process.execPath, trainer, '--count-params', '--size', '{size}'])}
  size: { min: 4, max: 64, probes: 8 }
budgets: [1.0e9, 1.0e10]
planning: { sizesPerBudget: 4 }
run: { executor: slurm }
`,
    'bench8',
  );
  const pollMs = 500;
  const t8 = Date.now();
  const out8 = await runSweep({
    plan: small.plan,
    parallel: Number.MAX_SAFE_INTEGER,
    handleSignals: false,
    write: quiet,
    executor: (events) => new SlurmExecutor({ runDir: small.plan.runDir, sweep: small.plan.sweep, settings: SlurmConfig.parse({}), pollMs }, events),
  });
  const wall8 = Date.now() - t8;
  if (out8.counts.completed !== small.plan.experiments.length) throw new Error(`bench8: ${JSON.stringify(out8.counts)}`);
  const m8 = JSON.parse(fs.readFileSync(path.join(small.plan.runDir, 'manifest.json'), 'utf8'));
  const queue: number[] = [];
  const follow: number[] = [];
  const runtime: number[] = [];
  for (const id of m8.order) {
    const e = m8.experiments[id];
    const sub = path.join(small.plan.runDir, 'slurm', e.slurm.submission);
    const submitted = Date.parse(JSON.parse(fs.readFileSync(path.join(sub, 'submit.json'), 'utf8')).at);
    const rec = readTaskRecord(sub, e.slurm.task);
    const start = rec.start!.t! * 1000;
    const exit = rec.exit!.t! * 1000;
    queue.push(start - submitted);
    runtime.push(exit - start);
    follow.push(Date.parse(e.endedAt) - exit);
  }
  const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
  report(
    `per-experiment scheduling overhead (${m8.order.length} one-step experiments, poll ${pollMs} ms): submit → task start ${(mean(queue) / 1000).toFixed(2)} s mean (max ${(Math.max(...queue) / 1000).toFixed(2)} s), ` +
      `exit → recorded ${(mean(follow) / 1000).toFixed(2)} s mean, trainer itself ${(mean(runtime) / 1000).toFixed(2)} s; whole sweep ${(wall8 / 1000).toFixed(1)} s`,
  );
  fs.writeFileSync(path.join(work, 'report.txt'), lines.join('\n') + '\n');
}

main()
  .catch((err) => {
    console.error(`bench:slurm: ${(err as Error).stack ?? err}`);
    process.exitCode = 1;
  })
  .finally(() => {
    if (ownCluster) spawnSync('bash', [path.join(root, 'scripts/slurm/stop-cluster.sh'), ownCluster, '--purge'], { stdio: 'inherit' });
    fs.rmSync(work, { recursive: true, force: true });
  });
