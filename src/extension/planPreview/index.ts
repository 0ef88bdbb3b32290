/**
 * "Preview Plan" as a read-only virtual Markdown document (`flopsfit-plan:` scheme): the budgets,
 * every experiment (size, N, D, D/N, hyperparameters, seed, status), totals, the time estimate and
 * the planner's warnings. It follows the config: when the sweep re-plans, the document updates.
 */
import * as vscode from 'vscode';
import { Disposable } from '../dispose';
import { formatCount, formatDuration, formatFlops, formatLoss, formatValue } from '../format';
import type { Sweep, SweepStore } from '../sweeps';
import type { Plan } from '../../core/contracts';
import { displayedSettings, ruledSettings } from '../../core/plan/ruledSettings';

export const PLAN_SCHEME = 'flopsfit-plan';

/** The preview document's URI for a config: `flopsfit-plan:/<name>.plan.md?<config uri>`. */
export function planUri(sweep: Sweep): vscode.Uri {
  const base = sweep.fileName.replace(/\.sweep\.(ya?ml|json)$/i, '');
  return vscode.Uri.from({ scheme: PLAN_SCHEME, path: `/${base}.plan.md`, query: sweep.uri.toString() });
}

function cell(s: string): string {
  return s.replace(/\|/g, '\\|');
}

export function renderPlan(sweep: Sweep, plan: Plan): string {
  const out: string[] = [];
  const rel = vscode.workspace.asRelativePath(sweep.uri);
  out.push(`# Plan: ${sweep.name}`, '');
  out.push(`Config: \`${rel}\` · run directory: \`${plan.runDir}\``, '');
  out.push(
    `**${plan.experiments.length} experiments** in ${plan.budgets.length} budgets · ` +
      `**${formatFlops(plan.totalFlops)} FLOPs** · ${formatCount(plan.totalTokens)} tokens · ` +
      `estimated **${formatDuration(plan.estimatedSeconds)}** (${formatDuration(plan.estimatedSecondsRange[0])}–${formatDuration(plan.estimatedSecondsRange[1])}; ${plan.throughputSource})`,
    '',
  );
  if (plan.warnings.length) {
    out.push('## Warnings', '');
    for (const w of plan.warnings) out.push(`- ${w.message}${w.path?.length ? ` (\`${w.path.join('.')}\`)` : ''}`);
    out.push('');
  }
  out.push('## Budgets', '', '| # | C (FLOPs) | N* (prior) | sizes | runs | brackets N* | note |', '|---:|---:|---:|---|---:|:---:|---|');
  for (const b of plan.budgets) {
    out.push(
      `| ${b.index} | ${formatFlops(b.budget)} | ${formatCount(b.priorOptimalParams)} | ${b.sizeValues.map(formatValue).join(', ')} | ${b.experiments} | ${b.brackets ? 'yes' : '**no**'} | ${cell(b.skipped ?? '')} |`,
    );
  }
  out.push('');
  const ruled = ruledSettings(plan); // learning rate / batch size set by a rule
  const shown = plan.experiments.map((e) => displayedSettings(e, ruled));
  const hyperKeys = [...new Set(shown.flatMap((h) => Object.keys(h)))].sort();
  out.push('## Experiments', '');
  out.push(
    `| C | ${plan.experiments[0]?.sizeParam ?? 'size'} | N | D | D/N | ${hyperKeys.map(cell).join(' | ')}${hyperKeys.length ? ' | ' : ''}seed | status | loss | id |`,
  );
  out.push(`|---:|---:|---:|---:|---:|${hyperKeys.map(() => '---:|').join('')}---:|---|---:|---|`);
  for (const [i, e] of plan.experiments.entries()) {
    const h = shown[i];
    const v = sweep.view(e.id);
    const loss = v?.entry?.finalLoss ?? v?.live?.loss;
    out.push(
      `| ${formatFlops(e.budget)} | ${formatValue(e.sizeValue)} | ${formatCount(e.params)} | ${formatCount(e.tokens)} | ${e.tokensPerParam.toFixed(1)} | ` +
        hyperKeys.map((k) => `${h[k] === undefined ? '' : cell(formatValue(h[k]!))} | `).join('') +
        `${e.seed} | ${v?.status ?? 'queued'} | ${loss !== undefined ? formatLoss(loss) : ''} | \`${e.id}\` |`,
    );
  }
  out.push('');
  return out.join('\n');
}

export class PlanPreviewProvider extends Disposable implements vscode.TextDocumentContentProvider {
  private readonly _onDidChange = this._register(new vscode.EventEmitter<vscode.Uri>());
  readonly onDidChange = this._onDidChange.event;
  private readonly open = new Set<string>();

  constructor(private readonly store: SweepStore) {
    super();
    this._register(
      store.onDidChange((c) => {
        if (!c.structure && !c.experiments?.length) return;
        const uri = planUri(c.sweep);
        if (this.open.has(uri.toString())) this._onDidChange.fire(uri);
      }),
    );
    this._register(
      vscode.workspace.onDidCloseTextDocument((d) => {
        if (d.uri.scheme === PLAN_SCHEME) this.open.delete(d.uri.toString());
      }),
    );
  }

  async provideTextDocumentContent(uri: vscode.Uri, token: vscode.CancellationToken): Promise<string> {
    this.open.add(uri.toString());
    await this.store.ensureLoaded();
    let configUri: vscode.Uri;
    try {
      configUri = vscode.Uri.parse(uri.query, true);
    } catch {
      return `# Plan\n\nNot a plan preview address: \`${uri.toString()}\``;
    }
    const sweep = this.store.getOrAdd(configUri);
    if (!sweep) return `# Plan\n\nNo sweep config at \`${configUri.fsPath}\`.`;
    if (!sweep.config) {
      return `# Plan: ${sweep.name}\n\nThe config has problems, so there is no plan yet:\n\n${sweep.problems
        .map((p) => `- ${p.line !== undefined ? `line ${p.line + 1}: ` : ''}${p.message}`)
        .join('\n')}\n`;
    }
    const plan = await this.store.ensurePlan(sweep, token);
    if (!plan) return `# Plan: ${sweep.name}\n\n${sweep.planError ?? 'Planning was cancelled.'}\n`;
    return renderPlan(sweep, plan);
  }
}

/** Registers the `flopsfit-plan:` documents ("Preview Plan" opens them: ../commands). */
export function registerPlanPreview(context: vscode.ExtensionContext, store: SweepStore): PlanPreviewProvider {
  const preview = new PlanPreviewProvider(store);
  context.subscriptions.push(preview, vscode.workspace.registerTextDocumentContentProvider(PLAN_SCHEME, preview));
  return preview;
}
