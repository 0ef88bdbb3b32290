/**
 * Host-side, in-memory model of one run directory for the results panel: plan.json, manifest.json,
 * results.jsonl, fit.json and every experiments/<id>/metrics.jsonl.
 *
 * Metrics files are tailed incrementally: each read starts at the byte offset after the last
 * complete line, so only new bytes are read and a half-written last line waits for its newline.
 * A file that shrank or whose first bytes changed (a retried experiment rewrote it) is re-read
 * from the start and sent with `replace`.
 *
 * Nothing here imports `vscode` (the panel feeds the sweep service's run-file events to
 * `fileChanged`), so it is unit-tested in node. Bad files never throw: they become located `Problem`s shown in the panel.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { Manifest, MetricsLine, Plan, ResultsRow, RUN_FILES, type RunnerLock } from '../../core/contracts';
import { classifyRunPath, deriveSweepStatus, readRunState, type DerivedStatus } from '../../core/runDir';
import type { FitPayload, Problem, SeriesChunk, Snapshot } from '../../shared/protocol';
import { FitPayload as FitPayloadSchema } from '../../shared/protocol';

/** Bytes compared at the start of a metrics file to notice that it was rewritten. */
const HEAD_BYTES = 64;
/** Largest chunk read from a metrics file at once. */
const READ_CHUNK = 4 * 1024 * 1024;

interface SeriesStore {
  /** byte offset just after the last complete line read */
  offset: number;
  /** lines consumed so far (for located problems) */
  lines: number;
  head: Buffer;
  tokens: number[];
  step: number[];
  train: (number | null)[];
  eval: (number | null)[];
}

export type FileKind = 'plan' | 'manifest' | 'results' | 'fit' | 'metrics';


export interface ModelChange {
  kind: FileKind;
  /** new metrics points (kind === 'metrics') */
  chunk?: SeriesChunk;
}

function emptyStore(): SeriesStore {
  return { offset: 0, lines: 0, head: Buffer.alloc(0), tokens: [], step: [], train: [], eval: [] };
}

function zodMessage(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
    .join('; ');
}

export class RunDirModel {
  plan: Plan | null = null;
  manifest: Manifest | null = null;
  lock: RunnerLock | undefined;
  lockAlive = false;
  results: ResultsRow[] = [];
  fit: FitPayload | null = null;
  private readonly series = new Map<string, SeriesStore>();
  private readonly problems = new Map<string, Problem[]>();

  constructor(readonly runDir: string) {}

  /** Reads every file of the run directory (missing files are simply absent). */
  loadAll(): void {
    this.readPlan();
    this.readManifest();
    this.readResults();
    this.readFit();
    const expDir = path.join(this.runDir, RUN_FILES.experimentsDir);
    let ids: string[] = [];
    try {
      ids = fs.readdirSync(expDir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
    } catch {
      /* no experiments yet */
    }
    for (const id of ids) this.readMetrics(id);
  }

  /** Classifies an absolute path inside the run directory (src/core/runDir); undefined when the panel does not care. */
  classify(absPath: string): { kind: FileKind; id?: string } | undefined {
    const c = classifyRunPath(this.runDir, absPath);
    if (!c || c.kind === 'result') return undefined;
    // the lock tells whether the run is alive: it changes the phase, as the manifest does
    return c.kind === 'lock' ? { kind: 'manifest' } : (c as { kind: FileKind; id?: string });
  }

  /** Re-reads what changed at `absPath`; undefined when nothing the panel shows changed. */
  fileChanged(absPath: string): ModelChange | undefined {
    const c = this.classify(absPath);
    if (!c) return undefined;
    switch (c.kind) {
      case 'plan':
        this.readPlan();
        return { kind: 'plan' };
      case 'manifest':
        this.readManifest();
        return { kind: 'manifest' };
      case 'results':
        this.readResults();
        return { kind: 'results' };
      case 'fit':
        this.readFit();
        return { kind: 'fit' };
      case 'metrics': {
        const chunk = this.readMetrics(c.id!);
        return chunk ? { kind: 'metrics', chunk } : undefined;
      }
    }
  }

  allProblems(): Problem[] {
    return [...this.problems.values()].flat();
  }

  /** Every metrics point held, as full chunks (for a snapshot). */
  allSeries(): SeriesChunk[] {
    const out: SeriesChunk[] = [];
    for (const [id, s] of this.series) {
      out.push({ id, tokens: s.tokens, step: s.step, train: s.train, eval: s.eval });
    }
    return out;
  }

  /** Raw points held for one experiment (tests, export). */
  seriesOf(id: string): SeriesChunk | undefined {
    const s = this.series.get(id);
    return s && { id, tokens: s.tokens, step: s.step, train: s.train, eval: s.eval };
  }

  /** The sweep's status (the one rule of src/core/runDir/status, as the explorer shows it). */
  status(): DerivedStatus {
    return deriveSweepStatus({ manifest: this.manifest ?? undefined, lock: this.lock, lockAlive: this.lockAlive }, this.plan?.experiments.map((e) => e.id));
  }

  phase(): Snapshot['phase'] {
    if (!this.manifest) return this.plan ? 'idle' : 'preview';
    const { status: st, counts: c } = this.status();
    if (st === 'running' || st === 'stopping') return 'running';
    // finished: nothing left to run (failed experiments wait for a retry)
    if (st === 'finished' || (st === 'resumable' && c.queued + c.stopped + c.running === 0)) return 'finished';
    return 'idle';
  }

  snapshot(meta: { sweep: string; configUri: string }): Snapshot {
    return {
      sweep: meta.sweep,
      configUri: meta.configUri,
      runDir: this.runDir,
      phase: this.phase(),
      statusLabel: this.manifest ? this.status().label : undefined,
      plan: this.plan,
      manifest: this.manifest,
      results: this.results,
      fit: this.fit,
      series: this.allSeries(),
      problems: this.allProblems(),
    };
  }

  // ---------------------------------------------------------------- readers

  private setProblems(file: string, list: Problem[]): void {
    if (list.length) this.problems.set(file, list);
    else this.problems.delete(file);
  }

  private readJson<T>(file: string, schema: z.ZodType<T>): T | null {
    const abs = path.join(this.runDir, file);
    let text: string;
    try {
      text = fs.readFileSync(abs, 'utf8');
    } catch {
      this.setProblems(file, []);
      return null;
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      this.setProblems(file, [{ file, message: `not valid JSON: ${(e as Error).message}` }]);
      return null;
    }
    const parsed = schema.safeParse(value);
    if (!parsed.success) {
      this.setProblems(file, [{ file, message: zodMessage(parsed.error) }]);
      return null;
    }
    this.setProblems(file, []);
    return parsed.data;
  }

  private readPlan(): void {
    this.plan = this.readJson(RUN_FILES.plan, Plan);
  }

  private readManifest(): void {
    const next = this.readJson(RUN_FILES.manifest, Manifest);
    // a manifest is written atomically; an unreadable one (foreign edit) keeps the last good one
    if (next || !fs.existsSync(path.join(this.runDir, RUN_FILES.manifest))) this.manifest = next;
    const state = readRunState(this.runDir, this.manifest ?? undefined);
    this.lock = state.lock;
    this.lockAlive = state.lockAlive;
  }

  private readFit(): void {
    const file = RUN_FILES.fit;
    const raw = this.readJson(file, z.unknown());
    if (raw === null) {
      if (!fs.existsSync(path.join(this.runDir, file))) this.fit = null;
      return;
    }
    const p = FitPayloadSchema.safeParse(raw);
    if (!p.success) {
      this.setProblems(file, [{ file, message: zodMessage(p.error) }]);
      this.fit = null;
      return;
    }
    this.fit = p.data;
  }

  private readResults(): void {
    const file = RUN_FILES.results;
    let text: string;
    try {
      text = fs.readFileSync(path.join(this.runDir, file), 'utf8');
    } catch {
      this.results = [];
      this.setProblems(file, []);
      return;
    }
    const rows: ResultsRow[] = [];
    const problems: Problem[] = [];
    const lines = text.split('\n');
    // a last line without newline may still be being written: only parse it if it is complete JSON
    lines.forEach((line, i) => {
      if (!line.trim()) return;
      let v: unknown;
      try {
        v = JSON.parse(line);
      } catch {
        if (i === lines.length - 1) return;
        problems.push({ file, line: i + 1, message: 'not valid JSON' });
        return;
      }
      const p = ResultsRow.safeParse(v);
      if (p.success) rows.push(p.data);
      else problems.push({ file, line: i + 1, message: zodMessage(p.error) });
    });
    // the latest row of an id wins (a retried experiment appends a new row)
    const byId = new Map<string, ResultsRow>();
    for (const r of rows) byId.set(r.id, r);
    this.results = [...byId.values()];
    this.setProblems(file, problems);
  }

  /** Reads the new complete lines of experiments/<id>/metrics.jsonl; returns them, or undefined. */
  readMetrics(id: string): SeriesChunk | undefined {
    const rel = path.join(RUN_FILES.experimentsDir, id, RUN_FILES.metrics);
    const abs = path.join(this.runDir, rel);
    let fd: number;
    try {
      fd = fs.openSync(abs, 'r');
    } catch {
      if (this.series.has(id)) {
        this.series.delete(id);
        return { id, replace: true, tokens: [], step: [], train: [], eval: [] };
      }
      return undefined;
    }
    try {
      const size = fs.fstatSync(fd).size;
      let store = this.series.get(id);
      let replace = false;
      if (store) {
        let rewritten = size < store.offset;
        if (!rewritten && store.head.length > 0) {
          const head = Buffer.alloc(store.head.length);
          fs.readSync(fd, head, 0, head.length, 0);
          rewritten = !head.equals(store.head);
        }
        if (rewritten) {
          store = emptyStore();
          this.series.set(id, store);
          replace = true;
        }
      } else {
        store = emptyStore();
        this.series.set(id, store);
      }
      const chunk: SeriesChunk = { id, tokens: [], step: [], train: [], eval: [] };
      if (replace) chunk.replace = true;
      const problems: Problem[] = this.problems.get(rel)?.slice() ?? [];
      if (replace) problems.length = 0;
      while (store.offset < size) {
        const len = Math.min(READ_CHUNK, size - store.offset);
        const buf = Buffer.alloc(len);
        const n = fs.readSync(fd, buf, 0, len, store.offset);
        const lastNl = buf.lastIndexOf(0x0a, n - 1);
        if (lastNl < 0) break; // a partial line: wait for its newline
        const text = buf.toString('utf8', 0, lastNl);
        store.offset += lastNl + 1;
        for (const line of text.split('\n')) {
          store.lines++;
          if (!line.trim()) continue;
          let v: unknown;
          try {
            v = JSON.parse(line);
          } catch {
            if (problems.length < 20) problems.push({ file: rel, line: store.lines, message: 'not valid JSON' });
            continue;
          }
          const p = MetricsLine.safeParse(v);
          if (!p.success) {
            if (problems.length < 20) problems.push({ file: rel, line: store.lines, message: zodMessage(p.error) });
            continue;
          }
          const m = p.data;
          const train = m.trainLoss !== undefined && Number.isFinite(m.trainLoss) ? m.trainLoss : null;
          const ev = m.evalLoss !== undefined && Number.isFinite(m.evalLoss) ? m.evalLoss : null;
          store.tokens.push(m.tokens);
          store.step.push(m.step);
          store.train.push(train);
          store.eval.push(ev);
          chunk.tokens.push(m.tokens);
          chunk.step.push(m.step);
          chunk.train.push(train);
          chunk.eval.push(ev);
        }
        if (n < len) break;
      }
      if (store.head.length < HEAD_BYTES && store.offset > store.head.length) {
        // remember the first bytes of complete lines, to notice a rewrite later
        const head = Buffer.alloc(Math.min(HEAD_BYTES, store.offset));
        fs.readSync(fd, head, 0, head.length, 0);
        store.head = head;
      }
      this.setProblems(rel, problems);
      return chunk.tokens.length || replace ? chunk : undefined;
    } finally {
      fs.closeSync(fd);
    }
  }
}
