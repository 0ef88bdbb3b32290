/**
 * "FlopsFit: Extend Sweep" (`flopsfit.extendSweep`): the editor's side of `flopsfit plan --extend`.
 * When a sweep's fit.json has budgets whose lowest loss is at the smallest or largest size tried,
 * the command shows the fit's budgets, the config changes (a wider size range, a re-centred prior:
 * src/core/plan/extend.ts `proposeExtension`, the CLI's rule) and the extended plan's counts
 * (completed experiments kept by id, new ones to run: `splitByCompleted`, as the CLI) in a modal;
 * "Apply" edits the config through a WorkspaceEdit (undoable; the text from `applyConfigChanges`,
 * the CLI's `--write`, so comments survive), saves it and offers Run Sweep.
 *
 * The Sweeps tree shows the "Optimum not bracketed" row (../explorer/extendRow.ts) that runs it.
 * In test mode the modal and the messages can be answered through `flopsfit._test.extend`
 * (../testHooks.ts): never in a user's editor.
 */
import * as vscode from 'vscode';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { registerCommand, CommandError } from '../command';
import type { Explorer } from '../explorer';
import type { SweepStore } from '../sweeps';
import { isSweepConfig } from '../sweeps';
import { requirePlan, resolveSweep } from '../commands/resolve';
import { parseSweepConfig } from '../../core/config';
import { RUN_FILES } from '../../core/contracts';
import { buildPlan } from '../../core/plan';
import {
  applyConfigChanges,
  completedIds,
  describeChange,
  describeEdgeBudget,
  proposeExtension,
  readFitReportFile,
  splitByCompleted,
} from '../../core/plan/extend';

/** What one run of the command did (returned to its caller: tests, other commands). */
export interface ExtendOutcome {
  /** whether the config was changed */
  applied: boolean;
  /** what the user was told last */
  message: string;
  /** `model.size.max: 512 → 1024`, … */
  changes?: string[];
  /** experiments of the extended plan already completed (kept) and to run */
  kept?: number;
  toRun?: number;
}

/** One message or modal the command showed (test mode records them). */
export interface ShownPrompt {
  severity: 'info' | 'error';
  modal: boolean;
  message: string;
  detail?: string;
  items: string[];
}

/**
 * The command's dialogs. In test mode, `answers` (filled by the test hook) answer them in order
 * instead of the user, and `shown` records them; in a user's editor both stay empty.
 */
export class ExtendPrompts {
  readonly answers: (string | undefined)[] = [];
  readonly shown: ShownPrompt[] = [];

  constructor(private readonly testMode: boolean) {}

  /** A modal dialog: resolves to the button picked (undefined: cancelled). */
  async modal(message: string, detail: string, ...items: string[]): Promise<string | undefined> {
    if (this.testMode) this.shown.push({ severity: 'info', modal: true, message, detail, items });
    if (this.testMode && this.answers.length) return this.answers.shift();
    return vscode.window.showInformationMessage(message, { modal: true, detail }, ...items);
  }

  /**
   * A notification with follow-up actions. It does not hold the command (a notification with buttons
   * stays until dismissed): the action runs when picked. A test's answer runs it before returning.
   */
  async notify(severity: 'info' | 'error', message: string, actions: Record<string, () => Thenable<unknown>> = {}): Promise<string> {
    const items = Object.keys(actions);
    if (this.testMode) this.shown.push({ severity, modal: false, message, items });
    if (this.testMode && this.answers.length) {
      const pick = this.answers.shift();
      if (pick !== undefined) await actions[pick]?.();
      return message;
    }
    const show = severity === 'error' ? vscode.window.showErrorMessage : vscode.window.showInformationMessage;
    void show(message, ...items).then((pick) => (pick !== undefined ? actions[pick]?.() : undefined));
    return message;
  }
}

/** The smallest edit that turns `before` into `after` (the cursor and folding elsewhere stay). */
function minimalEdit(doc: vscode.TextDocument, before: string, after: string): { range: vscode.Range; text: string } {
  let start = 0;
  while (start < before.length && start < after.length && before[start] === after[start]) start++;
  let endB = before.length;
  let endA = after.length;
  while (endB > start && endA > start && before[endB - 1] === after[endA - 1]) {
    endB--;
    endA--;
  }
  return { range: new vscode.Range(doc.positionAt(start), doc.positionAt(endB)), text: after.slice(start, endA) };
}

/** Runs Extend Sweep on a sweep (a tree node, a config Uri or path, the active editor, else a pick). */
async function extendSweep(store: SweepStore, prompts: ExtendPrompts, arg: unknown): Promise<ExtendOutcome | undefined> {
  const sweep = await resolveSweep(store, arg, 'Extend Sweep');
  if (!sweep) return undefined;
  const run = (command: string) => () => vscode.commands.executeCommand(command, sweep.uri);
  if (!sweep.config) {
    await requirePlan(store, sweep); // says the config's first problem, with a way to go there
    return { applied: false, message: `${sweep.fileName}: ${sweep.firstProblem ?? 'invalid config'}` };
  }
  const runDir = sweep.runDir ?? sweep.plan?.runDir;
  const fitFile = runDir ? path.join(runDir, RUN_FILES.fit) : undefined;
  if (!fitFile || !fs.existsSync(fitFile)) {
    const message = await prompts.notify(
      'info',
      `${sweep.name} has no fit yet (${fitFile ?? 'no run directory'}): run the sweep and fit it; Extend Sweep follows up on the fit's budgets whose optimum is not bracketed.`,
      { 'Fit Scaling Laws': run('flopsfit.fit') },
    );
    return { applied: false, message };
  }
  const fit = readFitReportFile(fitFile);
  if (!fit.report) return { applied: false, message: await prompts.notify('error', `Extend Sweep: ${fit.error}. Fit the sweep again to rewrite it.`) };

  // the text the edit applies to: the open document (unsaved edits included), as the tree plans it
  const doc = await vscode.workspace.openTextDocument(sweep.uri);
  const text = doc.getText();
  const parsed = parseSweepConfig(text, sweep.uri.fsPath);
  if (!parsed.config) {
    await requirePlan(store, sweep);
    return { applied: false, message: `${sweep.fileName}: invalid config` };
  }
  const proposal = proposeExtension(fit.report, parsed.config);
  if (proposal.budgets.length === 0) {
    const why = proposal.notes[0] ?? 'every budget of the fit brackets its optimum: nothing to extend';
    return { applied: false, message: await prompts.notify('info', `${sweep.name}: ${why} (${fitFile}).`) };
  }
  const budgetLines = proposal.budgets.map(describeEdgeBudget);
  if (proposal.changes.length === 0) {
    if (proposal.notes.length) {
      // a command trainer: its sizes map to N through its own countParams
      const message = await prompts.notify('info', `${sweep.name}: ${budgetLines.join('; ')}. ${proposal.notes.join(' ')}`, {
        'Open Config': () => vscode.window.showTextDocument(sweep.uri),
      });
      return { applied: false, message };
    }
    const message = await prompts.notify('info', `${sweep.name} already reaches the sizes its fit asks for: run the sweep, then fit again.`, { 'Run Sweep': run('flopsfit.runSweep') });
    return { applied: false, message };
  }

  let plan;
  try {
    plan = buildPlan(proposal.config, { configPath: sweep.uri.fsPath, workspaceRoot: vscode.workspace.getWorkspaceFolder(sweep.uri)?.uri.fsPath });
  } catch (err) {
    throw new CommandError(`Extend Sweep: cannot plan the extended ${sweep.fileName}: ${(err as Error).message}`);
  }
  const { kept, toRun } = splitByCompleted(plan, completedIds(plan.runDir));
  const changes = proposal.changes.map(describeChange);
  const n = proposal.budgets.length;
  const detail = [
    ...budgetLines,
    '',
    `Changes to ${sweep.fileName}:`,
    ...changes.map((c) => `  ${c}`),
    '',
    `The extended plan: ${plan.experiments.length} experiments; ${kept.length} already completed (kept), ${toRun.length} to run.`,
    // what the planner says about the extended plan (e.g. sizes capped by the minimum steps at a small budget)
    ...proposal.notes.map((note) => `Note: ${note}`),
    ...plan.warnings.slice(0, 3).map((w) => `Warning: ${w.message}`),
    ...(doc.isDirty ? ['', `Saving ${sweep.fileName} also saves its unsaved edits.`] : []),
  ].join('\n');
  const pick = await prompts.modal(`Extend ${sweep.name}? ${n} budget${n === 1 ? '' : 's'} do${n === 1 ? 'es' : ''} not bracket the optimum.`, detail, 'Apply');
  const outcome = { changes, kept: kept.length, toRun: toRun.length };
  if (pick !== 'Apply') return { applied: false, message: 'cancelled', ...outcome };

  if (doc.getText() !== text) throw new CommandError(`Extend Sweep: ${sweep.fileName} changed while the dialog was open; run Extend Sweep again.`);
  const next = applyConfigChanges(text, sweep.uri.fsPath, proposal.changes);
  const edit = new vscode.WorkspaceEdit();
  const e = minimalEdit(doc, text, next);
  edit.replace(sweep.uri, e.range, e.text);
  if (!(await vscode.workspace.applyEdit(edit))) throw new CommandError(`Extend Sweep: could not edit ${sweep.fileName}.`);
  if (!(await doc.save())) throw new CommandError(`Extend Sweep: could not save ${sweep.fileName} (the change is in the editor; undo reverts it).`);
  const message = await prompts.notify(
    'info',
    `${sweep.name} extended (${changes.join(', ')}): ${toRun.length} new experiment${toRun.length === 1 ? '' : 's'} to run; the ${kept.length} completed are kept.`,
    { 'Run Sweep': run('flopsfit.runSweep') },
  );
  return { applied: true, message, ...outcome };
}

/** What main.ts and the test hooks get back. */
export interface ExtendFeature {
  prompts: ExtendPrompts;
}

/**
 * Registers `flopsfit.extendSweep`. The palette offers it with a sweep config in the active editor or
 * the Sweeps view focused (package.json: built-in context keys only).
 */
export function registerExtend(context: vscode.ExtensionContext, { sweeps, explorer, testMode }: { sweeps: SweepStore; explorer: Explorer; testMode: boolean }): ExtendFeature {
  const prompts = new ExtendPrompts(testMode);
  const { view } = explorer;
  registerCommand(context, 'flopsfit.extendSweep', (arg) => {
    // from the palette: the active sweep editor, else the sweep selected in the tree
    const active = vscode.window.activeTextEditor?.document.uri;
    const target = arg ?? (active && isSweepConfig(active) ? undefined : view.selection[0]);
    return extendSweep(sweeps, prompts, target);
  });
  return { prompts };
}
