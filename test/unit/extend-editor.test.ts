/**
 * The editor's side of `plan --extend`: one home for editing the config text (`applyConfigChanges`,
 * used by the CLI's --write and by Extend Sweep), and the Sweeps tree's "Optimum not bracketed" row
 * (src/extension/explorer/extendRow.ts), on fits made by the real fit code.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { run as planCommand } from '../../src/cli/commands/plan';
import { loadSweepConfig, parseSweepConfig } from '../../src/core/config';
import { fitScalingLaws, serializeFitReport, type FitReport } from '../../src/core/fit';
import { buildPlan } from '../../src/core/plan';
import { applyConfigChanges, completedIds, edgeBudgets, proposeExtension, readFitReportFile, splitByCompleted } from '../../src/core/plan/extend';
import { extendRow } from '../../src/extension/explorer/extendRow';
import { capture } from './cliHelpers';

const YAML = `# my sweep: keep this comment
name: wide
budgets: [1e11, 3e11] # two small budgets
model:
  # the size axis
  size: { param: dModel, min: 32, max: 96 }
planning:
  sizesPerBudget: 3 # three sizes each
`;

const JSONC = `// a JSON sweep with comments
{
  "name": "wide",
  /* budgets in FLOPs */
  "budgets": [1e11, 3e11],
  "model": {
    "size": { "param": "dModel", "min": 32, "max": 96 } // the size axis
  },
  "planning": { "sizesPerBudget": 3 }
}
`;

/** Writes the config, plans it, "runs" it (results.jsonl) with `loss(N, C)`, and fits it with the real fit code. */
function fitted(dir: string, fileName: string, text: string, loss: (N: number, C: number) => number): { file: string; fitFile: string; report: FitReport; runDir: string } {
  const file = path.join(dir, fileName);
  fs.writeFileSync(file, text);
  const config = loadSweepConfig(file).config!;
  assert.ok(config, `${fileName} is a valid config`);
  const plan = buildPlan(config, { configPath: file, workspaceRoot: dir });
  const points = plan.experiments.map((e) => ({ id: e.id, N: e.params, D: e.tokens, C: 6 * e.params * e.tokens, budget: e.budget, loss: loss(e.params, e.budget) }));
  const report = fitScalingLaws(points, { bootstrap: 0 });
  fs.mkdirSync(plan.runDir, { recursive: true });
  const fitFile = path.join(plan.runDir, 'fit.json');
  fs.writeFileSync(fitFile, serializeFitReport(report));
  const rows = plan.experiments.map((e, i) => ({ id: e.id, budget: e.budget, params: e.params, tokens: e.tokens, flops: 6 * e.params * e.tokens, loss: points[i]!.loss, seed: 0, sizeValue: e.sizeValue, hyperparameters: {} }));
  fs.writeFileSync(path.join(plan.runDir, 'results.jsonl'), rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  return { file, fitFile, report, runDir: plan.runDir };
}

/** The largest model wins at every budget: the optimum lies above the sizes tried. */
const largestWins = (N: number, C: number) => 4 - 0.1 * Math.log(N) - 0.01 * Math.log(C);
/** A bowl in ln N around N* = sqrt(C / 120): every budget brackets its optimum. */
const bracketed = (N: number, C: number) => 2 + 0.05 * Math.log(N / Math.sqrt(C / 120)) ** 2;

describe('Extend Sweep: editing the config text (one home for the CLI and the editor)', function () {
  this.timeout(60_000);
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-extend-ed-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('YAML: sets the new values and keeps every comment, the order and the flow style', () => {
    const out = applyConfigChanges(YAML, 'x.sweep.yaml', [
      { path: ['model', 'size', 'max'], to: 256 },
      { path: ['planning', 'priorTokensPerParam'], to: 7.5 },
    ]);
    for (const c of ['# my sweep: keep this comment', '# two small budgets', '# the size axis', '# three sizes each']) assert.ok(out.includes(c), `${c} survives:\n${out}`);
    assert.match(out, /size: \{ param: dModel, min: 32, max: 256 \}/);
    const c = parseSweepConfig(out, 'x.sweep.yaml').config!;
    assert.ok(c.model.family === 'transformer' && c.model.size.max === 256 && c.model.size.min === 32);
    assert.equal(c.planning.priorTokensPerParam, 7.5);
    assert.equal(c.planning.sizesPerBudget, 3, 'the other settings stay');
    assert.equal(applyConfigChanges(YAML, 'x.sweep.yml', []), YAML, 'no change, same text');
  });

  it('YAML: only the values change (number spelling and spacing stay); missing keys are added to their map', () => {
    const out = applyConfigChanges(YAML, 'x.sweep.yaml', [{ path: ['model', 'size', 'max'], to: 256 }]);
    assert.equal(out, YAML.replace('max: 96', 'max: 256'), 'exactly the one value changed');
    // planning is there, priorTokensPerParam is not: a line in the planning map
    const added = applyConfigChanges(YAML, 'x.sweep.yaml', [{ path: ['planning', 'priorTokensPerParam'], to: 7.5 }]);
    assert.equal(added, YAML.replace('  sizesPerBudget: 3 # three sizes each\n', '  sizesPerBudget: 3 # three sizes each\n  priorTokensPerParam: 7.5\n'));
    // no planning map at all, and no newline at the end: a new top-level map
    const bare = 'name: w # n\nbudgets: [1e11]\nmodel:\n  size: { param: dModel, min: 32, max: 96 }';
    const top = applyConfigChanges(bare, 'x.sweep.yml', [{ path: ['planning', 'priorTokensPerParam'], to: 12 }]);
    assert.equal(top, bare + '\nplanning:\n  priorTokensPerParam: 12\n');
    // a key missing from a flow map
    const flow = 'name: w\nbudgets: [1e11]\nmodel: { size: { param: dModel, max: 96 } }\n';
    const f = applyConfigChanges(flow, 'x.sweep.yaml', [{ path: ['model', 'size', 'min'], to: 16 }]);
    assert.equal(f, 'name: w\nbudgets: [1e11]\nmodel: { size: { param: dModel, max: 96, min: 16 } }\n');
    for (const t of [added, top, f]) assert.ok(parseSweepConfig(t, 'x.sweep.yaml').config, `valid:\n${t}`);
  });

  it('JSON with comments (*.sweep.json): edits in place, comments survive, the result parses', () => {
    const out = applyConfigChanges(JSONC, 'x.sweep.json', [
      { path: ['model', 'size', 'max'], to: 256 },
      { path: ['planning', 'priorTokensPerParam'], to: 7.5 },
    ]);
    for (const c of ['// a JSON sweep with comments', '/* budgets in FLOPs */', '// the size axis']) assert.ok(out.includes(c), `${c} survives:\n${out}`);
    assert.match(out, /"max": 256/);
    const c = parseSweepConfig(out, 'x.sweep.json').config!;
    assert.ok(c, 'still a valid config');
    assert.ok(c.model.family === 'transformer' && c.model.size.max === 256);
    assert.equal(c.planning.priorTokensPerParam, 7.5);
  });

  for (const [fileName, text] of [
    ['wide.sweep.yaml', YAML],
    ['wide.sweep.json', JSONC],
  ] as const) {
    it(`the CLI's --write writes exactly applyConfigChanges' text (${fileName}), the text Extend Sweep puts in the editor`, async () => {
      const { file, fitFile, report } = fitted(dir, fileName, text, largestWins);
      const proposal = proposeExtension(report, loadSweepConfig(file).config!);
      assert.ok(proposal.changes.some((c) => c.path.join('.') === 'model.size.max' && c.to > 96), JSON.stringify(proposal.changes));
      const expected = applyConfigChanges(text, file, proposal.changes);
      assert.notEqual(expected, text);
      const r = await capture(() => planCommand([file, '--workspace', dir, '--extend', fitFile, '--write']));
      assert.equal(r.code, 0, r.err);
      assert.equal(fs.readFileSync(file, 'utf8'), expected);
      // and the editor's module gets its text from the same function (src/extension/extend/index.ts)
      const editor = fs.readFileSync(path.join(__dirname, '../../src/extension/extend/index.ts'), 'utf8');
      assert.match(editor, /import \{[^}]*\bapplyConfigChanges\b[^}]*\} from '\.\.\/\.\.\/core\/plan\/extend'/);
      assert.match(editor, /applyConfigChanges\(text, sweep\.uri\.fsPath, proposal\.changes\)/);
    });
  }

  it('readFitReportFile: a missing file and a file that is not a fit report get messages naming the file', () => {
    const missing = readFitReportFile(path.join(dir, 'nope', 'fit.json'));
    assert.match(missing.error ?? '', /^cannot read .*nope[\\/]fit\.json: no such file$/);
    fs.writeFileSync(path.join(dir, 'bad.json'), '{"version": 1');
    assert.match(readFitReportFile(path.join(dir, 'bad.json')).error ?? '', /^cannot read .*bad\.json: /);
    fs.writeFileSync(path.join(dir, 'bad.json'), '{"version": 1}');
    assert.match(readFitReportFile(path.join(dir, 'bad.json')).error ?? '', /bad\.json is not a fit report: createdAt: /);
  });

  it('the extended plan keeps the completed experiments by id (splitByCompleted on results.jsonl)', () => {
    const { file, report, runDir } = fitted(dir, 'wide.sweep.yaml', YAML, largestWins);
    const config = loadSweepConfig(file).config!;
    const before = buildPlan(config, { configPath: file, workspaceRoot: dir });
    const proposal = proposeExtension(report, config);
    const after = buildPlan(proposal.config, { configPath: file, workspaceRoot: dir });
    const done = completedIds(runDir);
    assert.equal(done.size, before.experiments.length);
    const { kept, toRun } = splitByCompleted(after, done);
    assert.equal(kept.length + toRun.length, after.experiments.length);
    assert.ok(toRun.length > 0, 'new experiments to run');
    assert.ok(toRun.some((e) => e.params > Math.max(...before.experiments.map((x) => x.params))), 'larger models are planned');
    assert.ok(kept.every((e) => done.has(e.id)));
  });
});

describe('the Sweeps tree: "Optimum not bracketed" row', function () {
  this.timeout(60_000);
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-extend-row-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('a fit whose largest size wins: the row names each budget, which way and the N to add', () => {
    const { file, report } = fitted(dir, 'wide.sweep.yaml', YAML, largestWins);
    const config = loadSweepConfig(file).config!;
    const edges = edgeBudgets(report);
    assert.deepEqual(edges.map((b) => b.direction), ['larger', 'larger']);
    const row = extendRow(report, config)!;
    assert.ok(row, 'a row is shown');
    assert.equal(row.label, 'Optimum not bracketed: 2 budgets');
    assert.equal(row.description, 'Extend Sweep…');
    assert.equal(row.contextValue, 'extend');
    assert.match(row.tooltip, /- 1\.0e11 FLOPs: lowest loss at the largest size → add larger models \(N ≈ [\d.]+[kM]?, [\d.]+[kM]?\)/);
    assert.match(row.tooltip, /- 3\.0e11 FLOPs: lowest loss at the largest size/);
    assert.match(row.tooltip, /`model\.size\.max: 96 → \d+`/);
    assert.match(row.tooltip, /completed runs are kept/);
  });

  it('once the config reaches the sizes (after Extend Sweep), the row says to run the sweep and fit again', () => {
    const { file, report } = fitted(dir, 'wide.sweep.yaml', YAML, largestWins);
    const config = loadSweepConfig(file).config!;
    const extended = parseSweepConfig(applyConfigChanges(YAML, file, proposeExtension(report, config).changes), file).config!;
    const row = extendRow(report, extended)!;
    assert.equal(row.contextValue, 'extend.done');
    assert.equal(row.description, 'sizes extended: run the sweep, then fit again');
    assert.match(row.tooltip, /already reaches these sizes/);
  });

  it('one budget at the edge: singular label; a command trainer gets the proposal\'s note', () => {
    const { file, report } = fitted(dir, 'wide.sweep.yaml', YAML, (N, C) => (C < 2e11 ? bracketed(N, C) : largestWins(N, C)));
    const config = loadSweepConfig(file).config!;
    const row = extendRow(report, config);
    // whether the small budget brackets depends on the grid; the large one does not
    assert.ok(row, 'the edge budget gets a row');
    const n = edgeBudgets(report).length;
    assert.equal(row.label, `Optimum not bracketed: ${n} budget${n === 1 ? '' : 's'}`);
    const command = parseSweepConfig(
      'name: byo\nbudgets: [1e11, 3e11]\nmodel:\n  family: command\n  command: [python, train.py]\n  countParams: [python, train.py, --count]\n  size: { param: width, min: 8, max: 64 }\n',
      'byo.sweep.yaml',
    ).config!;
    assert.ok(command, 'a command-trainer config');
    const r2 = extendRow(report, command)!;
    assert.equal(r2.contextValue, 'extend', 'the user widens a command trainer\'s sizes: still offered');
    assert.match(r2.tooltip, /countParams: widen model\.size\.min\/max so that it reaches N = /);
  });

  it('no row when every budget brackets its optimum, or without a fit or a config', () => {
    const { file, report } = fitted(dir, 'wide.sweep.yaml', YAML.replace('min: 32, max: 96', 'min: 16, max: 512'), bracketed);
    const config = loadSweepConfig(file).config!;
    assert.deepEqual(edgeBudgets(report), [], 'the fit brackets every budget');
    assert.equal(extendRow(report, config), undefined);
    assert.equal(extendRow(undefined, config), undefined);
    assert.equal(extendRow(report, undefined), undefined);
  });
});
