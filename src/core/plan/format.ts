/** The plan as a readable text table (`flopsfit plan` without --json); numbers as src/core/format.ts writes them. */
import type { Plan } from '../contracts';
import { formatCount, formatDuration, formatFlops, formatValue } from '../format';
import { ruledSettings } from './ruledSettings';

function table(rows: string[][], align: ('l' | 'r')[]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows
    .map((r) =>
      r
        .map((cell, c) => (align[c] === 'r' ? cell.padStart(widths[c]) : cell.padEnd(widths[c])))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function hyper(h: Record<string, unknown>): string {
  const parts = Object.entries(h).map(([k, v]) => `${k}=${typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean' ? formatValue(v) : String(v)}`);
  return parts.length ? parts.join(' ') : '-';
}

export function formatPlanTable(plan: Plan, opts: { maxRows?: number; warnings?: boolean } = {}): string {
  const out: string[] = [];
  const n = plan.experiments.length;
  const sizeParam = plan.experiments[0]?.sizeParam ?? 'size';
  out.push(`Sweep '${plan.sweep}': ${n} experiment${n === 1 ? '' : 's'} over ${plan.budgets.length} budget${plan.budgets.length === 1 ? '' : 's'}`);
  out.push(`  total compute   ${formatFlops(plan.totalFlops)} FLOPs, ${formatCount(plan.totalTokens)} tokens`);
  out.push(
    `  estimated time  ${formatDuration(plan.estimatedSeconds)} (range ${formatDuration(plan.estimatedSecondsRange[0])} – ${formatDuration(plan.estimatedSecondsRange[1])})`,
  );
  out.push(`  throughput      ${plan.throughputSource}`);
  out.push(`  run directory   ${plan.runDir}`);
  out.push('');
  const brows = [['budget', 'N* (prior)', `${sizeParam} values`, 'experiments', 'brackets N*']];
  for (const b of plan.budgets) {
    brows.push([formatFlops(b.budget), formatCount(b.priorOptimalParams), b.skipped ? `skipped: ${b.skipped.length > 60 ? b.skipped.slice(0, 57) + '…' : b.skipped}` : b.sizeValues.join(' '), String(b.experiments), b.skipped ? '-' : b.brackets ? 'yes' : 'NO']);
  }
  out.push(table(brows, ['r', 'r', 'l', 'r', 'l']));
  if (n) {
    out.push('');
    const max = opts.maxRows ?? Infinity;
    // settings that vary without a hyperparameter axis (set by a rule: training.learningRate / batchSize)
    const ruled = ruledSettings(plan);
    for (const k of ruled) out.push(`${k} from a rule: ${plan.rules![k]}`);
    const rows = [['id', 'budget', sizeParam, 'N', 'D (tokens)', 'D/N', 'hyperparameters', ...ruled.map((k) => (k === 'learningRate' ? 'lr' : 'batch')), 'seed']];
    for (const e of plan.experiments.slice(0, max)) {
      rows.push([e.id, formatFlops(e.budget), formatValue(e.sizeValue), formatCount(e.params), formatCount(e.tokens), e.tokensPerParam.toFixed(1), hyper(e.hyperparameters), ...ruled.map((k) => formatValue(e.training[k])), String(e.seed)]);
    }
    out.push(table(rows, ['l', 'r', 'r', 'r', 'r', 'r', 'l', ...ruled.map(() => 'r' as const), 'r']));
    if (n > max) out.push(`… and ${n - max} more (--json lists them all)`);
  }
  if (plan.warnings.length && opts.warnings !== false) {
    out.push('');
    for (const w of plan.warnings) out.push(`warning: ${w.message}`);
  }
  return out.join('\n') + '\n';
}
