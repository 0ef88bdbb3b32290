import * as assert from 'node:assert/strict';
import { synthPlan } from '../support/runDirFixture';
import { defaultWebviewState, describeRejection, FromWebview, Snapshot, ToWebview, WebviewState } from '../../src/shared/protocol';

function snapshot(): Snapshot {
  const plan = synthPlan({ sweep: 's', runDir: '/r', configPath: '/c.sweep.yaml', budgets: [1e12, 1e13], sizesPerBudget: 3 });
  return {
    sweep: 's',
    configUri: 'file:///c.sweep.yaml',
    phase: 'running',
    plan,
    manifest: null,
    results: [],
    fit: null,
    series: [{ id: plan.experiments[0].id, tokens: [10, 20], step: [1, 2], train: [3.1, 3.0], eval: [null, 3.05] }],
    problems: [{ file: 'results.jsonl', line: 3, message: 'bad' }],
  };
}

describe('protocol: host → webview', () => {
  it('accepts a snapshot with a real plan, appends and updates', () => {
    assert.ok(ToWebview.safeParse({ type: 'snapshot', snapshot: snapshot() }).success);
    assert.ok(ToWebview.safeParse({ type: 'append', series: [{ id: 'a', replace: true, tokens: [], step: [], train: [], eval: [] }] }).success);
    assert.ok(ToWebview.safeParse({ type: 'update', phase: 'finished', results: [], fit: null }).success);
    assert.ok(ToWebview.safeParse({ type: 'reportRendered' }).success);
  });

  it('rejects malformed messages', () => {
    const bad: unknown[] = [
      null,
      'snapshot',
      { type: 'nope' },
      { type: 'append' },
      { type: 'append', series: [{ id: 'a', tokens: [1, 2], step: [1, 2], train: [1], eval: [null, null] }] }, // lengths differ
      { type: 'append', series: [{ id: 'a', tokens: ['1'], step: [1], train: [1], eval: [null] }] }, // string
      { type: 'append', series: [{ id: 'a', tokens: [1], step: [1], train: [Number.NaN], eval: [null] }] }, // NaN
      { type: 'append', series: [{ id: 'a', tokens: [1], step: [1], train: [Infinity], eval: [null] }] },
      { type: 'append', series: [{ id: '', tokens: [], step: [], train: [], eval: [] }] },
      { type: 'snapshot', snapshot: { ...snapshot(), phase: 'exploded' } },
      { type: 'snapshot', snapshot: { ...snapshot(), plan: { version: 2 } } },
      { type: 'update', fit: { version: 1 } }, // not a FitReport
      { type: 'notice', level: 'fatal', message: 'x' },
    ];
    for (const m of bad) assert.equal(ToWebview.safeParse(m).success, false, JSON.stringify(m)?.slice(0, 120));
  });
});

describe('protocol: webview → host', () => {
  it('accepts the handshake, reports and requests', () => {
    for (const m of [
      { type: 'ready', protocol: 1 },
      { type: 'rendered', chart: 'loss', datasets: 2, points: 10, rawPoints: 40 },
      { type: 'savePng', chart: 'frontier', dataUrl: 'data:image/png;base64,iVBORw0KGgo=' },
      { type: 'exportData', format: 'csv' },
      { type: 'log', level: 'error', message: 'x' },
    ]) {
      assert.ok(FromWebview.safeParse(m).success, JSON.stringify(m));
    }
  });

  it('rejects what it must not act on', () => {
    for (const m of [
      { type: 'ready' },
      { type: 'rendered', chart: 'pie', datasets: 1, points: 1, rawPoints: 1 },
      { type: 'rendered', chart: 'loss', datasets: -1, points: 1, rawPoints: 1 },
      { type: 'savePng', chart: 'loss', dataUrl: 'data:text/html;base64,PHNjcmlwdD4=' },
      { type: 'savePng', chart: 'loss', dataUrl: 'javascript:alert(1)' },
      { type: 'exportData', format: 'xlsx' },
      { type: 'openFile', path: '/etc/passwd' },
    ]) {
      assert.equal(FromWebview.safeParse(m).success, false, JSON.stringify(m));
    }
  });

  it('describes a rejection with the message type and the failing path', () => {
    const raw = { type: 'rendered', chart: 'pie', datasets: 1, points: 1, rawPoints: 1 };
    const r = FromWebview.safeParse(raw);
    assert.equal(r.success, false);
    const text = describeRejection(r.error!, raw);
    assert.match(text, /rejected malformed message \(type "rendered"\)/);
    assert.match(text, /chart/);
  });
});

describe('protocol: webview state', () => {
  it('the default state is valid and log-log for the loss chart', () => {
    const s = defaultWebviewState();
    assert.ok(WebviewState.safeParse(s).success);
    assert.equal(s.charts.loss.xLog, true);
    assert.equal(s.charts.loss.yLog, true);
  });

  it('rejects an out-of-range smoothing or an unknown tab', () => {
    assert.equal(WebviewState.safeParse({ ...defaultWebviewState(), smoothing: 1 }).success, false);
    assert.equal(WebviewState.safeParse({ ...defaultWebviewState(), tab: 'pie' }).success, false);
  });
});
