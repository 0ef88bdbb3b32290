/**
 * One sweep as the explorer sees it: parsed config, plan and run state (manifest, lock, live
 * metrics), with the derived views (status per experiment, counts per budget, overall state, ETA)
 * and the diff of two run states. No `vscode` runtime import: unit-tested without VS Code.
 */
import type * as vscode from 'vscode';
import * as path from 'node:path';
import type { ExperimentSpec, Manifest, ManifestEntry, Plan, RunStatus, RunnerLock } from '../../core/contracts';
import type { ParseResult } from '../../core/config';
import type { FitReport } from '../../core/fit/types';
import { deriveSweepStatus, experimentStatus, type DerivedStatus, type SweepStatus } from '../../core/runDir/status';

export { SWEEP_FILE_RE as SWEEP_RE } from '../../core/sweepFiles';
import { SWEEP_FILE_RE as SWEEP_RE } from '../../core/sweepFiles';

/** Overall state of a sweep, as the tree's contextValue shows it (`sweep.<state>`): src/core/runDir/status. */
export type SweepState = SweepStatus;

export interface ConfigProblem {
  message: string;
  line?: number;
  character?: number;
}

/** Live progress of a running experiment, from the last line of its metrics file. */
export interface LiveMetrics {
  step: number;
  tokens: number;
  loss?: number;
  /** which loss `loss` is (src/core/runDir liveLoss) */
  lossKind?: 'train' | 'eval';
  tokensPerSecond?: number;
}

export interface ExperimentView {
  spec: ExperimentSpec;
  status: RunStatus;
  entry?: ManifestEntry;
  live?: LiveMetrics;
}

export interface BudgetCounts {
  total: number;
  completed: number;
  running: number;
  failed: number;
  stopped: number;
}

/** What changed, so the tree can refresh only those nodes. */
export interface SweepChange {
  sweep: Sweep;
  /** the sweep node itself (state, label, plan or config problem): refresh its whole subtree */
  structure?: boolean;
  /** budget indices whose badge changed */
  budgets?: number[];
  /** experiment ids whose status or live loss changed */
  experiments?: string[];
}

/** A config diagnostic of unknown shape (the config module's) → message and position. */
export function toProblem(d: unknown): ConfigProblem {
  const o = (d ?? {}) as Record<string, unknown>;
  const message = typeof o.message === 'string' ? o.message : String(d);
  const range = (o.range ?? o) as Record<string, unknown>;
  const start = (range.start ?? range) as Record<string, unknown>;
  const line = typeof start.line === 'number' ? start.line : undefined;
  const character =
    typeof start.character === 'number' ? start.character : typeof start.column === 'number' ? start.column : undefined;
  return { message, line, character };
}

export function isError(d: unknown): boolean {
  const s = (d as { severity?: unknown })?.severity;
  // accept 'error' | 'warning' | 'info' strings or vscode-like numbers (0 = error)
  if (s === undefined) return true;
  return s === 'error' || s === 0;
}

export function sameEntry(a: ManifestEntry | undefined, b: ManifestEntry | undefined): boolean {
  if (!a || !b) return a === b;
  return (
    a.status === b.status &&
    a.finalLoss === b.finalLoss &&
    a.reason === b.reason &&
    a.startedAt === b.startedAt &&
    a.endedAt === b.endedAt &&
    a.attempts === b.attempts
  );
}

export class Sweep {
  readonly id: string;
  text?: string;
  config?: NonNullable<ParseResult['config']>;
  problems: ConfigProblem[] = [];
  plan?: Plan;
  planError?: string;
  runDir?: string;
  manifest?: Manifest;
  lock?: RunnerLock;
  lockAlive = false;
  /** the run directory's fit.json, through the shared schema (./runDirWatch.ts reads it); undefined when there is none */
  fit?: FitReport;
  /** why the run directory's fit.json cannot be used (unreadable, or not a fit report) */
  fitProblem?: string;
  /** a command trainer's sizes being counted (before its plan): how far */
  counting?: { done: number; total: number };
  readonly live = new Map<string, LiveMetrics>();
  /** experiments by id, and by budget index, of the current plan */
  private byId = new Map<string, ExperimentSpec>();
  private byBudget = new Map<number, ExperimentSpec[]>();

  constructor(readonly uri: vscode.Uri) {
    this.id = uri.toString();
  }

  get fileName(): string {
    return path.basename(this.uri.fsPath);
  }

  /** Display name: the config's `name`, else the file name without `.sweep.yaml`. */
  get name(): string {
    const n = (this.config as { name?: unknown } | undefined)?.name;
    if (typeof n === 'string' && n) return n;
    return this.fileName.replace(SWEEP_RE, '');
  }

  get valid(): boolean {
    return !!this.config && this.problems.length === 0;
  }

  setPlan(plan: Plan | undefined): void {
    this.plan = plan;
    this.byId.clear();
    this.byBudget.clear();
    for (const e of plan?.experiments ?? []) {
      this.byId.set(e.id, e);
      const list = this.byBudget.get(e.budgetIndex) ?? [];
      list.push(e);
      this.byBudget.set(e.budgetIndex, list);
    }
    for (const list of this.byBudget.values()) list.sort((a, b) => a.params - b.params || a.seed - b.seed);
  }

  experiment(id: string): ExperimentSpec | undefined {
    return this.byId.get(id);
  }

  experimentsOf(budgetIndex: number): ExperimentSpec[] {
    return this.byBudget.get(budgetIndex) ?? [];
  }

  /** An experiment's status as shown (running with no live runner: stopped, i.e. interrupted). */
  status(id: string): RunStatus {
    return experimentStatus(this.manifest?.experiments[id], this.lockAlive);
  }

  view(id: string): ExperimentView | undefined {
    const spec = this.byId.get(id);
    if (!spec) return undefined;
    return { spec, status: this.status(id), entry: this.manifest?.experiments[id], live: this.live.get(id) };
  }

  counts(budgetIndex?: number): BudgetCounts {
    const list = budgetIndex === undefined ? this.plan?.experiments ?? [] : this.experimentsOf(budgetIndex);
    const c: BudgetCounts = { total: list.length, completed: 0, running: 0, failed: 0, stopped: 0 };
    for (const e of list) {
      const s = this.status(e.id);
      if (s === 'completed') c.completed++;
      else if (s === 'running') c.running++;
      else if (s === 'failed') c.failed++;
      else if (s === 'stopped') c.stopped++;
    }
    return c;
  }

  /** The derived status (one rule for every view: src/core/runDir/status). */
  get derived(): DerivedStatus {
    return deriveSweepStatus({ manifest: this.manifest, lock: this.lock, lockAlive: this.lockAlive }, this.plan?.experiments.map((e) => e.id));
  }

  get state(): SweepState {
    return this.derived.status;
  }

  /**
   * Seconds left for the running sweep (or for one budget): the work still to do, in FLOPs, over the
   * rate observed since the runner took its lock (completed experiments + progress of running ones);
   * before the first progress, the plan's own estimate scaled by the remaining fraction.
   */
  etaSeconds(budgetIndex?: number, now = Date.now()): number | undefined {
    const plan = this.plan;
    if (!plan || plan.experiments.length === 0) return undefined;
    const flopsOf = (e: ExperimentSpec) => e.flopsPerParamPerToken * e.params * e.tokens;
    const since = this.lock ? Date.parse(this.lock.startedAt) : NaN;
    let doneSince = 0;
    let remainingSel = 0;
    for (const e of plan.experiments) {
      const s = this.status(e.id);
      const total = flopsOf(e);
      let done = 0;
      if (s === 'completed') done = total;
      else if (s === 'running') {
        const l = this.live.get(e.id);
        if (l) done = Math.min(total, e.flopsPerParamPerToken * e.params * l.tokens);
      }
      const entry = this.manifest?.experiments[e.id];
      const started = entry?.startedAt ? Date.parse(entry.startedAt) : NaN;
      if (done > 0 && Number.isFinite(since) && Number.isFinite(started) && started >= since - 1000) doneSince += done;
      if (s !== 'completed' && s !== 'failed' && (budgetIndex === undefined || e.budgetIndex === budgetIndex)) {
        remainingSel += total - done;
      }
    }
    if (remainingSel <= 0) return 0;
    const elapsed = (now - since) / 1000;
    if (doneSince > 0 && elapsed > 1) return remainingSel / (doneSince / elapsed);
    if (plan.totalFlops > 0 && plan.estimatedSeconds > 0) return (plan.estimatedSeconds * remainingSel) / plan.totalFlops;
    return undefined;
  }

  /**
   * Takes a freshly read manifest and lock; returns what changed for the tree: the experiments whose
   * entry changed, the budgets whose counts changed, and whether the overall state changed
   * (undefined: nothing did).
   */
  applyRunState(manifest: Manifest | undefined, lock: RunnerLock | undefined, lockAlive: boolean): SweepChange | undefined {
    const before = this.state;
    const beforeCounts = new Map<number, string>();
    for (const b of this.plan?.budgets ?? []) beforeCounts.set(b.index, JSON.stringify(this.counts(b.index)));
    const old = this.manifest;
    this.manifest = manifest;
    this.lock = lock;
    this.lockAlive = lockAlive;
    const changedIds: string[] = [];
    const ids = new Set([...Object.keys(old?.experiments ?? {}), ...Object.keys(manifest?.experiments ?? {})]);
    for (const id of ids) {
      const a = old?.experiments[id];
      const b = manifest?.experiments[id];
      if (!sameEntry(a, b)) {
        changedIds.push(id);
        if (b?.status !== 'running') this.live.delete(id);
      }
    }
    const budgets: number[] = [];
    for (const b of this.plan?.budgets ?? []) {
      if (beforeCounts.get(b.index) !== JSON.stringify(this.counts(b.index))) budgets.push(b.index);
    }
    const structure = before !== this.state;
    if (!structure && budgets.length === 0 && changedIds.length === 0) return undefined;
    return { sweep: this, structure, budgets, experiments: changedIds.filter((id) => this.byId.has(id)) };
  }

  /** The first config problem, one line. */
  get firstProblem(): string | undefined {
    const p = this.problems[0];
    if (!p) return this.planError;
    return p.line !== undefined ? `${p.message} (line ${p.line + 1})` : p.message;
  }
}

