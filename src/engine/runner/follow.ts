/**
 * Following one running experiment from its files, whatever runs it: the command trainer's protocol
 * lines in its log (turned into metrics.jsonl and, at the end, a result), the built-in trainer's
 * metrics.jsonl, progress lines, and the outcome once the process has exited.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomicSync } from '../../core/atomic';
import { ExperimentSpec, MetricsLine, RunResult, RUN_FILES } from '../../core/contracts';
import { experimentDir, readRunResult } from '../../core/manifest';
import type { ExperimentOutcome } from './executor';
import { fileSize, FileTail, lastMetricsStep, tailLines } from './files';
import { fmtCount, fmtDuration, formatLoss, shortId } from './format';
import { parseProtocolLine } from './protocol';
import { liveLoss } from '../../core/runDir/status';

export interface FollowOptions {
  runDir: string;
  id: string;
  spec: ExperimentSpec;
  /** byte offset of this attempt's output in the experiment's log */
  logOffset: number;
  write: (line: string) => void;
  prefix: (id: string) => string;
  /** called once when the experiment must be ended (a command reported a non-finite loss) */
  abort: () => void;
}

export class ExperimentFollower {
  readonly id: string;
  readonly spec: ExperimentSpec;
  readonly startedAt = Date.now();
  private readonly logTail: FileTail;
  private readonly metricsTail?: FileTail;
  last?: MetricsLine;
  private lastStep: number;
  private result?: Extract<ReturnType<typeof parseProtocolLine>, { kind: 'result' }>;
  private failReason?: string;
  /** the user (or the runner) asked this experiment to stop */
  stopRequested = false;
  /** it was killed (second interrupt) */
  killed = false;
  private lastProgress = Date.now();

  constructor(private readonly o: FollowOptions) {
    this.id = o.id;
    this.spec = o.spec;
    const dir = experimentDir(o.runDir, o.id);
    this.logTail = new FileTail(path.join(dir, RUN_FILES.log), o.logOffset);
    const metricsFile = path.join(dir, RUN_FILES.metrics);
    const isCommand = o.spec.model.family === 'command';
    this.metricsTail = isCommand ? undefined : new FileTail(metricsFile, fileSize(metricsFile));
    this.lastStep = isCommand ? lastMetricsStep(metricsFile) : -1;
  }

  /** Appends a command's metrics line to metrics.jsonl; a step that goes back (resume) drops the later lines first. */
  private appendMetrics(m: MetricsLine): void {
    const file = path.join(experimentDir(this.o.runDir, this.id), RUN_FILES.metrics);
    if (m.step <= this.lastStep) {
      let kept = '';
      try {
        for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
          if (!line.trim()) continue;
          try {
            const old = MetricsLine.safeParse(JSON.parse(line));
            if (old.success && old.data.step < m.step) kept += line + '\n';
          } catch {
            /* drop a torn line */
          }
        }
      } catch {
        /* none */
      }
      writeFileAtomicSync(file, kept);
    }
    fs.appendFileSync(file, JSON.stringify(m) + '\n');
    this.lastStep = m.step;
  }

  /** Reads what the experiment wrote since the last poll; `final` also takes a last unterminated line. */
  poll(final: boolean): void {
    if (this.spec.model.family === 'command') {
      for (const line of final ? this.logTail.flush() : this.logTail.read()) {
        const p = parseProtocolLine(line);
        if (!p) continue;
        if (p.kind === 'metrics') {
          this.appendMetrics(p.metrics);
          this.last = p.metrics;
          if (p.nonFinite && !this.failReason) {
            this.failReason = p.nonFinite;
            this.o.abort();
          }
        } else if (p.kind === 'result') {
          this.result = p;
        } else if (!this.failReason) {
          this.o.write(`${this.o.prefix(this.id)} ${shortId(this.id)}: ignoring a malformed protocol line: ${p.error}`);
        }
      }
    } else if (this.metricsTail) {
      for (const line of final ? this.metricsTail.flush() : this.metricsTail.read()) {
        try {
          const m = MetricsLine.safeParse(JSON.parse(line));
          if (m.success) this.last = m.data;
        } catch {
          /* torn line: the next read completes it */
        }
      }
    }
  }

  /** Polls, and prints a progress line when `everyMs` have passed since the last one. */
  progress(everyMs: number, now = Date.now()): void {
    this.poll(false);
    if (now - this.lastProgress < everyMs || !this.last) return;
    this.lastProgress = now;
    const last = this.last;
    const frac = Math.min(1, last.tokens / this.spec.tokens);
    const elapsed = (now - this.startedAt) / 1000;
    const loss = liveLoss(last);
    const tps = last.tokensPerSecond;
    const eta = tps && tps > 0 ? (this.spec.tokens - last.tokens) / tps : undefined;
    this.o.write(
      `${this.o.prefix(this.id)} ${shortId(this.id)}  ${(frac * 100).toFixed(0).padStart(3)}%  step ${last.step}` +
        (loss !== undefined ? `  ${loss.kind} loss ${formatLoss(loss.value)}` : '') +
        (tps ? `  ${fmtCount(tps)} tok/s` : '') +
        `  ${fmtDuration(elapsed)}` +
        (eta !== undefined ? `  eta ${fmtDuration(eta)}` : ''),
    );
  }

  /**
   * The outcome once the process has exited with `code`/`signal` (after a final `poll(true)`).
   * Exit 130/143 or SIGTERM/SIGINT means stopped at a checkpoint; anything else without a valid
   * result is failed, with the log's tail as the reason.
   */
  outcome(code: number | null, signal: NodeJS.Signals | null, spawnError?: Error): ExperimentOutcome {
    const elapsedSeconds = (Date.now() - this.startedAt) / 1000;
    const logFile = path.join(experimentDir(this.o.runDir, this.id), RUN_FILES.log);
    const exitText = signal ? `killed by ${signal}` : `exit code ${code}`;
    const tail = () => {
      const lines = tailLines(logFile, 6, this.o.logOffset);
      return lines.length ? `\n${lines.join('\n')}` : '';
    };
    if (spawnError) return { status: 'failed', reason: `could not start the experiment: ${spawnError.message}` };
    const stopStatus = (): { status: 'stopped'; reason: string } => ({ status: 'stopped', reason: this.killed ? 'killed' : 'stopped by the user' });

    if (this.spec.model.family === 'command') {
      const spec = this.spec;
      const base = { id: this.id, params: this.result?.params ?? spec.params, steps: Math.max(0, this.result?.steps ?? this.last?.step ?? 0), backend: 'command', elapsedSeconds };
      const tokens = this.result?.tokens ?? this.last?.tokens ?? 0;
      let out: { status: RunResult['status']; reason?: string };
      if (this.failReason) out = { status: 'failed', reason: this.failReason };
      else if (code === 0 && this.result && !this.result.nonFinite && this.result.finalLoss > 0) out = { status: 'completed' };
      else if (code === 0 && this.result?.nonFinite) out = { status: 'failed', reason: this.result.nonFinite };
      else if (code === 0 && this.result) out = { status: 'failed', reason: `the final loss ${this.result.finalLoss} is not positive` };
      else if (code === 0) out = { status: 'failed', reason: `the command exited 0 without a result line ({"result": {"finalLoss": …}})${tail()}` };
      else if (this.stopRequested) out = stopStatus();
      else if (code === 130 || code === 143 || signal === 'SIGTERM' || signal === 'SIGINT') out = { status: 'stopped', reason: 'stopped (signal)' };
      else out = { status: 'failed', reason: `${exitText}${tail()}` };
      const result: RunResult = {
        ...base,
        status: out.status,
        tokens: out.status === 'completed' ? (this.result?.tokens ?? spec.tokens) : tokens,
        flops: spec.flopsPerParamPerToken * spec.params * (out.status === 'completed' ? (this.result?.tokens ?? spec.tokens) : tokens),
        ...(out.status === 'completed' ? { finalLoss: this.result!.finalLoss } : {}),
        ...(this.result?.finalTrainLoss !== undefined ? { finalTrainLoss: this.result.finalTrainLoss } : {}),
        ...(out.reason ? { reason: out.reason } : {}),
      };
      return { ...out, result };
    }

    const res = readRunResult(this.o.runDir, this.id);
    if (res.ok) {
      const v = res.value;
      if (v.status === 'completed' && code === 0) {
        if (v.finalLoss === undefined || !Number.isFinite(v.finalLoss)) return { status: 'failed', reason: 'the result has no finite final loss' };
        return { status: 'completed' };
      }
      if (v.status === 'failed') return { status: 'failed', reason: v.reason ?? `${exitText}${tail()}` };
      if (v.status === 'stopped') return this.stopRequested ? stopStatus() : { status: 'stopped', reason: v.reason ?? 'stopped' };
    }
    if (this.stopRequested && (code === 130 || code === 143 || signal)) return stopStatus();
    if (code === 130 || code === 143 || signal === 'SIGTERM' || signal === 'SIGINT') return { status: 'stopped', reason: 'stopped (signal)' };
    const why = code === 0 ? `the trainer exited 0 but wrote no valid result.json${res.ok ? '' : ` (${res.error})`}` : exitText;
    return { status: 'failed', reason: `${why}${tail()}` };
  }
}
