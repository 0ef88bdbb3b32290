// The Slurm executor's pieces that need no cluster: parsing Slurm's output, the job environment,
// the generated task script and wrapper (run here with bash, as Slurm would), the wrapper's records,
// the run.slurm schema. The executor against a real cluster: test/slurm/e2e.mjs.
import * as assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SlurmConfig, SweepConfigSchema } from '../../src/core/config';
import { ManifestEntry, type Manifest } from '../../src/core/contracts';
import { deriveSweepStatus, experimentStatus } from '../../src/core/runDir';
import { cleanJobEnv, parseQueue, parseSacct, parseSbatch } from '../../src/engine/runner/executors/slurm/commands';
import { readTaskRecord, SUBMISSION_FILES, taskScript, wrapperScript } from '../../src/engine/runner/executors/slurm/wrapper';
import { tempDir } from './runnerHelpers';

/** Lays out a submission folder with one task script and the wrapper; returns a runner for task 0. */
function submission(task: string): { sub: string; run: (env?: NodeJS.ProcessEnv) => ReturnType<typeof spawn> } {
  const sub = tempDir('slurm-sub-');
  fs.mkdirSync(path.join(sub, SUBMISSION_FILES.tasksDir), { recursive: true });
  fs.writeFileSync(path.join(sub, SUBMISSION_FILES.tasksDir, '0.sh'), task);
  fs.writeFileSync(path.join(sub, SUBMISSION_FILES.wrapper), wrapperScript(0), { mode: 0o755 });
  return {
    sub,
    run: (env = {}) => spawn('bash', [path.join(sub, SUBMISSION_FILES.wrapper), sub], { env: { ...process.env, SLURM_ARRAY_TASK_ID: '0', SLURM_JOB_ID: '42', SLURM_ARRAY_JOB_ID: '41', ...env }, stdio: 'ignore' }),
  };
}
const exited = (child: ReturnType<typeof spawn>) => new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
async function until(cond: () => boolean, what: string): Promise<void> {
  for (const t0 = Date.now(); !cond(); ) {
    if (Date.now() - t0 > 20_000) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('slurm executor (no cluster)', function () {
  it('parses squeue rows per array task, skipping collapsed rows without a task index', function () {
    const rows = parseQueue(['7|0|8|RUNNING|None|node01|sub-a', '7|1|9|PENDING|Priority||sub-a', '7|N/A|7|CANCELLED|None||sub-a', '12|3|15|PENDING|Resources|(null)|(null)', ''].join('\n'));
    assert.deepEqual([...rows.keys()], ['7_0', '7_1', '12_3']);
    assert.deepEqual(rows.get('7_0'), { arrayJobId: '7', task: 0, jobId: '8', state: 'RUNNING', reason: 'None', node: 'node01', comment: 'sub-a' });
    assert.equal(rows.get('7_1')!.reason, 'Priority');
    assert.equal(rows.get('12_3')!.state, 'PENDING');
  });

  it('reads the job id sbatch --parsable prints, with or without a cluster name', function () {
    assert.equal(parseSbatch('1234\n'), '1234');
    assert.equal(parseSbatch('1234;cluster-a\n'), '1234');
    assert.equal(parseSbatch('sbatch: error: nope\n'), undefined);
  });

  it('parses sacct -X -P rows of array tasks (first word of the state)', function () {
    const m = parseSacct('7_0|COMPLETED|node01|0:0\n7_1|CANCELLED by 0|None assigned|0:15\n7|FAILED|n|1:0\n');
    assert.deepEqual([...m.keys()], ['7_0', '7_1']);
    assert.equal(m.get('7_1')!.state, 'CANCELLED');
  });

  it('cleans the job environment of editor-host and per-experiment variables', function () {
    const env = cleanJobEnv({ PATH: '/bin', SLURM_CONF: '/x/slurm.conf', VSCODE_PID: '1', ELECTRON_RUN_AS_NODE: '1', NODE_OPTIONS: '--inspect', FLOPSFIT_EXPERIMENT_ID: 'a', FLOPSFIT_SLURM_POLL_MS: '5', HOME: '/root' });
    assert.deepEqual(env, { PATH: '/bin', SLURM_CONF: '/x/slurm.conf', FLOPSFIT_SLURM_POLL_MS: '5', HOME: '/root' });
  });

  it('task script: exports the variables, runs the setup lines, passes every argument through unchanged, appends to the log', function () {
    const dir = tempDir('slurm-task-');
    const args = [`it's "quoted"`, 'a b', '$HOME', '{x}'];
    const script = taskScript({
      id: 'e1',
      dir,
      attempt: 1,
      builtin: false,
      setup: ['export FROM_SETUP=yes', 'echo setup ran'],
      cmd: { command: process.execPath, args: ['-e', 'console.log(JSON.stringify([process.env.FLOPSFIT_EXPERIMENT_ID, process.env.FROM_SETUP, ...process.argv.slice(1)]))', ...args], cwd: dir, env: { FLOPSFIT_EXPERIMENT_ID: 'e1' } },
    });
    fs.writeFileSync(path.join(dir, 'task.sh'), script);
    const r = spawnSync('bash', [path.join(dir, 'task.sh')], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const log = fs.readFileSync(path.join(dir, 'log.txt'), 'utf8').trim().split('\n');
    assert.equal(log[0], 'setup ran');
    assert.deepEqual(JSON.parse(log[1]), ['e1', 'yes', ...args]);
  });

  it('task script of the built-in trainer adds --resume only when a checkpoint exists when the task starts', function () {
    const dir = tempDir('slurm-task-');
    const cmd = { command: process.execPath, args: ['-e', 'console.log(JSON.stringify(process.argv.slice(1)))', 'train'], cwd: dir, env: {} };
    fs.writeFileSync(path.join(dir, 'task.sh'), taskScript({ id: 'e', dir, attempt: 1, builtin: true, setup: [], cmd }));
    spawnSync('bash', [path.join(dir, 'task.sh')]);
    fs.mkdirSync(path.join(dir, 'checkpoint'));
    spawnSync('bash', [path.join(dir, 'task.sh')]);
    const lines = fs.readFileSync(path.join(dir, 'log.txt'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(lines, [['train'], ['train', '--resume']]);
  });

  it('wrapper: records start and the exit code, and exits with it', async function () {
    const { sub, run } = submission('exit 7\n');
    assert.equal(await exited(run()), 7);
    const rec = readTaskRecord(sub, 0);
    assert.equal(rec.start?.jobId, '42');
    assert.equal(rec.exit?.code, 7);
  });

  it('wrapper: a STOP marker makes a task that starts later exit at once as stopped, without running it', async function () {
    const { sub, run } = submission('touch "$RAN_MARKER"\nexit 0\n');
    fs.writeFileSync(path.join(sub, SUBMISSION_FILES.stop), 'x');
    const marker = path.join(sub, 'ran');
    assert.equal(await exited(run({ RAN_MARKER: marker })), 143);
    assert.ok(!fs.existsSync(marker), 'the task did not run');
    const rec = readTaskRecord(sub, 0);
    assert.equal(rec.exit?.code, 143);
    assert.match(rec.exit?.note ?? '', /before it started/);
  });

  it('wrapper: forwards SIGUSR2 (time-limit warning) to the trainer as SIGTERM, waits for its checkpoint, records signal and exit', async function () {
    const dir = tempDir('slurm-trainer-');
    const marker = path.join(dir, 'checkpointed');
    const ready = path.join(dir, 'ready');
    const { sub, run } = submission(`exec bash -c 'trap "sleep 0.3; touch ${marker}; exit 130" TERM; touch ${ready}; while :; do sleep 0.05; done'\n`);
    const child = run();
    await until(() => fs.existsSync(ready), 'the trainer to start');
    child.kill('SIGUSR2');
    assert.equal(await exited(child), 130);
    assert.ok(fs.existsSync(marker), 'the trainer checkpointed before the wrapper exited');
    const rec = readTaskRecord(sub, 0);
    assert.deepEqual(rec.signals, ['USR2']);
    assert.equal(rec.exit?.code, 130);
    assert.equal(rec.exit?.signal, 'USR2');
  });

  it('task records: a new start (requeue) resets the attempt; requeued exits and torn lines are ignored', function () {
    const sub = tempDir('slurm-rec-');
    const f = path.join(sub, SUBMISSION_FILES.statusDir, '0', SUBMISSION_FILES.events);
    fs.mkdirSync(path.dirname(f), { recursive: true });
    fs.writeFileSync(
      f,
      ['{"event":"start","t":1,"restart":0}', '{"event":"signal","sig":"USR2"}', '{"event":"exit","code":130,"requeued":true}', '{"event":"start","t":2,"restart":1}', '{"event":"exi'].join('\n'),
    );
    const rec = readTaskRecord(sub, 0);
    assert.equal(rec.start?.restart, 1);
    assert.equal(rec.exit, undefined);
    assert.deepEqual(rec.signals, []);
  });

  it('run.slurm: defaults, Slurm time formats, clear messages for bad values; manifest entries carry the Slurm record', function () {
    const s = SlurmConfig.parse({});
    assert.equal(s.cpus, 1);
    assert.equal(s.signalSeconds, 120);
    assert.equal(s.node, 'node');
    for (const t of ['30', '2:00:00', '1-12', '1-12:00:00']) assert.ok(SlurmConfig.safeParse({ time: t }).success, t);
    const bad = SlurmConfig.safeParse({ time: '2 hours' });
    assert.ok(!bad.success && /Slurm time limit/.test(bad.error.issues[0].message));
    assert.ok(!SlurmConfig.safeParse({ partitions: 'x' }).success, 'unknown keys are rejected');
    const cfg = SweepConfigSchema.safeParse({ name: 'x', budgets: [1e9], run: { executor: 'slurm', slurm: { partition: 'gpu', memory: '4G' } } });
    assert.ok(cfg.success);
    assert.ok(!SweepConfigSchema.safeParse({ name: 'x', budgets: [1e9], run: { executor: 'kubernetes' } }).success);
    const entry = ManifestEntry.parse({ status: 'running', specHash: 'a', budget: 1, params: 1, tokens: 1, attempts: 1, slurm: { submission: 's', arrayJobId: '7', task: 0, state: 'PENDING', reason: 'Priority' } });
    assert.equal(entry.slurm?.reason, 'Priority');
  });

  it('status rule: an experiment queued or running on Slurm stays running without a runner (a detached sweep is not interrupted)', function () {
    const base = { specHash: 'a', budget: 1, params: 1, tokens: 1, attempts: 1 };
    const onSlurm = ManifestEntry.parse({ ...base, status: 'running', slurm: { submission: 's', arrayJobId: '7', task: 0, state: 'PENDING' } });
    const local = ManifestEntry.parse({ ...base, status: 'running', pid: 123 });
    const lost = ManifestEntry.parse({ ...base, status: 'running', slurm: { submission: 's', arrayJobId: '7', task: 1, state: 'LOST' } });
    assert.equal(experimentStatus(onSlurm, false), 'running');
    assert.equal(experimentStatus(local, false), 'stopped');
    assert.equal(experimentStatus(lost, false), 'stopped');
    const manifest = (experiments: Record<string, ManifestEntry>): Manifest => ({ version: 1, sweep: 's', configPath: 'c', createdAt: '', updatedAt: '', order: Object.keys(experiments), experiments, state: 'running' });
    const detached = deriveSweepStatus({ manifest: manifest({ a: onSlurm }), lockAlive: false });
    assert.equal(detached.status, 'running');
    assert.match(detached.label, /Slurm/);
    assert.equal(detached.counts.running, 1);
    assert.equal(deriveSweepStatus({ manifest: manifest({ a: local }), lockAlive: false }).status, 'interrupted');
  });
});
