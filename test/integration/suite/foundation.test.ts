/**
 * Foundation: the extension activates from its workspaceContains event, registers every command it
 * declares, shows its activity-bar container and sweep view, and loads no tfjs while activating.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { activationState, extension, packageJson, queryWorkbench, screenshot, sleep, underHarness, waitFor, workspaceDir } from '../harness';

describe('foundation', () => {
  it('activates by itself in a workspace that holds a .sweep.yaml', async () => {
    assert.ok(fs.existsSync(path.join(workspaceDir(), 'tiny.sweep.yaml')), 'fixture tiny.sweep.yaml is in the workspace');
    const ext = extension();
    // suite/index.ts waits for activation before mocha starts, so no test's activate() call could
    // have done it: only the workspaceContains activation event can.
    const state = activationState();
    assert.ok(state, 'suite/index.ts recorded the activation state');
    assert.ok(state.activeBeforeTests, `the extension was not activated by its activation events within ${state.waitedMs} ms`);
    assert.ok(ext.isActive);
    const api = ext.exports;
    assert.equal(typeof api?.activationMs, 'number', 'activate() returns an API with activationMs');
    assert.ok(api.activationMs >= 0 && api.activationMs < 5_000, `activationMs is plausible: ${api.activationMs}`);
    console.log(`    activationMs: ${api.activationMs.toFixed(1)} ms`);
  });

  it('registers every command declared in package.json, and no undeclared flopsfit.* command', async () => {
    await extension().activate();
    const declared = packageJson().contributes.commands.map((c) => c.command).sort();
    assert.ok(declared.length > 0, 'package.json declares commands');
    // View-generated commands (flopsfit.sweeps.focus, …) are VS Code's own, not the extension's;
    // `flopsfit._*` commands are internal by convention (test hooks, argument-only delegates).
    const viewIds = ['flopsfit.sweeps'];
    const registered = (await vscode.commands.getCommands(true))
      .filter((c) => c.startsWith('flopsfit.') && !c.startsWith('flopsfit._'))
      .filter((c) => !viewIds.some((v) => c.startsWith(`${v}.`)))
      .sort();
    const missing = declared.filter((c) => !registered.includes(c));
    const undeclared = registered.filter((c) => !declared.includes(c));
    assert.deepEqual(missing, [], `declared but not registered: ${missing.join(', ')}`);
    assert.deepEqual(undeclared, [], `registered but not declared in contributes.commands: ${undeclared.join(', ')}`);
  });

  it('shows the FlopsFit activity-bar container and the Sweeps view', async function () {
    await extension().activate();
    const all = await vscode.commands.getCommands(true);
    assert.ok(all.includes('workbench.view.extension.flopsfit'), 'the view container "flopsfit" is contributed');
    assert.ok(all.includes('flopsfit.sweeps.focus'), 'the view "flopsfit.sweeps" is contributed');
    await vscode.commands.executeCommand('workbench.view.extension.flopsfit');
    await vscode.commands.executeCommand('flopsfit.sweeps.focus');
    if (underHarness()) {
      const sidebar = await waitFor(
        'the sidebar to show the FlopsFit container with the Sweeps view',
        async () => {
          const t = ((await queryWorkbench('#workbench\\.parts\\.sidebar'))?.texts ?? []).join('\n').toUpperCase();
          return t.includes('FLOPSFIT') && t.includes('SWEEPS') ? t : undefined;
        },
        15_000,
      );
      assert.match(sidebar, /SWEEPS/);
      const selected = (await queryWorkbench('.activitybar .action-item.checked'))?.labels ?? [];
      assert.ok(
        selected.some((l) => l.startsWith('FlopsFit')),
        `the selected activity-bar item is FlopsFit (selected: ${JSON.stringify(selected)})`,
      );
      // The workspace holds tiny.sweep.yaml, so the view lists it (planning may take a moment).
      let rows: string[] = [];
      try {
        await waitFor(
          'the Sweeps view to list the "tiny" sweep',
          async () => {
            rows = (await queryWorkbench('#workbench\\.parts\\.sidebar .monaco-list-row'))?.texts ?? [];
            // a row's innerText is label + description with no separator: "tiny15 runs · …"
            return rows.some((r) => /^tiny(?![A-Za-z_-])/.test(r));
          },
          30_000,
        );
      } catch (e) {
        await screenshot('foundation-sweeps-view-FAILED');
        throw new Error(`${(e as Error).message}; rows in the sidebar: ${JSON.stringify(rows)}`);
      }
      await sleep(300); // let icons and layout settle before the picture
      const file = await screenshot('foundation-sweeps-view');
      assert.ok(file && fs.statSync(file).size > 10_000, `screenshot written: ${file}`);
    }
  });

  it('loads no tfjs while activating (bundle and module cache)', async () => {
    const ext = extension();
    await ext.activate();
    const main = path.join(ext.extensionPath, (ext.packageJSON as { main: string }).main);
    const bundle = fs.readFileSync(main.endsWith('.js') ? main : `${main}.js`, 'utf8');
    // tfjs's own code, or a load of it (the planner's default parallelism only asks, by name,
    // whether a GPU package is installed: `require.resolve("@tensorflow/tfjs-node-gpu")`)
    for (const marker of ['tfjs-core', 'tfjs-backend']) {
      assert.ok(!bundle.includes(marker), `dist/extension.js must not contain "${marker}" (training runs in the task process)`);
    }
    assert.doesNotMatch(bundle, /(require|import)\(\s*["']@tensorflow\//, 'dist/extension.js must not load an @tensorflow module');
    assert.doesNotMatch(bundle, /from\s+["']@tensorflow\//, 'dist/extension.js must not import an @tensorflow module');
    const loaded = Object.keys(require.cache).filter((k) => /[\\/]@tensorflow[\\/]/.test(k));
    assert.deepEqual(loaded, [], 'no @tensorflow module is loaded in the extension host');
  });
});
