import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadSweepConfig, parseSweepConfig } from '../../src/core/config';
import { MAX_NESTING } from '../../src/core/config/brackets';
import { LIMITS } from '../../src/core/config/schema';
import { validateSweepText } from '../../src/core/plan';

let tmp: string;
before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'flopsfit-hostile-'));
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A config whose hyperparameter grid has 10^axes combinations (every axis a training setting). */
function grid(axes: number): string {
  const names = ['learningRate', 'weightDecay', 'beta1', 'beta2', 'warmupFraction', 'minLrRatio', 'gradClip', 'batchSize', 'evalInterval', 'checkpointInterval'];
  const values = (name: string) =>
    Array.from({ length: 10 }, (_, j) => (['batchSize', 'evalInterval', 'checkpointInterval'].includes(name) ? 8 + j : name === 'gradClip' ? j + 1 : Number((0.5 + j * 0.04).toFixed(2))));
  return `name: t\nbudgets: [1e12]\nsweep:\n  hyperparameters:\n${names
    .slice(0, axes)
    .map((n) => `    ${n}: [${values(n).join(', ')}]`)
    .join('\n')}\n`;
}

describe('config: hostile inputs get a clear, located error', () => {
  for (const axes of [6, 9]) {
    it(`a 10^${axes}-combination hyperparameter grid: too many experiments, with the count and the limit`, () => {
      const text = grid(axes);
      const v = validateSweepText(text, path.join(tmp, 'grid.sweep.yaml'), { noFileSystem: true });
      assert.ok(!v.diagnostics.some((d) => d.code === 'internal'), JSON.stringify(v.diagnostics));
      const d = v.diagnostics.find((x) => x.code === 'too-many-experiments');
      assert.ok(d, JSON.stringify(v.diagnostics));
      assert.equal(d.severity, 'error');
      assert.match(d.message, /^too many experiments/);
      assert.ok(d.message.includes(`${(10 ** axes).toLocaleString('en-US')} hyperparameter combinations`), d.message);
      assert.ok(d.message.includes(`the limit is ${LIMITS.experiments.toLocaleString('en-US')}`), d.message);
      assert.equal(text.split('\n')[d.range.start.line].trim(), 'hyperparameters:');
      assert.equal(v.plan?.experiments.length, 0);
    });
  }

  it('a 200,000-deep JSON config: nesting too deep, at the first bracket past the limit', () => {
    const text = `{"name": "t", "budgets": [1e12],\n "x": ${'['.repeat(200000)}${']'.repeat(200000)}}`;
    const r = parseSweepConfig(text, 'deep.sweep.json');
    assert.equal(r.diagnostics.length, 1, JSON.stringify(r.diagnostics));
    const d = r.diagnostics[0];
    assert.match(d.message, new RegExp(`^nesting too deep: .* the limit is ${MAX_NESTING}`));
    assert.equal(d.range.start.line, 1);
    // "x" is itself inside the root object: its first `[` is level 2, so level MAX_NESTING + 1 is bracket MAX_NESTING
    assert.equal(d.range.start.character, ' "x": '.length + MAX_NESTING - 1);
  });

  it('a 200,000-deep YAML config (flow and block): nesting too deep', () => {
    const flow = `name: t\nbudgets: [1e12]\nx: ${'['.repeat(200000)}${']'.repeat(200000)}\n`;
    const block = `name: t\nbudgets: [1e12]\n${Array.from({ length: 300 }, (_, i) => `${' '.repeat(i)}k${i}:`).join('\n')} 1\n`;
    for (const text of [flow, block]) {
      const r = parseSweepConfig(text, 'deep.sweep.yaml');
      assert.equal(r.diagnostics.length, 1, JSON.stringify(r.diagnostics).slice(0, 500));
      assert.match(r.diagnostics[0].message, /^nesting too deep/);
      assert.equal(r.diagnostics[0].range.start.line >= 2, true);
    }
    // a config at ordinary depth is not affected
    assert.deepEqual(parseSweepConfig('name: t\nbudgets: [1e12]\nsweep: {hyperparameters: {learningRate: [1e-3]}}\n', 'ok.sweep.yaml').diagnostics, []);
  });

  it('a 20 MB config: the real size against the limit', () => {
    const file = path.join(tmp, 'big.sweep.yaml');
    fs.writeFileSync(file, `name: t\n#${'x'.repeat(20 * 1024 * 1024)}\n`);
    const r = loadSweepConfig(file);
    assert.equal(r.diagnostics.length, 1);
    assert.match(r.diagnostics[0].message, /^file too large for a sweep config: 20\.0 MiB \(20,971,530 bytes\); the limit is 1 MiB/);
    // just over the limit, as text: not rounded to the limit
    const just = parseSweepConfig(`#${'x'.repeat((1 << 20) + 5)}`, 'x.sweep.yaml');
    assert.match(just.diagnostics[0].message, /1\.00 MiB \(1,048,582 characters\); the limit is 1 MiB \(1,048,576 characters\)/);
  });
});
