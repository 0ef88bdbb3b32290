/**
 * The extension host's one parameter counter for command trainers: runs a config's `countParams`
 * asynchronously (src/core/plan/commandCounter's countCommandParams: a few sizes at a time, never
 * blocking the extension host), caches every result by (command, folder, environment, size), and
 * reports progress. The sweep service plans with it and the diagnostics validate with it, so a size
 * is counted once for both. Only ever used in a trusted workspace (the callers check).
 */
import * as vscode from 'vscode';
import type { SweepConfig } from '../../core/config';
import { commandSizeValues, countCommandParams, type CountProgress } from '../../core/plan/commandCounter';
import { commandCwd, type ParamCounter } from '../../core/plan';
import { Disposable } from '../dispose';

type Count = number | { error: string };

export interface Counted {
  counter: ParamCounter;
  /** the command's own start-up (median seconds of a count), for the plan's estimate */
  startupSeconds?: number;
}

interface Job {
  promise: Promise<Counted>;
  progress?: CountProgress;
}

export class ParamCounts extends Disposable {
  private readonly results = new Map<string, Count>();
  private readonly startup = new Map<string, number>();
  private readonly jobs = new Map<string, Job>();
  private readonly _onDidProgress = this._register(new vscode.EventEmitter<{ configPath: string; progress: CountProgress }>());
  /** a size was counted (the tree shows "counting parameters 3/31") */
  readonly onDidProgress = this._onDidProgress.event;
  private readonly _onDidCount = this._register(new vscode.EventEmitter<void>());
  /** a counting run finished: validations that waited for it can run again */
  readonly onDidCount = this._onDidCount.event;

  private keyOf(config: SweepConfig, configPath: string): { base: string; cwd: string; sizes: number[] } | undefined {
    const m = config.model;
    if (m.family !== 'command') return undefined;
    const cwd = commandCwd(m, configPath);
    return { base: JSON.stringify([m.countParams, cwd, m.env ?? {}]), cwd, sizes: commandSizeValues(config) };
  }

  private counted(base: string): Counted {
    return { counter: (v) => this.results.get(`${base}|${v}`) ?? { error: 'not counted' }, startupSeconds: this.startup.get(base) };
  }

  /** The counter when every size of this config is counted already; undefined otherwise. */
  ready(config: SweepConfig, configPath: string): Counted | undefined {
    const k = this.keyOf(config, configPath);
    if (!k) return undefined;
    return k.sizes.every((v) => this.results.has(`${k.base}|${v}`)) ? this.counted(k.base) : undefined;
  }

  /** Progress of the counting run of this config, while one runs. */
  progress(config: SweepConfig, configPath: string): CountProgress | undefined {
    const k = this.keyOf(config, configPath);
    return k ? this.jobs.get(k.base)?.progress : undefined;
  }

  /** Counts the sizes not counted yet (one run per command at a time) and resolves with the counter. */
  count(config: SweepConfig, configPath: string): Promise<Counted | undefined> {
    const k = this.keyOf(config, configPath);
    if (!k || config.model.family !== 'command') return Promise.resolve(undefined);
    const model = config.model;
    const missing = k.sizes.filter((v) => !this.results.has(`${k.base}|${v}`));
    if (!missing.length) return Promise.resolve(this.counted(k.base));
    const running = this.jobs.get(k.base);
    if (running) return running.promise.then(() => this.count(config, configPath));
    const job: Job = {
      promise: countCommandParams(model, k.cwd, missing, {
        concurrency: 4,
        onProgress: (p) => {
          job.progress = p;
          this.results.set(`${k.base}|${p.size}`, p.result);
          this._onDidProgress.fire({ configPath, progress: p });
        },
      }).then((r) => {
        for (const [v, n] of r.results) this.results.set(`${k.base}|${v}`, n);
        if (r.startupSeconds !== undefined) this.startup.set(k.base, r.startupSeconds);
        return this.counted(k.base);
      }),
    };
    this.jobs.set(k.base, job);
    void job.promise.finally(() => {
      this.jobs.delete(k.base);
      this._onDidCount.fire();
    });
    return job.promise;
  }
}
