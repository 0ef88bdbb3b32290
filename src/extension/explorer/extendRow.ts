/**
 * What the Sweeps tree's "Optimum not bracketed" row says (label, description, tooltip, contextValue)
 * when a sweep's fit.json has budgets whose lowest loss is at the smallest or largest size tried.
 * The budgets come from src/core/plan/extend.ts (`edgeBudgets`, the ones `flopsfit plan --extend`
 * lists) and whether the config still needs the change from `proposeExtension` on the current
 * config. No `vscode` import: unit-tested in node; ./rows.ts turns it into a TreeItem.
 */
import type { SweepConfig } from '../../core/config/schema';
import type { FitReport } from '../../core/fit/types';
import { describeChange, edgeBudgets, proposeExtension } from '../../core/plan/extend';
import { formatCount, formatFlops } from '../format';

export interface ExtendRow {
  label: string;
  description: string;
  /** Markdown */
  tooltip: string;
  /** `extend` while the config can be extended (the inline action), `extend.done` once it reaches the sizes */
  contextValue: 'extend' | 'extend.done';
}

/** The row, or undefined when the sweep has no fit or every budget of its fit brackets its optimum. */
export function extendRow(fit: FitReport | undefined, config: SweepConfig | undefined): ExtendRow | undefined {
  if (!fit || !config) return undefined;
  const budgets = edgeBudgets(fit);
  if (budgets.length === 0) return undefined;
  const proposal = proposeExtension(fit, config);
  // a command trainer's sizes map to N through its own countParams: the user widens them (the command says how)
  const pending = proposal.changes.length > 0 || config.model.family !== 'transformer';
  const n = budgets.length;
  const label = `Optimum not bracketed: ${n} budget${n === 1 ? '' : 's'}`;
  const lines = [`**The fit found ${n} budget${n === 1 ? '' : 's'} whose lowest loss is at the edge of the sizes tried:**`, ''];
  for (const b of budgets) {
    lines.push(
      `- ${formatFlops(b.budget)} FLOPs: lowest loss at the ${b.direction === 'smaller' ? 'smallest' : 'largest'} size → add ${b.direction} models (N ≈ ${b.suggestedN.map((x) => formatCount(x)).join(', ')})`,
    );
  }
  lines.push('');
  if (proposal.changes.length) {
    lines.push(`Extend Sweep changes ${proposal.changes.map((c) => `\`${describeChange(c)}\``).join(', ')}; completed runs are kept.`);
  } else if (pending) {
    lines.push(...proposal.notes);
  } else {
    lines.push('The config already reaches these sizes: run the sweep, then fit again.');
  }
  return {
    label,
    description: pending ? 'Extend Sweep…' : 'sizes extended: run the sweep, then fit again',
    tooltip: lines.join('\n'),
    contextValue: pending ? 'extend' : 'extend.done',
  };
}
