/**
 * The "Sweeps" tree (view `flopsfit.sweeps` in the FlopsFit activity-bar container):
 *
 *   sweep config      (state icon; description: plan totals, or "3/12 · ETA 4m" while running,
 *                      or the first config problem)
 *     compute budget  ("1.0e15 FLOPs"; description "3/5 done · ETA 2m" once started)
 *       experiment    (size value; N, D, D/N; status icon, live loss while running)
 *
 * The tree follows the SweepStore's events (after treeverse/vscode-dvc): a re-planned sweep
 * refreshes its subtree, a manifest change refreshes only the experiments (and budget badges) that
 * changed, a metrics line refreshes only its experiment. Node objects are cached so that firing one
 * refreshes exactly that row.
 */
import * as vscode from 'vscode';
import * as path from 'node:path';
import { Disposable } from './dispose';
import { log } from './log';
import { formatCount, formatDuration, formatFlops, formatLoss, formatValue } from './format';
import type { Sweep, SweepChange, SweepStore } from './sweepStore';
import { RUN_FILES, type ExperimentSpec, type RunStatus } from '../core/contracts';

export interface SweepNode {
  readonly kind: 'sweep';
  readonly sweep: Sweep;
}
export interface BudgetNode {
  readonly kind: 'budget';
  readonly sweep: Sweep;
  readonly index: number;
}
export interface ExperimentNode {
  readonly kind: 'experiment';
  readonly sweep: Sweep;
  readonly id: string;
  readonly budgetIndex: number;
}
export type ExplorerNode = SweepNode | BudgetNode | ExperimentNode;

export const VIEW_ID = 'flopsfit.sweeps';

const STATUS_ICON: Record<RunStatus, vscode.ThemeIcon> = {
  queued: new vscode.ThemeIcon('circle-outline'),
  running: new vscode.ThemeIcon('loading~spin'),
  completed: new vscode.ThemeIcon('check', new vscode.ThemeColor('testing.iconPassed')),
  failed: new vscode.ThemeIcon('error', new vscode.ThemeColor('testing.iconFailed')),
  stopped: new vscode.ThemeIcon('debug-pause'),
};

/** Plain data of one rendered row, for tests and the exported API. */
export interface TreeSnapshot {
  kind: ExplorerNode['kind'];
  label: string;
  description?: string;
  tooltip?: string;
  contextValue?: string;
  icon?: string;
  id?: string;
  children?: TreeSnapshot[];
}

export class SweepTreeProvider extends Disposable implements vscode.TreeDataProvider<ExplorerNode> {
  private readonly _onDidChangeTreeData = this._register(
    new vscode.EventEmitter<ExplorerNode | ExplorerNode[] | undefined | void>(),
  );
  readonly onDidChangeTreeData = this._onDidChangeTreeData.event;
  /** node cache: the same object for the same row, so that firing it refreshes that row */
  private readonly nodes = new Map<string, ExplorerNode>();
  /** counts of refresh events, by kind (observable in tests: no full refresh per metrics line) */
  readonly refreshCounts = { full: 0, sweep: 0, budget: 0, experiment: 0 };

  constructor(readonly store: SweepStore) {
    super();
    this._register(
      store.onDidChangeSweeps(() => {
        this.refreshCounts.full++;
        this._onDidChangeTreeData.fire();
      }),
    );
    this._register(store.onDidChange((c) => this.onChange(c)));
  }

  private onChange(c: SweepChange): void {
    if (c.structure) {
      // the node objects stay (same id → same object): a refresh that overlaps a pending
      // getChildren must not hand VS Code a second element with an id it has registered
      this.refreshCounts.sweep++;
      this._onDidChangeTreeData.fire(this.sweepNode(c.sweep));
      return;
    }
    const fire: ExplorerNode[] = [];
    const budgets = new Set(c.budgets ?? []);
    for (const b of budgets) {
      const n = this.nodes.get(`${c.sweep.id}|b|${b}`);
      if (n) fire.push(n);
    }
    for (const id of c.experiments ?? []) {
      const n = this.nodes.get(`${c.sweep.id}|e|${id}`) as ExperimentNode | undefined;
      // a refreshed budget re-renders its children anyway
      if (n && !budgets.has(n.budgetIndex)) fire.push(n);
    }
    if (fire.length === 0) return;
    for (const n of fire) this.refreshCounts[n.kind]++;
    this._onDidChangeTreeData.fire(fire);
  }

  sweepNode(sweep: Sweep): SweepNode {
    const key = `${sweep.id}|s`;
    let n = this.nodes.get(key) as SweepNode | undefined;
    if (!n || n.sweep !== sweep) {
      n = { kind: 'sweep', sweep };
      this.nodes.set(key, n);
    }
    return n;
  }

  budgetNode(sweep: Sweep, index: number): BudgetNode {
    const key = `${sweep.id}|b|${index}`;
    let n = this.nodes.get(key) as BudgetNode | undefined;
    if (!n) {
      n = { kind: 'budget', sweep, index };
      this.nodes.set(key, n);
    }
    return n;
  }

  experimentNode(sweep: Sweep, spec: ExperimentSpec): ExperimentNode {
    const key = `${sweep.id}|e|${spec.id}`;
    let n = this.nodes.get(key) as ExperimentNode | undefined;
    if (!n) {
      n = { kind: 'experiment', sweep, id: spec.id, budgetIndex: spec.budgetIndex };
      this.nodes.set(key, n);
    }
    return n;
  }

  async getChildren(element?: ExplorerNode): Promise<ExplorerNode[]> {
    if (!element) {
      await this.store.ensureLoaded();
      const live = new Set(this.store.all().map((s) => s.id));
      for (const key of [...this.nodes.keys()]) if (!live.has(key.split('|')[0]!)) this.nodes.delete(key);
      return this.store.all().map((s) => this.sweepNode(s));
    }
    if (element.kind === 'sweep') {
      const s = element.sweep;
      if (!s.config) return [];
      // planning (a command trainer counts its sizes first) shows the view's progress bar
      const plan = s.plan ?? (await vscode.window.withProgress({ location: { viewId: VIEW_ID } }, () => this.store.ensurePlan(s)));
      if (!plan) return []; // the sweep row shows why (the store fires it)
      const show = vscode.workspace.getConfiguration('flopsfit').get<boolean>('explorer.showPlanBeforeRun', true);
      if (!show && s.state === 'idle') return [];
      return plan.budgets.map((b) => this.budgetNode(s, b.index));
    }
    if (element.kind === 'budget') {
      const s = element.sweep;
      // forget the nodes of experiments that left the plan (the cache would only grow)
      for (const [key, n] of this.nodes) if (n.kind === 'experiment' && n.sweep === s && !s.experiment(n.id)) this.nodes.delete(key);
      return s.experimentsOf(element.index).map((e) => this.experimentNode(s, e));
    }
    return [];
  }

  getParent(element: ExplorerNode): ExplorerNode | undefined {
    if (element.kind === 'sweep') return undefined;
    if (element.kind === 'budget') return this.sweepNode(element.sweep);
    return this.budgetNode(element.sweep, element.budgetIndex);
  }

  getTreeItem(element: ExplorerNode): vscode.TreeItem {
    switch (element.kind) {
      case 'sweep':
        return this.sweepItem(element);
      case 'budget':
        return this.budgetItem(element);
      case 'experiment':
        return this.experimentItem(element);
    }
  }

  private sweepItem(n: SweepNode): vscode.TreeItem {
    const s = n.sweep;
    const many = this.store.all().length > 3;
    const item = new vscode.TreeItem(
      s.name,
      s.config ? (many ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.Expanded) : vscode.TreeItemCollapsibleState.None,
    );
    item.id = `${s.id}|s`;
    const state = s.state;
    const invalid = !s.config || s.problems.length > 0 || !!s.planError;
    item.contextValue = `sweep.${state}${invalid ? '.invalid' : ''}`;
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
          item.description = `${s.derived.label} · ${plan.experiments.length} runs`;
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

  private budgetItem(n: BudgetNode): vscode.TreeItem {
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
  private varying(s: Sweep): { keys: string[]; seeds: boolean } {
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

  private experimentItem(n: ExperimentNode): vscode.TreeItem {
    const s = n.sweep;
    const v = s.view(n.id);
    if (!v) {
      const gone = new vscode.TreeItem(n.id);
      gone.contextValue = 'experiment.queued';
      return gone;
    }
    const e = v.spec;
    const vary = this.varying(s);
    const extras = vary.keys.map((k) => `${k}=${formatValue(e.hyperparameters[k]!)}`);
    if (vary.seeds) extras.push(`seed ${e.seed}`);
    const label = `${e.sizeParam} ${formatValue(e.sizeValue)}${extras.length ? ` · ${extras.join(' · ')}` : ''}`;
    const item = new vscode.TreeItem(label, vscode.TreeItemCollapsibleState.None);
    item.id = `${s.id}|e|${e.id}`;
    item.contextValue = `experiment.${v.status}`;
    item.iconPath = STATUS_ICON[v.status];
    const shape = `N ${formatCount(e.params)} · D ${formatCount(e.tokens)} · D/N ${formatValue(Number(e.tokensPerParam.toFixed(1)))}`;
    let desc = shape;
    if (v.status === 'running') {
      const live = v.live;
      if (live) {
        const pct = Math.min(100, Math.floor((100 * live.tokens) / e.tokens));
        desc = `${live.loss !== undefined ? `${live.lossKind ?? 'train'} loss ${formatLoss(live.loss)} · ` : ''}${pct}% · ${shape}`;
      } else desc = `starting · ${shape}`;
    } else if (v.status === 'completed' && v.entry?.finalLoss !== undefined) {
      desc = `eval loss ${formatLoss(v.entry.finalLoss)} · ${shape}`;
    } else if (v.status === 'failed') {
      desc = `failed · ${shape}`;
    } else if (v.status === 'stopped') {
      desc = `stopped · ${shape}`;
    }
    item.description = desc;
    const tip = new vscode.MarkdownString(undefined, true);
    tip.appendMarkdown(`**${escapeMd(label)}** — ${v.status}\n\n`);
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
  async snapshot(element?: ExplorerNode, depth = 3): Promise<TreeSnapshot[]> {
    const out: TreeSnapshot[] = [];
    for (const child of await this.getChildren(element)) {
      const item = this.getTreeItem(child);
      const label = typeof item.label === 'string' ? item.label : (item.label?.label ?? '');
      const tooltip = item.tooltip instanceof vscode.MarkdownString ? item.tooltip.value : item.tooltip;
      const icon = item.iconPath instanceof vscode.ThemeIcon ? item.iconPath.id : undefined;
      const snap: TreeSnapshot = {
        kind: child.kind,
        label,
        description: typeof item.description === 'string' ? item.description : undefined,
        tooltip,
        contextValue: item.contextValue,
        icon,
        id: child.kind === 'experiment' ? child.id : undefined,
      };
      if (depth > 1 && item.collapsibleState !== vscode.TreeItemCollapsibleState.None) {
        snap.children = await this.snapshot(child, depth - 1);
        // expanding may have planned the sweep: render the row again, as the view does on refresh
        const again = this.getTreeItem(child);
        snap.description = typeof again.description === 'string' ? again.description : undefined;
        snap.contextValue = again.contextValue;
        snap.icon = again.iconPath instanceof vscode.ThemeIcon ? again.iconPath.id : undefined;
        snap.tooltip = again.tooltip instanceof vscode.MarkdownString ? again.tooltip.value : again.tooltip;
      }
      out.push(snap);
    }
    return out;
  }
}

/** A code span: its text is shown as is (escaping markdown inside one shows the backslashes). */
function codeSpan(s: string): string {
  return '`' + s.replace(/`/g, "'") + '`';
}

function escapeMd(s: string): string {
  return s.replace(/[\\`*_{}[\]()#+\-.!|<>]/g, (c) => `\\${c}`);
}

/** The explorer's parts, for commands, CodeLens, status bar and tests. */
export interface Explorer {
  store: SweepStore;
  provider: SweepTreeProvider;
  view: vscode.TreeView<ExplorerNode>;
}

let current: Explorer | undefined;

/** The explorer registered by `registerExplorer` (commands reach the model through it). */
export function explorer(): Explorer {
  if (!current) throw new Error('FlopsFit explorer is not registered');
  return current;
}

export function registerExplorer(context: vscode.ExtensionContext, store: SweepStore): Explorer {
  const t0 = performance.now();
  const provider = new SweepTreeProvider(store);
  const view = vscode.window.createTreeView(VIEW_ID, { treeDataProvider: provider, showCollapseAll: true });
  context.subscriptions.push(provider, view);
  // badge: experiments running right now
  const updateBadge = () => {
    let n = 0;
    const parts: string[] = [];
    for (const s of store.running()) {
      const c = s.counts();
      n += c.running;
      const eta = s.etaSeconds();
      parts.push(`${store.running().length > 1 ? `${s.name} ` : ''}${c.completed}/${c.total}${eta !== undefined ? ` · ETA ${formatDuration(eta)}` : ''}`);
    }
    view.badge = n > 0 ? { value: n, tooltip: `${n} experiment${n === 1 ? '' : 's'} running` } : undefined;
    view.description = parts.length ? parts.join(', ') : undefined;
  };
  context.subscriptions.push(store.onDidChange(updateBadge), store.onDidChangeSweeps(updateBadge));
  current = { store, provider, view };
  context.subscriptions.push({ dispose: () => (current = undefined) });
  log().info(`explorer registered in ${(performance.now() - t0).toFixed(1)} ms`);
  return current;
}

/** What the extension's exported API offers about the explorer (integration tests, other extensions). */
export interface ExplorerApi {
  /** the rendered tree as plain data (sweeps → budgets → experiments) */
  snapshot(): Promise<TreeSnapshot[]>;
  /** how many refresh events the tree fired, by kind of node */
  refreshCounts(): { full: number; sweep: number; budget: number; experiment: number };
  /** reveal (and select) a sweep's row in the view */
  reveal(configUri: vscode.Uri): Promise<void>;
  /**
   * The tree's own node object for a sweep (or one of its experiments): what a tree action passes to
   * its command, so a test can invoke a command exactly as the tree's inline action does.
   */
  node(configUri: vscode.Uri, experimentId?: string): Promise<ExplorerNode | undefined>;
}

export function explorerApi(): ExplorerApi {
  return {
    snapshot: () => explorer().provider.snapshot(),
    refreshCounts: () => ({ ...explorer().provider.refreshCounts }),
    reveal: async (configUri) => {
      const e = explorer();
      await e.store.ensureLoaded();
      const s = e.store.getOrAdd(configUri);
      if (s) await e.view.reveal(e.provider.sweepNode(s), { expand: 2, select: true, focus: true });
    },
    node: async (configUri, experimentId) => {
      const e = explorer();
      await e.store.ensureLoaded();
      const s = e.store.getOrAdd(configUri);
      if (!s) return undefined;
      if (!experimentId) return e.provider.sweepNode(s);
      await e.store.ensurePlan(s);
      const spec = s.experiment(experimentId);
      return spec ? e.provider.experimentNode(s, spec) : undefined;
    },
  };
}
