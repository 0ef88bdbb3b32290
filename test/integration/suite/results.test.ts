/**
 * The results panel in real VS Code: it opens for a finished tiny sweep and draws the expected
 * datasets on every chart (the webview reports what it drew through the protocol's `rendered`
 * message); a metrics line appended to a file shows up in the loss chart within a second; a
 * malformed message is rejected and logged, never rendered — in both directions; hiding and
 * showing the panel restores it from the host's model; screenshots of every tab.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { learningCurve, synthPlan, writeRunDir } from '../../support/runDirFixture';
import { loadSweepConfig } from '../../../src/core/config';
import type { FitReport } from '../../../src/core/fit/types';
import { buildPlan } from '../../../src/core/plan';
import { activate, screenshot, sleep, underHarness, waitFor, workspaceFile } from '../harness';

type Rendered = Record<string, { datasets: number; points: number; rawPoints: number; at: number }>;
interface PanelState {
  ready: boolean;
  rendered: Rendered;
  rejected: string[];
  webviewErrors: string[];
  problems: { file: string; message: string }[];
  phase: string;
  planExperiments?: number;
  title: string;
  hostPoints: number;
}

const NAME = 'results-tiny';
const POINTS = 40;

function hook<T>(op: string, config: vscode.Uri, arg?: unknown): Thenable<T> {
  return vscode.commands.executeCommand<T>('flopsfit._test.results', op, config.toString(), arg);
}

async function state(config: vscode.Uri): Promise<PanelState> {
  const s = await hook<PanelState | undefined>('state', config);
  if (!s) throw new Error('no results panel is open for the config');
  return s;
}

/** Asks the webview for a fresh report of every chart and waits for it. */
async function report(config: vscode.Uri): Promise<Rendered> {
  const t0 = Date.now();
  await hook('report', config);
  return waitFor(
    'the webview to report every chart',
    async () => {
      const r = (await state(config)).rendered;
      return ['loss', 'isoflop', 'frontier', 'residuals'].every((c) => r[c] && r[c].at >= t0) ? r : undefined;
    },
    10_000,
    50,
  );
}

/** The datasets the fit charts must draw for a fit report (one rule per chart, see webview/fit/*Chart.ts). */
function expectedFitDatasets(fit: FitReport): { isoflop: number; frontier: number; residuals: number } {
  const groups = fit.isoflop!.groups;
  // per budget: its runs, the optimum estimator's curve (Akima / local parabola / parabola), its optimum
  const isoflop = groups.reduce((n, g) => n + 1 + (g.curve || g.parabola ? 1 : 0) + (g.nOpt !== undefined && g.lossOpt !== undefined ? 1 : 0), 0);
  const used = groups.filter((g) => g.used && g.nOpt !== undefined && g.dOpt !== undefined);
  let frontier = 0;
  for (const what of ['nOpt', 'dOpt'] as const) {
    const band = used.filter((g) => fit.bootstrap?.intervals[`isoflop.groups.${g.index}.${what}`]).length + (fit.prediction?.isoflop?.intervals?.[what] ? 1 : 0);
    frontier += 2 + (band >= 2 ? 2 : 0);
    if (fit.prediction?.isoflop) frontier += 1 + (fit.prediction.isoflop.intervals?.[what] ? 1 : 0);
    if (fit.prediction?.parametric) frontier += 1 + (fit.prediction.parametric.intervals?.[what] ? 1 : 0);
  }
  const budgets = new Set(fit.parametric!.residuals.map((r) => fit.points[r.index].budget ?? fit.isoflop!.groups[fit.points[r.index].group]?.budget));
  return { isoflop, frontier, residuals: budgets.size + 1 };
}

describe('results panel', function () {
  this.timeout(120_000);
  let config: vscode.Uri;
  let runDir: string;
  let fit: FitReport;
  let firstId: string;

  before(async () => {
    await activate();
    const dir = workspaceFile(NAME);
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `${NAME}.sweep.yaml`);
    fs.writeFileSync(file, `# results panel integration test\nname: ${NAME}\nbudgets: [1e12, 3e12, 1e13]\nrun: { directory: .flopsfit/${NAME} }\n`);
    config = vscode.Uri.file(file);
    runDir = workspaceFile('.flopsfit', NAME);
    const plan = synthPlan({ sweep: NAME, runDir, configPath: file, budgets: [1e12, 3e12, 1e13], sizesPerBudget: 5 });
    const written = writeRunDir(runDir, plan, { pointsPerExperiment: POINTS, fit: true, bootstrap: 30, target: 1e15 });
    fit = written.fit!;
    firstId = plan.experiments[0].id;
    assert.ok(fit.isoflop && fit.parametric, 'the fixture fit has both methods');
  });

  after(async () => {
    await hook('close', config).then(undefined, () => undefined);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    fs.rmSync(workspaceFile(NAME), { recursive: true, force: true });
    fs.rmSync(runDir, { recursive: true, force: true });
  });

  it('opens for a finished tiny sweep and draws the expected datasets on every chart', async () => {
    await vscode.commands.executeCommand('flopsfit.openResults', config);
    await waitFor('the webview to be ready', async () => (await state(config)).ready, 20_000);
    const tab = vscode.window.tabGroups.activeTabGroup.activeTab;
    assert.equal(tab?.label, NAME, 'the panel is titled with the sweep name');
    const s = await state(config);
    assert.equal(s.phase, 'finished');
    assert.deepEqual(s.problems, []);
    assert.deepEqual(s.webviewErrors, []);

    const r = await report(config);
    // loss: a train and an eval line per experiment, every raw point received
    assert.equal(r.loss.datasets, 2 * 15);
    assert.equal(r.loss.rawPoints, 15 * POINTS);
    assert.ok(r.loss.points > 0 && r.loss.points <= 2 * r.loss.rawPoints);
    const want = expectedFitDatasets(fit);
    assert.equal(r.isoflop.datasets, want.isoflop, 'isoflop: runs, parabola and vertex per budget');
    const curvePoints = fit.isoflop!.groups.reduce(
      (n, g) => n + (g.curve ? g.curve.N.length : g.parabola ? 64 : 0) + (g.nOpt !== undefined && g.lossOpt !== undefined ? 1 : 0),
      0,
    );
    assert.equal(r.isoflop.points, 15 + curvePoints, 'isoflop: every run is a point, plus each budget’s curve (the estimator’s own, or a 64-point parabola) and the optima');
    assert.equal(r.frontier.datasets, want.frontier, 'frontier: vertices, power laws, band, predictions');
    assert.equal(r.residuals.datasets, want.residuals, 'residuals: one per budget plus the zero line');
    assert.equal(r.residuals.points, 15 + 2);
  });

  it('a metrics line appended to a file shows up in the loss chart within a second', async () => {
    const before = (await report(config)).loss.rawPoints;
    const curve = learningCurve({ id: firstId, params: 1e5, tokens: 1e9 }, POINTS + 1);
    const line = { ...curve[POINTS], step: POINTS + 1, tokens: 1e9, evalLoss: 2.5 };
    const t0 = Date.now();
    fs.appendFileSync(path.join(runDir, 'experiments', firstId, 'metrics.jsonl'), JSON.stringify(line) + '\n');
    let last: PanelState | undefined;
    const seen = await waitFor(
      'the appended point in the loss chart',
      async () => {
        last = await state(config);
        const r = last.rendered.loss;
        return r && r.rawPoints === before + 1 ? r : undefined;
      },
      10_000,
      20,
    ).catch((e: Error) => {
      throw new Error(`${e.message}; host model holds ${last?.hostPoints} points (before: ${before}), webview drew ${last?.rendered.loss?.rawPoints}`);
    });
    const elapsed = seen.at - t0;
    assert.ok(elapsed <= 1000, `drawn ${elapsed} ms after the append`);
  });

  it('a malformed message is rejected and logged, not rendered (both directions)', async () => {
    const before = (await report(config)).loss;
    // host → webview: a string where a loss must be
    await hook('postRaw', config, { type: 'append', series: [{ id: firstId, tokens: [2e9], step: [999], train: ['2.0'], eval: [null] }] });
    await hook('postRaw', config, { type: 'bogus' });
    const s = await waitFor('the webview to report the rejections', async () => {
      const st = await state(config);
      return st.webviewErrors.filter((e) => e.includes('rejected malformed message')).length >= 2 ? st : undefined;
    });
    assert.ok(s.webviewErrors.some((e) => /type "append"/.test(e) && /train/.test(e)), s.webviewErrors.join('\n'));
    const after = (await report(config)).loss;
    assert.equal(after.rawPoints, before.rawPoints, 'nothing of the malformed append was drawn');
    assert.equal(after.datasets, before.datasets);

    // webview → host: a PNG "data URL" that is not one, and an unknown request
    await hook('receiveRaw', config, { type: 'savePng', chart: 'loss', dataUrl: 'javascript:alert(1)' });
    await hook('receiveRaw', config, { type: 'openFile', path: '/etc/passwd' });
    const st = await state(config);
    assert.equal(st.rejected.length, 2, st.rejected.join('\n'));
    assert.match(st.rejected[0], /rejected malformed message \(type "savePng"\)/);
  });

  it('is rebuilt from the host model after being hidden and shown again', async () => {
    const before = await report(config);
    // another editor in the same group hides the panel (its webview document is discarded)
    await vscode.window.showTextDocument(config, { preview: false, viewColumn: vscode.ViewColumn.Active });
    await waitFor('the panel to be hidden', async () => !(await state(config)).ready, 10_000);
    await hook('reveal', config);
    await waitFor('the webview to be ready again', async () => (await state(config)).ready, 20_000);
    const after = await report(config);
    assert.equal(after.loss.datasets, before.loss.datasets);
    assert.equal(after.loss.rawPoints, before.loss.rawPoints);
    assert.equal(after.isoflop.datasets, before.isoflop.datasets);
    assert.equal(after.frontier.datasets, before.frontier.datasets);
  });

  it('screenshots of every tab', async () => {
    if (!underHarness()) return; // screenshots need the headless harness (test/harness/run-tests.mjs)
    await hook('reveal', config);
    for (const tab of ['plan', 'loss', 'isoflop', 'frontier', 'fit']) {
      await hook('showTab', config, tab);
      await sleep(900);
      const file = await screenshot(`results-${tab}`);
      assert.ok(file && fs.statSync(file).size > 10_000, `screenshot of ${tab}`);
    }
  });

  it('before any run it previews the plan computed from the config, and re-plans on save', async () => {
    const dir = workspaceFile('results-preview');
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'results-preview.sweep.yaml');
    fs.writeFileSync(file, 'name: results-preview\nbudgets: [1e12, 3e12]\n');
    const uri = vscode.Uri.file(file);
    const planned = (f: string) => buildPlan(loadSweepConfig(f).config!, { configPath: f, workspaceRoot: workspaceFile() }).experiments.length;
    try {
      await vscode.commands.executeCommand('flopsfit.openResults', uri);
      const s = await waitFor('the preview panel', async () => {
        const st = await hook<PanelState | undefined>('state', uri);
        return st?.ready ? st : undefined;
      }, 20_000);
      assert.equal(s.phase, 'preview');
      assert.equal(s.title, 'results-preview');
      assert.ok(s.planExperiments && s.planExperiments > 0);
      assert.equal(s.planExperiments, planned(file));
      // a third budget: the panel follows the saved config
      fs.writeFileSync(file, 'name: results-preview\nbudgets: [1e12, 3e12, 1e13]\n');
      const want = planned(file);
      assert.ok(want > s.planExperiments!);
      await waitFor('the re-planned preview', async () => (await hook<PanelState>('state', uri)).planExperiments === want, 10_000);
      if (underHarness()) {
        await sleep(500);
        await screenshot('results-preview');
      }
    } finally {
      await hook('close', uri).then(undefined, () => undefined);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
