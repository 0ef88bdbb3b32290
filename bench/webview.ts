/**
 * Results-webview benchmark: loads the built bundle (dist/webview.js) in headless chromium with a
 * fake VS Code webview API (test/support/webviewPage.ts) and streams 100 experiments × 10 000 metrics
 * points into the live loss chart, in real time, through the same zod-checked `append` messages
 * the host sends (produced in a Web Worker, as the host produces them in another process). Prints chart updates per second (target ≥ 10) and JS heap over time, and the
 * same stream without decimation as the reference, measured in the same run.
 *
 *   npm run bench:webview                      # 60 s decimated run + 20 s reference
 *   npm run bench:webview -- --minutes 10      # the full 10-minute memory check
 *   npm run bench:webview -- --screenshots out # also screenshot every tab (dark and light)
 *
 * Phases of the decimated run: `fill` (all 100 curves grow together to 10 000 points each, i.e.
 * up to 1 M points on screen) then `steady` (each experiment restarts when it reaches 10 000
 * points, staggered, as retried/new runs would — the data volume stays bounded, so the heap must
 * stay flat).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RunDirModel } from '../src/extension/results/model';
import { defaultWebviewState, type ToWebview } from '../src/shared/protocol';
import { synthPlan, writeRunDir } from '../test/support/runDirFixture';
import { openWebviewPage, type WebviewPage } from '../test/support/webviewPage';

interface Args {
  minutes: number;
  experiments: number;
  points: number;
  fillSeconds: number;
  referenceSeconds: number;
  screenshots?: string;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { minutes: 1, experiments: 100, points: 10_000, fillSeconds: 20, referenceSeconds: 20 };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = () => {
      const n = Number(argv[++i]);
      if (!Number.isFinite(n) || n <= 0) throw new Error(`${k} needs a positive number`);
      return n;
    };
    if (k === '--minutes') a.minutes = v();
    else if (k === '--experiments') a.experiments = Math.round(v());
    else if (k === '--points') a.points = Math.round(v());
    else if (k === '--fill-seconds') a.fillSeconds = v();
    else if (k === '--reference-seconds') a.referenceSeconds = v();
    else if (k === '--screenshots') a.screenshots = argv[++i];
    else throw new Error(`unknown option ${k} (options: --minutes N, --experiments N, --points N, --fill-seconds S, --reference-seconds S, --screenshots DIR)`);
  }
  return a;
}

function lossState(): unknown {
  const s = defaultWebviewState();
  s.tab = 'loss';
  s.configUri = 'file:///bench/bench.sweep.yaml';
  return s;
}

function benchSnapshot(experiments: number): ToWebview {
  const budgets = [1e15, 3e15, 1e16, 3e16, 1e17];
  const per = Math.ceil(experiments / budgets.length);
  const plan = synthPlan({ sweep: 'bench', runDir: '/bench/run', configPath: '/bench/bench.sweep.yaml', budgets, sizesPerBudget: per });
  plan.experiments = plan.experiments.slice(0, experiments);
  return {
    type: 'snapshot',
    snapshot: { sweep: 'bench', configUri: 'file:///bench/bench.sweep.yaml', phase: 'running', plan, manifest: null, results: [], fit: null, series: [], problems: [] },
  };
}

/**
 * The metrics source, in a Web Worker: real-time (wall-clock driven) points for every experiment,
 * posted as `append` messages. A worker keeps the generation off the webview's thread, as in VS Code
 * where the host process produces the messages; the page hands each one to the webview as a
 * `message` event (what VS Code's postMessage delivers).
 */
const WORKER = `self.onmessage = function (msg) {
  var exps = msg.data.exps, P = msg.data.P, fill = msg.data.fill;
  var E = exps.length;
  var counts = new Array(E).fill(0);
  var start = performance.now();
  var seed = 1;
  function rnd() { seed = (seed * 16807) % 2147483647; return seed / 2147483647; }
  function lossAt(N, D) { return Math.min(Math.log(128), 1.2 + 40 / Math.pow(N, 0.34) + 90 / Math.pow(D, 0.28)); }
  function tick() {
    var t = (performance.now() - start) / 1000;
    var series = [];
    for (var i = 0; i < E; i++) {
      var target, replace = false;
      if (t < fill) target = Math.min(P, Math.floor((t / fill) * P));
      else {
        var phase = (t - fill) / fill + i / E;
        target = Math.floor((phase % 1) * P);
        if (target < counts[i]) { replace = true; counts[i] = 0; }
      }
      if (target <= counts[i] && !replace) continue;
      var e = exps[i];
      var tokens = [], step = [], train = [], ev = [];
      for (var k = counts[i] + 1; k <= target; k++) {
        var tk = (e.D * k) / P;
        var l = lossAt(e.N, tk + e.D / P);
        tokens.push(tk); step.push(k);
        train.push(l * (1 + 0.03 * (rnd() - 0.5)));
        ev.push(k % 10 === 0 ? l + 0.01 : null);
      }
      counts[i] = target;
      var chunk = { id: e.id, tokens: tokens, step: step, train: train, eval: ev };
      if (replace) chunk.replace = true;
      series.push(chunk);
    }
    var points = counts.reduce(function (s, c) { return s + c; }, 0);
    self.postMessage({ points: points, message: series.length ? { type: 'append', series: series } : null });
  }
  setInterval(tick, 50);
};`;

/** Page side: starts the worker and dispatches its messages to the webview. */
const START_WORKER = `function (args) {
  var w = new Worker('/bench-worker.js');
  w.onmessage = function (e) {
    window.__benchPoints = e.data.points;
    if (e.data.message) window.dispatchEvent(new MessageEvent('message', { data: e.data.message }));
  };
  w.postMessage(args);
  window.__benchWorker = w;
}`;

interface Sample {
  t: number;
  /** cumulative chart updates */
  flushes: number;
  phase: string;
  fps: number;
  points: number;
  drawn: number;
  heapMB?: number;
  msPerUpdate: number;
}

/** Starts the in-page generator (real-time, wall-clock driven) and samples once a second. */
async function stream(p: WebviewPage, a: Args, seconds: number, fill: number, label: string): Promise<Sample[]> {
  const cdp = await p.page.context().newCDPSession(p.page);
  const snap = benchSnapshot(a.experiments);
  await p.send(snap);
  const plan = (snap as Extract<ToWebview, { type: 'snapshot' }>).snapshot.plan!;
  const exps = plan.experiments.map((e) => ({ id: e.id, N: e.params, D: e.tokens }));
  // plain JS source, not a function's toString(): tsx would inject helpers the page lacks
  await p.page.evaluate(`(${START_WORKER})(${JSON.stringify({ exps, P: a.points, fill })})`);
  const samples: Sample[] = [];
  const t0 = Date.now();
  let last = await counters(p);
  let lastT = t0;
  let nextHeap = 0;
  while (Date.now() - t0 < seconds * 1000) {
    await new Promise((r) => setTimeout(r, 1000));
    const now = Date.now();
    const c = await counters(p);
    const t = (now - t0) / 1000;
    const s: Sample = {
      t,
      flushes: c.flushes,
      phase: t < fill ? 'fill' : 'steady',
      fps: ((c.flushes - last.flushes) * 1000) / (now - lastT),
      points: c.points,
      drawn: c.drawn,
      msPerUpdate: c.flushes > last.flushes ? (c.flushMs - last.flushMs) / (c.flushes - last.flushes) : NaN,
    };
    if (t >= nextHeap) {
      await cdp.send('HeapProfiler.collectGarbage');
      const h = (await cdp.send('Runtime.getHeapUsage')) as { usedSize: number };
      s.heapMB = h.usedSize / 2 ** 20;
      nextHeap = t + Math.max(5, seconds / 20);
    }
    samples.push(s);
    last = c;
    lastT = now;
    if (process.env.BENCH_VERBOSE || Math.round(t) % 5 === 0) {
      console.log(
        `  [${label}] t=${t.toFixed(0).padStart(4)}s ${s.phase.padEnd(6)} raw points ${String(s.points).padStart(8)}  drawn ${String(s.drawn).padStart(7)}  ${s.fps.toFixed(1).padStart(5)} updates/s  ${Number.isFinite(s.msPerUpdate) ? s.msPerUpdate.toFixed(1) : '-'} ms/update${s.heapMB !== undefined ? `  heap ${s.heapMB.toFixed(1)} MB` : ''}`,
      );
    }
  }
  await p.page.evaluate('window.__benchWorker.terminate()');
  return samples;
}

async function counters(p: WebviewPage): Promise<{ flushes: number; flushMs: number; points: number; drawn: number }> {
  return p.page.evaluate(`(() => {
    const lc = globalThis.__flopsfit.lossChart;
    const c = lc.drawnCounts();
    return { flushes: lc.flushes, flushMs: lc.flushMs, points: globalThis.__benchPoints || 0, drawn: c.points };
  })()`);
}

/** Chart updates per second between the first sample at or after t0 and the last one before t1. */
function windowRate(ss: Sample[], t0: number, t1: number): number {
  const w = ss.filter((s) => s.t >= t0 && s.t <= t1);
  if (w.length < 2) return NaN;
  const first = w[0];
  const last = w[w.length - 1];
  return (last.flushes - first.flushes) / (last.t - first.t);
}

async function screenshots(dir: string): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'flopsfit-shots-'));
  const runDir = path.join(tmp, 'run');
  const plan = synthPlan({ sweep: 'demo-sweep', runDir, configPath: path.join(tmp, 'demo.sweep.yaml'), budgets: [1e12, 3e12, 1e13, 3e13, 1e14], sizesPerBudget: 7 });
  writeRunDir(runDir, plan, { pointsPerExperiment: 400, fit: true, bootstrap: 60 });
  const model = new RunDirModel(runDir);
  model.loadAll();
  const snapshot = model.snapshot({ sweep: 'demo-sweep', configUri: 'file:///demo/demo.sweep.yaml' });
  for (const theme of ['dark', 'light'] as const) {
    const p = await openWebviewPage({ theme, width: 1200, height: 900 });
    try {
      await p.send({ type: 'snapshot', snapshot });
      for (const [i, tab] of ['plan', 'loss', 'isoflop', 'frontier', 'fit'].entries()) {
        await p.page.evaluate(`document.querySelector('vscode-tabs').setAttribute('selected-index', '${i}')`);
        await p.page.waitForTimeout(400);
        const file = path.join(dir, `${theme}-${tab}.png`);
        await p.page.screenshot({ path: file, fullPage: tab === 'plan' || tab === 'fit' });
        console.log(`  screenshot ${file}`);
      }
      if (p.cspViolations.length || p.pageErrors.length) console.log(`  ${theme}: CSP violations ${JSON.stringify(p.cspViolations)} page errors ${JSON.stringify(p.pageErrors)}`);
    } finally {
      await p.close();
    }
  }
  fs.rmSync(tmp, { recursive: true, force: true });
}

async function main(): Promise<number> {
  const a = parseArgs(process.argv.slice(2));
  if (a.screenshots) await screenshots(a.screenshots);
  const seconds = a.minutes * 60;
  console.log(`webview bench: ${a.experiments} experiments × ${a.points} points, ${seconds}s decimated (fill ${a.fillSeconds}s, then steady) + ${a.referenceSeconds}s reference without decimation`);

  const p = await openWebviewPage({ state: lossState(), workerSource: WORKER });
  let dec: Sample[];
  try {
    dec = await stream(p, a, seconds, a.fillSeconds, 'decimated');
    if (p.cspViolations.length) console.log(`CSP violations: ${p.cspViolations.join('\n')}`);
    if (p.pageErrors.length) console.log(`page errors: ${p.pageErrors.join('\n')}`);
  } finally {
    await p.close();
  }

  const ref = await openWebviewPage({ state: lossState(), workerSource: WORKER });
  await ref.page.evaluate('globalThis.__flopsfitBench = { noDecimation: true }');
  let refSamples: Sample[];
  try {
    refSamples = await stream(ref, a, Math.min(a.referenceSeconds, a.fillSeconds), a.fillSeconds, 'reference');
  } finally {
    await ref.close();
  }

  // compare at the same data volume: the second half of the fill phase (the most points)
  const fillWindow = (ss: Sample[]) => windowRate(ss, a.fillSeconds / 2, a.fillSeconds);
  const fillFps = fillWindow(dec);
  const refFps = fillWindow(refSamples);
  const steady = dec.filter((s) => s.phase === 'steady');
  const steadyFps = windowRate(dec, a.fillSeconds + 2, Infinity);
  const minFps = Math.min(...dec.filter((s) => s.t > 2).map((s) => s.fps));
  const heap = dec.filter((s) => s.heapMB !== undefined && s.phase === 'steady').map((s) => s.heapMB!);
  const peakPoints = Math.max(...dec.map((s) => s.points));
  const maxDrawn = Math.max(...dec.map((s) => s.drawn));
  console.log('');
  console.log(`peak raw points: ${peakPoints.toLocaleString('en-US')} (at most ${maxDrawn.toLocaleString('en-US')} drawn after decimation)`);
  console.log(`live updates in the second half of the fill phase (${Math.round(a.experiments * a.points / 2).toLocaleString('en-US')}–${peakPoints.toLocaleString('en-US')} points):`);
  console.log(`  decimated:          ${fillFps.toFixed(1)} updates/s (target ≥ 10) ${fillFps >= 10 ? 'OK' : 'BELOW TARGET'}`);
  console.log(`  without decimation: ${refFps.toFixed(1)} updates/s (reference, same run)`);
  console.log(`  ratio:              ${(fillFps / refFps).toFixed(1)}×`);
  if (steady.length) console.log(`steady phase: ${steadyFps.toFixed(1)} updates/s; slowest 1-s window of the whole run ${minFps.toFixed(1)}/s`);
  if (heap.length >= 2) {
    const first = heap[0];
    const lastH = heap[heap.length - 1];
    const maxH = Math.max(...heap);
    console.log(`JS heap (after GC) over the steady phase: first ${first.toFixed(1)} MB, last ${lastH.toFixed(1)} MB, max ${maxH.toFixed(1)} MB, growth ${(lastH - first).toFixed(1)} MB (${(((lastH - first) / first) * 100).toFixed(1)}%)`);
  }
  return fillFps >= 10 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(2);
  },
);
