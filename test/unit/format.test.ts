import { strict as assert } from 'node:assert';
import * as os from 'node:os';
import * as path from 'node:path';
import { formatCount, formatDuration, formatFlops, formatLoss, formatValue } from '../../src/core/format';
import * as ext from '../../src/extension/format';
import { fmtCount, fmtDuration, fmtFlops } from '../../src/engine/runner';
import { duration, formatLoss as webLoss, sci, si } from '../../webview/logic';
import { parseSweepConfig } from '../../src/core/config';
import { buildPlan, formatPlanTable } from '../../src/core/plan';

const counts = [0, 7, 950, 999.7, 1234, 99_950, 999_999, 25_600_000, 123_456_789, 3e9, 2.5e12, 4.2e15, -1500, 0.5, 2e-4, NaN, Infinity];
const flops = [0, 5e-3, 1e12, 2.99e11, 3.2e17, 1e18, 6.02e23, NaN];
const durations = [0, 42, 59.6, 240, 270, 599, 1500, 3599, 3700, 4800, 86_400 * 3 + 7200, 200 * 3600, -1, NaN, Infinity];
const losses = [2.87349, 0, 10.5, NaN];

describe('number formatting: one home, every caller agrees', () => {
  it('reads as documented', () => {
    assert.deepEqual(
      [1234, 25_600_000, 3e9, 999_999, 999].map((n) => formatCount(n)),
      ['1.23k', '25.6M', '3G', '1M', '999'],
    );
    assert.deepEqual([1e15, 3.2e17, 2.99e11].map((c) => formatFlops(c)), ['1.0e15', '3.2e17', '3.0e11']);
    assert.deepEqual([42, 270, 1500, 4800, 3 * 86400 + 7200, Infinity, NaN].map(formatDuration), ['42s', '4m 30s', '25m', '1h 20m', '3d 2h', '∞', '–']);
    assert.equal(formatLoss(2.87349), '2.8735');
    assert.deepEqual([3e-4, 0.1, 64, 'adam'].map(formatValue), ['3e-4', '0.1', '64', 'adam']);
  });

  it('the runner, the extension and the webview write the same text for the same number', () => {
    for (const n of counts) {
      assert.equal(fmtCount(n), formatCount(n), `runner count ${n}`);
      assert.equal(ext.formatCount(n), formatCount(n), `tree count ${n}`);
      assert.equal(si(n), formatCount(n), `webview count ${n}`);
    }
    for (const c of flops) {
      assert.equal(fmtFlops(c), formatFlops(c), `runner FLOPs ${c}`);
      assert.equal(ext.formatFlops(c), formatFlops(c), `tree FLOPs ${c}`);
      assert.equal(sci(c), formatFlops(c), `webview FLOPs ${c}`);
    }
    for (const s of durations) {
      assert.equal(fmtDuration(s), formatDuration(s), `runner duration ${s}`);
      assert.equal(ext.formatDuration(s), formatDuration(s), `tree duration ${s}`);
      assert.equal(duration(s), formatDuration(s), `webview duration ${s}`);
    }
    for (const l of losses) {
      assert.equal(ext.formatLoss(l), formatLoss(l));
      assert.equal(webLoss(l), formatLoss(l));
    }
  });

  it('the plan table (flopsfit plan) shows budgets, N and D as the tree does', () => {
    const r = parseSweepConfig('name: t\nbudgets: [1e12, 3e12]\n', 'x.sweep.yaml');
    assert.ok(r.config);
    const plan = buildPlan(r.config, { configPath: path.join(os.tmpdir(), 'x.sweep.yaml'), noFileSystem: true });
    const table = formatPlanTable(plan);
    assert.ok(table.includes(`total compute   ${formatFlops(plan.totalFlops)} FLOPs, ${formatCount(plan.totalTokens)} tokens`), table);
    assert.ok(table.includes(`estimated time  ${formatDuration(plan.estimatedSeconds)}`), table);
    for (const e of plan.experiments) {
      const row = table.split('\n').find((l) => l.startsWith(e.id));
      assert.ok(row, e.id);
      const cells = row.split(/\s{2,}/);
      assert.deepEqual(cells.slice(1, 5), [formatFlops(e.budget), formatValue(e.sizeValue), formatCount(e.params), formatCount(e.tokens)], row);
    }
  });
});
