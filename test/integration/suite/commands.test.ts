/**
 * Every FlopsFit command against a tiny sweep, with arguments instead of prompts (a quick pick is
 * stubbed where the command must ask), plus the config CodeLens.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { packageJson, waitFor, workspaceDir, workspaceFile } from '../harness';
import { budgets, experiments, explorerApi, resetView, waitForSweep, writeFixture, type Fixture } from './sweepFixture';

/** Replaces window.showQuickPick for one call: picks the item whose label matches. */
function stubQuickPick(match: (label: string) => boolean): { restore(): void; calls: string[][] } {
  const w = vscode.window as unknown as { showQuickPick: typeof vscode.window.showQuickPick };
  const original = w.showQuickPick;
  const calls: string[][] = [];
  w.showQuickPick = (async (items: readonly vscode.QuickPickItem[] | Thenable<readonly vscode.QuickPickItem[]>) => {
    const list = await items;
    calls.push(list.map((i) => i.label));
    return list.find((i) => match(i.label));
  }) as unknown as typeof vscode.window.showQuickPick;
  return { restore: () => (w.showQuickPick = original), calls };
}

async function tabLabels(): Promise<string[]> {
  return vscode.window.tabGroups.all.flatMap((g) => g.tabs.map((t) => t.label));
}

describe('commands', function () {
  this.timeout(120_000);
  let fx: Fixture;

  before(async () => {
    fx = writeFixture('cmdsweep');
    await explorerApi();
    await waitForSweep('cmdsweep', 'planned', (x) => experiments(x).length === 6, 30_000);
  });

  after(async () => {
    await fx.remove();
    fs.rmSync(workspaceFile('export-out'), { recursive: true, force: true });
    fs.rmSync(workspaceFile('corpus.txt'), { force: true });
    await resetView();
  });

  afterEach(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  it('every command in package.json is one this feature or a delegate registers', async () => {
    const declared = packageJson().contributes.commands.map((c) => c.command);
    const registered = await vscode.commands.getCommands(true);
    for (const c of declared) assert.ok(registered.includes(c), `${c} is registered`);
  });

  it('New Sweep writes a commented config that validates, opens it and adds it to the tree', async () => {
    const uri = (await vscode.commands.executeCommand('flopsfit.newSweep', {
      name: 'fresh',
      source: 'synthetic',
      folder: workspaceDir(),
      overwrite: true,
    })) as vscode.Uri;
    assert.ok(uri, 'newSweep returns the new file');
    assert.equal(uri.fsPath, workspaceFile('fresh.sweep.yaml'));
    const text = fs.readFileSync(uri.fsPath, 'utf8');
    assert.match(text, /^# FlopsFit sweep config/);
    assert.match(text, /source: synthetic/);
    assert.equal(vscode.window.activeTextEditor?.document.uri.fsPath, uri.fsPath, 'the new config is open');
    const s = await waitForSweep('fresh', 'valid and planned', (x) => x.icon !== 'error' && experiments(x).length > 0, 30_000);
    assert.equal(s.contextValue, 'sweep.idle');
    // text source, picked with the (stubbed) quick pick
    fs.writeFileSync(workspaceFile('corpus.txt'), 'hello world\n'.repeat(2000));
    const pick = stubQuickPick((l) => l === 'corpus.txt');
    try {
      const t = (await vscode.commands.executeCommand('flopsfit.newSweep', { name: 'fromtext', source: 'text', folder: workspaceDir(), overwrite: true })) as vscode.Uri;
      assert.ok(pick.calls.length === 1 && pick.calls[0]!.includes('corpus.txt'), `the data-file pick listed corpus.txt: ${JSON.stringify(pick.calls)}`);
      assert.match(fs.readFileSync(t.fsPath, 'utf8'), /path: "corpus\.txt"/);
    } finally {
      pick.restore();
    }
    fs.rmSync(workspaceFile('fresh.sweep.yaml'));
    fs.rmSync(workspaceFile('fromtext.sweep.yaml'));
  });

  it('Preview Plan opens a read-only markdown table of the plan', async () => {
    const uri = (await vscode.commands.executeCommand('flopsfit.previewPlan', fx.config)) as vscode.Uri;
    assert.equal(uri.scheme, 'flopsfit-plan');
    const doc = await waitFor('the preview document', () => vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString()));
    const text = doc.getText();
    assert.match(text, /^# Plan: cmdsweep/);
    assert.match(text, /\*\*6 experiments\*\* in 2 budgets/);
    assert.equal((text.match(/^\| 1\.0e10 \|/gm) ?? []).length + (text.match(/^\| 3\.0e10 \|/gm) ?? []).length, 6, 'one row per experiment');
    assert.ok((await tabLabels()).some((l) => l.includes('cmdsweep.plan.md')));
  });

  it('Preview Plan from the active editor, and with a quick pick when nothing says which sweep', async () => {
    await vscode.window.showTextDocument(fx.config);
    const uri = (await vscode.commands.executeCommand('flopsfit.previewPlan')) as vscode.Uri;
    assert.equal(uri?.query, fx.config.toString(), 'the active config is used');
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    const pick = stubQuickPick((l) => l === 'cmdsweep');
    try {
      const u2 = (await vscode.commands.executeCommand('flopsfit.previewPlan')) as vscode.Uri;
      assert.equal(u2?.query, fx.config.toString(), 'the picked sweep is used');
      assert.ok(pick.calls.length === 1 && pick.calls[0]!.length >= 2, `a quick pick of the sweeps was shown: ${JSON.stringify(pick.calls)}`);
    } finally {
      pick.restore();
    }
  });

  it('CodeLens on the config: ▶ Run sweep · Preview plan · Results', async () => {
    const lenses = await waitFor('code lenses', async () => {
      const l = (await vscode.commands.executeCommand('vscode.executeCodeLensProvider', fx.config)) as vscode.CodeLens[];
      return l?.length ? l : undefined;
    });
    const titles = lenses.map((l) => l.command?.title);
    assert.deepEqual(titles, ['▶ Run sweep', 'Preview plan', 'Results']);
    assert.deepEqual(lenses.map((l) => l.range.start.line), [0, 0, 0]);
    assert.deepEqual(lenses.map((l) => l.command?.command), ['flopsfit.runSweep', 'flopsfit.previewPlan', 'flopsfit.openResults']);
  });

  it('Reveal in Config selects the budget entry an experiment comes from', async () => {
    const api = await explorerApi();
    const s = await waitForSweep('cmdsweep', 'planned', (x) => experiments(x).length === 6);
    const exp = budgets(s)[1]!.children![0]!; // an experiment of the 3e10 budget
    const range = (await vscode.commands.executeCommand('flopsfit.revealInConfig', await api.node(fx.config, exp.id))) as vscode.Range;
    const ed = vscode.window.activeTextEditor!;
    assert.equal(ed.document.uri.fsPath, fx.config.fsPath);
    assert.equal(ed.document.getText(range), '3e10');
    assert.equal(ed.document.lineAt(range.start.line).text.trim(), 'budgets: [1e10, 3e10]');
  });

  it('Run Experiment runs one experiment; Open Metrics opens its metrics; Run/Fit/Results/Export on the sweep', async () => {
    const api = await explorerApi();
    const s = await waitForSweep('cmdsweep', 'planned', (x) => experiments(x).length === 6);
    const first = experiments(s)[0]!;
    await vscode.commands.executeCommand('flopsfit.runExperiment', { config: fx.config, experiment: first.id });
    await waitForSweep('cmdsweep', 'the one experiment completed', (x) => experiments(x).find((e) => e.id === first.id!)?.contextValue === 'experiment.completed' && x.contextValue !== 'sweep.running', 30_000);
    const after = (await explorerApi()).snapshot();
    const others = experiments((await after).find((x) => x.label === 'cmdsweep')).filter((e) => e.id !== first.id);
    assert.ok(others.every((e) => e.contextValue === 'experiment.queued'), 'only that experiment ran');

    const metrics = (await vscode.commands.executeCommand('flopsfit.openMetrics', await api.node(fx.config, first.id))) as vscode.Uri;
    assert.equal(metrics.fsPath, path.join(fx.runDir, 'experiments', first.id!, 'metrics.jsonl'));
    assert.match(vscode.window.activeTextEditor!.document.getText(), /"trainLoss"/);

    await vscode.commands.executeCommand('flopsfit.runSweep', fx.config);
    await waitForSweep('cmdsweep', 'finished', (x) => x.contextValue === 'sweep.finished', 60_000);

    // fit again as a task
    const fitMtime = () => (fs.existsSync(path.join(fx.runDir, 'fit.json')) ? fs.statSync(path.join(fx.runDir, 'fit.json')).mtimeMs : 0);
    const t0 = fitMtime();
    await vscode.commands.executeCommand('flopsfit.fit', fx.config);
    await waitFor('fit.json to be (re)written by the fit task', () => fitMtime() > t0, 60_000);

    await vscode.commands.executeCommand('flopsfit.openResults', fx.config);
    await waitFor('a results panel tab', async () => (await tabLabels()).some((l) => /cmdsweep|Results/i.test(l)), 15_000);

    // Export: the results panel owns it; it must not throw (a save dialog is its own UI)
    const saveDialog = vscode.window as unknown as { showSaveDialog: typeof vscode.window.showSaveDialog; showOpenDialog: typeof vscode.window.showOpenDialog };
    const origSave = saveDialog.showSaveDialog;
    const origOpen = saveDialog.showOpenDialog;
    const out = workspaceFile('export-out');
    fs.mkdirSync(out, { recursive: true });
    saveDialog.showSaveDialog = async () => vscode.Uri.file(path.join(out, 'results.csv'));
    saveDialog.showOpenDialog = async () => [vscode.Uri.file(out)];
    const pick = stubQuickPick(() => true);
    try {
      await vscode.commands.executeCommand('flopsfit.exportResults', fx.config);
    } finally {
      saveDialog.showSaveDialog = origSave;
      saveDialog.showOpenDialog = origOpen;
      pick.restore();
    }
    await waitFor('exported files', () => fs.readdirSync(out).length > 0, 10_000);
  });

  it('Stop Sweep and Stop Experiment on a sweep that is not running say so and do nothing', async () => {
    const r = await vscode.commands.executeCommand('flopsfit.stopSweep', fx.config);
    assert.equal(r, false);
    const api = await explorerApi();
    const s = await waitForSweep('cmdsweep', 'planned', (x) => experiments(x).length === 6);
    const r2 = await vscode.commands.executeCommand('flopsfit.stopExperiment', await api.node(fx.config, experiments(s)[0]!.id));
    assert.equal(r2, false);
  });

  it('Refresh Sweeps re-reads everything and keeps the tree', async () => {
    const before = (await explorerApi()).refreshCounts().full;
    await vscode.commands.executeCommand('flopsfit.refreshExplorer');
    assert.ok((await explorerApi()).refreshCounts().full > before);
    await waitForSweep('cmdsweep', 'still there and finished', (x) => x.contextValue === 'sweep.finished');
  });
});
