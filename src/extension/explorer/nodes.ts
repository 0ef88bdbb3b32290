/** The node objects of the Sweeps tree (what a tree action passes to its command) and its view id. */
import type { Sweep } from '../sweeps';

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
/** "Optimum not bracketed: n budgets — Extend Sweep…": shown first under a sweep whose fit has edge budgets */
export interface ExtendNode {
  readonly kind: 'extend';
  readonly sweep: Sweep;
}
export type ExplorerNode = SweepNode | ExtendNode | BudgetNode | ExperimentNode;

export const VIEW_ID = 'flopsfit.sweeps';

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
