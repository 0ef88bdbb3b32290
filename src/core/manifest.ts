/**
 * The run directory's bookkeeping: the manifest (status of every experiment), the runner lock and
 * the collected results file. Pure Node (fs, os), no `vscode` import: the runner writes these files,
 * the extension and the fit read them.
 *
 * Guarantees:
 * - manifest.json and results.jsonl are only ever replaced atomically (temp file, fsync, rename):
 *   a reader sees the old file or the new one, never a half-written one;
 * - results.jsonl is rewritten from the completed experiments' result.json files, so it never
 *   holds a partial line or a result of an experiment that is no longer in the plan;
 * - the lock is created with O_EXCL; a lock whose process is gone is taken over.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeFileAtomicSync, writeJsonAtomicSync } from './atomic';
import {
  ExperimentSpec,
  Manifest,
  ManifestEntry,
  Plan,
  ResultsRow,
  RunResult,
  RunnerLock,
  RUN_FILES,
} from './contracts';

export function nowIso(): string {
  return new Date().toISOString();
}

export function manifestPath(runDir: string): string {
  return path.join(runDir, RUN_FILES.manifest);
}

export function lockPath(runDir: string): string {
  return path.join(runDir, RUN_FILES.lock);
}

export function experimentDir(runDir: string, id: string): string {
  return path.join(runDir, RUN_FILES.experimentsDir, id);
}

// ---------------------------------------------------------------------------------------------
// Manifest

export type ReadResult<T> = { ok: true; value: T } | { ok: false; missing: boolean; error: string };

function describeZodError(err: { issues: ReadonlyArray<{ path: PropertyKey[]; message: string }> }): string {
  return err.issues
    .slice(0, 5)
    .map((i) => `${i.path.length ? i.path.map(String).join('.') : '(root)'}: ${i.message}`)
    .join('; ');
}

/** Reads and validates a JSON file against a schema; never throws. */
export function readJsonFile<T>(file: string, schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: { issues: ReadonlyArray<{ path: PropertyKey[]; message: string }> } } }): ReadResult<T> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { ok: false, missing: code === 'ENOENT', error: `${file}: ${code === 'ENOENT' ? 'not found' : (err as Error).message}` };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return { ok: false, missing: false, error: `${file}: not valid JSON (${(err as Error).message})` };
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) return { ok: false, missing: false, error: `${file}: ${describeZodError(parsed.error)}` };
  return { ok: true, value: parsed.data };
}

export function readManifest(runDir: string): ReadResult<Manifest> {
  return readJsonFile(manifestPath(runDir), Manifest);
}

/** Validates and writes the manifest atomically (stamping updatedAt). */
export function writeManifest(runDir: string, manifest: Manifest): void {
  manifest.updatedAt = nowIso();
  const checked = Manifest.parse(manifest);
  writeJsonAtomicSync(manifestPath(runDir), checked);
}

export function newEntry(spec: ExperimentSpec, at = nowIso()): ManifestEntry {
  return {
    status: 'queued',
    specHash: spec.id,
    budget: spec.budget,
    params: spec.params,
    tokens: spec.tokens,
    attempts: 0,
    queuedAt: at,
  };
}

/** Run order: smallest budgets first (early signal), then smaller models, then plan order. */
export function runOrder(experiments: readonly ExperimentSpec[]): string[] {
  return experiments
    .map((e, i) => ({ e, i }))
    .sort((a, b) => a.e.budget - b.e.budget || a.e.params - b.e.params || a.i - b.i)
    .map(({ e }) => e.id);
}

export interface Reconciled {
  manifest: Manifest;
  /** ids of earlier experiments that are not in the current plan (newly found this time) */
  orphaned: string[];
  /** ids whose resolved settings on disk differ from the plan's (reset to queued) */
  changed: string[];
}

/**
 * Merges an existing manifest (if any) with the current plan: entries of planned experiments are
 * kept (completed stay completed), new experiments are queued, experiments that are no longer in
 * the plan are moved to `orphaned` (they never reach results.jsonl). `changedIds` are experiments
 * whose stored spec differs from the plan's: their entries are reset.
 */
export function reconcileManifest(
  plan: Pick<Plan, 'sweep' | 'configPath' | 'experiments'>,
  existing: Manifest | undefined,
  changedIds: ReadonlySet<string> = new Set(),
  at = nowIso(),
): Reconciled {
  const order = runOrder(plan.experiments);
  const planned = new Set(order);
  const experiments: Record<string, ManifestEntry> = {};
  const changed: string[] = [];
  for (const spec of plan.experiments) {
    const old = existing?.experiments[spec.id];
    if (old && !changedIds.has(spec.id) && old.specHash === spec.id) {
      experiments[spec.id] = { ...old };
    } else {
      if (old) changed.push(spec.id);
      experiments[spec.id] = newEntry(spec, at);
    }
  }
  for (const id of changedIds) if (!changed.includes(id) && planned.has(id)) changed.push(id);
  const orphanedBefore = new Set(existing?.orphaned ?? []);
  const orphaned: string[] = [];
  for (const id of Object.keys(existing?.experiments ?? {})) {
    if (!planned.has(id) && !orphanedBefore.has(id)) orphaned.push(id);
  }
  const allOrphans = [...orphanedBefore, ...orphaned].filter((id) => !planned.has(id)).sort();
  const manifest: Manifest = {
    version: 1,
    sweep: plan.sweep,
    configPath: plan.configPath,
    createdAt: existing?.createdAt ?? at,
    updatedAt: at,
    order,
    experiments,
    ...(allOrphans.length ? { orphaned: allOrphans } : {}),
    state: existing?.state === 'finished' && order.every((id) => experiments[id].status === 'completed') ? 'finished' : 'idle',
  };
  return { manifest, orphaned, changed };
}

// ---------------------------------------------------------------------------------------------
// Results

export function readRunResult(runDir: string, id: string): ReadResult<RunResult> {
  const r = readJsonFile(path.join(experimentDir(runDir, id), RUN_FILES.result), RunResult);
  if (r.ok && r.value.id !== id) return { ok: false, missing: false, error: `result.json of ${id} names experiment ${r.value.id}` };
  return r;
}

export function resultsRow(spec: ExperimentSpec, result: RunResult): ResultsRow | undefined {
  if (result.status !== 'completed' || result.finalLoss === undefined || !Number.isFinite(result.finalLoss) || result.finalLoss <= 0) return undefined;
  const tokens = result.tokens > 0 ? result.tokens : spec.tokens;
  const flops = result.flops > 0 ? result.flops : spec.flopsPerParamPerToken * spec.params * tokens;
  return ResultsRow.parse({
    id: spec.id,
    budget: spec.budget,
    params: spec.params,
    tokens,
    flops,
    loss: result.finalLoss,
    seed: spec.seed,
    sizeValue: spec.sizeValue,
    hyperparameters: spec.hyperparameters,
  });
}

/**
 * The rows of results.jsonl: one per experiment of the plan that the manifest marks completed and
 * whose result.json is a valid completed result, in run order. Orphans are never included.
 */
export function collectResults(runDir: string, plan: Pick<Plan, 'experiments'>, manifest: Manifest): ResultsRow[] {
  const specs = new Map(plan.experiments.map((e) => [e.id, e]));
  const rows: ResultsRow[] = [];
  for (const id of manifest.order) {
    const spec = specs.get(id);
    if (!spec || manifest.experiments[id]?.status !== 'completed') continue;
    const r = readRunResult(runDir, id);
    if (!r.ok) continue;
    const row = resultsRow(spec, r.value);
    if (row) rows.push(row);
  }
  return rows;
}

export function formatResults(rows: readonly ResultsRow[]): string {
  return rows.map((r) => JSON.stringify(r) + '\n').join('');
}

/** Rewrites results.jsonl atomically from every completed result; returns the row count. */
export function writeResults(runDir: string, plan: Pick<Plan, 'experiments'>, manifest: Manifest): number {
  const rows = collectResults(runDir, plan, manifest);
  writeFileAtomicSync(path.join(runDir, RUN_FILES.results), formatResults(rows));
  return rows.length;
}

/** Parses results.jsonl; bad lines are reported with their line number, never thrown. */
export function readResults(file: string): { rows: ResultsRow[]; errors: string[] } {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    return { rows: [], errors: [`${file}: ${(err as Error).message}`] };
  }
  const rows: ResultsRow[] = [];
  const errors: string[] = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    try {
      const parsed = ResultsRow.safeParse(JSON.parse(line));
      if (parsed.success) rows.push(parsed.data);
      else errors.push(`${file}:${i + 1}: ${describeZodError(parsed.error)}`);
    } catch (err) {
      errors.push(`${file}:${i + 1}: not valid JSON (${(err as Error).message})`);
    }
  });
  return { rows, errors };
}

// ---------------------------------------------------------------------------------------------
// Processes and the lock

/** Whether a process with this pid exists (on this host). EPERM means it exists but is not ours. */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The command line of a process (Linux /proc), or undefined where it cannot be read. */
export function processCommandLine(pid: number): string | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
  } catch {
    return undefined;
  }
}

/**
 * Whether a process is the experiment `id` of a runner (the runner starts every experiment with
 * FLOPSFIT_EXPERIMENT_ID in its environment): false for a reused pid, undefined where /proc cannot
 * tell (another OS, another user's process).
 */
export function isExperimentProcess(pid: number, id: string): boolean | undefined {
  try {
    const env = fs.readFileSync(`/proc/${pid}/environ`, 'utf8');
    return env.split('\0').includes(`FLOPSFIT_EXPERIMENT_ID=${id}`);
  } catch {
    return undefined;
  }
}

/** What the lock records as the holder's command: `flopsfit <args>` (the program's own arguments). */
export function currentCommandLine(): string {
  return ['flopsfit', ...process.argv.slice(2)].join(' ');
}

/** Whether the lock holder is still running: same host, pid alive and (where /proc tells) the same command. */
export function lockHolderAlive(lock: RunnerLock): boolean {
  if (lock.host !== os.hostname()) return true; // cannot check another machine: assume it runs
  if (!pidAlive(lock.pid)) return false;
  if (lock.command) {
    // A pid reused by another program: its command line does not end with the holder's arguments.
    const cmd = processCommandLine(lock.pid);
    const args = lock.command.replace(/^flopsfit\s*/, '');
    if (cmd !== undefined && args && !cmd.endsWith(args)) return false;
  }
  return true;
}

export function describeLock(lock: RunnerLock): string {
  return `pid ${lock.pid} on ${lock.host}, started ${lock.startedAt}`;
}

export class LockHeldError extends Error {
  constructor(
    readonly lock: RunnerLock,
    readonly file: string,
  ) {
    super(
      `another runner is already running this sweep (${describeLock(lock)}; lock ${file}). ` +
        (lock.host === os.hostname()
          ? `Stop it first (kill -INT ${lock.pid}) or wait for it to finish.`
          : `It runs on another machine; if it is gone, delete the lock file.`),
    );
  }
}

export interface LockHandle {
  file: string;
  lock: RunnerLock;
  /** the lock that was taken over, if the previous holder was gone */
  tookOver?: RunnerLock;
  release(): void;
}

export function readLock(runDir: string): ReadResult<RunnerLock> {
  return readJsonFile(lockPath(runDir), RunnerLock);
}

function tryCreate(file: string, content: string): boolean {
  let fd: number;
  try {
    fd = fs.openSync(file, 'wx');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    fs.writeSync(fd, content);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  return true;
}

function ageMs(file: string): number {
  try {
    return Date.now() - fs.statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}

/**
 * Takes the sweep's lock, or throws LockHeldError naming the holder. A lock whose process is gone
 * (or an unreadable lock older than a few seconds: a crash between create and write) is taken over.
 * Takeover is serialised through a second O_EXCL file so two runners never both take it.
 */
export function acquireLock(runDir: string, opts: { command?: string; staleUnreadableMs?: number } = {}): LockHandle {
  fs.mkdirSync(runDir, { recursive: true });
  const file = lockPath(runDir);
  const lock: RunnerLock = { pid: process.pid, host: os.hostname(), startedAt: nowIso(), command: opts.command ?? currentCommandLine() };
  const content = JSON.stringify(lock, null, 2) + '\n';
  const handle = (tookOver?: RunnerLock): LockHandle => ({
    file,
    lock,
    tookOver,
    release: () => releaseLock(runDir, lock),
  });
  for (let attempt = 0; attempt < 5; attempt++) {
    if (tryCreate(file, content)) return handle();
    const current = readLock(runDir);
    let stale: RunnerLock | undefined;
    if (current.ok) {
      if (lockHolderAlive(current.value)) throw new LockHeldError(current.value, file);
      stale = current.value;
    } else if (current.missing) {
      continue; // released in between: try again
    } else if (ageMs(file) < (opts.staleUnreadableMs ?? 5000)) {
      throw new Error(`the lock ${file} is being written by another runner (${current.error}); try again`);
    }
    // Take over, one runner at a time.
    const guard = file + '.takeover';
    if (ageMs(guard) > 10_000) fs.rmSync(guard, { force: true });
    if (!tryCreate(guard, String(process.pid))) continue;
    try {
      const again = readLock(runDir);
      // Still the lock we judged stale (or still unreadable, or gone): replace it.
      const replace = again.ok ? stale !== undefined && JSON.stringify(again.value) === JSON.stringify(stale) : true;
      if (replace) {
        fs.rmSync(file, { force: true });
        if (tryCreate(file, content)) return handle(stale);
      }
    } finally {
      fs.rmSync(guard, { force: true });
    }
  }
  const last = readLock(runDir);
  if (last.ok) throw new LockHeldError(last.value, file);
  throw new Error(`could not take the lock ${file}`);
}

/** Removes the lock if it is still ours. */
export function releaseLock(runDir: string, lock: RunnerLock): void {
  const current = readLock(runDir);
  if (current.ok && current.value.pid === lock.pid && current.value.host === lock.host && current.value.startedAt === lock.startedAt) {
    fs.rmSync(lockPath(runDir), { force: true });
  }
}
