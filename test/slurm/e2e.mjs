#!/usr/bin/env node
// End-to-end test of the Slurm executor against a REAL Slurm cluster (run by CI through
// test/slurm/ci.sh, which starts a one-node cluster with scripts/slurm/start-cluster.sh).
//
// Needs: SLURM_CONF pointing at a running cluster, sbatch/squeue/scancel on PATH, dist/ built.
// Scenarios (tiny sweeps; they share the cluster, the time-limit one runs alongside the others):
//   1. command trainer: submitted --detach, followed (status shows job ids/states), stopped
//      mid-way (checkpoints written, every experiment "stopped"), resumed, completed, fitted;
//      losses equal those of the same sweep run locally;
//   2. built-in trainer: the same (stop mid-way, resume, fit), losses equal the local run's;
//   3. a task that exits 1: failed with its reason, the others complete;
//   4. a time limit: stopped at a checkpoint ahead of the limit, then resumed to completion;
//   5. kill -9 of the submitting runner: the jobs go on; the next run re-attaches and resubmits
//      nothing; then slurmd is restarted mid-run: nothing completed is lost, the sweep completes;
//   6. the controller does not answer: the last states are kept, nothing is marked failed;
//   7. bad input: no sbatch on PATH, an unknown partition (Slurm's message), an unwritable run
//      directory: clear messages, nothing lost;
//   8. a closed terminal (SIGHUP) detaches the runner: the jobs go on; `flopsfit stop` stops them;
//   9. run.slurm.requeue: 1 — the wrapper requeues an experiment stopped by its time limit once; it
//      restarts from its checkpoint, and after the second limit it is stopped (resumable);
//  10. a runner killed between sbatch and its manifest write: the next run adopts the live tasks.
//
// Usage: SLURM_CONF=... node test/slurm/e2e.mjs [--only N,N] [--keep]
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const cli = path.join(root, 'dist/flopsfit.js');
const trainer = path.join(root, 'test/fixtures/runner/fake-trainer.mjs');
const args = process.argv.slice(2);
const only = args.includes('--only') ? args[args.indexOf('--only') + 1].split(',').map(Number) : undefined;
const keep = args.includes('--keep');
const t0 = Date.now();
const say = (m) => console.log(`[slurm-e2e ${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s] ${m}`);

if (!process.env.SLURM_CONF || !fs.existsSync(process.env.SLURM_CONF)) {
  console.error('slurm-e2e: SLURM_CONF must name the running test cluster\'s slurm.conf (see test/slurm/ci.sh)');
  process.exit(2);
}
if (!fs.existsSync(cli)) {
  console.error('slurm-e2e: dist/flopsfit.js is missing: npm run build first');
  process.exit(2);
}
const slurmConf = process.env.SLURM_CONF;
const clusterDir = path.dirname(slurmConf);
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'flopsfit-slurm-e2e-'));
const ENV = { ...process.env, FLOPSFIT_SLURM_POLL_MS: '500' };

let failures = 0;
function check(cond, message) {
  if (!cond) {
    failures++;
    console.error(`slurm-e2e: FAIL: ${message}`);
  } else say(`ok: ${message}`);
  return cond;
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function waitFor(cond, timeoutMs, what) {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await cond()) return true;
    await sleep(250);
  }
  const ok = await cond();
  if (!ok) check(false, `timed out after ${timeoutMs / 1000} s waiting for ${what}`);
  return ok;
}

/** Runs the CLI to completion. */
function flopsfit(argv, env = ENV) {
  const r = spawnSync(process.execPath, [cli, ...argv], { env, encoding: 'utf8', timeout: 300_000 });
  return { code: r.status, out: (r.stdout ?? '') + (r.stderr ?? ''), stdout: r.stdout ?? '' };
}
/** Starts the CLI in the background. */
function flopsfitBg(argv, env = ENV) {
  const child = spawn(process.execPath, [cli, ...argv], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const done = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, done, output: () => out };
}
const manifest = (dir) => JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
const entries = (dir) => {
  const m = manifest(dir);
  return m.order.map((id) => ({ id, ...m.experiments[id] }));
};
const results = (dir) =>
  Object.fromEntries(
    fs
      .readFileSync(path.join(dir, 'results.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l))
      .map((r) => [r.id, r.finalLoss]),
  );
function squeue(name) {
  const r = spawnSync('squeue', ['--noheader', '--array', `--name=${name}`, '--format=%F_%K %T'], { encoding: 'utf8' });
  return r.stdout.split('\n').filter(Boolean);
}
const submissions = (dir) => (fs.existsSync(path.join(dir, 'slurm')) ? fs.readdirSync(path.join(dir, 'slurm')) : []);
/** Training steps an experiment has logged (a command trainer's protocol lines in log.txt, or the built-in trainer's metrics.jsonl). */
const metricsSteps = (dir, id) => {
  let n = 0;
  for (const f of ['log.txt', 'metrics.jsonl']) {
    try {
      n = Math.max(n, fs.readFileSync(path.join(dir, 'experiments', id, f), 'utf8').split('\n').filter((l) => l.startsWith('{"step":')).length);
    } catch {
      /* not yet */
    }
  }
  return n;
};

function commandConfig(name, { steps = 40, stepMs = 50, slurm = {}, extra = '', command } = {}) {
  const file = path.join(work, `${name}.sweep.yaml`);
  const cmd = command ?? [process.execPath, trainer, '--size', '{size}', '--tokens', '{tokens}', '--seed', '{seed}', '--out', '{runDir}', '--steps', String(steps), '--step-ms', String(stepMs)];
  fs.writeFileSync(
    file,
    `name: ${name}
model:
  family: command
  command: ${JSON.stringify(cmd)}
  countParams: ${JSON.stringify([process.execPath, trainer, '--count-params', '--size', '{size}'])}
  size: { min: 4, max: 64, probes: 16 }
budgets: [1.0e9, 1.0e10]
planning: { sizesPerBudget: 4 }
training: { batchSize: 4 }
sweep: { seeds: 1 }
fit: { bootstrap: 20 }
run:
  directory: ${path.join(work, name)}
  executor: slurm
  slurm: ${JSON.stringify({ node: process.execPath, stopGraceSeconds: 30, ...slurm })}
${extra}`,
  );
  return { file, dir: path.join(work, name) };
}

function builtinConfig(name) {
  const file = path.join(work, `${name}.sweep.yaml`);
  fs.writeFileSync(
    file,
    `name: ${name}
model:
  family: transformer
  nLayers: 1
  nHeads: 2
  contextLength: 16
  size: { param: dModel, min: 4, max: 32, multiple: 4 }
data: { source: synthetic, vocabSize: 32, branching: 4, seed: 0 }
budgets: [1.0e9, 4.0e9]
planning: { sizesPerBudget: 3, priorTokensPerParam: 60, sizeSpread: 20, tokensPerParam: { min: 1, max: 1400 } }
training: { batchSize: 16, learningRate: 0.01, weightDecay: 0, evalTokens: 2048, evalInterval: 0, checkpointInterval: 20, backend: wasm }
fit: { bootstrap: 20 }
run:
  directory: ${path.join(work, name)}
  executor: slurm
  slurm: ${JSON.stringify({ node: process.execPath, stopGraceSeconds: 60 })}
`,
  );
  return { file, dir: path.join(work, name) };
}

/** Stop mid-way, resume, complete, fit; then the same sweep locally: equal losses. */
async function stopResumeCompare(label, cfg, started) {
  const sub = flopsfit(['run', cfg.file, '--detach']);
  check(sub.code === 0 && /submitted \d+ experiments? as Slurm array job \d+/.test(sub.out), `${label}: --detach submits one array job and exits 0 (${sub.code}: ${sub.out.split('\n').slice(-3).join(' | ')})`);
  const es = entries(cfg.dir);
  check(es.every((e) => e.status === 'running' && e.slurm?.arrayJobId && e.slurm.jobId), `${label}: every manifest entry is running with its Slurm job`);
  check(submissions(cfg.dir).length === 1, `${label}: one submission`);
  await waitFor(() => started(cfg.dir), 120_000, `${label}: experiments training`);
  const st = flopsfit(['status', cfg.file]);
  check(st.code === 0 && /RUNNING on \S+/.test(st.out) && (/PENDING/.test(st.out) || /COMPLETED|completed/.test(st.out) || true), `${label}: status shows running jobs with their node`);
  const stop = flopsfit(['stop', cfg.file]);
  check(stop.code === 0, `${label}: flopsfit stop exits 0 (${stop.out.split('\n').slice(-2).join(' | ')})`);
  const after = entries(cfg.dir);
  check(after.every((e) => e.status === 'stopped' || e.status === 'completed'), `${label}: after stop every experiment is stopped or completed (${after.map((e) => e.status).join(',')})`);
  const trained = after.filter((e) => e.status === 'stopped' && metricsSteps(cfg.dir, e.id) > 0);
  check(trained.length > 0 && trained.every((e) => fs.existsSync(path.join(cfg.dir, 'experiments', e.id, 'checkpoint'))), `${label}: ${trained.length} stopped mid-way with a checkpoint`);
  check(squeue(`flopsfit-${path.basename(cfg.dir)}`).filter((l) => /PENDING|RUNNING/.test(l)).length === 0, `${label}: nothing of the sweep left in the queue`);
  const resumed = flopsfit(['run', cfg.file]);
  check(/experiments \([^)]*\), on Slurm, /.test(resumed.out) && !/\), parallel \d+$/m.test(resumed.out), `${label}: the first line says how many run at once on Slurm, not the local "parallel N" (${resumed.out.split('\n')[0]})`);
  check(resumed.code === 0 && /done — (\d+)\/\1 completed/.test(resumed.out), `${label}: the resumed run completes (${resumed.out.split('\n').filter((l) => /done —|FAILED/.test(l)).join(' | ')})`);
  check(fs.existsSync(path.join(cfg.dir, 'fit.json')), `${label}: fitted (fit.json)`);
  check(submissions(cfg.dir).length === 2, `${label}: the resume was one more submission`);
  check(
    entries(cfg.dir).filter((e) => trained.some((t) => t.id === e.id)).every((e) => fs.readFileSync(path.join(cfg.dir, 'experiments', e.id, 'log.txt'), 'utf8').match(/resum/i)),
    `${label}: the stopped experiments continued from their checkpoints`,
  );
  const localDir = cfg.dir + '-local';
  const local = flopsfit(['run', cfg.file, '--executor', 'local', '--out', localDir, '--no-fit', '--parallel', '4']);
  check(local.code === 0, `${label}: the same sweep runs locally`);
  const a = results(cfg.dir);
  const b = results(localDir);
  const same = Object.keys(b).length === Object.keys(a).length && Object.keys(b).every((id) => a[id] === b[id]);
  check(same, `${label}: losses on Slurm equal the local run's (${Object.keys(a).length} experiments)${same ? '' : `\n  slurm ${JSON.stringify(a)}\n  local ${JSON.stringify(b)}`}`);
}

const scenarios = {
  // 4. time limit (started first: it waits for Slurm's clock; the others run meanwhile)
  async timeLimitStart() {
    const cfg = commandConfig('timelimit', { steps: 1500, stepMs: 60, slurm: { time: '1', signalSeconds: 55 } });
    const sub = flopsfit(['run', cfg.file, '--detach', '--only', entries0(cfg).slice(0, 1)[0]]);
    check(sub.code === 0, `time limit: submitted (${sub.out.split('\n').slice(-1)[0]})`);
    return cfg;
  },
  async timeLimitFinish(cfg) {
    const id = entries(cfg.dir).find((e) => e.slurm)?.id ?? '?';
    const eventsFile = path.join(cfg.dir, 'slurm', submissions(cfg.dir)[0] ?? '?', 'status/0/events.jsonl');
    const ended = () => fs.existsSync(eventsFile) && /"event":"exit"/.test(fs.readFileSync(eventsFile, 'utf8'));
    await waitFor(ended, 180_000, 'time limit: the first attempt to end');
    const rec = fs.readFileSync(eventsFile, 'utf8');
    check(/"sig":"USR2"/.test(rec) && /"code":130/.test(rec), 'time limit: the warning signal reached the trainer, which stopped at a checkpoint (exit 130)');
    check(fs.existsSync(path.join(cfg.dir, 'experiments', id, 'checkpoint')), 'time limit: a checkpoint was written');
    // the user raises the limit: run.slurm is not part of the experiments' specs, nothing is re-planned
    fs.writeFileSync(cfg.file, fs.readFileSync(cfg.file, 'utf8').replace('"time":"1",', ''));
    const r = flopsfit(['run', cfg.file, '--only', id, '--no-fit']);
    check(/stopped .*\n?.*time limit|time limit: stopped at its checkpoint/.test(r.out), `time limit: the runner records it as stopped by the time limit (resumable)\n${r.out.split('\n').slice(0, 8).join('\n')}`);
    const e2 = entries(cfg.dir).find((x) => x.id === id);
    check(r.code === 0 && e2.status === 'completed' && e2.attempts === 2, `time limit: resumed to completion (${e2.status}, attempt ${e2.attempts})`);
    check(/resumed at step [1-9]/.test(fs.readFileSync(path.join(cfg.dir, 'experiments', id, 'log.txt'), 'utf8')), 'time limit: the resumed attempt continued from its checkpoint');
  },

  // 9. automatic requeue after a time limit (run.slurm.requeue: 1)
  async requeueStart() {
    const cfg = commandConfig('requeue', { steps: 4000, stepMs: 60, slurm: { time: '1', signalSeconds: 55, requeue: 1 } });
    const sub = flopsfit(['run', cfg.file, '--detach', '--only', entries0(cfg)[0]]);
    check(sub.code === 0, 'requeue: submitted');
    return cfg;
  },
  async requeueFinish(cfg) {
    const id = entries(cfg.dir).find((e) => e.slurm)?.id ?? '?';
    const eventsFile = path.join(cfg.dir, 'slurm', submissions(cfg.dir)[0] ?? '?', 'status/0/events.jsonl');
    const recs = () => (fs.existsSync(eventsFile) ? fs.readFileSync(eventsFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)) : []);
    await waitFor(() => recs().filter((r) => r.event === 'exit' && !r.requeued).length > 0, 300_000, 'requeue: the requeued attempt to end');
    const r = recs();
    check(r.some((x) => x.event === 'exit' && x.requeued) && r.some((x) => x.event === 'start' && x.restart === 1), `requeue: stopped at the time limit, requeued by the wrapper and restarted (${r.map((x) => `${x.event}${x.restart ?? ''}${x.requeued ? '*' : ''}`).join(' ')})`);
    check(/resumed at step [1-9]/.test(fs.readFileSync(path.join(cfg.dir, 'experiments', id, 'log.txt'), 'utf8')), 'requeue: the restarted attempt continued from its checkpoint');
    const st = flopsfit(['stop', cfg.file]);
    const e = entries(cfg.dir).find((x) => x.id === id);
    check(st.code === 0 && e.status === 'stopped' && /time limit/.test(e.reason ?? ''), `requeue: after the last requeue it is stopped by the time limit, resumable (${e.status}: ${e.reason})`);
  },

  // 1. command trainer
  async command() {
    const cfg = commandConfig('cmd', { steps: 250, stepMs: 40, slurm: { arrayLimit: 3 } });
    await stopResumeCompare('command trainer', cfg, (dir) => entries(dir).filter((e) => metricsSteps(dir, e.id) >= 5).length >= 2);
  },

  // 2. built-in trainer
  async builtin() {
    const cfg = builtinConfig('builtin');
    await stopResumeCompare('built-in trainer', cfg, (dir) => entries(dir).some((e) => fs.existsSync(path.join(dir, 'experiments', e.id, 'checkpoint'))));
  },

  // 3. exit 1
  async failed() {
    const probe = commandConfig('failplan');
    const plan = JSON.parse(flopsfit(['plan', probe.file, '--json']).stdout);
    const size = plan.experiments[0].sizeValue;
    const cfg = commandConfig('fail', {
      command: ['bash', '-c', `if [ "$1" = "${size}" ]; then echo "bad input: size $1 is not supported" >&2; exit 1; fi; shift; exec "$@"`, 'x', '{size}', process.execPath, trainer, '--size', '{size}', '--tokens', '{tokens}', '--seed', '{seed}', '--out', '{runDir}', '--steps', '10', '--step-ms', '20'],
    });
    const r = flopsfit(['run', cfg.file]);
    const es = entries(cfg.dir);
    const bad = es.filter((e) => e.status === 'failed');
    check(r.code === 1, `exit 1: the runner exits 1 (${r.code})`);
    check(bad.length === 1 && /exit code 1/.test(bad[0].reason) && /bad input: size/.test(bad[0].reason) && bad[0].slurm?.state === 'FAILED', `exit 1: one experiment failed with its reason (${bad.map((e) => e.reason).join(' | ')})`);
    check(es.filter((e) => e.status === 'completed').length === es.length - 1, 'exit 1: the others completed');
  },

  // 5. kill -9 of the runner, re-attach, slurmd restart
  async killAndRestart() {
    const cfg = commandConfig('kill9', { steps: 80, stepMs: 80, slurm: { arrayLimit: 4 } });
    const bg = flopsfitBg(['run', cfg.file]);
    await waitFor(() => fs.existsSync(path.join(cfg.dir, 'manifest.json')) && entries(cfg.dir).some((e) => metricsSteps(cfg.dir, e.id) >= 3), 120_000, 'kill -9: experiments training');
    bg.child.kill('SIGKILL');
    await bg.done;
    const live = () => squeue('flopsfit-kill9').filter((l) => /RUNNING|PENDING/.test(l)).length;
    check(live() > 0, `kill -9: the jobs go on after the runner died (${live()} queued or running)`);
    const before = squeue('flopsfit-kill9').filter((l) => /RUNNING|PENDING/.test(l)).length;
    const again = flopsfitBg(['run', cfg.file]);
    await waitFor(() => /following \d+ experiments? still queued or running/.test(again.output()), 60_000, 'kill -9: the next run re-attaches');
    check(!/submitted \d+ experiment/.test(again.output()) || submissions(cfg.dir).length === 1, `kill -9: the re-attached run resubmits nothing that is running (${before} were live)`);
    // slurmd restarted while the sweep runs
    const completedBefore = entries(cfg.dir).filter((e) => e.status === 'completed').map((e) => e.id);
    const pid = Number(fs.readFileSync(path.join(clusterDir, 'run/slurmd.pid'), 'utf8'));
    process.kill(pid, 'SIGTERM');
    await waitFor(() => {
      try {
        process.kill(pid, 0);
        return false;
      } catch {
        return true;
      }
    }, 30_000, 'slurmd to exit');
    const restart = spawnSync('slurmd', ['-f', slurmConf, '-N', 'localhost'], { encoding: 'utf8' });
    check(restart.status === 0, `slurmd restarted mid-run ${restart.stderr ?? ''}`);
    const end = await Promise.race([again.done, sleep(240_000).then(() => ({ code: 'timeout' }))]);
    const es = entries(cfg.dir);
    check(end.code === 0 && es.every((e) => e.status === 'completed'), `kill -9 + slurmd restart: the sweep completes (${end.code}; ${es.map((e) => e.status).join(',')})\n${again.output().split('\n').slice(-6).join('\n')}`);
    check(completedBefore.every((id) => es.find((e) => e.id === id).attempts === 1), 'slurmd restart: nothing completed was lost or re-run');
    check(submissions(cfg.dir).length === 1, `kill -9: still one submission (${submissions(cfg.dir).length})`);
  },

  // 6. controller not answering
  async controllerDown() {
    const cfg = commandConfig('ctldown', { steps: 300, stepMs: 80 });
    const bg = flopsfitBg(['run', cfg.file, '--no-fit']);
    await waitFor(() => fs.existsSync(path.join(cfg.dir, 'manifest.json')) && entries(cfg.dir).some((e) => metricsSteps(cfg.dir, e.id) >= 2), 120_000, 'controller down: experiments training');
    const pidFile = path.join(clusterDir, 'run/slurmctld.pid');
    const pid = Number(fs.readFileSync(pidFile, 'utf8'));
    process.kill(pid, 'SIGTERM');
    await waitFor(() => /does not answer/.test(bg.output()), 60_000, 'controller down: the runner notices');
    const mid = entries(cfg.dir);
    check(mid.every((e) => e.status !== 'failed'), 'controller down: nothing is marked failed');
    const st = flopsfit(['status', cfg.file]);
    check(st.code === 0 && /last known states/.test(st.out), `controller down: status shows the last known states\n${st.out}`);
    const up = spawnSync('slurmctld', ['-f', slurmConf], { encoding: 'utf8' });
    check(up.status === 0, 'slurmctld restarted');
    const end = await Promise.race([bg.done, sleep(240_000).then(() => ({ code: 'timeout' }))]);
    const es = entries(cfg.dir);
    check(end.code === 0 && es.every((e) => e.status === 'completed'), `controller down: the sweep completes once it answers (${end.code}; ${es.map((e) => e.status).join(',')})`);
  },

  // 8. a closed terminal (SIGHUP) detaches: the jobs go on
  async hangup() {
    const cfg = commandConfig('hup', { steps: 200, stepMs: 50 });
    const bg = flopsfitBg(['run', cfg.file]);
    await waitFor(() => fs.existsSync(path.join(cfg.dir, 'manifest.json')) && entries(cfg.dir).some((e) => metricsSteps(cfg.dir, e.id) >= 2), 120_000, 'SIGHUP: experiments training');
    bg.child.kill('SIGHUP');
    const end = await bg.done;
    const live = squeue('flopsfit-hup').filter((l) => /RUNNING|PENDING/.test(l)).length;
    check(end.code === 0 && /detach/.test(bg.output()) && live > 0, `SIGHUP: the runner detaches (exit ${end.code}) and the jobs go on (${live} live)`);
    check(entries(cfg.dir).every((e) => e.status === 'running' || e.status === 'completed'), 'SIGHUP: nothing was stopped');
    const stop = flopsfit(['stop', cfg.file]);
    check(stop.code === 0 && entries(cfg.dir).every((e) => e.status === 'stopped' || e.status === 'completed'), 'SIGHUP: flopsfit stop then stops the detached sweep');
  },

  // 10. the runner died between sbatch and its manifest write: the next run adopts the live tasks
  async unrecorded() {
    const cfg = commandConfig('unrec', { steps: 200, stepMs: 50 });
    const sub = flopsfit(['run', cfg.file, '--detach']);
    check(sub.code === 0 && submissions(cfg.dir).length === 1, 'unrecorded: submitted');
    const m = manifest(cfg.dir);
    for (const e of Object.values(m.experiments)) {
      e.status = 'queued';
      e.attempts = 0;
      delete e.slurm;
      delete e.startedAt;
    }
    fs.writeFileSync(path.join(cfg.dir, 'manifest.json'), JSON.stringify(m, null, 2));
    const again = flopsfit(['run', cfg.file, '--detach']);
    check(again.code === 0 && /8 experiments were already on Slurm without a manifest record/.test(again.out) && submissions(cfg.dir).length === 1, `unrecorded: the live tasks are adopted, nothing is submitted twice (${submissions(cfg.dir).length} submissions)`);
    check(entries(cfg.dir).every((e) => e.status === 'running' && e.slurm?.arrayJobId), 'unrecorded: the manifest records them again');
    flopsfit(['stop', cfg.file]);
  },

  // 7. bad input
  async badInput() {
    const cfg = commandConfig('bad', { steps: 5, stepMs: 10 });
    const noPath = flopsfit(['run', cfg.file], { ...ENV, PATH: '/nonexistent' });
    check(noPath.code === 2 && /sbatch was not found on PATH/.test(noPath.out) && !/at .*\.js:\d+/.test(noPath.out), `no sbatch on PATH: a clear message (${noPath.out.trim()})`);
    check(!fs.existsSync(path.join(cfg.dir, 'manifest.json')), 'no sbatch on PATH: nothing written');
    const part = commandConfig('badpart', { steps: 5, stepMs: 10, slurm: { partition: 'nosuchpartition' } });
    const p = flopsfit(['run', part.file]);
    check(p.code === 1 && /invalid partition/i.test(p.out) && !/internal error/.test(p.out), `unknown partition: Slurm's own message (${p.out.trim().split('\n').slice(-3).join(' | ')})`);
    check(entries(part.dir).every((e) => e.status === 'queued' && !e.slurm), 'unknown partition: nothing lost (every experiment still queued)');
    const unw = flopsfit(['run', cfg.file, '--out', '/proc/flopsfit-cannot-write/run']);
    check(unw.code === 2 && /not writable|cannot be created/.test(unw.out) && !/internal error/.test(unw.out), `unwritable run directory: a clear message (${unw.out.trim()})`);
  },
};

function entries0(cfg) {
  const plan = JSON.parse(flopsfit(['plan', cfg.file, '--json']).stdout);
  return plan.experiments.map((e) => e.id);
}

const want = (n) => !only || only.includes(n);
try {
  say(`work dir ${work}; cluster ${slurmConf}`);
  let tl;
  let rq;
  if (want(4)) tl = await scenarios.timeLimitStart();
  if (want(9)) rq = await scenarios.requeueStart();
  if (want(7)) await scenarios.badInput();
  if (want(3)) await scenarios.failed();
  if (want(1)) await scenarios.command();
  if (want(5)) await scenarios.killAndRestart();
  if (want(6)) await scenarios.controllerDown();
  if (want(8)) await scenarios.hangup();
  if (want(10)) await scenarios.unrecorded();
  if (want(2)) await scenarios.builtin();
  if (tl) await scenarios.timeLimitFinish(tl);
  if (rq) await scenarios.requeueFinish(rq);
} catch (err) {
  failures++;
  console.error(`slurm-e2e: FAIL: ${err?.stack ?? err}`);
}
if (!keep && !failures) fs.rmSync(work, { recursive: true, force: true });
say(failures ? `${failures} check(s) FAILED (files kept in ${work})` : 'OK — every Slurm scenario passed');
process.exit(failures ? 1 : 0);
