/**
 * Plan preview: totals, estimated time, warnings, the per-budget grid and the experiment table
 * (with run status and final loss once they exist). Plain DOM built with textContent only: no
 * string from a file is ever parsed as HTML.
 */
import type { Manifest, Plan, ResultsRow } from '../src/core/contracts';
import { budgetKey, duration, formatLoss, sci, si } from './logic';
import { displayedSettings, ruledSettings } from '../src/core/plan/ruledSettings';

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, props: { class?: string; text?: string; title?: string } = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (props.class) e.className = props.class;
  if (props.text !== undefined) e.textContent = props.text;
  if (props.title) e.title = props.title;
  for (const c of children) e.append(c);
  return e;
}

export function table(header: string[], rows: (string | Node)[][], opts: { numeric?: boolean[]; caption?: string } = {}): HTMLTableElement {
  const t = el('table', { class: 'data' });
  if (opts.caption) t.append(el('caption', { text: opts.caption }));
  const thead = el('thead');
  const hr = el('tr');
  header.forEach((h, i) => hr.append(el('th', { text: h, class: opts.numeric?.[i] ? 'num' : undefined })));
  thead.append(hr);
  const tbody = el('tbody');
  for (const r of rows) {
    const tr = el('tr');
    r.forEach((c, i) => {
      const td = el('td', { class: opts.numeric?.[i] ? 'num' : undefined });
      td.append(c);
      tr.append(td);
    });
    tbody.append(tr);
  }
  t.append(thead, tbody);
  return t;
}

function stat(label: string, value: string, title?: string): HTMLElement {
  return el('div', { class: 'stat', title }, el('div', { class: 'stat-value', text: value }), el('div', { class: 'stat-label', text: label }));
}

function hyper(h: Record<string, unknown>): string {
  return Object.entries(h)
    .map(([k, v]) => `${k}=${typeof v === 'number' ? si(v) : String(v)}`)
    .join(' ');
}

export function renderPlan(container: HTMLElement, plan: Plan | null, manifest: Manifest | null, results: ResultsRow[], phase: string): void {
  container.replaceChildren();
  if (!plan) {
    container.append(el('p', { class: 'empty', text: 'No plan yet: the sweep config has errors or was not found (see Problems above).' }));
    return;
  }
  const byId = new Map(results.map((r) => [r.id, r]));
  const counts = { completed: 0, running: 0, failed: 0, queued: 0, stopped: 0 };
  for (const e of plan.experiments) {
    const st = manifest?.experiments[e.id]?.status;
    if (st) counts[st]++;
  }
  const [lo, hi] = plan.estimatedSecondsRange;
  container.append(
    el(
      'div',
      { class: 'stats' },
      stat('experiments', String(plan.experiments.length)),
      stat('budgets', String(plan.budgets.filter((b) => !b.skipped).length)),
      stat('total compute', `${sci(plan.totalFlops)} FLOPs`),
      stat('total tokens', si(plan.totalTokens)),
      stat('estimated time', duration(plan.estimatedSeconds), `range ${duration(lo)} – ${duration(hi)}; throughput from ${plan.throughputSource}`),
      ...(manifest ? [stat('completed', `${counts.completed} / ${plan.experiments.length}`), stat('running', String(counts.running)), stat('failed', String(counts.failed))] : []),
    ),
  );
  container.append(
    el('p', { class: 'muted', text: `${phase === 'preview' ? 'Preview computed from the config; nothing has run yet. ' : ''}Estimate ${duration(lo)} – ${duration(hi)} (throughput: ${plan.throughputSource}).` }),
  );
  if (plan.warnings.length) {
    const ul = el('ul', { class: 'warnings' });
    for (const w of plan.warnings) ul.append(el('li', { text: `${w.budget !== undefined ? `${budgetKey(w.budget)}: ` : ''}${w.message}`, title: w.code }));
    container.append(el('h3', { text: 'Warnings' }), ul);
  }
  container.append(el('h3', { text: 'Budgets' }));
  container.append(
    table(
      ['#', 'budget C', 'prior N_opt', 'sizes', 'experiments', 'brackets prior optimum', 'note'],
      plan.budgets.map((b) => [String(b.index), sci(b.budget), si(b.priorOptimalParams), b.sizeValues.map((v) => si(v)).join(', '), String(b.experiments), b.brackets ? 'yes' : 'no', b.skipped ?? '']),
      { numeric: [true, true, true, false, true, false, false] },
    ),
  );
  const sizeParam = plan.experiments[0]?.sizeParam ?? 'size';
  const ruled = ruledSettings(plan); // learning rate / batch size set by a rule
  container.append(el('h3', { text: 'Experiments' }));
  container.append(
    table(
      ['id', 'budget C', sizeParam, 'N (params)', 'D (tokens)', 'D/N', 'seed', 'hyperparameters', 'status', 'final loss'],
      plan.experiments.map((e) => {
        const m = manifest?.experiments[e.id];
        const status = m?.status ?? 'planned';
        const r = byId.get(e.id);
        const loss = r?.loss ?? m?.finalLoss;
        return [
          el('code', { text: e.id.slice(0, 10), title: e.id }),
          sci(e.budget),
          String(e.sizeValue),
          si(e.params),
          si(e.tokens),
          e.tokensPerParam.toFixed(1),
          String(e.seed),
          hyper(displayedSettings(e, ruled)),
          el('span', { class: `status status-${status}`, text: status, title: m?.reason ?? '' }),
          formatLoss(loss),
        ];
      }),
      { numeric: [false, true, true, true, true, true, true, false, false, true] },
    ),
  );
}
