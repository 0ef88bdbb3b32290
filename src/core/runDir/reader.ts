/**
 * Tolerant readers of the run directory's state files, shared by every process that follows a
 * sweep (the extension's sweep service and results panel, `flopsfit status`): they never throw, and
 * a manifest that cannot be read right now (a foreign edit, an odd file system mid-rename) keeps
 * the last good one instead of making the sweep look new.
 */
import * as fs from 'node:fs';
import { Manifest, MetricsLine, RunnerLock } from '../contracts';
import { lockHolderAlive, readJsonFile } from '../manifest';
import { runPaths } from './layout';
import type { RunState } from './status';

export interface ReadRunState extends RunState {
  /** why the manifest could not be used (it exists but is not valid) */
  manifestProblem?: string;
}

/** Manifest, lock and whether the lock's holder is alive. `previous`: the last good manifest. */
export function readRunState(runDir: string, previous?: Manifest): ReadRunState {
  const m = readJsonFile(runPaths.manifest(runDir), Manifest);
  let manifest: Manifest | undefined;
  let manifestProblem: string | undefined;
  if (m.ok) manifest = m.value;
  else if (!m.missing) {
    manifest = previous;
    manifestProblem = m.error;
  }
  const l = readJsonFile(runPaths.lock(runDir), RunnerLock);
  const lock = l.ok ? l.value : undefined;
  return { manifest, lock, lockAlive: !!lock && lockHolderAlive(lock), ...(manifestProblem ? { manifestProblem } : {}) };
}

/** The last complete line of a JSONL file that may be being appended (a half-written line is skipped). */
export function readLastJsonLine(file: string, maxBytes = 8192): unknown {
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, 'r');
    const size = fs.fstatSync(fd).size;
    if (size === 0) return undefined;
    const len = Math.min(size, maxBytes);
    const buf = Buffer.alloc(len);
    fs.readSync(fd, buf, 0, len, size - len);
    const lines = buf.toString('utf8').split('\n');
    for (let i = lines.length - 1; i >= 0; i--) {
      const l = lines[i]!.trim();
      if (!l) continue;
      try {
        return JSON.parse(l);
      } catch {
        // a partly written last line: try the one before
      }
    }
    return undefined;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** The last valid metrics line of an experiment, or undefined. */
export function readLastMetrics(runDir: string, id: string): MetricsLine | undefined {
  const raw = readLastJsonLine(runPaths.metrics(runDir, id));
  const m = raw === undefined ? undefined : MetricsLine.safeParse(raw);
  return m?.success ? m.data : undefined;
}
