/**
 * The command-palette and tree actions (category "FlopsFit") on sweeps, experiments and results:
 * run, resume, stop, retry, fit, preview plan, open/export results, reveal, refresh. What each acts
 * on comes from ./resolve.ts. Run actions refuse in an untrusted workspace and say why (package.json
 * also disables them there). "New Sweep" is its own feature (../newSweep).
 */
import * as vscode from 'vscode';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Explorer } from '../explorer';
import { log } from '../log';
import { registerCommand, CommandError } from '../command';
import type { Sweep, SweepStore } from '../sweeps';
import { planUri } from '../planPreview';
import { executeSweepTask, stopExperiment as stopExperimentTask, stopSweep as stopSweepTask, type SweepAction, type SweepTaskOptions } from '../tasks';
import type { Results } from '../results';
import { RUN_FILES } from '../../core/contracts';
import { locate, readSource, type JsonPath } from '../../core/config/source';
import { isNode, requirePlan, requireTrust, resolveExperiment, resolveSweep } from './resolve';

async function runTask(sweep: Sweep, action: SweepAction, opts?: SweepTaskOptions): Promise<vscode.TaskExecution | undefined> {
  log().info(`command: ${action} ${vscode.workspace.asRelativePath(sweep.uri)}${opts?.experiment ? ` (${opts.experiment})` : ''}`);
  return executeSweepTask(sweep.uri, action, opts);
}

/** Reveal the config line an experiment (or budget) comes from: its budget entry, else `budgets`. */
export function configRangeOf(sweep: Sweep, budget?: number): vscode.Range | undefined {
  const text = sweep.text;
  if (text === undefined) return undefined;
  const doc = readSource(text, sweep.uri.fsPath);
  const budgets = (doc.value as { budgets?: unknown } | undefined)?.budgets;
  let p: JsonPath = ['budgets'];
  if (Array.isArray(budgets) && budget !== undefined) {
    const i = budgets.findIndex((b) => typeof b === 'number' && Math.abs(b - budget) <= 1e-9 * Math.abs(budget));
    if (i >= 0) p = ['budgets', i];
  }
  const found = locate(doc, p, 'value');
  const r = doc.lines.range(found.span);
  return new vscode.Range(r.start.line, r.start.character, r.end.line, r.end.character);
}

async function revealInConfig(store: SweepStore, arg: unknown): Promise<vscode.Range | undefined> {
  let sweep: Sweep | undefined;
  let budget: number | undefined;
  if (isNode(arg)) {
    sweep = arg.sweep;
    if (arg.kind === 'experiment') budget = sweep.experiment(arg.id)?.budget;
    else if (arg.kind === 'budget') budget = sweep.plan?.budgets.find((b) => b.index === arg.index)?.budget;
  } else {
    const r = await resolveExperiment(store, arg, 'Reveal in Config');
    if (!r) return undefined;
    sweep = r.sweep;
    budget = sweep.experiment(r.id)?.budget;
  }
  const range = configRangeOf(sweep, budget) ?? new vscode.Range(0, 0, 0, 0);
  await vscode.window.showTextDocument(sweep.uri, { selection: range, preserveFocus: false });
  return range;
}

async function openMetrics(store: SweepStore, arg: unknown): Promise<vscode.Uri | undefined> {
  const r = await resolveExperiment(store, arg, 'Open Metrics File', (s, id) => s.status(id) !== 'queued');
  if (!r) return undefined;
  const dir = r.sweep.runDir ?? r.sweep.plan?.runDir;
  if (!dir) throw new CommandError(`${r.sweep.name} has no run directory yet.`);
  const file = path.join(dir, RUN_FILES.experimentsDir, r.id, RUN_FILES.metrics);
  if (!fs.existsSync(file)) {
    void vscode.window.showInformationMessage(`Experiment ${r.id} has not written metrics yet (${file}).`);
    return undefined;
  }
  const uri = vscode.Uri.file(file);
  await vscode.window.showTextDocument(uri, { preview: true });
  return uri;
}

async function stopExperiment(store: SweepStore, arg: unknown): Promise<boolean> {
  const r = await resolveExperiment(store, arg, 'Stop Experiment', (s, id) => s.status(id) === 'running');
  if (!r) return false;
  store.readRunState(r.sweep);
  const pid = r.sweep.manifest?.experiments[r.id]?.pid;
  if (r.sweep.status(r.id) !== 'running' || !r.sweep.derived.runnerAlive) {
    void vscode.window.showInformationMessage(`Experiment ${r.id} is not running.`);
    return false;
  }
  if (!pid) throw new CommandError(`The manifest does not record the process of experiment ${r.id}.`);
  // the runner records an experiment that exits on SIGTERM as stopped (it checkpoints first)
  const ok = await stopExperimentTask(r.sweep.uri, r.id);
  if (!ok) throw new CommandError(`Cannot stop experiment ${r.id} (pid ${pid}).`);
  return true;
}

/** The features the commands act through (main.ts passes them). */
export interface CommandDeps {
  sweeps: SweepStore;
  explorer: Explorer;
  results: Results;
}

/** Registers the palette and tree actions of sweeps, experiments and results. */
export function registerCommands(context: vscode.ExtensionContext, { sweeps: store, explorer, results }: CommandDeps): void {
  const { view, provider } = explorer;
  const reg = (id: string, fn: (...args: unknown[]) => unknown) => registerCommand(context, id, fn);

  reg('flopsfit.previewPlan', async (arg) => {
    const sweep = await resolveSweep(store, arg, 'Preview Plan');
    if (!sweep) return undefined;
    const plan = await requirePlan(store, sweep);
    if (!plan) return undefined;
    const doc = await vscode.workspace.openTextDocument(planUri(sweep));
    // the rendered Markdown preview (VS Code's built-in Markdown extension); the source where it is off
    const rendered = await vscode.commands.executeCommand('markdown.showPreviewToSide', doc.uri).then(
      () => true,
      () => false,
    );
    if (!rendered) await vscode.window.showTextDocument(doc, { preview: true, viewColumn: vscode.ViewColumn.Beside });
    if (view.visible) {
      try {
        await view.reveal(provider.sweepNode(sweep), { expand: true, select: true, focus: false });
      } catch {
        // not rendered yet: fine
      }
    }
    return doc.uri;
  });

  reg('flopsfit.runSweep', async (arg) => {
    if (!requireTrust('run a sweep')) return undefined;
    const sweep = await resolveSweep(store, arg, 'Run Sweep');
    if (!sweep) return undefined;
    if (!(await requirePlan(store, sweep))) return undefined;
    store.readRunState(sweep);
    if (sweep.derived.runnerAlive) {
      const pick = await vscode.window.showInformationMessage(`${sweep.name} is already running.`, 'Open Results', 'Stop');
      if (pick === 'Open Results') await vscode.commands.executeCommand('flopsfit.openResults', sweep.uri);
      if (pick === 'Stop') await vscode.commands.executeCommand('flopsfit.stopSweep', sweep.uri);
      return undefined;
    }
    return runTask(sweep, 'run');
  });

  reg('flopsfit.resumeSweep', async (arg) => {
    if (!requireTrust('resume a sweep')) return undefined;
    const sweep = await resolveSweep(store, arg, 'Resume Sweep');
    if (!sweep) return undefined;
    if (!(await requirePlan(store, sweep))) return undefined;
    store.readRunState(sweep);
    if (sweep.derived.runnerAlive) {
      void vscode.window.showInformationMessage(`${sweep.name} is already running.`);
      return undefined;
    }
    return runTask(sweep, 'resume');
  });

  reg('flopsfit.stopSweep', async (arg) => {
    const sweep = await resolveSweep(store, arg, 'Stop Sweep');
    if (!sweep) return undefined;
    store.readRunState(sweep);
    if (!sweep.derived.runnerAlive) {
      // experiments left running on a cluster with no runner following them: `flopsfit stop`
      // attaches and stops them at their checkpoints
      if (sweep.state === 'running') return !!(await runTask(sweep, 'stop'));
      void vscode.window.showInformationMessage(
        sweep.state === 'interrupted' ? `${sweep.name} is not running: its runner is gone (${sweep.derived.label}).` : `${sweep.name} is not running.`,
      );
      return false;
    }
    return stopSweepTask(sweep.uri);
  });

  reg('flopsfit.runExperiment', async (arg) => {
    if (!requireTrust('run an experiment')) return undefined;
    const r = await resolveExperiment(store, arg, 'Run Experiment', (s, id) => s.status(id) !== 'running');
    if (!r) return undefined;
    if (r.sweep.derived.runnerAlive) {
      void vscode.window.showInformationMessage(
        `${r.sweep.name} is running; its queue already includes this experiment. Stop the sweep to run it alone.`,
      );
      return undefined;
    }
    return runTask(r.sweep, 'run', { experiment: r.id });
  });

  reg('flopsfit.retryExperiment', async (arg) => {
    if (!requireTrust('retry an experiment')) return undefined;
    const r = await resolveExperiment(store, arg, 'Retry Experiment', (s, id) => s.status(id) === 'failed' || s.status(id) === 'stopped');
    if (!r) return undefined;
    if (r.sweep.derived.runnerAlive) {
      void vscode.window.showInformationMessage(`${r.sweep.name} is running; retry the experiment once it has stopped.`);
      return undefined;
    }
    return runTask(r.sweep, 'run', { experiment: r.id, retryFailed: true });
  });

  reg('flopsfit.stopExperiment', (arg) => stopExperiment(store, arg));

  reg('flopsfit.fit', async (arg) => {
    const sweep = await resolveSweep(store, arg, 'Fit Scaling Laws');
    if (!sweep) return undefined;
    if (!sweep.config) return requirePlan(store, sweep);
    const dir = sweep.runDir;
    if (!dir || !fs.existsSync(path.join(dir, RUN_FILES.results))) {
      void vscode.window.showInformationMessage(`${sweep.name} has no completed experiments to fit yet. Run the sweep first.`);
      return undefined;
    }
    return runTask(sweep, 'fit');
  });

  reg('flopsfit.openResults', async (arg) => {
    const sweep = await resolveSweep(store, arg, 'Open Results');
    if (!sweep) return undefined;
    await results.open(sweep.uri);
    return sweep.uri;
  });

  reg('flopsfit.exportResults', async (arg) => {
    const sweep = await resolveSweep(store, arg, 'Export Results');
    if (!sweep) return undefined;
    await results.export(sweep.uri);
    return sweep.uri;
  });

  reg('flopsfit.revealRunDirectory', async (arg) => {
    const sweep = await resolveSweep(store, arg, 'Reveal Run Directory');
    if (!sweep) return undefined;
    const dir = sweep.runDir;
    if (!dir || !fs.existsSync(dir)) {
      void vscode.window.showInformationMessage(`${sweep.name} has not run yet${dir ? `: its results will be in ${dir}` : ''}.`);
      return undefined;
    }
    const uri = vscode.Uri.file(dir);
    // inside the workspace: the Explorer view (where .flopsfit/ is otherwise easy to miss); else the OS
    if (vscode.workspace.getWorkspaceFolder(uri)) await vscode.commands.executeCommand('revealInExplorer', uri);
    else await vscode.commands.executeCommand('revealFileInOS', uri);
    return uri;
  });
  reg('flopsfit.revealInConfig', (arg) => revealInConfig(store, arg));
  reg('flopsfit.openMetrics', (arg) => openMetrics(store, arg));
  reg('flopsfit.refreshExplorer', () => store.refreshAll());
}
