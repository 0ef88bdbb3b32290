/**
 * Extend Sweep in real VS Code: a workspace sweep whose fit (made by the real fit code on results
 * whose lowest loss is at the largest size) does not bracket its optimum shows the "Optimum not
 * bracketed" row; the command, its modal accepted through the test hook, edits the config (size.max
 * up, the prior re-centred, comments intact: the same text as `flopsfit plan --extend --write`),
 * undo reverts it, and the tree then shows the extended plan. Also: a fit that brackets every
 * budget, a bad fit.json and a missing one get clear messages.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { waitFor, workspaceDir, workspaceFile } from '../harness';
import { budgets, experiments, explorerApi, resetView, sweepSnap, waitForSweep, type Snap } from './sweepFixture';
import { run as planCommand } from '../../../src/cli/commands/plan';
import { loadSweepConfig } from '../../../src/core/config';
import { fitScalingLaws, serializeFitReport } from '../../../src/core/fit';
import { buildPlan } from '../../../src/core/plan';

const NAME = 'extendsweep';
const YAML = `# Extend Sweep integration test: keep this comment
name: ${NAME}
budgets: [1e11, 3e11] # two small budgets
model:
  # the size axis, too narrow: the largest model wins
  size: { param: dModel, min: 32, max: 96 }
planning:
  sizesPerBudget: 3 # three sizes each
run: { directory: .flopsfit/${NAME} }
`;

interface Outcome {
  applied: boolean;
  message: string;
  changes?: string[];
  kept?: number;
  toRun?: number;
}
interface Shown {
  severity: string;
  modal: boolean;
  message: string;
  detail?: string;
  items: string[];
}

const hook = (op: string, arg?: unknown) => vscode.commands.executeCommand('flopsfit._test.extend', op, arg);
const shown = async () => (await hook('shown')) as Shown[];
const extendSweep = async (arg?: unknown) => (await vscode.commands.executeCommand('flopsfit.extendSweep', arg)) as Outcome | undefined;

/** The loss of a model of N parameters at budget C: the largest size tried wins at every budget. */
const largestWins = (N: number, C: number) => 4 - 0.1 * Math.log(N) - 0.01 * Math.log(C);

const widths = (s: Snap) => experiments(s).map((e) => Number(/^dModel (\d+)/.exec(e.label)?.[1]));

describe('Extend Sweep', function () {
  this.timeout(120_000);
  const dir = workspaceFile(NAME);
  const file = path.join(dir, `${NAME}.sweep.yaml`);
  const uri = vscode.Uri.file(file);
  const runDir = workspaceFile('.flopsfit', NAME);
  const fitFile = path.join(runDir, 'fit.json');
  let cliDir: string;

  before(async () => {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(file, YAML);
    // "run" the sweep: results.jsonl of its plan, then fit.json from the real fit code
    const config = loadSweepConfig(file).config!;
    const plan = buildPlan(config, { configPath: file, workspaceRoot: workspaceDir() });
    assert.equal(plan.runDir, runDir);
    fs.mkdirSync(runDir, { recursive: true });
    const rows = plan.experiments.map((e) => ({ id: e.id, budget: e.budget, params: e.params, tokens: e.tokens, flops: 6 * e.params * e.tokens, loss: largestWins(e.params, e.budget), seed: 0, sizeValue: e.sizeValue, hyperparameters: {} }));
    fs.writeFileSync(path.join(runDir, 'results.jsonl'), rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const report = fitScalingLaws(
      rows.map((r) => ({ id: r.id, N: r.params, D: r.tokens, C: r.flops, budget: r.budget, loss: r.loss })),
      { bootstrap: 0 },
    );
    assert.equal(report.isoflopSkipped?.groups.filter((g) => g.status === 'edge' && g.extend?.direction === 'larger').length, 2, 'both budgets are at the largest size');
    fs.writeFileSync(fitFile, serializeFitReport(report));
    // the CLI's --write on a copy of the same config and fit, for the same-text check
    cliDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-extend-cli-'));
    fs.writeFileSync(path.join(cliDir, `${NAME}.sweep.yaml`), YAML);
    await hook('shown'); // start from an empty record
  });

  after(async () => {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(runDir, { recursive: true, force: true });
    fs.rmSync(cliDir, { recursive: true, force: true });
    await waitFor(`${NAME} to leave the tree`, async () => !(await sweepSnap(NAME)), 15_000);
    await resetView();
  });

  it('the sweep shows "Optimum not bracketed: 2 budgets — Extend Sweep…" with each budget in the tooltip, and its actions', async () => {
    const s = await waitForSweep(NAME, 'the not-bracketed row', (x) => x.children?.[0]?.kind === 'extend' && experiments(x).length === 6, 30_000);
    const row = s.children![0]!;
    assert.equal(row.label, 'Optimum not bracketed: 2 budgets');
    assert.equal(row.description, 'Extend Sweep…');
    assert.equal(row.contextValue, 'extend');
    assert.match(row.tooltip ?? '', /1\.0e11 FLOPs: lowest loss at the largest size → add larger models \(N ≈ /);
    assert.match(row.tooltip ?? '', /3\.0e11 FLOPs: lowest loss at the largest size/);
    assert.match(row.tooltip ?? '', /model\.size\.max: 96 → \d+/);
    assert.deepEqual(budgets(s).map((b) => b.label), ['1.0e11 FLOPs', '3.0e11 FLOPs'], 'the budgets follow the row');
    // the inline action on the row, the context menu on the row and on the sweep
    const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '../../../package.json'), 'utf8')) as {
      contributes: { menus: Record<string, { command: string; when?: string; group?: string }[]> };
    };
    // `viewItem == x` or `viewItem =~ /re/` (the forms package.json uses)
    const shows = (when: string, ctx: string) => {
      const m = /viewItem (?:== (\S+)|=~ \/(.*)\/)$/.exec(when);
      return !!m && (m[1] !== undefined ? m[1] === ctx : new RegExp(m[2]!).test(ctx));
    };
    const offered = (ctx: string, inline: boolean) =>
      pkg.contributes.menus['view/item/context']!.some((m) => m.command === 'flopsfit.extendSweep' && (m.group ?? '').startsWith('inline') === inline && shows(m.when ?? '', ctx));
    assert.ok(offered('extend', true), 'inline on the row');
    assert.ok(offered('extend', false) && offered(s.contextValue!, false), 'in the context menu of the row and of the sweep');
    assert.ok(!offered(s.contextValue!, true), 'not inline on the sweep row');
    const palette = pkg.contributes.menus.commandPalette!.find((m) => m.command === 'flopsfit.extendSweep');
    assert.match(palette?.when ?? '', /resourceFilename .*sweep.*\|\| focusedView == flopsfit\.sweeps/);
  });

  it('Apply (the modal, answered by the test hook) edits the config as the CLI does, keeps comments, undoes; the tree shows the extended plan', async () => {
    const before = await waitForSweep(NAME, 'planned', (x) => experiments(x).length === 6);
    const widest = Math.max(...widths(before));
    // from the palette: the active editor is the config
    const editor = await vscode.window.showTextDocument(uri);
    await hook('answer', ['Apply', null]);
    const out = await extendSweep();
    assert.ok(out, 'the command returns what it did');
    assert.equal(out.applied, true, out.message);
    assert.ok(out.changes!.some((c) => /^model\.size\.max: 96 → \d+$/.test(c)), out.changes!.join('; '));
    assert.ok(out.changes!.some((c) => /^planning\.priorTokensPerParam: 20 → [\d.]+$/.test(c)), out.changes!.join('; '));
    assert.ok(out.toRun! > 0, 'new experiments to run');
    const [modal, done] = await shown();
    assert.ok(modal?.modal, 'a modal dialog first');
    assert.match(modal!.message, /^Extend extendsweep\? 2 budgets do not bracket the optimum\.$/);
    assert.match(modal!.detail ?? '', /budget 1\.00e\+11: the lowest loss is at the largest size tried; add larger models/);
    assert.match(modal!.detail ?? '', new RegExp(`The extended plan: \\d+ experiments; ${out.kept} already completed \\(kept\\), ${out.toRun} to run\\.`));
    assert.deepEqual(modal!.items, ['Apply']);
    assert.equal(done?.modal, false);
    assert.deepEqual(done?.items, ['Run Sweep'], 'then offers Run Sweep');

    // the file on disk: saved, comments intact, exactly the CLI's --write text
    const text = fs.readFileSync(file, 'utf8');
    assert.equal(editor.document.isDirty, false, 'saved');
    for (const c of ['# Extend Sweep integration test: keep this comment', '# two small budgets', '# the size axis, too narrow', '# three sizes each']) assert.ok(text.includes(c), `${c} kept:\n${text}`);
    const c = loadSweepConfig(file).config!;
    assert.ok(c.model.family === 'transformer' && c.model.size.max > 96 && c.model.size.min === 32);
    assert.notEqual(c.planning.priorTokensPerParam, 20);
    const cliFile = path.join(cliDir, `${NAME}.sweep.yaml`);
    await planCommand([cliFile, '--workspace', cliDir, '--extend', fitFile, '--write']);
    assert.equal(text, fs.readFileSync(cliFile, 'utf8'), 'the editor and `flopsfit plan --extend --write` write the same text');

    // undoable: one undo restores the original text, redo brings the extension back
    await vscode.commands.executeCommand('undo');
    await waitFor('undo to restore the config', () => editor.document.getText() === YAML, 10_000);
    await vscode.commands.executeCommand('redo');
    await waitFor('redo to extend it again', () => editor.document.getText() === text, 10_000);
    await editor.document.save();

    // the tree re-plans: larger models, completed ones kept by id, and the row now says to run and fit again
    const after = await waitForSweep(NAME, 'the extended plan', (x) => Math.max(...widths(x)) > widest && x.children?.[0]?.contextValue === 'extend.done', 30_000);
    assert.equal(experiments(after).length, out.kept! + out.toRun!);
    const completed = new Set(experiments(before).map((e) => e.id));
    assert.equal(experiments(after).filter((e) => completed.has(e.id)).length, out.kept, 'the completed experiments keep their ids in the extended plan');
    // the suggested larger models train < 1 token per parameter at these budgets: the band is
    // widened so the planner keeps them (the whole grid moves, so no old size needs to stay)
    assert.ok(out.changes!.some((c) => /^planning\.tokensPerParam\.min: 1 → [\d.]+$/.test(c)), out.changes!.join('; '));
    assert.equal(after.children![0]!.description, 'sizes extended: run the sweep, then fit again');

    // again: nothing to change now
    await hook('answer', [null]);
    const again = await extendSweep(uri);
    assert.equal(again?.applied, false);
    assert.match(again!.message, /already reaches the sizes its fit asks for: run the sweep, then fit again/);
    assert.equal(fs.readFileSync(file, 'utf8'), text, 'unchanged');
    await shown();
  });

  it('Cancel leaves the config alone', async () => {
    fs.writeFileSync(file, YAML);
    await waitForSweep(NAME, 'back to the narrow sizes', (x) => x.children?.[0]?.contextValue === 'extend' && experiments(x).length === 6, 30_000);
    const node = await (await explorerApi()).node(uri);
    await hook('answer', [null]);
    const out = await extendSweep(node);
    assert.equal(out?.applied, false);
    assert.equal(out?.message, 'cancelled');
    assert.equal(fs.readFileSync(file, 'utf8'), YAML);
    await shown();
  });

  it('a fit that brackets every budget, a bad fit.json and a missing one: clear messages naming the file, no row', async () => {
    // every budget brackets its optimum: a bowl in ln N around N* = sqrt(C / 120), fitted by the real fit code
    const points = [1e11, 3e11].flatMap((C, b) =>
      [0.25, 0.5, 1, 2, 4].map((f, j) => {
        const N = Math.sqrt(C / 120) * f;
        return { id: `p${b}${j}`, N, D: C / (6 * N), C, budget: C, loss: 2 + 0.05 * Math.log(f) ** 2 };
      }),
    );
    fs.writeFileSync(fitFile, serializeFitReport(fitScalingLaws(points, { bootstrap: 0 })));
    await waitForSweep(NAME, 'no row once the fit brackets', (x) => x.children?.[0]?.kind === 'budget', 30_000);
    let out = await extendSweep(uri);
    assert.equal(out?.applied, false);
    assert.match(out!.message, /every budget of the fit brackets its optimum: nothing to extend \(.*fit\.json\)/);

    fs.writeFileSync(fitFile, '{"version": 1}');
    out = await extendSweep(uri);
    assert.match(out!.message, /^Extend Sweep: .*fit\.json is not a fit report: createdAt: .*Fit the sweep again to rewrite it\.$/);
    assert.equal((await shown()).at(-1)?.severity, 'error');

    fs.rmSync(fitFile);
    await hook('answer', [null]);
    out = await extendSweep(uri);
    assert.match(out!.message, /^extendsweep has no fit yet \(.*fit\.json\): run the sweep and fit it/);
    assert.equal(fs.readFileSync(file, 'utf8'), YAML, 'the config is untouched throughout');
    await shown();
  });
});
