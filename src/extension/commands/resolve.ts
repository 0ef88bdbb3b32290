/**
 * What a command acts on: a command takes, in order, a tree item, a config Uri (or path) argument,
 * the active editor's config, else asks with a quick pick (skipped when there is one sweep). Also
 * the guards every run action shares: a plan (or the config's first problem) and workspace trust.
 */
import * as vscode from 'vscode';
import * as path from 'node:path';
import type { ExperimentNode, ExplorerNode } from '../explorer';
import { formatCount, formatFlops, formatValue } from '../format';
import { isSweepConfig, type Sweep, type SweepStore } from '../sweeps';
import { CommandError } from '../command';

/** Arguments a test (or a keybinding) may pass instead of a tree item. */
export interface SweepArg {
  config: string | vscode.Uri;
  experiment?: string;
}

export function isNode(x: unknown): x is ExplorerNode {
  return !!x && typeof x === 'object' && 'kind' in x && 'sweep' in x;
}

function toUri(x: string | vscode.Uri): vscode.Uri {
  if (typeof x !== 'string') return x;
  if (/^[a-z][a-z0-9+.-]+:\/\//i.test(x)) return vscode.Uri.parse(x, true);
  const root = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  return vscode.Uri.file(path.isAbsolute(x) || !root ? x : path.join(root, x));
}

/** The sweep a command acts on: tree item, config Uri or path, the active editor, else a quick pick. */
export async function resolveSweep(store: SweepStore, arg: unknown, verb: string): Promise<Sweep | undefined> {
  await store.ensureLoaded();
  if (isNode(arg)) return arg.sweep;
  let uri: vscode.Uri | undefined;
  if (arg instanceof vscode.Uri) uri = arg;
  else if (typeof arg === 'string') uri = toUri(arg);
  else if (arg && typeof arg === 'object' && 'config' in arg) uri = toUri((arg as SweepArg).config);
  if (uri) {
    const s = store.getOrAdd(uri);
    if (!s) throw new CommandError(`${uri.fsPath} is not a sweep config (*.sweep.yaml, *.sweep.yml, *.sweep.json).`);
    return s;
  }
  const active = vscode.window.activeTextEditor?.document.uri;
  if (active && isSweepConfig(active)) {
    const s = store.getOrAdd(active);
    if (s) return s;
  }
  const all = store.all();
  if (all.length === 0) {
    const pick = await vscode.window.showInformationMessage('There is no sweep config in this workspace.', 'New Sweep');
    if (pick) await vscode.commands.executeCommand('flopsfit.newSweep');
    return undefined;
  }
  if (all.length === 1) return all[0];
  const item = await vscode.window.showQuickPick(
    all.map((s) => ({
      label: s.name,
      description: vscode.workspace.asRelativePath(s.uri),
      detail: s.valid ? s.state : `$(error) ${s.firstProblem}`,
      sweep: s,
    })),
    { title: `FlopsFit: ${verb}`, placeHolder: 'Pick a sweep config', matchOnDescription: true },
  );
  return item?.sweep;
}

/** The experiment a command acts on: tree item, `{ config, experiment }`, else a quick pick. */
export async function resolveExperiment(
  store: SweepStore,
  arg: unknown,
  verb: string,
  filter?: (s: Sweep, id: string) => boolean,
): Promise<{ sweep: Sweep; id: string } | undefined> {
  if (isNode(arg) && arg.kind === 'experiment') return { sweep: arg.sweep, id: (arg as ExperimentNode).id };
  const sweep = await resolveSweep(store, arg, verb);
  if (!sweep) return undefined;
  const given = arg && typeof arg === 'object' && 'experiment' in arg ? (arg as SweepArg).experiment : undefined;
  const plan = await requirePlan(store, sweep);
  if (!plan) return undefined;
  if (given) {
    if (!sweep.experiment(given)) throw new CommandError(`No experiment ${given} in the plan of ${sweep.name}.`);
    return { sweep, id: given };
  }
  const candidates = plan.experiments.filter((e) => !filter || filter(sweep, e.id));
  if (candidates.length === 0) {
    void vscode.window.showInformationMessage(`No experiment of ${sweep.name} to ${verb.toLowerCase()}.`);
    return undefined;
  }
  const item = await vscode.window.showQuickPick(
    candidates.map((e) => ({
      label: `${formatFlops(e.budget)} FLOPs · ${e.sizeParam} ${formatValue(e.sizeValue)}`,
      description: `N ${formatCount(e.params)} · D ${formatCount(e.tokens)} · seed ${e.seed}`,
      detail: sweep.status(e.id),
      id: e.id,
    })),
    { title: `FlopsFit: ${verb}`, placeHolder: 'Pick an experiment' },
  );
  return item ? { sweep, id: item.id } : undefined;
}

/** The plan, or an error message that names the config's first problem (with a way to go there). */
export async function requirePlan(store: SweepStore, sweep: Sweep) {
  if (!sweep.config) {
    const p = sweep.problems[0];
    const go = await vscode.window.showErrorMessage(
      `${sweep.fileName}: ${sweep.firstProblem ?? 'invalid config'}`,
      'Open Config',
    );
    if (go) {
      const pos = new vscode.Position(p?.line ?? 0, p?.character ?? 0);
      await vscode.window.showTextDocument(sweep.uri, { selection: new vscode.Range(pos, pos) });
    }
    return undefined;
  }
  const plan = await store.planWithProgress(sweep);
  if (!plan && sweep.planError) void vscode.window.showErrorMessage(`${sweep.fileName}: ${sweep.planError}`);
  return plan;
}

/** True in a trusted workspace; else says why the action is refused (with a way to trust). */
export function requireTrust(what: string): boolean {
  if (vscode.workspace.isTrusted) return true;
  void vscode.window
    .showWarningMessage(
      `FlopsFit cannot ${what} in an untrusted workspace: training runs code and commands from this folder. ` +
        'Trust the workspace to run sweeps; planning and previews still work.',
      'Manage Workspace Trust',
    )
    .then((pick) => {
      if (pick) void vscode.commands.executeCommand('workbench.trust.manage');
    });
  return false;
}
