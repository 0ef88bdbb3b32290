#!/usr/bin/env node
// Crash test of the sweep runner (run by CI; about a minute).
//
// A small sweep of a fast, deterministic command-family trainer (test/fixtures/runner/
// fake-trainer.mjs: checkpoints, resumes, stops on SIGTERM) is run once without interruption
// (the reference), then again while the runner is killed with SIGKILL at 20 random moments,
// resuming each time. After every kill:
//   - manifest.json parses and validates against the Manifest schema;
//   - every result completed before stays completed, with byte-identical result.json and
//     results.jsonl row, and results.jsonl holds a row for every experiment the manifest calls
//     completed (no completed result is ever lost or changed);
// and every time the sweep finishes, its results equal the reference exactly. At the end no
// trainer process of the test may be left running (the reaper stops the orphans).
//
// Usage: node test/crash-test.mjs [--kills 20] [--seed N]
//   FLOPSFIT_CLI="node -r tsx/cjs src/cli/main.ts" runs the sources instead of dist/flopsfit.js.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { tsImport } from 'tsx/esm/api';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const argValue = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? dflt : args[i + 1];
};
const KILLS = Number(argValue('kills', '20'));
const SEED = Number(argValue('seed', String(Date.now() % 100000)));
const { Manifest, ResultsRow } = await tsImport('../src/core/contracts.ts', import.meta.url);

let cli;
if (process.env.FLOPSFIT_CLI) cli = process.env.FLOPSFIT_CLI.split(' ');
else {
  const bundle = path.join(root, 'dist/flopsfit.js');
  if (!fs.existsSync(bundle)) {
    console.log('crash-test: building dist/ first');
    const b = spawnSync(process.execPath, [path.join(root, 'scripts/build.mjs')], { stdio: 'inherit', cwd: root });
    if (b.status !== 0) process.exit(1);
  }
  cli = [process.execPath, bundle];
}

// mulberry32: reproducible kill moments (the seed is printed)
let rngState = SEED >>> 0;
function random() {
  rngState = (rngState + 0x6d2b79f5) >>> 0;
  let t = rngState;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'flopsfit-crash-'));
const trainer = path.join(root, 'test/fixtures/runner/fake-trainer.mjs');
const config = path.join(work, 'crash.sweep.yaml');
fs.writeFileSync(
  config,
  `name: crash
model:
  family: command
  command: ${JSON.stringify([process.execPath, trainer, '--size', '{size}', '--tokens', '{tokens}', '--seed', '{seed}', '--out', '{runDir}', '--steps', '40', '--step-ms', '20'])}
  countParams: ${JSON.stringify([process.execPath, trainer, '--count-params', '--size', '{size}'])}
  size: { min: 4, max: 64, probes: 16 }
budgets: [1.0e9, 1.0e10]
planning: { sizesPerBudget: 4 }
training: { batchSize: 4 }
sweep: { seeds: 1 }
`,
);

let failures = 0;
function check(cond, message) {
  if (!cond) {
    failures++;
    console.error(`crash-test: FAIL: ${message}`);
  }
  return cond;
}

function runner(outDir, logName) {
  const log = fs.openSync(path.join(work, logName), 'a');
  const child = spawn(cli[0], [...cli.slice(1), 'run', config, '--out', outDir, '--parallel', '2', '--no-fit', '--progress', '60'], {
    cwd: root,
    stdio: ['ignore', log, log],
  });
  fs.closeSync(log);
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, exited };
}

function readJson(file) {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

function resultsRows(dir) {
  const file = path.join(dir, 'results.jsonl');
  if (!fs.existsSync(file)) return new Map();
  const rows = new Map();
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line) continue;
    const row = ResultsRow.parse(JSON.parse(line));
    rows.set(row.id, JSON.stringify(row));
  }
  return rows;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function waitUntil(probe, timeoutMs) {
  const t = Date.now();
  while (!probe()) {
    if (Date.now() - t > timeoutMs) throw new Error(`crash-test: timed out after ${timeoutMs} ms`);
    await sleep(20);
  }
}
const t0 = Date.now();
console.log(`crash-test: seed ${SEED}, ${KILLS} kills, work dir ${work}`);

// 1. The reference: one uninterrupted run.
const refDir = path.join(work, 'reference');
const ref = runner(refDir, 'reference.log');
// The lock: a second runner on the running sweep exits non-zero and names the holder.
let refEnded = false;
void ref.exited.then(() => (refEnded = true));
await waitUntil(() => refEnded || fs.existsSync(path.join(refDir, 'runner.lock')), 120_000);
check(!refEnded, 'the reference run ended before the lock test could run');
const second = spawnSync(cli[0], [...cli.slice(1), 'run', config, '--out', refDir, '--no-fit'], { cwd: root, encoding: 'utf8' });
check(second.status === 3, `a second runner exited ${second.status}, expected 3 (lock held): ${second.stderr}`);
check(second.stderr.includes(`pid ${ref.child.pid} on ${os.hostname()}, started `), `the second runner's message names the holder: ${second.stderr.trim()}`);
console.log(`crash-test: second runner refused: ${second.stderr.trim().split('\n')[0]}`);
const refExit = await ref.exited;
if (!check(refExit.code === 0, `the reference run exited ${JSON.stringify(refExit)} (see ${path.join(work, 'reference.log')})`)) process.exit(1);
const reference = resultsRows(refDir);
const refManifest = Manifest.parse(readJson(path.join(refDir, 'manifest.json')));
check(reference.size === refManifest.order.length && reference.size >= 6, `reference has ${reference.size} results for ${refManifest.order.length} experiments`);
console.log(`crash-test: reference: ${reference.size} experiments in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

// 2. Kill -9 at random moments, resuming each time.
let kills = 0;
let round = 0;
let finishes = 0;
let dir;
let completed; // id -> { result: string, row: string }
const newRound = () => {
  round++;
  dir = path.join(work, `crash-${round}`);
  completed = new Map();
};
newRound();

function verifyAfterStop(label) {
  const mfile = path.join(dir, 'manifest.json');
  if (!fs.existsSync(mfile)) return; // killed before the first write
  let manifest;
  try {
    manifest = Manifest.parse(readJson(mfile));
  } catch (err) {
    check(false, `${label}: manifest.json does not parse: ${err.message}`);
    return;
  }
  const rows = resultsRows(dir);
  for (const [id, before] of completed) {
    const e = manifest.experiments[id];
    check(e?.status === 'completed', `${label}: ${id} was completed, now ${e?.status}`);
    const now = fs.readFileSync(path.join(dir, 'experiments', id, 'result.json'), 'utf8');
    check(now === before.result, `${label}: result.json of ${id} changed`);
    check(rows.get(id) === before.row, `${label}: results.jsonl row of ${id} lost or changed`);
  }
  for (const id of manifest.order) {
    if (manifest.experiments[id].status !== 'completed') continue;
    check(rows.has(id), `${label}: ${id} is completed in the manifest but missing from results.jsonl`);
    if (!completed.has(id) && rows.has(id)) {
      completed.set(id, { result: fs.readFileSync(path.join(dir, 'experiments', id, 'result.json'), 'utf8'), row: rows.get(id) });
    }
    check(rows.get(id) === reference.get(id), `${label}: result of ${id} differs from the uninterrupted run`);
  }
}

function verifyFinished(label) {
  const manifest = Manifest.parse(readJson(path.join(dir, 'manifest.json')));
  const notDone = manifest.order.filter((id) => manifest.experiments[id].status !== 'completed');
  check(notDone.length === 0, `${label}: not completed: ${notDone.join(', ')}`);
  const rows = resultsRows(dir);
  check(rows.size === reference.size, `${label}: ${rows.size} results, reference ${reference.size}`);
  for (const [id, row] of reference) check(rows.get(id) === row, `${label}: final result of ${id} differs from the uninterrupted run`);
  check(!fs.existsSync(path.join(dir, 'runner.lock')), `${label}: the lock was not released`);
}

while (kills < KILLS) {
  const r = runner(dir, `crash-${round}.log`);
  // One kill in four lands anywhere in the first second (start-up, planning, lock, manifest
  // rewrite); the others at a random moment after this runner took the lock (while it trains).
  const early = random() < 0.25;
  const delay = early ? random() * 1000 : random() * 2500;
  const lockFile = path.join(dir, 'runner.lock');
  const locked = async () => {
    for (;;) {
      try {
        if (JSON.parse(fs.readFileSync(lockFile, 'utf8')).pid === r.child.pid) return;
      } catch {
        // not yet (or being written)
      }
      await sleep(10);
    }
  };
  const moment = early ? sleep(delay) : locked().then(() => sleep(delay));
  const outcome = await Promise.race([r.exited, moment.then(() => 'kill')]);
  if (outcome === 'kill') {
    r.child.kill('SIGKILL');
    await r.exited;
    kills++;
    verifyAfterStop(`kill ${kills} (round ${round}, ${delay.toFixed(0)} ms after ${early ? 'start' : 'taking the lock'})`);
    continue;
  }
  // The sweep finished before the kill moment.
  check(outcome.code === 0, `round ${round}: runner exited ${JSON.stringify(outcome)}`);
  verifyFinished(`round ${round}`);
  finishes++;
  console.log(`crash-test: round ${round} finished after ${kills} kills so far`);
  newRound();
}
// Finish the last round without killing.
const last = runner(dir, `crash-${round}.log`);
const lastExit = await last.exited;
check(lastExit.code === 0, `final run exited ${JSON.stringify(lastExit)}`);
verifyFinished(`round ${round} (final)`);
finishes++;

// 3. No trainer of this test is left running.
let leftovers = [];
for (let i = 0; i < 50; i++) {
  leftovers = fs.readdirSync('/proc').filter((p) => {
    if (!/^\d+$/.test(p)) return false;
    try {
      return fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(work);
    } catch {
      return false;
    }
  });
  if (!leftovers.length) break;
  await sleep(100);
}
check(leftovers.length === 0, `processes of the test still running: ${leftovers.join(', ')}`);

const seconds = ((Date.now() - t0) / 1000).toFixed(1);
if (failures) {
  console.error(`crash-test: ${failures} failure(s) (seed ${SEED}; files kept in ${work})`);
  process.exit(1);
}
fs.rmSync(work, { recursive: true, force: true });
console.log(`crash-test: OK — ${kills} kills over ${round} round(s), ${finishes} finished sweep(s) equal to the uninterrupted run (${seconds} s)`);
