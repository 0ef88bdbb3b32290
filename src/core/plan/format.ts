/** The plan as a readable text table (`flopsfit plan` without --json). */
import type { Plan } from '../contracts';
import { formatNumber as fmt } from './grid';
import { ruledSettings } from './ruledSettings';

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '∞';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${String(m % 60).padStart(2, '0')}m`;
  const d = Math.floor(h / 24);
  return `${d}d ${h % 24}h`;
}

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
  const parts = Object.entries(h).map(([k, v]) => `${k}=${typeof v === 'number' ? fmt(v) : String(v)}`);
  return parts.length ? parts.join(' ') : '-';
}

export function formatPlanTable(plan: Plan, opts: { maxRows?: number; warnings?: boolean } = {}): string {
  const out: string[] = [];
  const n = plan.experiments.length;
  const sizeParam = plan.experiments[0]?.sizeParam ?? 'size';
  out.push(`Sweep '${plan.sweep}': ${n} experiment${n === 1 ? '' : 's'} over ${plan.budgets.length} budget${plan.budgets.length === 1 ? '' : 's'}`);
  out.push(`  total compute   ${fmt(plan.totalFlops)} FLOPs, ${fmt(plan.totalTokens)} tokens`);
  out.push(
    `  estimated time  ${formatDuration(plan.estimatedSeconds)} (range ${formatDuration(plan.estimatedSecondsRange[0])} – ${formatDuration(plan.estimatedSecondsRange[1])})`,
  );
  out.push(`  throughput      ${plan.throughputSource}`);
  out.push(`  run directory   ${plan.runDir}`);
  out.push('');
  const brows = [['budget', 'N* (prior)', `${sizeParam} values`, 'experiments', 'brackets N*']];
  for (const b of plan.budgets) {
    brows.push([fmt(b.budget), fmt(b.priorOptimalParams), b.skipped ? `skipped: ${b.skipped.length > 60 ? b.skipped.slice(0, 57) + '…' : b.skipped}` : b.sizeValues.join(' '), String(b.experiments), b.skipped ? '-' : b.brackets ? 'yes' : 'NO']);
  }
  out.push(table(brows, ['r', 'r', 'l', 'r', 'l']));
  if (n) {
    out.push('');
    const max = opts.maxRows ?? Infinity;
    // settings that vary without a hyperparameter axis (set by a rule: training.learningRate / batchSize)
    const ruled = ruledSettings(plan.experiments);
    const rows = [['id', 'budget', sizeParam, 'N', 'D (tokens)', 'D/N', 'hyperparameters', ...ruled.map((k) => (k === 'learningRate' ? 'lr' : 'batch')), 'seed']];
    for (const e of plan.experiments.slice(0, max)) {
      rows.push([e.id, fmt(e.budget), String(e.sizeValue), fmt(e.params), fmt(e.tokens), e.tokensPerParam.toFixed(1), hyper(e.hyperparameters), ...ruled.map((k) => fmt(e.training[k])), String(e.seed)]);
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
