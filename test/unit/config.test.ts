import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { formatDiagnostic, loadSweepConfig, parseSweepConfig, sweepJsonSchema, sweepJsonSchemaText, type ConfigDiagnostic } from '../../src/core/config';
import { buildPlan } from '../../src/core/plan';
import { describeAt, propertiesAt, valuesAt } from '../../src/core/config/jsonSchema';
import { pathAtOffset, readSource } from '../../src/core/config/source';

const root = path.resolve(__dirname, '..', '..');

/** The text a diagnostic's range covers (single-line ranges). */
function covered(text: string, d: ConfigDiagnostic): string {
  const lines = text.split('\n');
  if (d.range.start.line !== d.range.end.line) return lines.slice(d.range.start.line, d.range.end.line + 1).join('\n');
  return lines[d.range.start.line].slice(d.range.start.character, d.range.end.character);
}

function errors(text: string, file = 'x.sweep.yaml'): ConfigDiagnostic[] {
  const r = parseSweepConfig(text, file);
  assert.equal(r.config, undefined, 'expected an invalid config');
  return r.diagnostics.filter((d) => d.severity === 'error');
}

describe('config: parsing and defaults', () => {
  it('accepts a two-line config and applies every default', () => {
    const r = parseSweepConfig('name: tiny\nbudgets: [1e12, 3e12]\n', 'tiny.sweep.yaml');
    assert.deepEqual(r.diagnostics, []);
    const c = r.config!;
    assert.equal(c.model.family, 'transformer');
    assert.equal(c.model.size.param, 'dModel');
    assert.equal(c.data.source, 'synthetic');
    assert.equal(c.planning.flopsPerParamPerToken, 6);
    assert.equal(c.planning.priorTokensPerParam, 20);
    assert.equal(c.planning.countEmbeddingParams, false);
    assert.equal(c.training.backend, 'auto');
    assert.deepEqual(c.fit.methods, ['isoflop', 'parametric']);
    assert.equal(c.fit.bootstrap, 200);
    assert.equal(c.sweep.seeds, 1);
  });

  it('reads JSON with comments and trailing commas', () => {
    const r = parseSweepConfig('{\n  // a comment\n  "name": "j",\n  "budgets": [1e12,],\n}\n', 'j.sweep.json');
    assert.deepEqual(r.diagnostics, []);
    assert.equal(r.config?.name, 'j');
  });

  it('ships examples that are valid and plan', () => {
    const dir = path.join(root, 'examples');
    const files = fs.readdirSync(dir).filter((f) => /\.sweep\.(ya?ml|json)$/.test(f));
    assert.ok(files.length >= 3, `examples: ${files.join(', ')}`);
    for (const f of files) {
      const r = loadSweepConfig(path.join(dir, f));
      assert.ok(r.config, `${f}: ${r.diagnostics.map((d) => formatDiagnostic(f, d)).join('\n')}`);
      const plan = buildPlan(r.config, {
        configPath: path.join(dir, f),
        workspaceRoot: dir,
        countParams: (s) => 12 * 2 * s * s,
      });
      assert.ok(plan.experiments.length > 0, `${f} plans no experiment: ${JSON.stringify(plan.warnings)}`);
    }
  });
});

describe('config: model family default', () => {
  it('a model block without family is the built-in transformer; an unknown key in it is still located', () => {
    const ok = parseSweepConfig('name: t\nbudgets: [1e12]\nmodel: {nLayers: 3}\n', 'x.sweep.yaml');
    assert.deepEqual(ok.diagnostics.filter((d) => d.severity === 'error'), []);
    assert.equal(ok.config?.model.family, 'transformer');
    assert.equal(ok.config?.model.family === 'transformer' && ok.config.model.nLayers, 3);
    const text = 'name: t\nbudgets: [1e12]\nmodel: {nLayer: 3}\n';
    const [d] = errors(text);
    assert.equal(d.message, "unknown key 'nLayer'; did you mean 'nLayers'?");
    assert.equal(covered(text, d), 'nLayer');
  });
});

describe('config: located errors', () => {
  it('puts an unknown key on the key, with a quick fix to the close known key', () => {
    const text = 'name: t\nbudgets: [1e12]\nmodel:\n  family: transformer\n  nLayer: 3\n';
    const [d] = errors(text);
    assert.equal(d.message, "unknown key 'nLayer'; did you mean 'nLayers'?");
    assert.equal(covered(text, d), 'nLayer');
    assert.deepEqual(d.path, ['model', 'nLayer']);
    assert.equal(d.fix?.replacement, 'nLayers');
    assert.deepEqual(d.fix?.range, d.range);

    const json = '{"name": "t", "budgets": [1e12], "planing": {}}';
    const [j] = errors(json, 'x.sweep.json');
    assert.equal(covered(json, j), '"planing"');
    assert.equal(j.fix?.replacement, '"planning"', 'keeps the JSON quotes');

    const far = errors('name: t\nbudgets: [1e12]\nzzzzzz: 1\n')[0];
    assert.equal(far.fix, undefined, 'no fix when nothing is close');
    assert.match(far.message, /unknown key 'zzzzzz' \(known: .*budgets/);
  });

  it('puts a wrong value on the value', () => {
    const text = 'name: t\nbudgets: [1e12, -3, "x"]\ntraining:\n  learningRate: .nan\n  backend: gpu\n';
    const ds = errors(text);
    const by = (p: string) => ds.find((d) => JSON.stringify(d.path) === p)!;
    assert.equal(covered(text, by('["budgets",1]')), '-3');
    assert.match(by('["budgets",1]').message, /must be > 0, got -3/);
    assert.equal(covered(text, by('["budgets",2]')), '"x"');
    assert.match(by('["budgets",2]').message, /expected a number, got a string/);
    assert.equal(covered(text, by('["training","learningRate"]')), '.nan');
    assert.match(by('["training","learningRate"]').message, /NaN/);
    assert.equal(covered(text, by('["training","backend"]')), 'gpu');
    assert.match(by('["training","backend"]').message, /one of "auto"/);
  });

  it('puts a missing key on its parent key', () => {
    const text = 'name: t\nbudgets: [1e12]\ndata:\n  source: text\n';
    const [d] = errors(text);
    assert.equal(d.message, "missing required key 'path' (a string)");
    assert.equal(covered(text, d), 'data');
    const noName = errors('budgets: [1e12]\n')[0];
    assert.match(noName.message, /missing required key 'name'/);
    assert.equal(noName.range.start.line, 0);
  });

  it('reports a wrong union discriminator with its options', () => {
    const text = 'name: t\nbudgets: [1e12]\nmodel: {family: rnn}\n';
    const [d] = errors(text);
    assert.match(d.message, /family must be one of "transformer", "command", got "rnn"/);
    assert.equal(covered(text, d), 'rnn');
  });

  it('checks cross-field rules: ranges, duplicates, head settings, vocab', () => {
    const cases: [string, RegExp, string][] = [
      ['model: {family: transformer, size: {min: 64, max: 16}}', /max \(16\) is below min \(64\)/, '16'],
      ['budgets: [1e12, 1e12]', /duplicate budget/, '1e12'],
      ['model: {family: transformer, nHeads: 4, headDim: 16}', /nHeads or headDim, not both/, '16'],
      ['model: {family: transformer, vocabSize: 100}', /smaller than the data's vocabulary \(128\)/, '100'],
      ['sweep: {hyperparameters: {learningRate: [1e-3, -1]}}', /not a valid training.learningRate/, '-1'],
      ['planning: {tokensPerParam: {min: 50, max: 10}}', /must be above min/, '10'],
    ];
    for (const [extra, re, at] of cases) {
      const text = extra.startsWith('budgets') ? `name: t\n${extra}\n` : `name: t\nbudgets: [1e12]\n${extra}\n`;
      const ds = errors(text);
      const d = ds.find((x) => re.test(x.message));
      assert.ok(d, `${extra}: ${JSON.stringify(ds.map((x) => x.message))}`);
      assert.equal(covered(text, d), at, extra);
    }
  });

  it('locates YAML and JSON syntax errors', () => {
    const y = parseSweepConfig('name: t\nbudgets: [1e12\nmodel: {\n', 'x.sweep.yaml');
    assert.equal(y.config, undefined);
    // the unclosed `[` is the cause (the parser's own errors land on the lines after it)
    assert.deepEqual(
      y.diagnostics.map((d) => [d.code, d.range.start.line, d.range.start.character]),
      [['unbalanced-bracket', 1, 9]],
    );
    assert.ok(!y.diagnostics.some((d) => d.code === 'missing-key'), 'no missing-key noise on top of a syntax error');

    const text = '{"name": "t",\n "budgets": [1e12 1e13]}';
    const j = parseSweepConfig(text, 'x.sweep.json');
    const d = j.diagnostics.find((x) => x.code === 'syntax')!;
    assert.equal(d.message, "',' expected");
    assert.deepEqual(d.range.start, { line: 1, character: 18 });
  });

  it('warns about duplicate JSON keys and rejects duplicate YAML keys', () => {
    const j = parseSweepConfig('{"name": "a", "name": "b", "budgets": [1e12]}', 'x.sweep.json');
    assert.equal(j.config?.name, 'b');
    assert.ok(j.diagnostics.some((d) => d.severity === 'warning' && d.code === 'duplicate-key'));
    const y = parseSweepConfig('name: a\nname: b\nbudgets: [1e12]\n', 'x.sweep.yaml');
    assert.equal(y.config, undefined);
    assert.equal(y.diagnostics[0].range.start.line, 1);
  });

  it('refuses empty, huge and non-mapping documents with a located error', () => {
    assert.match(errors('')[0].message, /empty sweep config/);
    assert.match(errors('# only a comment\n')[0].message, /empty sweep config/);
    const big = errors('name: x\n' + '#'.repeat(10 * 1024 * 1024));
    assert.match(big[0].message, /file too large/);
    assert.match(errors('- 1\n- 2\n')[0].message, /expected a mapping, got a list/);
  });

  it('formats diagnostics as file:line:col: severity: message (1-based)', () => {
    const [d] = errors('name: t\nbudgets: [-1]\n');
    assert.equal(formatDiagnostic('a.sweep.yaml', d), 'a.sweep.yaml:2:11: error: budgets must be > 0, got -1');
  });

  it('reports I/O errors of loadSweepConfig as diagnostics', () => {
    const r = loadSweepConfig(path.join(os.tmpdir(), 'does-not-exist.sweep.yaml'));
    assert.equal(r.config, undefined);
    assert.equal(r.diagnostics[0].message, 'file not found');
    const dir = loadSweepConfig(os.tmpdir());
    assert.match(dir.diagnostics[0].message, /directory/);
  });
});

describe('config: JSON Schema', () => {
  it('is generated from the zod schema and committed up to date', () => {
    const committed = fs.readFileSync(path.join(root, 'schemas', 'sweep.schema.json'), 'utf8');
    assert.equal(committed, sweepJsonSchemaText(), 'schemas/sweep.schema.json is stale: npm run gen:schema');
  });

  it('describes every property', () => {
    const missing: string[] = [];
    const walk = (s: ReturnType<typeof sweepJsonSchema>, at: string) => {
      for (const [k, v] of Object.entries(s.properties ?? {})) {
        if (!v.description) missing.push(`${at}.${k}`);
        walk(v, `${at}.${k}`);
      }
      for (const a of [...(s.oneOf ?? []), ...(s.anyOf ?? [])]) walk(a, at);
      if (s.items && !Array.isArray(s.items)) walk(s.items, `${at}[]`);
    };
    walk(sweepJsonSchema(), '');
    assert.deepEqual(missing, []);
  });

  it('answers hover and completion by path, choosing union branches by value', () => {
    const value = { model: { family: 'command' } };
    assert.ok(propertiesAt(['model'], value).has('countParams'));
    assert.ok(!propertiesAt(['model'], value).has('nHeads'));
    assert.ok(propertiesAt(['model'], { model: { family: 'transformer' } }).has('nHeads'));
    assert.match(describeAt(['planning', 'priorTokensPerParam'], {}).description ?? '', /Chinchilla/);
    assert.deepEqual(valuesAt(['training', 'schedule'], {}), ['cosine', 'linear', 'constant']);
    assert.ok(valuesAt(['model', 'family'], {}).includes('transformer'));
  });

  it('maps an offset to its path (for hover)', () => {
    const text = 'name: t\nplanning:\n  sizesPerBudget: 5\n';
    const doc = readSource(text, 'x.sweep.yaml');
    assert.deepEqual(pathAtOffset(doc, text.indexOf('sizesPer') + 2), { path: ['planning', 'sizesPerBudget'], onKey: true, node: doc.root!.members![1].value!.members![0].value });
    assert.deepEqual(pathAtOffset(doc, text.indexOf('5')).path, ['planning', 'sizesPerBudget']);
  });
});

describe('config: YAML gotchas', () => {
  it('explains an unquoted {placeholder} in a YAML command', () => {
    const text = 'name: t\nbudgets: [1e12]\nmodel:\n  family: command\n  command:\n    - train\n    - {size}\n  countParams: [count, "{size}"]\n  size: {min: 1, max: 4}\n';
    const [d] = errors(text);
    assert.equal(d.message, 'quote the placeholder: "{size}" (in YAML an unquoted {…} is a mapping)');
    assert.equal(covered(text, d), '{size}');
  });
});
