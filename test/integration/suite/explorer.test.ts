/**
 * The Sweeps explorer in real VS Code: the tree is the plan before any run; an invalid config shows
 * its first problem; a config edit re-plans; statuses change while a sweep runs (spinner with live
 * loss, then checks with final losses), without full refreshes per metrics line; stop, resume,
 * run-experiment and retry from the tree's own nodes; the status-bar item; screenshots before,
 * during and after a run.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { queryWorkbench, screenshot, sleep, underHarness, waitFor, workspaceFile } from '../harness';
import { budgets, experiments, explorerApi, resetView, statuses, sweepSnap, waitForSweep, writeFixture, type Fixture } from './sweepFixture';

async function showView(): Promise<void> {
  await vscode.commands.executeCommand('workbench.view.extension.flopsfit');
  await vscode.commands.executeCommand('flopsfit.sweeps.focus');
}

/** Screenshot with only this sweep expanded, in a wider sidebar. */
async function shot(name: string, config?: vscode.Uri): Promise<void> {
  if (!underHarness()) return;
  await showView();
  await vscode.commands.executeCommand('notifications.clearAll');
  if (config) {
    await vscode.commands.executeCommand('workbench.actions.treeView.flopsfit.sweeps.collapseAll');
    await (await explorerApi()).reveal(config);
  }
  await sleep(700); // let the tree render
  const file = await screenshot(name);
  assert.ok(file && fs.statSync(file).size > 10_000, `screenshot ${name} written`);
}

describe('explorer', function () {
  this.timeout(120_000);
  let fx: Fixture;
  const extra: Fixture[] = [];

  before(async () => {
    fx = writeFixture('treesweep');
    await showView();
    if (underHarness()) for (let i = 0; i < 4; i++) await vscode.commands.executeCommand('workbench.action.decreaseViewWidth');
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  after(async () => {
    for (const f of [fx, ...extra]) await f.remove();
    await resetView();
  });

  it('shows the plan before any run: budgets with C, experiments with N, D, D/N, all queued', async () => {
    const s = await waitForSweep('treesweep', 'planned', (x) => experiments(x).length > 0);
    assert.equal(s.contextValue, 'sweep.idle');
    assert.equal(s.icon, 'beaker');
    assert.match(s.description ?? '', /^6 runs · \S+ FLOPs · ~/);
    assert.deepEqual(
      s.children!.map((b) => b.label),
      ['1.0e10 FLOPs', '3.0e10 FLOPs'],
    );
    for (const b of s.children!) {
      assert.equal(b.contextValue, 'budget');
      assert.match(b.description ?? '', /^3 runs · N\* ≈ /);
      assert.equal(b.children!.length, 3);
    }
    for (const e of experiments(s)) {
      assert.equal(e.contextValue, 'experiment.queued');
      assert.equal(e.icon, 'circle-outline');
      assert.match(e.label, /^width \d+$/);
      assert.match(e.description ?? '', /^N [\d.]+[kMG]? · D [\d.]+[kMG]? · D\/N [\d.]+$/);
    }
    // the width values are ascending within a budget and bracket the prior optimum
    const widths = s.children![0]!.children!.map((e) => Number(e.label.split(' ')[1]));
    assert.deepEqual([...widths].sort((a, b) => a - b), widths);
    await showView();
    await (await explorerApi()).reveal(fx.config);
    if (underHarness()) {
      const text = await waitFor('the tree to render the sweep', async () => {
        const t = ((await queryWorkbench('#workbench\\.parts\\.sidebar'))?.texts ?? []).join('\n');
        return t.includes('treesweep') && t.includes('1.0e10 FLOPs') ? t : undefined;
      }, 15_000);
      assert.match(text, /width \d+/);
    }
    await shot('explorer-1-plan-before-run', fx.config);
  });

  it('an invalid config shows an error icon and its first problem; fixing it re-plans', async () => {
    const bad = workspaceFile('treesweep', 'broken.sweep.yaml');
    fs.writeFileSync(bad, 'name: broken\nbudgets: [-5]\n');
    const s = await waitForSweep('broken', 'shown as invalid', (x) => x.icon === 'error', 15_000);
    assert.match(s.contextValue ?? '', /^sweep\.idle\.invalid$/);
    assert.match(s.description ?? '', /line 2/);
    assert.equal(s.children, undefined, 'an invalid sweep has no children');
    fs.writeFileSync(bad, 'name: broken\nbudgets: [1e12]\n');
    await waitForSweep('broken', 'valid again and planned', (x) => x.icon === 'beaker' && experiments(x).length > 0, 15_000);
    fs.rmSync(bad);
    await waitFor('the deleted config to leave the tree', async () => !(await sweepSnap('broken')), 15_000);
  });

  it('a config change re-plans the sweep', async () => {
    const text = fs.readFileSync(fx.config.fsPath, 'utf8');
    fs.writeFileSync(fx.config.fsPath, text.replace('budgets: [1e10, 3e10]', 'budgets: [1e10, 3e10, 6e10]'));
    const s = await waitForSweep('treesweep', 're-planned with 3 budgets', (x) => budgets(x).length === 3, 15_000);
    assert.equal(experiments(s).length, 9);
    fs.writeFileSync(fx.config.fsPath, text);
    await waitForSweep('treesweep', 'back to 2 budgets', (x) => budgets(x).length === 2, 15_000);
  });

  it('statuses change while the sweep runs; stop and resume from the tree', async () => {
    const api = await explorerApi();
    fx.setDelay(350); // 8 lines × 350 ms per experiment: slow enough to watch
    const sweepNode = await api.node(fx.config);
    const before = api.refreshCounts();
    await vscode.commands.executeCommand('flopsfit.runSweep', sweepNode);

    const running = await waitForSweep('treesweep', 'an experiment running with a live loss', (x) =>
      x.contextValue === 'sweep.running' &&
      experiments(x).some((e) => e.contextValue === 'experiment.running' && /^train loss \d/.test(e.description ?? '')),
    );
    const live = experiments(running).find((e) => e.contextValue === 'experiment.running')!;
    assert.equal(live.icon, 'loading~spin');
    assert.match(live.description!, /^train loss \d+\.\d{4} · \d+% · N /);
    assert.equal(running.icon, 'sync~spin');
    // budget badge once something finished
    await waitForSweep('treesweep', 'a budget badge "n/3 done"', (x) => budgets(x).some((b) => /^[1-3]\/3 done/.test(b.description ?? '')));
    // the picture: an experiment running with its live loss, one budget partly done
    await waitForSweep('treesweep', 'running with a live loss again', (x) =>
      experiments(x).some((e) => e.contextValue === 'experiment.running' && /^train loss \d/.test(e.description ?? '')),
    );
    await showView();
    if (underHarness()) {
      const bar = await waitFor('the status-bar progress item', async () => {
        const t = ((await queryWorkbench('#workbench\\.parts\\.statusbar'))?.texts ?? []).join(' ');
        return /FlopsFit \d+\/6/.test(t) ? t : undefined;
      }, 15_000);
      assert.match(bar, /FlopsFit \d+\/6/);
    }
    await shot('explorer-2-during-run', fx.config);
    const mid = api.refreshCounts();
    assert.equal(mid.full, before.full, 'no full refresh of the tree while the sweep runs');
    assert.ok(mid.experiment > before.experiment, 'single experiment rows were refreshed');

    // stop one experiment from its row (slowed down first, so that it is still running)
    fx.setDelay(3000);
    const runningNow = await waitForSweep('treesweep', 'an experiment running', (x) => experiments(x).some((e) => e.contextValue === 'experiment.running'));
    const victim = experiments(runningNow).find((e) => e.contextValue === 'experiment.running')!;
    const stoppedOne = await vscode.commands.executeCommand('flopsfit.stopExperiment', await api.node(fx.config, victim.id));
    assert.equal(stoppedOne, true, 'Stop Experiment signalled the running experiment');
    const afterOne = await waitForSweep('treesweep', `experiment ${victim.label} stopped`, (x) =>
      experiments(x).find((e) => e.id === victim.id)?.contextValue === 'experiment.stopped',
    );
    assert.equal(experiments(afterOne).find((e) => e.id === victim.id)!.icon, 'debug-pause');

    // stop the sweep from the tree (the sweep row's inline action passes the node)
    await vscode.commands.executeCommand('flopsfit.stopSweep', sweepNode);
    const stopped = await waitForSweep('treesweep', 'stopped and resumable', (x) => x.contextValue === 'sweep.resumable', 30_000);
    const st = statuses(stopped);
    assert.ok(st.includes('experiment.completed'), `some experiments completed before the stop: ${st}`);
    assert.ok(!st.includes('experiment.running'), `nothing runs after the stop: ${st}`);
    assert.ok(st.some((x) => x === 'experiment.stopped' || x === 'experiment.queued'), `work is left: ${st}`);
    const stoppedExp = experiments(stopped).find((e) => e.contextValue === 'experiment.stopped');
    if (stoppedExp) assert.equal(stoppedExp.icon, 'debug-pause');

    // resume from the tree
    fx.setDelay(20);
    await vscode.commands.executeCommand('flopsfit.resumeSweep', sweepNode);
    const done = await waitForSweep('treesweep', 'finished', (x) => x.contextValue === 'sweep.finished', 60_000);
    for (const e of experiments(done)) {
      assert.equal(e.contextValue, 'experiment.completed');
      assert.equal(e.icon, 'check');
      assert.match(e.description ?? '', /^eval loss \d+\.\d{4} · N /);
    }
    for (const b of budgets(done)) assert.match(b.description ?? '', /^3\/3 done/);
    const manifest = JSON.parse(fs.readFileSync(path.join(fx.runDir, 'manifest.json'), 'utf8'));
    assert.ok(Object.values(manifest.experiments as Record<string, { status: string }>).every((e) => e.status === 'completed'));
    await shot('explorer-3-after-run', fx.config);
    if (underHarness()) {
      await waitFor('the status-bar item to go away', async () => {
        const t = ((await queryWorkbench('#workbench\\.parts\\.statusbar'))?.texts ?? []).join(' ');
        return !/FlopsFit \d+\/\d+/.test(t);
      }, 10_000);
    }
  });

  it('a failed experiment shows its reason; retry and run-experiment from the tree', async () => {
    const f2 = writeFixture('failsweep', '[1e10]');
    extra.push(f2);
    const plan = await waitForSweep('failsweep', 'planned', (x) => experiments(x).length === 3);
    const widths = experiments(plan).map((e) => Number(e.label.split(' ')[1]));
    f2.setFail([widths[1]!]);
    await vscode.commands.executeCommand('flopsfit.runSweep', await (await explorerApi()).node(f2.config));
    const s = await waitForSweep('failsweep', 'ran with one failure', (x) => x.contextValue === 'sweep.resumable' && statuses(x).includes('experiment.failed'), 60_000);
    const failed = experiments(s).find((e) => e.contextValue === 'experiment.failed')!;
    assert.equal(failed.icon, 'error');
    assert.match(failed.tooltip ?? '', /fake failure for size|exit/);
    assert.equal(experiments(s).filter((e) => e.contextValue === 'experiment.completed').length, 2);

    // retry it from its tree node, with the failure gone
    f2.setFail([]);
    const node = await (await explorerApi()).node(f2.config, failed.id);
    assert.ok(node, 'the failed experiment has a tree node');
    await vscode.commands.executeCommand('flopsfit.retryExperiment', node);
    const fixed = await waitForSweep('failsweep', 'finished after the retry', (x) => x.contextValue === 'sweep.finished', 60_000);
    assert.ok(statuses(fixed).every((x) => x === 'experiment.completed'));
  });

  it('a sweep left running on Slurm (no runner) shows each task\'s Slurm state and offers Resume and Stop', async () => {
    const f3 = writeFixture('slurmsweep', '[1e10]');
    extra.push(f3);
    const plan = await waitForSweep('slurmsweep', 'planned', (x) => experiments(x).length === 3);
    const ids = experiments(plan).map((e) => e.id!);
    // what `flopsfit run --executor slurm --detach` leaves: entries running on the cluster, no lock
    const entry = (status: string, slurm?: Record<string, unknown>) => ({ status, specHash: 'h', budget: 1e10, params: 1, tokens: 1, attempts: 1, ...(slurm ? { slurm } : {}) });
    const manifest = {
      version: 1, sweep: 'slurmsweep', configPath: f3.config.fsPath, createdAt: 't', updatedAt: 't', order: ids, state: 'running',
      experiments: {
        [ids[0]!]: entry('completed'),
        [ids[1]!]: entry('running', { submission: 's1', arrayJobId: '12', task: 1, jobId: '13', state: 'RUNNING', node: 'node07' }),
        [ids[2]!]: entry('running', { submission: 's1', arrayJobId: '12', task: 2, state: 'PENDING', reason: 'Priority' }),
      },
    };
    fs.mkdirSync(f3.runDir, { recursive: true });
    fs.writeFileSync(path.join(f3.runDir, 'manifest.json'), JSON.stringify(manifest));
    const s = await waitForSweep('slurmsweep', 'running on Slurm, detached', (x) => x.contextValue === 'sweep.running.detached', 30_000);
    assert.match(s.description ?? '', /running on Slurm \(detached: Resume follows it\) · 3 runs · Slurm: 1 running, 1 pending/);
    const rows = experiments(s);
    assert.match(rows.find((e) => e.id === ids[1])!.description ?? '', /running on node07 · job 13/);
    assert.match(rows.find((e) => e.id === ids[2])!.description ?? '', /pending \(Priority\) · job 12_2/);
    assert.equal(rows.find((e) => e.id === ids[1])!.contextValue, 'experiment.running', 'a detached cluster task is still running');
    const menus = (JSON.parse(fs.readFileSync(path.join(__dirname, '../../../package.json'), 'utf8')) as { contributes: { menus: Record<string, { command: string; when?: string }[]> } }).contributes.menus['view/item/context']!;
    const offered = (cmd: string) => menus.some((m) => m.command === cmd && new RegExp(/viewItem =~ \/(.*)\/$/.exec(m.when ?? '')?.[1] ?? '^$').test(s.contextValue!));
    assert.ok(offered('flopsfit.resumeSweep') && offered('flopsfit.stopSweep'), 'Resume (re-attach) and Stop are offered on the row');
  });
});
