/**
 * How each row of the Sweeps tree looks: label, description, icon, tooltip and contextValue of a
 * sweep, a compute budget and an experiment (the tree provider, ./treeProvider.ts, picks the rows).
 */
import * as vscode from 'vscode';
import * as path from 'node:path';
import { formatCount, formatDuration, formatFlops, formatLoss, formatValue } from '../format';
import type { Sweep } from '../sweeps';
import { RUN_FILES, type RunStatus } from '../../core/contracts';
import { clusterLine } from '../../core/runDir/status';
import type { BudgetNode, ExperimentNode, ExtendNode, SweepNode } from './nodes';
import { extendRow } from './extendRow';

const STATUS_ICON: Record<RunStatus, vscode.ThemeIcon> = {
  queued: new vscode.ThemeIcon('circle-outline'),
  running: new vscode.ThemeIcon('loading~spin'),
  completed: new vscode.ThemeIcon('check', new vscode.ThemeColor('testing.iconPassed')),
  failed: new vscode.ThemeIcon('error', new vscode.ThemeColor('testing.iconFailed')),
  stopped: new vscode.ThemeIcon('debug-pause'),
};

/** The row of a sweep config; `many`: more than three sweeps (their rows say which folder). */
export function sweepItem(n: SweepNode, many: boolean): vscode.TreeItem {
  const s = n.sweep;
  const item = new vscode.TreeItem(
    s.name,
    s.config ? (many ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.Expanded) : vscode.TreeItemCollapsibleState.None,
  );
  item.id = `${s.id}|s`;
  const state = s.state;
  const invalid = !s.config || s.problems.length > 0 || !!s.planError;
  // a sweep whose experiments run on a cluster with no runner following them: Resume re-attaches
  const detached = state === 'running' && !s.derived.runnerAlive;
  item.contextValue = `sweep.${state}${detached ? '.detached' : ''}${invalid ? '.invalid' : ''}`;
  const plan = s.plan;
  const tip = new vscode.MarkdownString(undefined, true);
  tip.appendMarkdown(`**${escapeMd(s.name)}** — ${codeSpan(vscode.workspace.asRelativePath(s.uri))}\n\n`);
  if (invalid) {
    item.iconPath = new vscode.ThemeIcon('error', new vscode.ThemeColor('problemsIcon.foreground'));
    item.description = s.firstProblem ?? 'invalid config';
    tip.appendMarkdown(`$(error) ${escapeMd(s.firstProblem ?? 'invalid config')}`);
    if (s.problems.length > 1) tip.appendMarkdown(`\n\n…and ${s.problems.length - 1} more problem(s)`);
  } else {
    item.iconPath = new vscode.ThemeIcon(
      state === 'running' || state === 'stopping'
        ? 'sync~spin'
        : state === 'finished'
          ? 'pass'
          : state === 'interrupted'
            ? 'warning'
            : state === 'resumable'
              ? 'debug-pause'
              : 'beaker',
    );
    if (plan) {
      const c = s.counts();
      if (state === 'running' || state === 'stopping') {
        // progress lives on the budget rows and the view's description: refreshing this row would
        // refresh its whole subtree on every status change
        // on a cluster: how many of its tasks run and how many wait
        const onSlurm = Object.values(s.manifest?.experiments ?? {}).filter((x) => x.status === 'running' && x.slurm);
        const pending = onSlurm.filter((x) => x.slurm?.state === 'PENDING').length;
        const slurm = onSlurm.length ? ` · Slurm: ${onSlurm.length - pending} running, ${pending} pending` : '';
        item.description = `${s.derived.label} · ${plan.experiments.length} runs${slurm}`;
      } else if (state === 'idle' && plan.experiments.length === 0 && s.config?.model.family === 'command' && !vscode.workspace.isTrusted) {
        item.description = 'trust the workspace to count the trainer\'s model sizes';
        tip.appendMarkdown('Planning a command trainer runs its `countParams` command, which FlopsFit does only in a trusted workspace.\n\n');
      } else if (state === 'idle') {
        item.description = `${plan.experiments.length} runs · ${formatFlops(plan.totalFlops)} FLOPs · ~${formatDuration(plan.estimatedSeconds)}`;
      } else {
        const label = state === 'finished' ? '' : ` · ${s.derived.label}`;
        item.description = `${c.completed}/${c.total} done${c.failed ? ` · ${c.failed} failed` : ''}${label}`;
      }
      if (state === 'interrupted') {
        tip.appendMarkdown('$(warning) The runner of this sweep is gone (killed, out of memory or a reboot): Resume continues from the checkpoints.\n\n');
      }
      tip.appendMarkdown(
        `${plan.experiments.length} experiments in ${plan.budgets.length} budgets · ${formatFlops(plan.totalFlops)} FLOPs · ` +
          `${formatCount(plan.totalTokens)} tokens\n\nEstimated time: ${formatDuration(plan.estimatedSecondsRange[0])}–${formatDuration(plan.estimatedSecondsRange[1])} ` +
          `(${escapeMd(plan.throughputSource)})`,
      );
      for (const w of plan.warnings.slice(0, 5)) tip.appendMarkdown(`\n\n$(warning) ${escapeMd(w.message)}`);
    } else if (s.counting) {
      item.description = `counting parameters with countParams: ${s.counting.done}/${s.counting.total} sizes…`;
    } else {
      item.description = state === 'idle' ? '' : s.derived.label;
    }
    if (s.runDir) tip.appendMarkdown(`\n\nRun directory: ${codeSpan(s.runDir)}`);
    if (state === 'running' && s.lock) tip.appendMarkdown(`\n\nRunning since ${s.lock.startedAt} (pid ${s.lock.pid})`);
  }
  item.tooltip = tip;
  item.resourceUri = undefined;
  item.command = { command: 'vscode.open', title: 'Open Config', arguments: [s.uri] };
  return item;
}

/**
 * The "Optimum not bracketed" row of a sweep whose fit found budgets whose lowest loss is at the edge
 * of the sizes tried (./extendRow.ts says what it shows); clicking it runs Extend Sweep.
 */
export function extendItem(n: ExtendNode): vscode.TreeItem {
  const s = n.sweep;
  const row = extendRow(s.fit, s.config);
  const item = new vscode.TreeItem(row?.label ?? 'Every budget brackets its optimum', vscode.TreeItemCollapsibleState.None);
  item.id = `${s.id}|x`;
  item.contextValue = row?.contextValue ?? 'extend.done';
  item.description = row?.description;
  item.iconPath = new vscode.ThemeIcon(row?.contextValue === 'extend' ? 'arrow-both' : 'info', new vscode.ThemeColor(row?.contextValue === 'extend' ? 'problemsWarningIcon.foreground' : 'foreground'));
  if (row) item.tooltip = new vscode.MarkdownString(row.tooltip, true);
  item.command = { command: 'flopsfit.extendSweep', title: 'Extend Sweep…', arguments: [n] };
  return item;
}

/** The row of one compute budget. */
export function budgetItem(n: BudgetNode): vscode.TreeItem {
  const s = n.sweep;
  const b = s.plan?.budgets.find((x) => x.index === n.index);
  const list = s.experimentsOf(n.index);
  const item = new vscode.TreeItem(
    `${formatFlops(b?.budget ?? list[0]?.budget ?? 0)} FLOPs`,
    list.length === 0
      ? vscode.TreeItemCollapsibleState.None
      : (s.plan?.experiments.length ?? 0) <= 40
        ? vscode.TreeItemCollapsibleState.Expanded
        : vscode.TreeItemCollapsibleState.Collapsed,
  );
  item.id = `${s.id}|b|${n.index}`;
  item.contextValue = 'budget';
  const c = s.counts(n.index);
  const started = c.completed + c.running + c.failed + c.stopped > 0;
  if (b?.skipped) {
    item.description = `skipped: ${b.skipped}`;
    item.iconPath = new vscode.ThemeIcon('warning', new vscode.ThemeColor('problemsIcon.foreground'));
  } else if (started) {
    let d = `${c.completed}/${c.total} done`;
    if (c.failed) d += ` · ${c.failed} failed`;
    if (c.running > 0 && s.state === 'running') {
      const eta = s.etaSeconds(n.index);
      if (eta !== undefined) d += ` · ETA ${formatDuration(eta)}`;
    }
    item.description = d;
    item.iconPath = new vscode.ThemeIcon(
      c.completed === c.total ? 'pass' : c.running > 0 && s.state === 'running' ? 'sync~spin' : 'circle-large-outline',
    );
  } else {
    item.description = `${c.total} run${c.total === 1 ? '' : 's'}${b ? ` · N* ≈ ${formatCount(b.priorOptimalParams)}` : ''}`;
    item.iconPath = new vscode.ThemeIcon('circle-large-outline');
  }
  const tip = new vscode.MarkdownString(undefined, true);
  tip.appendMarkdown(`Compute budget C = ${formatFlops(b?.budget ?? 0)} FLOPs\n\n`);
  if (b) {
    tip.appendMarkdown(
      `Prior optimum N* ≈ ${formatCount(b.priorOptimalParams)} · sizes ${b.sizeValues.map(formatValue).join(', ')}\n\n`,
    );
    if (!b.brackets) tip.appendMarkdown(`$(warning) the sizes do not bracket the prior optimum\n\n`);
  }
  tip.appendMarkdown(`${c.completed} completed · ${c.running} running · ${c.failed} failed · ${c.stopped} stopped · ${c.total} total`);
  item.tooltip = tip;
  return item;
}

/** Which hyperparameters vary inside the sweep (shown in the experiment labels). */
function varying(s: Sweep): { keys: string[]; seeds: boolean } {
  const exps = s.plan?.experiments ?? [];
  const values = new Map<string, Set<string>>();
  const seeds = new Set<number>();
  for (const e of exps) {
    seeds.add(e.seed);
    for (const [k, v] of Object.entries(e.hyperparameters)) {
      const set = values.get(k) ?? new Set();
      set.add(String(v));
      values.set(k, set);
    }
  }
  return { keys: [...values].filter(([, v]) => v.size > 1).map(([k]) => k), seeds: seeds.size > 1 };
}

/** The row of one experiment. */
export function experimentItem(n: ExperimentNode): vscode.TreeItem {
  const s = n.sweep;
  const v = s.view(n.id);
  if (!v) {
    const gone = new vscode.TreeItem(n.id);
    gone.contextValue = 'experiment.queued';
    return gone;
  }
  const e = v.spec;
  const vary = varying(s);
  const extras = vary.keys.map((k) => `${k}=${formatValue(e.hyperparameters[k]!)}`);
  if (vary.seeds) extras.push(`seed ${e.seed}`);
  const label = `${e.sizeParam} ${formatValue(e.sizeValue)}${extras.length ? ` · ${extras.join(' · ')}` : ''}`;
  const item = new vscode.TreeItem(label, vscode.TreeItemCollapsibleState.None);
  item.id = `${s.id}|e|${e.id}`;
  item.contextValue = `experiment.${v.status}`;
  item.iconPath = STATUS_ICON[v.status];
  const shape = `N ${formatCount(e.params)} · D ${formatCount(e.tokens)} · D/N ${formatValue(Number(e.tokensPerParam.toFixed(1)))}`;
  let desc = shape;
  const cluster = clusterLine(v.entry);
  if (v.status === 'running') {
    const live = v.live;
    const where = cluster ? `${cluster} · ` : '';
    if (live) {
      const pct = Math.min(100, Math.floor((100 * live.tokens) / e.tokens));
      desc = `${live.loss !== undefined ? `${live.lossKind ?? 'train'} loss ${formatLoss(live.loss)} · ` : ''}${pct}% · ${where}${shape}`;
    } else desc = cluster ? `${where}${shape}` : `starting · ${shape}`;
  } else if (v.status === 'completed' && v.entry?.finalLoss !== undefined) {
    desc = `eval loss ${formatLoss(v.entry.finalLoss)} · ${shape}`;
  } else if (v.status === 'failed') {
    desc = `failed · ${shape}`;
  } else if (v.status === 'stopped') {
    desc = `stopped · ${shape}`;
  }
  item.description = desc;
  const tip = new vscode.MarkdownString(undefined, true);
  tip.appendMarkdown(`**${escapeMd(label)}** — ${v.status}${cluster ? ` (Slurm: ${escapeMd(cluster)})` : ''}\n\n`);
  if (v.status === 'failed') tip.appendMarkdown(`$(error) ${escapeMd(v.entry?.reason ?? 'no reason recorded')}\n\n`);
  else if (v.entry?.reason) tip.appendMarkdown(`${escapeMd(v.entry.reason)}\n\n`);
  tip.appendMarkdown(
    `| | |\n|---|---|\n` +
      `| N (scaling law) | ${e.params.toLocaleString('en-US')} |\n` +
      `| N (all parameters) | ${e.paramsTotal.toLocaleString('en-US')} |\n` +
      `| D (tokens) | ${e.tokens.toLocaleString('en-US')} |\n` +
      `| D/N | ${e.tokensPerParam.toFixed(2)} |\n` +
      `| C | ${formatFlops(e.flopsPerParamPerToken * e.params * e.tokens)} FLOPs (budget ${formatFlops(e.budget)}) |\n` +
      Object.entries(e.hyperparameters)
        .map(([k, x]) => `| ${escapeMd(k)} | ${escapeMd(formatValue(x))} |\n`)
        .join('') +
      `| seed | ${e.seed} |\n`,
  );
  if (v.live?.loss !== undefined && v.status === 'running') tip.appendMarkdown(`\nStep ${v.live.step}: ${v.live.lossKind ?? 'train'} loss ${formatLoss(v.live.loss)}`);
  if (v.entry?.finalLoss !== undefined) tip.appendMarkdown(`\nFinal eval loss: ${formatLoss(v.entry.finalLoss)}`);
  if (v.entry?.startedAt) tip.appendMarkdown(`\n\nStarted ${v.entry.startedAt}${v.entry.endedAt ? `, ended ${v.entry.endedAt}` : ''}`);
  if (v.entry?.backend || v.entry?.device)
    tip.appendMarkdown(`\n\n${escapeMd([v.entry.backend, v.entry.device].filter(Boolean).join(' · '))}`);
  tip.appendMarkdown(`\n\n${codeSpan(e.id)}`);
  item.tooltip = tip;
  if (v.status !== 'queued' && s.runDir) {
    item.command = {
      command: 'vscode.open',
      title: 'Open Metrics',
      arguments: [vscode.Uri.file(path.join(s.runDir, RUN_FILES.experimentsDir, e.id, RUN_FILES.metrics)), { preview: true }],
    };
  }
  return item;
}

/** The rendered tree as plain data (tests; the extension's exported API). */

/** A code span: its text is shown as is (escaping markdown inside one shows the backslashes). */
function codeSpan(s: string): string {
  return '`' + s.replace(/`/g, "'") + '`';
}

function escapeMd(s: string): string {
  return s.replace(/[\\`*_{}[\]()#+\-.!|<>]/g, (c) => `\\${c}`);
}
