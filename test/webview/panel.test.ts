/**
 * The built results webview (dist/webview.js) in headless chromium, under the panel's CSP, with a
 * fake VS Code webview API (bench/webviewPage.ts): handshake, rendering, rejection of malformed
 * messages, zoom / hidden series / smoothing that survive live updates and a reload (state restore),
 * theme changes, PNG and data export requests. Needs `npm run build` and /usr/bin/chromium
 * (test/harness/install.sh). Run: npm run test:webview
 */
import * as assert from 'node:assert/strict';
import { synthPlan } from '../support/runDirFixture';
import { openWebviewPage, type WebviewPage } from '../support/webviewPage';
import { defaultWebviewState, FromWebview, type Snapshot, type WebviewState } from '../../src/shared/protocol';

const plan = synthPlan({ sweep: 'wv', runDir: '/r', configPath: '/c.sweep.yaml', budgets: [1e12, 1e13], sizesPerBudget: 3 });

function series(from: number, to: number) {
  return plan.experiments.map((e) => {
    const tokens: number[] = [];
    const step: number[] = [];
    const train: (number | null)[] = [];
    const ev: (number | null)[] = [];
    for (let k = from + 1; k <= to; k++) {
      tokens.push((e.tokens * k) / 1000);
      step.push(k);
      train.push(2 + 10 / Math.sqrt(k) + (k % 7) * 0.01);
      ev.push(k % 10 === 0 ? 2 + 10 / Math.sqrt(k) : null);
    }
    return { id: e.id, tokens, step, train, eval: ev };
  });
}

function snapshot(): Snapshot {
  return { sweep: 'wv', configUri: 'file:///c.sweep.yaml', phase: 'running', plan, manifest: null, results: [], fit: null, series: series(0, 500), problems: [] };
}

async function webviewState(p: WebviewPage): Promise<WebviewState> {
  return (await p.page.evaluate('window.__state')) as WebviewState;
}

async function lossScale(p: WebviewPage): Promise<{ xMin: number; xMax: number; tickColor: string }> {
  return (await p.page.evaluate(`(() => { const c = __flopsfit.lossChart.managed.chart; return { xMin: c.scales.x.min, xMax: c.scales.x.max, tickColor: c.options.scales.x.ticks.color }; })()`)) as {
    xMin: number;
    xMax: number;
    tickColor: string;
  };
}

let reportSeq = 0;
/** The answer to this request (by its seq): never a throttled report of an earlier redraw. */
async function reportLoss(p: WebviewPage): Promise<{ datasets: number; points: number; rawPoints: number }> {
  const seq = ++reportSeq;
  await p.send({ type: 'reportRendered', seq });
  const m = await p.waitFor((x) => x.type === 'rendered' && x.chart === 'loss' && x.seq === seq);
  const { datasets, points, rawPoints } = m as unknown as { datasets: number; points: number; rawPoints: number };
  return { datasets, points, rawPoints };
}

describe('results webview in chromium', function () {
  this.timeout(120_000);
  let p: WebviewPage;

  before(async () => {
    const s = defaultWebviewState();
    s.tab = 'loss';
    p = await openWebviewPage({ state: s, width: 1100, height: 800 });
  });
  after(async () => p?.close());

  it('handshakes under the strict CSP: ready first, every message it posts is valid', async () => {
    assert.deepEqual(p.messages[0], { type: 'ready', protocol: 1 });
    await p.send({ type: 'snapshot', snapshot: snapshot() });
    const r = await reportLoss(p);
    assert.equal(r.datasets, 2 * plan.experiments.length);
    assert.equal(r.rawPoints, 500 * plan.experiments.length);
    assert.ok(r.points < r.rawPoints, 'decimated');
    for (const m of p.messages) assert.ok(FromWebview.safeParse(m).success, JSON.stringify(m));
    assert.deepEqual(p.cspViolations, []);
    assert.deepEqual(p.pageErrors, []);
    const text = (await p.page.evaluate('document.body.innerText')) as string;
    assert.match(text, /wv/);
    assert.match(text, /Loss curves/);
  });

  it('rejects a malformed message and reports it instead of rendering it', async () => {
    const before = await reportLoss(p);
    const n = p.messages.length;
    await p.send({ type: 'append', series: [{ id: plan.experiments[0].id, tokens: [1], step: [1], train: ['x'], eval: [null] }] });
    const log = await p.waitFor((m) => m.type === 'log' && p.messages.indexOf(m) >= n);
    assert.equal(log.level, 'error');
    assert.match(String(log.message), /rejected malformed message \(type "append"\)/);
    assert.deepEqual(await reportLoss(p), before);
  });

  it('zoom and hidden budgets survive live updates, and are saved in the webview state', async () => {
    const box = (await p.page.locator('.panel-loss canvas').boundingBox())!;
    await p.page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await p.page.mouse.wheel(0, -400);
    await p.page.waitForTimeout(300);
    const zoomed = await lossScale(p);
    const st = await webviewState(p);
    assert.ok(st.charts.loss.zoom, 'zoom saved');
    // legend: hide the first budget (click its legend entry)
    const legend = (await p.page.evaluate(`(() => { const c = __flopsfit.lossChart.managed.chart; const h = c.legend.legendHitBoxes[0]; return { x: h.left + 5, y: h.top + h.height / 2 }; })()`)) as { x: number; y: number };
    await p.page.mouse.click(box.x + legend.x, box.y + legend.y);
    await p.page.waitForTimeout(300);
    assert.deepEqual((await webviewState(p)).charts.loss.hidden, ['C=1.0e12']);
    const hiddenReport = await reportLoss(p);
    assert.equal(hiddenReport.datasets, 2 * 3, 'only the other budget is drawn');
    // live points arrive: zoom and hidden series stay
    await p.send({ type: 'append', series: series(500, 600) });
    await p.page.waitForTimeout(300);
    const after = await lossScale(p);
    assert.equal(after.xMin, zoomed.xMin);
    assert.equal(after.xMax, zoomed.xMax);
    const r = await reportLoss(p);
    assert.equal(r.datasets, 6);
    assert.equal(r.rawPoints, 600 * plan.experiments.length);
  });

  it('smoothing changes only the display', async () => {
    const before = await reportLoss(p);
    const ys = async () => (await p.page.evaluate(`__flopsfit.lossChart.lines.values().next().value.train.out.slice(0, 50).map(p => p.y)`)) as number[];
    const raw = await ys();
    await p.page.evaluate(`(() => { const s = document.querySelector('.smoothing input'); s.value = '0.9'; s.dispatchEvent(new Event('input')); })()`);
    await p.page.waitForTimeout(300);
    const smooth = await ys();
    assert.notDeepEqual(smooth, raw);
    const after = await reportLoss(p);
    assert.equal(after.rawPoints, before.rawPoints);
    assert.equal((await webviewState(p)).smoothing, 0.9);
  });

  it('a reloaded panel restores tab, zoom, hidden budgets and smoothing from its state', async () => {
    const saved = await webviewState(p);
    const zoom = saved.charts.loss.zoom!;
    const q = await openWebviewPage({ state: saved, width: 1100, height: 800 });
    try {
      await q.send({ type: 'snapshot', snapshot: snapshot() });
      await q.page.waitForTimeout(300);
      const sc = await lossScale(q);
      assert.ok(Math.abs(sc.xMin - zoom.xMin) / zoom.xMin < 1e-9 && Math.abs(sc.xMax - zoom.xMax) / zoom.xMax < 1e-9, JSON.stringify({ sc, zoom }));
      const r = await reportLoss(q);
      assert.equal(r.datasets, 6);
      assert.equal(await q.page.evaluate(`document.querySelector('vscode-tabs').getAttribute('selected-index')`), '1');
      assert.equal(await q.page.evaluate(`document.querySelector('.smoothing input').value`), '0.9');
    } finally {
      await q.close();
    }
  });

  it('follows theme changes (body class) with the chart colours', async () => {
    const dark = (await lossScale(p)).tickColor;
    await p.setTheme('light');
    const light = (await lossScale(p)).tickColor;
    assert.notEqual(light, dark);
    assert.equal(light, '#717171');
  });

  it('Save PNG and Export post valid requests to the host', async () => {
    const n = p.messages.length;
    await p.page.evaluate(`[...document.querySelectorAll('.panel-loss vscode-button')].find(b => b.textContent === 'Save PNG').click()`);
    const png = await p.waitFor((m) => m.type === 'savePng' && p.messages.indexOf(m) >= n);
    assert.equal(png.chart, 'loss');
    assert.ok(FromWebview.safeParse(png).success);
    assert.ok(String(png.dataUrl).length > 10_000, 'a real image');
    await p.page.evaluate(`[...document.querySelectorAll('header vscode-button')].find(b => b.textContent === 'Export JSON').click()`);
    const ex = await p.waitFor((m) => m.type === 'exportData' && p.messages.indexOf(m) >= n);
    assert.equal(ex.format, 'json');
    assert.deepEqual(p.cspViolations, []);
    assert.deepEqual(p.pageErrors, []);
  });
});
