/**
 * A command-trainer sweep keeps its tree in the real Sweeps view: editing the config (each edit
 * re-counts the sizes with `countParams`, asynchronously) and running it refresh the sweep's row
 * while an earlier refresh may still be waiting for its plan. The view once lost every budget and
 * experiment then ("Element with id …|b|0 is already registered") until Reload Window. Checked in
 * the rendered workbench, not only in the provider's data.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as vscode from 'vscode';
import { queryWorkbench, sleep, underHarness, waitFor } from '../harness';
import { budgets, experiments, explorerApi, resetView, waitForSweep, writeFixture, type Fixture, type Snap } from './sweepFixture';

/**
 * The Sweeps view's text: the rendered workbench under the harness; in another VS Code (desktop,
 * no DOM access) the rows the tree provider hands to VS Code.
 */
async function sidebarText(): Promise<string> {
  if (underHarness()) return ((await queryWorkbench('#workbench\\.parts\\.sidebar'))?.texts ?? []).join('\n');
  const rows = (s: Snap): string[] => [`${s.label} ${s.description ?? ''}`, ...(s.children ?? []).flatMap(rows)];
  return (await (await explorerApi()).snapshot()).flatMap(rows).join('\n');
}

describe('command-trainer sweep tree', function () {
  this.timeout(180_000);
  let fx: Fixture;

  before(async () => {
    fx = writeFixture('cmdtree');
    await waitForSweep('cmdtree', 'planned', (s) => experiments(s).length === 6, 60_000);
  });

  after(async () => {
    await fx.remove();
    await resetView();
  });

  it('keeps its budgets and experiments through edits, re-plans and a run', async function () {
    await vscode.commands.executeCommand('workbench.view.extension.flopsfit');
    await vscode.commands.executeCommand('flopsfit.sweeps.focus');
    // reveal (expand) the sweep once the view has rendered its row
    const api = await explorerApi();
    await waitFor(
      'the sweep revealed in the view',
      () =>
        api.reveal(fx.config).then(
          () => true,
          () => undefined,
        ),
      20_000,
      250,
    );
    await waitFor('the budgets in the view', async () => ((await sidebarText()).includes('1.0e10 FLOPs') ? true : undefined), 20_000);

    // quick successive edits: each re-plans (counting sizes) while the view refreshes the sweep
    const text = fs.readFileSync(fx.config.fsPath, 'utf8');
    for (const budgets of ['[1e10, 3e10, 1e11]', '[1e10, 3e10]', '[1e10, 3e10, 1e11]', '[1e10, 3e10]']) {
      fs.writeFileSync(fx.config.fsPath, text.replace(/^budgets: .*$/m, `budgets: ${budgets}`));
      await sleep(150);
    }
    await waitForSweep('cmdtree', 're-planned', (s) => budgets(s).length === 2 && experiments(s).length === 6, 60_000);
    const afterEdits = await waitFor(
      'the rendered view to show both budgets again',
      async () => {
        const t = await sidebarText();
        return t.includes('1.0e10 FLOPs') && t.includes('3.0e10 FLOPs') ? t : undefined;
      },
      20_000,
    );
    assert.match(afterEdits, /width \d+/, 'experiments are rendered under the budgets');

    fx.setDelay(40);
    await vscode.commands.executeCommand('flopsfit.runSweep', fx.config);
    await waitForSweep('cmdtree', 'finished', (s) => s.contextValue === 'sweep.finished', 120_000);
    const afterRun = await waitFor(
      'the rendered view after the run',
      async () => {
        const t = await sidebarText();
        return t.includes('1.0e10 FLOPs') && t.includes('3.0e10 FLOPs') && /loss \d/.test(t) ? t : undefined;
      },
      20_000,
    );
    assert.match(afterRun, /width \d+/);
  });
});
