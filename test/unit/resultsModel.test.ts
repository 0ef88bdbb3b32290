import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { learningCurve, synthPlan, writeRunDir } from '../support/runDirFixture';
import { RUN_FILES } from '../../src/core/contracts';
import { RunDirModel } from '../../src/extension/results/model';
import { buildExport, flattenJson, toCsv } from '../../src/extension/results/exportFiles';

describe('results model (host side of the results panel)', function () {
  this.timeout(60_000);
  let dir: string;
  let runDir: string;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flopsfit-results-'));
    runDir = path.join(dir, 'run');
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  function metricsPath(id: string): string {
    return path.join(runDir, RUN_FILES.experimentsDir, id, RUN_FILES.metrics);
  }

  it('loads a finished run directory: plan, manifest, results, fit and every metrics file', () => {
    const plan = synthPlan({ sweep: 'tiny', runDir, configPath: path.join(dir, 'tiny.sweep.yaml'), budgets: [1e12, 3e12, 1e13], sizesPerBudget: 5 });
    writeRunDir(runDir, plan, { pointsPerExperiment: 50, fit: true, bootstrap: 10 });
    const m = new RunDirModel(runDir);
    m.loadAll();
    assert.equal(m.plan?.experiments.length, 15);
    assert.equal(Object.keys(m.manifest!.experiments).length, 15);
    assert.equal(m.results.length, 15);
    assert.ok(m.fit?.isoflop, 'fit.json has an IsoFLOP result');
    assert.equal(m.allSeries().length, 15);
    assert.equal(m.seriesOf(plan.experiments[0].id)!.tokens.length, 50);
    assert.deepEqual(m.allProblems(), []);
    assert.equal(m.phase(), 'finished');
  });

  it('tails a metrics file: only new complete lines, a partial last line waits for its newline', () => {
    fs.mkdirSync(path.dirname(metricsPath('e1')), { recursive: true });
    const lines = learningCurve({ id: 'e1', params: 1e5, tokens: 1e7 }, 6).map((l) => JSON.stringify(l));
    fs.writeFileSync(metricsPath('e1'), lines.slice(0, 2).join('\n') + '\n');
    const m = new RunDirModel(runDir);
    m.loadAll();
    assert.equal(m.seriesOf('e1')!.tokens.length, 2);

    // a partial line: nothing new yet
    const third = lines[2];
    fs.appendFileSync(metricsPath('e1'), third.slice(0, 10));
    assert.equal(m.fileChanged(metricsPath('e1')), undefined);
    // completed, plus one more
    fs.appendFileSync(metricsPath('e1'), third.slice(10) + '\n' + lines[3] + '\n');
    const c = m.fileChanged(metricsPath('e1'));
    assert.equal(c?.kind, 'metrics');
    assert.equal(c?.chunk?.replace, undefined);
    assert.deepEqual(c?.chunk?.step, [3, 4]);
    assert.equal(m.seriesOf('e1')!.tokens.length, 4);
    // no change: nothing
    assert.equal(m.fileChanged(metricsPath('e1')), undefined);
  });

  it('reads only the new bytes (a huge earlier prefix is not re-read)', () => {
    fs.mkdirSync(path.dirname(metricsPath('e2')), { recursive: true });
    const curve = learningCurve({ id: 'e2', params: 1e5, tokens: 1e8 }, 20_000).map((l) => JSON.stringify(l));
    fs.writeFileSync(metricsPath('e2'), curve.slice(0, 19_999).join('\n') + '\n');
    const m = new RunDirModel(runDir);
    m.loadAll();
    // scribble over everything after the first line (same size, same head): a reader that went
    // back over the prefix would find thousands of broken lines
    const file = metricsPath('e2');
    const size = fs.statSync(file).size;
    const fd = fs.openSync(file, 'r+');
    const first = curve[0].length + 1;
    fs.writeSync(fd, Buffer.alloc(size - first - 1, 'X'), 0, size - first - 1, first);
    fs.closeSync(fd);
    fs.appendFileSync(file, curve[19_999] + '\n');
    const c = m.fileChanged(file);
    assert.deepEqual(c?.chunk?.step, [20_000]);
    assert.equal(c?.chunk?.replace, undefined);
    assert.deepEqual(m.allProblems(), []);
    assert.equal(m.seriesOf('e2')!.tokens.length, 20_000);
  });

  it('a truncated or rewritten metrics file is re-read from the start and sent with replace', () => {
    fs.mkdirSync(path.dirname(metricsPath('e3')), { recursive: true });
    const a = learningCurve({ id: 'e3', params: 1e5, tokens: 1e7 }, 4).map((l) => JSON.stringify(l));
    fs.writeFileSync(metricsPath('e3'), a.join('\n') + '\n');
    const m = new RunDirModel(runDir);
    m.loadAll();
    // a retry truncates and starts again
    fs.writeFileSync(metricsPath('e3'), a[0] + '\n');
    const c = m.fileChanged(metricsPath('e3'));
    assert.equal(c?.chunk?.replace, true);
    assert.equal(m.seriesOf('e3')!.tokens.length, 1);
    // rewritten with different first bytes but a larger size
    const b = a.map((l) => l.replace('"step":', '"step": '));
    fs.writeFileSync(metricsPath('e3'), b.join('\n') + '\n' + b.join('\n') + '\n');
    const d = m.fileChanged(metricsPath('e3'));
    assert.equal(d?.chunk?.replace, true);
    assert.equal(m.seriesOf('e3')!.tokens.length, 8);
  });

  it('bad lines become located problems; good lines around them are kept', () => {
    fs.mkdirSync(path.dirname(metricsPath('e4')), { recursive: true });
    fs.writeFileSync(metricsPath('e4'), ['{"step":1,"tokens":10,"trainLoss":3}', 'not json', '{"step":-1,"tokens":10}', '{"step":3,"tokens":30,"evalLoss":2.5}'].join('\n') + '\n');
    fs.writeFileSync(path.join(runDir, RUN_FILES.results), '{"id":"x"}\n{"id":"a","budget":1,"params":1,"tokens":1,"flops":6,"loss":2,"seed":0,"sizeValue":1,"hyperparameters":{}}\n{"id":"b","bu');
    fs.writeFileSync(path.join(runDir, RUN_FILES.fit), '{"version": 1}');
    fs.writeFileSync(path.join(runDir, RUN_FILES.plan), '{ not json');
    const m = new RunDirModel(runDir);
    m.loadAll();
    assert.deepEqual(m.seriesOf('e4')!.step, [1, 3]);
    assert.deepEqual(m.seriesOf('e4')!.train, [3, null]);
    assert.deepEqual(m.seriesOf('e4')!.eval, [null, 2.5]);
    assert.equal(m.results.length, 1, 'the half-written last results line is ignored, the invalid one reported');
    assert.equal(m.fit, null);
    assert.equal(m.plan, null);
    const problems = m.allProblems();
    const where = problems.map((p) => `${p.file}:${p.line ?? ''}`);
    assert.ok(where.includes(path.join('experiments', 'e4', 'metrics.jsonl') + ':2'), where.join(' '));
    assert.ok(where.includes(path.join('experiments', 'e4', 'metrics.jsonl') + ':3'), where.join(' '));
    assert.ok(where.includes('results.jsonl:1'), where.join(' '));
    assert.ok(where.includes('fit.json:'), where.join(' '));
    assert.ok(problems.find((p) => p.file === 'plan.json')?.message.startsWith('not valid JSON'));
  });

  it('classifies paths of the run directory', () => {
    const m = new RunDirModel(runDir);
    assert.deepEqual(m.classify(path.join(runDir, 'manifest.json')), { kind: 'manifest' });
    assert.deepEqual(m.classify(path.join(runDir, 'experiments', 'abc', 'metrics.jsonl')), { kind: 'metrics', id: 'abc' });
    assert.equal(m.classify(path.join(runDir, 'experiments', 'abc', 'result.json')), undefined);
    assert.equal(m.classify(path.join(dir, 'elsewhere', 'manifest.json')), undefined);
  });

  it('exports CSV (experiments, metrics, fit) and JSON', () => {
    const plan = synthPlan({ sweep: 'tiny', runDir, configPath: path.join(dir, 'tiny.sweep.yaml'), budgets: [1e12, 3e12, 1e13], sizesPerBudget: 4 });
    writeRunDir(runDir, plan, { pointsPerExperiment: 10, fit: true, bootstrap: 5 });
    const m = new RunDirModel(runDir);
    m.loadAll();
    const snap = m.snapshot({ sweep: 'tiny', configUri: 'file:///x' });
    const csv = buildExport(snap, 'csv');
    assert.deepEqual(Object.keys(csv).sort(), ['.csv', '.fit.csv', '.metrics.csv']);
    const exp = csv['.csv'].trim().split('\n');
    assert.equal(exp.length, 1 + 12);
    assert.match(exp[0], /^id,budget,sizeValue,params,tokens,tokensPerParam,seed,status,finalLoss,flops,hyperparameters$/);
    assert.match(exp[1], /,completed,/);
    assert.equal(csv['.metrics.csv'].trim().split('\n').length, 1 + 12 * 10);
    assert.match(csv['.fit.csv'], /\nparametric\.alpha,/);
    const json = JSON.parse(buildExport(snap, 'json')['.json']);
    assert.equal(json.results.length, 12);
    assert.equal(Object.keys(json.metrics).length, 12);
    assert.equal(json.fit.version, 1);
  });

  it('CSV cells are quoted when they must be', () => {
    assert.equal(toCsv(['a', 'b'], [['x,y', 'say "hi"'], [null, 1.5]]), 'a,b\n"x,y","say ""hi"""\n,1.5\n');
    assert.deepEqual(flattenJson({ a: { b: [1, { c: 2 }] } }), [
      ['a.b[0]', 1],
      ['a.b[1].c', 2],
    ]);
  });
});
