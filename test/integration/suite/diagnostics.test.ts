/**
 * Inline validation in a real VS Code: an invalid .sweep.yaml gets located diagnostics within a
 * second of opening, the unknown-key quick fix and an edit clear them, and hover and completion
 * come from the schema. Screenshot: test-results/diagnostics-squiggles.png.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as vscode from 'vscode';
import { activate, queryWorkbench, screenshot, sleep, underHarness, waitFor, workspaceFile } from '../harness';

const INVALID = `# An invalid sweep config: two mistakes, each squiggled where it is.
name: diag-test
budgets: [1e12, -3e12, 1e13]
model:
  family: transformer
  nLayer: 3
  size: {min: 16, max: 256}
planning:
  sizesPerBudget: 4
`;

function flopsfitDiagnostics(uri: vscode.Uri): vscode.Diagnostic[] {
  return vscode.languages.getDiagnostics(uri).filter((d) => d.source === 'flopsfit');
}

describe('diagnostics', function () {
  this.timeout(60_000);
  const file = () => workspaceFile('diag-test.sweep.yaml');
  let doc: vscode.TextDocument;

  before(async () => {
    await activate();
    fs.writeFileSync(file(), INVALID);
  });

  after(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    fs.rmSync(file(), { force: true });
  });

  it('shows errors on the exact key and value within a second of opening', async () => {
    const uri = vscode.Uri.file(file());
    doc = await vscode.workspace.openTextDocument(uri);
    // from the moment the document is open in the extension host (rendering the editor is VS Code's)
    const t0 = Date.now();
    void vscode.window.showTextDocument(doc);
    const diags = await waitFor('flopsfit diagnostics on the invalid config', () => {
      const d = flopsfitDiagnostics(uri);
      return d.length >= 2 ? d : undefined;
    }, 5_000, 20);
    const ms = Date.now() - t0;
    console.log(`    diagnostics after ${ms} ms`);
    assert.ok(ms < 1000, `diagnostics took ${ms} ms`);

    const byText = new Map(diags.map((d) => [doc.getText(d.range), d]));
    const key = byText.get('nLayer');
    assert.ok(key, `a diagnostic on 'nLayer': ${JSON.stringify(diags.map((d) => [doc.getText(d.range), d.message]))}`);
    assert.equal(key.severity, vscode.DiagnosticSeverity.Error);
    assert.equal(key.message, "unknown key 'nLayer'; did you mean 'nLayers'?");
    assert.deepEqual([key.range.start.line, key.range.start.character], [5, 2]);
    const budget = byText.get('-3e12');
    assert.ok(budget, 'a diagnostic on the negative budget');
    assert.match(budget.message, /budgets must be > 0/);
    assert.equal(budget.range.start.line, 2);

    if (underHarness()) {
      await vscode.commands.executeCommand('workbench.action.closeSidebar');
      await waitFor('the squiggles to render', async () => {
        const q = await queryWorkbench('.monaco-editor .squiggly-error');
        return (q?.texts.length ?? 0) >= 2;
      }, 10_000);
      // the Problems panel lists the messages beside the squiggles
      await vscode.commands.executeCommand('workbench.actions.view.problems');
      await vscode.window.showTextDocument(doc);
      await sleep(500);
      const shot = await screenshot('diagnostics-squiggles');
      await vscode.commands.executeCommand('workbench.action.closePanel');
      assert.ok(shot && fs.statSync(shot).size > 10_000, `screenshot written: ${shot}`);
    }
  });

  it('offers the close known key as a quick fix, and applying it clears that error', async () => {
    const key = flopsfitDiagnostics(doc.uri).find((d) => doc.getText(d.range) === 'nLayer');
    assert.ok(key);
    const actions = await vscode.commands.executeCommand<vscode.CodeAction[]>('vscode.executeCodeActionProvider', doc.uri, key.range, vscode.CodeActionKind.QuickFix.value);
    const fix = actions.find((a) => a.title === "Change 'nLayer' to 'nLayers'");
    assert.ok(fix?.edit, `quick fix offered: ${JSON.stringify(actions.map((a) => a.title))}`);
    assert.ok(await vscode.workspace.applyEdit(fix.edit));
    assert.match(doc.lineAt(5).text, /^ {2}nLayers: 3$/);
    await waitFor('the unknown-key error to clear', () => !flopsfitDiagnostics(doc.uri).some((d) => /unknown key/.test(d.message)), 5_000, 20);
    assert.equal(flopsfitDiagnostics(doc.uri).length, 1, 'only the budget error is left');
  });

  it('clears every diagnostic once the config is fixed by an edit', async () => {
    const line = doc.lineAt(2).text;
    const start = line.indexOf('-3e12');
    const edit = new vscode.WorkspaceEdit();
    edit.replace(doc.uri, new vscode.Range(2, start, 2, start + 5), '3e12');
    const t0 = Date.now();
    assert.ok(await vscode.workspace.applyEdit(edit));
    await waitFor('all diagnostics to clear', () => flopsfitDiagnostics(doc.uri).length === 0, 5_000, 20);
    console.log(`    cleared ${Date.now() - t0} ms after the edit (debounce ${vscode.workspace.getConfiguration('flopsfit').get('validation.debounceMs')} ms)`);
  });

  it('warns about semantic problems on the config key they are about', async () => {
    const line = doc.lineAt(6).text;
    const edit = new vscode.WorkspaceEdit();
    // a size range far below the optimum of 1e13 FLOPs: the grid cannot bracket it
    edit.replace(doc.uri, new vscode.Range(6, 0, 6, line.length), '  size: {min: 16, max: 40}');
    assert.ok(await vscode.workspace.applyEdit(edit));
    const w = await waitFor('a grid-not-bracketing warning', () => flopsfitDiagnostics(doc.uri).find((d) => d.code === 'grid-not-bracketing'), 5_000, 20);
    assert.equal(w.severity, vscode.DiagnosticSeverity.Warning);
    assert.equal(w.range.start.line, 2, 'on the budget it is about');
    assert.match(doc.getText(w.range), /^\de1\d$/);
  });

  it('hovers and completes from the schema', async () => {
    const pos = new vscode.Position(8, 6); // inside 'sizesPerBudget'
    const hovers = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', doc.uri, pos);
    const text = hovers.flatMap((h) => h.contents.map((c) => (typeof c === 'string' ? c : 'value' in c ? c.value : ''))).join('\n');
    assert.match(text, /planning\.sizesPerBudget/);
    assert.match(text, /Model sizes trained per budget/);

    const edit = new vscode.WorkspaceEdit();
    edit.insert(doc.uri, new vscode.Position(9, 0), '  ');
    assert.ok(await vscode.workspace.applyEdit(edit));
    const list = await vscode.commands.executeCommand<vscode.CompletionList>('vscode.executeCompletionItemProvider', doc.uri, new vscode.Position(9, 2));
    const labels = list.items.map((i) => (typeof i.label === 'string' ? i.label : i.label.label));
    assert.ok(labels.includes('priorTokensPerParam') && labels.includes('sizeSpread'), `planning keys offered: ${labels.slice(0, 20).join(', ')}`);
    assert.ok(!labels.includes('sizesPerBudget'), 'keys already present are not offered again');
  });
});
