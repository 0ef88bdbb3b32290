/**
 * The Sweeps tree feature: `registerExplorer` creates the view on the sweep service (its provider:
 * ./treeProvider.ts; its rows: ./rows.ts; its nodes: ./nodes.ts) with the running-experiments
 * badge, and `explorerApi` is what the extension's exported API offers about it.
 */
import * as vscode from 'vscode';
import { log } from '../log';
import { formatDuration } from '../format';
import type { SweepStore } from '../sweeps';
import { VIEW_ID, type ExplorerNode, type TreeSnapshot } from './nodes';
import { SweepTreeProvider } from './treeProvider';

export type { BudgetNode, ExperimentNode, ExplorerNode, SweepNode, TreeSnapshot } from './nodes';
export { VIEW_ID } from './nodes';
export type { SweepTreeProvider } from './treeProvider';

/** The explorer's parts, for commands and tests. */
export interface Explorer {
  store: SweepStore;
  provider: SweepTreeProvider;
  view: vscode.TreeView<ExplorerNode>;
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
  log().info(`explorer registered in ${(performance.now() - t0).toFixed(1)} ms`);
  return { store, provider, view };
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

/** The exported API of a registered explorer (see main.ts). */
export function explorerApi(e: Explorer): ExplorerApi {
  return {
    snapshot: () => e.provider.snapshot(),
    refreshCounts: () => ({ ...e.provider.refreshCounts }),
    reveal: async (configUri) => {
      await e.store.ensureLoaded();
      const s = e.store.getOrAdd(configUri);
      if (!s) return;
      // the view may not have fetched its rows yet (it loads lazily, and a refresh may be pending)
      for (let attempt = 0; ; attempt++) {
        try {
          await e.view.reveal(e.provider.sweepNode(s), { expand: 2, select: true, focus: true });
          return;
        } catch (err) {
          if (attempt >= 40 || !/not found/i.test(String(err))) throw err;
          await new Promise((r) => setTimeout(r, 250));
        }
      }
    },
    node: async (configUri, experimentId) => {
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
