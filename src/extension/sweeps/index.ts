/**
 * The sweep service feature: `registerSweeps` creates the one SweepStore of the extension host
 * (./service.ts, config → plan; ./runDirWatch.ts, run directory → run state; ./sweepModel.ts, one
 * sweep's model; ./paramCounts.ts, the one countParams counter; ./validations.ts, the one validation per config
 * text, shared with the diagnostics). main.ts hands it to every feature.
 */
import type * as vscode from 'vscode';
import { SweepStore } from './service';

export { SweepStore, isSweepConfig } from './service';
export { Sweep } from './sweepModel';
export type { BudgetCounts, ConfigProblem, ExperimentView, LiveMetrics, SweepChange, SweepState } from './sweepModel';
export type { RunFilesChange } from './runDirWatch';
export type { ParamCounts } from './paramCounts';
export type { Validations } from './validations';

/** Creates the sweep service (nothing is loaded until a feature asks) and ties it to the extension's life. */
export function registerSweeps(context: vscode.ExtensionContext): SweepStore {
  const sweeps = new SweepStore();
  context.subscriptions.push(sweeps);
  return sweeps;
}
