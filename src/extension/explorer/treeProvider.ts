/**
 * The "Sweeps" tree (view `flopsfit.sweeps` in the FlopsFit activity-bar container):
 *
 *   sweep config      (state icon; description: plan totals, or "3/12 · ETA 4m" while running,
 *                      or the first config problem)
 *     "Optimum not bracketed: 2 budgets — Extend Sweep…"   (only when the sweep's fit.json has budgets
 *                      whose lowest loss is at the edge of the sizes tried: ./extendRow.ts)
 *     compute budget  ("1.0e15 FLOPs"; description "3/5 done · ETA 2m" once started)
 *       experiment    (size value; N, D, D/N; status icon, live loss while running)
 *
 * The tree follows the SweepStore's events (after treeverse/vscode-dvc): a re-planned sweep
 * refreshes its subtree, a manifest change refreshes only the experiments (and budget badges) that
 * changed, a metrics line refreshes only its experiment. Node objects are cached so that firing one
 * refreshes exactly that row. How each row looks: ./rows.ts.
 */
import * as vscode from 'vscode';
import { Disposable } from '../dispose';
import type { Sweep, SweepChange, SweepStore } from '../sweeps';
import type { ExperimentSpec } from '../../core/contracts';
import { VIEW_ID, type BudgetNode, type ExperimentNode, type ExplorerNode, type ExtendNode, type SweepNode, type TreeSnapshot } from './nodes';
import { budgetItem, experimentItem, extendItem, sweepItem } from './rows';
import { extendRow } from './extendRow';

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
    const fire: (BudgetNode | ExperimentNode)[] = [];
    const budgets = new Set(c.budgets ?? []);
    for (const b of budgets) {
      const n = this.nodes.get(`${c.sweep.id}|b|${b}`) as BudgetNode | undefined;
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

  /**
   * The node stored under `key`, made by `make` the first time (and again when `stale` says the
   * stored one no longer fits): the same object for the same row, so VS Code keeps its state.
   */
  private stable<T extends ExplorerNode>(key: string, make: () => T, stale: (n: T) => boolean = () => false): T {
    let n = this.nodes.get(key) as T | undefined;
    if (!n || stale(n)) {
      n = make();
      this.nodes.set(key, n);
    }
    return n;
  }

  sweepNode(sweep: Sweep): SweepNode {
    return this.stable<SweepNode>(`${sweep.id}|s`, () => ({ kind: 'sweep', sweep }), (n) => n.sweep !== sweep);
  }

  extendNode(sweep: Sweep): ExtendNode {
    return this.stable<ExtendNode>(`${sweep.id}|x`, () => ({ kind: 'extend', sweep }), (n) => n.sweep !== sweep);
  }

  budgetNode(sweep: Sweep, index: number): BudgetNode {
    return this.stable<BudgetNode>(`${sweep.id}|b|${index}`, () => ({ kind: 'budget', sweep, index }));
  }

  experimentNode(sweep: Sweep, spec: ExperimentSpec): ExperimentNode {
    return this.stable<ExperimentNode>(`${sweep.id}|e|${spec.id}`, () => ({ kind: 'experiment', sweep, id: spec.id, budgetIndex: spec.budgetIndex }));
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
      // the fit found budgets whose optimum is not bracketed: the follow-up comes first
      const extend: ExplorerNode[] = extendRow(s.fit, s.config) ? [this.extendNode(s)] : [];
      const show = vscode.workspace.getConfiguration('flopsfit').get<boolean>('explorer.showPlanBeforeRun', true);
      if (!show && s.state === 'idle') return extend;
      return [...extend, ...plan.budgets.map((b) => this.budgetNode(s, b.index))];
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
    if (element.kind === 'budget' || element.kind === 'extend') return this.sweepNode(element.sweep);
    return this.budgetNode(element.sweep, element.budgetIndex);
  }

  getTreeItem(element: ExplorerNode): vscode.TreeItem {
    switch (element.kind) {
      case 'sweep':
        return sweepItem(element, this.store.all().length > 3);
      case 'extend':
        return extendItem(element);
      case 'budget':
        return budgetItem(element);
      case 'experiment':
        return experimentItem(element);
    }
  }

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
