/**
 * A newcomer's first sweep, end to end in the real VS Code, the way a person does it, in its own
 * session on an EMPTY folder (test/integration/runTest.mjs): New Sweep (synthetic data) → shrink the budgets → Run Sweep → the tree
 * shows live progress (a loss on a running experiment) while the run goes on → finished → the
 * IsoFLOP, Frontier and Fit tabs draw the fit the runner wrote → a second run is killed with -9
 * mid-way → the tree says "interrupted — resumable" (never "running" forever) → Resume from the
 * editor finishes it. Every file here is written by the real `flopsfit` task process.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { activate, screenshot, waitFor, workspaceDir, workspaceFile } from '../harness';
import { budgets, experiments, waitForSweep, type Snap } from './sweepFixture';

const NAME = 'first-sweep';

function hook<T>(op: string, config: vscode.Uri, arg?: unknown): Thenable<T> {
  return vscode.commands.executeCommand<T>('flopsfit._test.results', op, config.toString(), arg);
}

interface PanelState {
  ready: boolean;
  rendered: Record<string, { datasets: number; points: number; at: number }>;
  problems: { file: string; message: string }[];
  phase: string;
}

async function panelState(config: vscode.Uri): Promise<PanelState> {
  const s = await hook<PanelState | undefined>('state', config);
  if (!s) throw new Error('no results panel is open for the config');
  return s;
}

/** Replaces one top-level line of the config in its editor and saves, as a user would. */
async function editLine(config: vscode.Uri, re: RegExp, replacement: string): Promise<void> {
  const doc = await vscode.workspace.openTextDocument(config);
  const editor = await vscode.window.showTextDocument(doc);
  const text = doc.getText();
  const m = re.exec(text);
  assert.ok(m, `the config has a line matching ${re}`);
  const start = doc.positionAt(m.index);
  const end = doc.positionAt(m.index + m[0].length);
  assert.ok(await editor.edit((e) => e.replace(new vscode.Range(start, end), replacement)));
  assert.ok(await doc.save());
}

function lockPid(runDir: string): number | undefined {
  try {
    return (JSON.parse(fs.readFileSync(path.join(runDir, 'runner.lock'), 'utf8')) as { pid: number }).pid;
  } catch {
    return undefined;
  }
}

describe("a newcomer's first sweep in the editor", function () {
  this.timeout(600_000);
  let runDir = '';
  let config: vscode.Uri;

  before(async () => {
    // the session's workspace is an empty folder: no config, no .flopsfit/
    assert.deepEqual(fs.readdirSync(workspaceDir()), [], 'the workspace folder is empty');
    runDir = workspaceFile('.flopsfit', NAME);
    config = vscode.Uri.file(workspaceFile(`${NAME}.sweep.yaml`));
    await activate();
  });

  after(async () => {
    await hook('close', config).then(undefined, () => undefined);
    const pid = lockPid(runDir);
    if (pid) {
      try {
        process.kill(pid, 'SIGINT');
      } catch {
        /* gone */
      }
    }
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  it('New Sweep → shrink → Run: live progress in the tree, then the fit tabs draw the runner’s fit', async () => {
    assert.ok(!fs.existsSync(runDir), 'no run directory before the first run');
    // the palette's New Sweep, answered through its argument (a single workspace folder: no folder prompt)
    await vscode.commands.executeCommand('flopsfit.newSweep', { name: NAME, source: 'synthetic' });
    await waitFor('the new config', () => fs.existsSync(config.fsPath));
    // make it small, as the README's first steps say: a few budgets that train in seconds
    await editLine(config, /^budgets:.*$/m, 'budgets: [1e9, 3e9, 1e10]');
    // ...and widths small enough for those budgets to bracket their optimum
    await editLine(config, /^ {4}min: *\d+/m, '    min: 4');
    await waitForSweep(NAME, 'the shrunk plan', (s) => experiments(s).length > 0 && (s.description ?? '').includes('runs'), 60_000);

    await vscode.commands.executeCommand('flopsfit.runSweep', config);
    // live progress: a running experiment with a loss value, while the run is going
    const live = await waitForSweep(
      NAME,
      'a running experiment with a live loss',
      (s) => experiments(s).some((e) => e.contextValue === 'experiment.running' && /loss \d/.test(e.description ?? '')),
      240_000,
    );
    assert.match(live.contextValue ?? '', /^sweep\.running/);
    await vscode.commands.executeCommand('workbench.view.extension.flopsfit');
    await screenshot('first-sweep-1-live-progress');
    const done = await waitForSweep(NAME, 'finished', (s) => s.contextValue === 'sweep.finished', 400_000);
    assert.ok(experiments(done).every((e) => e.contextValue === 'experiment.completed'), 'every experiment completed');
    await waitFor('fit.json written by the runner', () => fs.existsSync(path.join(runDir, 'fit.json')), 60_000);

    await vscode.commands.executeCommand('flopsfit.openResults', config);
    await waitFor('the results panel', async () => (await panelState(config)).ready, 30_000);
    const t0 = Date.now();
    await hook('report', config);
    const st = await waitFor(
      'the fit tabs to report their charts',
      async () => {
        const s = await panelState(config);
        return ['isoflop', 'frontier', 'residuals'].every((c) => s.rendered[c] && s.rendered[c].at >= t0) ? s : undefined;
      },
      20_000,
    );
    assert.deepEqual(
      st.problems.filter((p) => p.file === 'fit.json'),
      [],
      'the panel reads the fit.json the runner wrote (one contract, one schema)',
    );
    for (const chart of ['isoflop', 'residuals']) assert.ok(st.rendered[chart]!.datasets > 0, `${chart} draws the fit`);
    // the picture: the IsoFLOP tab drawn from the runner's fit
    await hook('showTab', config, 'isoflop');
    await waitFor('the IsoFLOP tab to draw', async () => {
      const t1 = Date.now();
      await hook('report', config);
      return waitFor('a fresh isoflop report', async () => ((await panelState(config)).rendered.isoflop?.at ?? 0) >= t1, 10_000);
    }, 20_000);
    await screenshot('first-sweep-2-results');
    await hook('close', config);
  });

  it('kill -9 of the runner mid-way: the tree says interrupted — resumable, and Resume finishes it', async () => {
    // a larger budget: new experiments to run
    await editLine(config, /^budgets:.*$/m, 'budgets: [1e9, 3e9, 1e10, 1e11]');
    await waitForSweep(NAME, 'the new budget planned', (s) => budgets(s).length === 4 && s.contextValue !== 'sweep.finished', 60_000);
    await vscode.commands.executeCommand('flopsfit.runSweep', config);
    // the runner is mid-way (on disk: an experiment of the new budget running under a live runner)...
    const pid = await waitFor(
      'an experiment running under the new runner',
      () => {
        const pid = lockPid(runDir);
        let m: { experiments: Record<string, { status: string }> } | undefined;
        try {
          m = JSON.parse(fs.readFileSync(path.join(runDir, 'manifest.json'), 'utf8')) as typeof m;
        } catch {
          return undefined;
        }
        return pid && Object.values(m!.experiments).some((e) => e.status === 'running') ? pid : undefined;
      },
      240_000,
      50,
    );
    // ...and the tree follows it (a second run in the same run directory)
    await waitForSweep(NAME, 'the tree showing the second run', (s) => /^sweep\.running/.test(s.contextValue ?? ''), 60_000);
    process.kill(pid, 'SIGKILL');
    const interrupted = await waitForSweep(NAME, 'interrupted — resumable', (s) => s.contextValue === 'sweep.interrupted', 60_000);
    assert.match(interrupted.description ?? '', /interrupted — resumable/);
    assert.ok(!experiments(interrupted).some((e: Snap) => e.contextValue === 'experiment.running'), 'no experiment is shown running without a runner');
    await vscode.commands.executeCommand('workbench.view.extension.flopsfit');
    await screenshot('first-sweep-3-interrupted');

    // Stop has nothing to stop; Resume (as the tree's inline action does) finishes the sweep
    assert.equal(await vscode.commands.executeCommand('flopsfit.stopSweep', config), false);
    await vscode.commands.executeCommand('flopsfit.resumeSweep', config);
    const done = await waitForSweep(NAME, 'finished after resume', (s) => s.contextValue === 'sweep.finished', 400_000);
    assert.equal(experiments(done).length, experiments(interrupted).length);
  });
});
