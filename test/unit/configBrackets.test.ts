import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseSweepConfig, type ConfigDiagnostic } from '../../src/core/config';

const root = path.resolve(__dirname, '..', '..');
const yamlBase = fs.readFileSync(path.join(root, 'examples', 'chinchilla-cpu.sweep.yaml'), 'utf8');
const jsonBase = fs.readFileSync(path.join(root, 'examples', 'lr-grid.sweep.json'), 'utf8');

/** 1-based line:col of a diagnostic, and the character under it. */
function at(text: string, d: ConfigDiagnostic): { line: number; col: number; ch: string } {
  const line = text.split('\n')[d.range.start.line];
  return { line: d.range.start.line + 1, col: d.range.start.character + 1, ch: line[d.range.start.character] };
}

/** The 1-based line of the first occurrence of `needle` (the edit under test). */
function lineOf(text: string, needle: string): number {
  return text.slice(0, text.indexOf(needle)).split('\n').length;
}

function only(text: string, file: string): ConfigDiagnostic {
  const r = parseSweepConfig(text, file);
  assert.equal(r.config, undefined);
  assert.equal(r.diagnostics.length, 1, `one error expected, got:\n${r.diagnostics.map((d) => `${d.range.start.line + 1}: ${d.message}`).join('\n')}`);
  return r.diagnostics[0];
}

describe('config: an unbalanced bracket is one error, at the bracket', () => {
  it('YAML: an unclosed [ is reported at the [ (not as an indentation error lines below)', () => {
    const text = yamlBase.replace('[isoflop, parametric]', '[isoflop, parametric');
    const d = only(text, 'a.sweep.yaml');
    assert.deepEqual(at(text, d), { line: lineOf(text, '[isoflop'), col: text.split('\n')[lineOf(text, '[isoflop') - 1].indexOf('[') + 1, ch: '[' });
    assert.match(d.message, /never closed.*add '\]'/);
  });

  it('YAML: an unclosed [ on a short config with keys after it', () => {
    const text = 'name: t\nbudgets: [1e12, 3e12\nplanning:\n  sizesPerBudget: 3\n';
    const d = only(text, 'a.sweep.yaml');
    assert.deepEqual(at(text, d), { line: 2, col: 10, ch: '[' });
  });

  it('YAML: one stray ] gives one error at the ], wherever it is', () => {
    for (const [text, needle] of [
      [yamlBase.replace('  seed: 0\n', '  seed: 0\n]\n'), '\n]\n'],
      [yamlBase.replace('[isoflop, parametric]', '[isoflop, parametric]]'), ']]'],
      [yamlBase.replace('budgets:', 'budgets:]'), ':]'],
    ] as const) {
      const d = only(text, 'a.sweep.yaml');
      const off = text.indexOf(needle) + needle.indexOf(']');
      const line = text.slice(0, off).split('\n').length;
      assert.equal(at(text, d).line, line, d.message);
      assert.equal(at(text, d).ch, ']');
      assert.match(d.message, /unexpected '\]'/);
    }
  });

  it('YAML: a mismatched closer names the opener', () => {
    const text = yamlBase.replace('{min: 1, max: 2000}', '{min: 1, max: 2000]');
    const d = only(text, 'a.sweep.yaml');
    assert.equal(at(text, d).ch, ']');
    assert.match(d.message, /unexpected '\]': the '\{' opened at line \d+ is the one open here \(close it with '\}'/);
  });

  it('YAML: brackets in plain scalars, quotes, comments and block scalars are text', () => {
    const text = 'name: "a ] b"\ndescription: |\n  [ not\n  a list\nbudgets: [1e12, 3e12]\n# [\n';
    const r = parseSweepConfig(text, 'a.sweep.yaml');
    assert.deepEqual(r.diagnostics, []);
    // quotes count only where a scalar starts: `it's` in a flow list is text, and the stray ] is still found
    const apos = "name: t\nbudgets: [1e12]\nx: [it's, 'a]', \"b]\"]]\n";
    const d = only(apos, 'a.sweep.yaml');
    assert.deepEqual(at(apos, d), { line: 3, col: apos.split('\n')[2].length, ch: ']' });
    // and an unrelated syntax error is still the parser's own
    const bad = 'name: t\nbudgets: [1e12]\nname: u\n';
    assert.ok(parseSweepConfig(bad, 'a.sweep.yaml').diagnostics.every((d) => d.code !== 'unbalanced-bracket'));
  });

  it('JSON: an unclosed [ or { and a stray ] are each one error at the bracket', () => {
    const cases: [string, string, RegExp][] = [
      [jsonBase.replace('3e10]', '3e10'), '[3e9', /'\[' opened here \(line \d+\) is never closed/],
      [jsonBase.replace('"multiple": 4 }', '"multiple": 4'), '{ "param"', /'\{' opened here .* never closed/],
      [jsonBase.replace('"name": "lr-grid",', '"name": "lr-grid",]'), ']\n', /unexpected '\]'/],
    ];
    for (const [text, needle, message] of cases) {
      const d = only(text, 'a.sweep.json');
      const off = text.indexOf(needle);
      assert.equal(at(text, d).line, text.slice(0, off).split('\n').length, d.message);
      assert.equal(at(text, d).ch, needle[0]);
      assert.match(d.message, message);
    }
  });
});
