/** What the sweep runner (./index.ts) takes and returns: its options, its outcome and its error. */
import type { Manifest, ManifestEntry, Plan } from '../../core/contracts';
import type { Executor, ExecutorEvents } from './executor';

export class RunnerError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

export interface RunSweepOptions {
  plan: Plan;
  /** experiments at once (default: one per core on the CPU backends, one otherwise) */
  parallel?: number;
  /** GPU placement (run.gpusPerExperiment, run.experimentsPerGpu) where experiments may use NVIDIA GPUs */
  gpus?: { gpusPerExperiment?: number; experimentsPerGpu?: number };
  /** run only these experiment ids (or unique id prefixes) */
  only?: readonly string[];
  /** also re-run failed experiments */
  retryFailed?: boolean;
  /** require an existing manifest (explicit `--resume`) */
  resume?: boolean;
  /** node executable for `flopsfit train` children (default: process.execPath) */
  nodePath?: string;
  /** the bundled flopsfit.js the children run (`train`) */
  script?: string;
  /** progress output, one line per call (default: stdout) */
  write?: (line: string) => void;
  /** seconds between progress lines of a running experiment (default 10) */
  progressIntervalSeconds?: number;
  /** install SIGINT/SIGTERM/SIGHUP handlers (default true) */
  handleSignals?: boolean;
  /** runs the fit after the last experiment; returns lines to print */
  fit?: (runDir: string) => Promise<string[]>;
  /** extra environment for the experiment processes */
  env?: NodeJS.ProcessEnv;
  /** how long an orphan experiment of a dead runner gets to checkpoint before SIGKILL (ms) */
  orphanGraceMs?: number;
  /**
   * Makes the executor that runs the experiments (default: the local process pool). `ctx.local()`
   * builds the default one, e.g. for an executor that wraps it.
   */
  executor?: (events: ExecutorEvents, ctx: ExecutorContext) => Executor;
  /** return once everything is handed over, when the executor's experiments outlive the runner (Slurm) */
  detach?: boolean;
  /** start nothing: follow what still runs (attach) and stop it (`flopsfit stop`) */
  stopOnly?: boolean;
}

export interface ExecutorContext {
  runDir: string;
  /** the concurrency the runner settled on (known once the work is selected) */
  parallel: () => number;
  /** builds the local process pool with the runner's options */
  local: () => Executor;
}

export interface SweepOutcome {
  exitCode: number;
  runDir: string;
  manifest: Manifest;
  counts: Record<ManifestEntry['status'], number>;
  /** experiments this invocation ran (started) */
  ran: string[];
  orphaned: string[];
  stopped: boolean;
  fitLines: string[];
  /** the runner returned while experiments still run (--detach) */
  detached?: boolean;
}

