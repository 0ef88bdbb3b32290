/**
 * The executor interface: the sweep loop (./index.ts, `SweepRunner`) decides WHAT runs — which
 * experiments, in which order, with which attempt number — and records every outcome in the manifest
 * and results; an `Executor` decides WHERE and HOW they run: it starts experiments, follows them
 * while they run (logs, metrics, progress), stops them, and reports back through `ExecutorEvents`.
 *
 * Contract (every call happens on the runner's event loop):
 * - The runner prepares the experiment's folder before `start` (spec.json written, old result.json
 *   removed, stale metrics of a fresh start removed) and never touches a started experiment's
 *   processes itself.
 * - After `start(launch)`, the executor calls exactly one of:
 *   - `events.started(id, info)` then, later, `events.finished(id, outcome)` — the normal path;
 *   - `events.finished(id, outcome)` alone — the experiment could not start (bad command, spawn
 *     error); the manifest entry is then not counted as an attempt.
 *   `finished` may be called synchronously inside `start` only in the "could not start" case.
 * - `active()` counts experiments started and not yet finished; `changed()` resolves (at the latest)
 *   when any of them finishes or `stop` is called, so the loop can start more work.
 * - `stop('graceful')` asks every active experiment to checkpoint and exit (they finish as
 *   "stopped"); `stop('kill')` ends them now. Experiments started after a stop get the same request.
 * - The executor owns its placement decisions: `freeSlots()` says how many more experiments may
 *   start now (the local pool: `parallel` minus active; a GPU-aware executor may also look at free
 *   devices and pick one in `start`).
 */
import type { ExperimentSpec, ManifestEntry, RunResult, SlurmEntry } from '../../core/contracts';

/** How an experiment ended, as the runner records it. `result` (command trainers) is written to result.json. */
export interface ExperimentOutcome {
  status: RunResult['status'];
  reason?: string;
  result?: RunResult;
}

/** One experiment handed to an executor. */
export interface ExperimentLaunch {
  id: string;
  spec: ExperimentSpec;
  /** the experiment's folder (runs/<id>): spec.json, checkpoint, metrics.jsonl, log, result.json */
  dir: string;
  /** the spec.json the built-in trainer reads */
  specFile: string;
  /** 1 for the first attempt */
  attempt: number;
  /** an earlier attempt exists (FLOPSFIT_RESUME=1 for command trainers) */
  resuming: boolean;
  /** a checkpoint file exists in `dir` (the built-in trainer gets `--resume`) */
  hasCheckpoint: boolean;
}

/** What an executor reports back to the sweep loop. */
export interface ExecutorEvents {
  /**
   * The experiment runs (local: `pid` of its process group leader; Slurm: its job, maybe still
   * pending); the runner marks it running, one more attempt.
   */
  started(id: string, info: { pid?: number; slurm?: SlurmEntry }): void;
  /** The experiment ended (or could not start); the runner records the outcome. */
  finished(id: string, outcome: ExperimentOutcome): void;
  /** One line of progress output. */
  write(line: string): void;
  /** The "[ 3/12]" prefix of an experiment's progress lines. */
  prefix(id: string): string;
  /**
   * Records what the executor knows about an experiment on its manifest entry (a Slurm job's id,
   * state, reason, node). Written with the next manifest write; `save` writes it now.
   */
  annotate(id: string, fields: { slurm?: SlurmEntry }): void;
  /** Writes the manifest now if `annotate` changed it. */
  save(): void;
  /** Runs `fn` with manifest writes deferred to its end (one write for many `started` calls). */
  batch<T>(fn: () => T): T;
}

/** What `recoverInterrupted` found: still alive and now followed again, or ended with an outcome. */
export type Recovery = void | { attached: true } | { outcome: ExperimentOutcome };

export interface Executor {
  /** 'local', 'slurm', … (shown in messages) */
  readonly kind: string;
  /** Called once before the first `start` of a run (e.g. the local reaper starts here). */
  open(): void;
  /** How many more experiments may start now. */
  freeSlots(): number;
  /**
   * Optional: how many experiments run at once, in words, for the sweep's first line (default
   * "parallel N", the runner's own limit; a Slurm array job has its own).
   */
  describeConcurrency?(): string;
  /** Starts one experiment (see the contract above). */
  start(launch: ExperimentLaunch): void;
  /**
   * Optional: hands over what `start` buffered (the Slurm executor submits one array job here).
   * The loop calls it after each round of starts; an error aborts the run with its message, and
   * experiments it did not report as started stay as they were.
   */
  flush?(): Promise<void>;
  /** Experiments started and not yet finished. */
  active(): number;
  /** Asks the active experiments to stop: 'graceful' = checkpoint and exit, 'kill' = now. */
  stop(mode: 'graceful' | 'kill'): void;
  /** Resolves when an active experiment may have finished (or `stop` was called). */
  changed(): Promise<void>;
  /** Called every 500 ms while experiments are active: follow logs and metrics, print progress. */
  tick(): void;
  /**
   * An entry the previous runner left "running": make sure nothing of it still runs (the local
   * executor stops an orphan at its checkpoint; the runner then records it as stopped), or, for
   * executors whose experiments outlive the runner (Slurm), follow it again (`{ attached: true }`:
   * it stays running and counts in `active()`) or report how it ended (`{ outcome }`).
   */
  recoverInterrupted(id: string, entry: ManifestEntry, spec: ExperimentSpec): Promise<Recovery>;
  /** Optional: experiments keep running when the runner exits (`flopsfit run --detach`). */
  readonly detachable?: boolean;
  /** Called once after the run (normal end or error): release what `open` took. */
  close(): void;
}
