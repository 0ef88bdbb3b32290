import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { parseSweepConfig, type SweepConfig } from '../../src/core/config';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { buildPlan, validateSweepText } from '../../src/core/plan';
import { prepareSweep } from '../../src/cli/commands/run';
import { knownPlaceholders, placeholdersIn } from '../../src/core/plan/placeholders';
import { placeholderValues, substitute } from '../../src/engine/runner/protocol';

function cfg(yaml: string): SweepConfig {
  const r = parseSweepConfig(yaml, 'x.sweep.yaml');
  assert.ok(r.config, JSON.stringify(r.diagnostics));
  return r.config;
}

const commandConfig = (command: string[], data = '') =>
  cfg(`name: t
budgets: [1e12]
model: {family: command, command: ${JSON.stringify(command)}, countParams: [c, "{size}"], size: {param: width, min: 16, max: 64}}
sweep: {hyperparameters: {dropout: [0.1, 0.2]}}
${data}`);

function planOf(config: SweepConfig) {
  return buildPlan(config, { configPath: path.join('/tmp', 'x.sweep.yaml'), workspaceRoot: '/tmp', countParams: (s) => 1000 * s, noFileSystem: true });
}

describe('placeholders: the planner and the runner agree', () => {
  it('every placeholder that validates is one the runner fills, and every other is flagged', () => {
    for (const data of ['', 'data: {source: text, path: corpus.txt}\n']) {
      const config = commandConfig(['t'], data);
      const plan = planOf(config);
      assert.ok(plan.experiments.length > 0);
      const values = placeholderValues(plan.experiments[0], '/runs/x');
      const known = knownPlaceholders(config);
      assert.deepEqual([...known].sort(), Object.keys(values).sort(), data || 'synthetic');
    }
  });

  it('a placeholder the runner would reject ({run-dir}, {a.b}) fails validation, located, with a suggestion', () => {
    for (const [arg, hint] of [
      ['--out={run-dir}', /did you mean \{runDir\}/],
      ['{lr.x}', /unknown placeholder \{lr\.x\}/],
      ['{Seed}', /did you mean \{seed\}/],
    ] as const) {
      const config = commandConfig(['t', arg]);
      const plan = planOf(config);
      const w = plan.warnings.find((x) => x.code === 'unknown-placeholder');
      assert.ok(w, `${arg} passed validation`);
      assert.match(w.message, hint);
      assert.deepEqual(w.path, ['model', 'command', 1]);
      // and the runner would indeed fail it
      assert.throws(() => substitute(config.model.family === 'command' ? config.model.command : [], placeholderValues(plan.experiments[0], '/r')), /unknown placeholder/);
    }
  });

  it('a command that validates substitutes without error for every experiment', () => {
    const config = commandConfig(['t', '--w={width}', '{size}', '{dropout}', '{runDir}/ck', '{specPath}', '{steps}', '{learningRate}', '{lr}', '{id}']);
    const plan = planOf(config);
    assert.ok(!plan.warnings.some((w) => w.code === 'unknown-placeholder'), JSON.stringify(plan.warnings));
    for (const e of plan.experiments) {
      const argv = substitute((config.model as { command: string[] }).command, placeholderValues(e, '/r'));
      assert.ok(argv.every((a) => placeholdersIn(a).length === 0), argv.join(' '));
      assert.equal(argv[1], `--w=${e.sizeValue}`);
    }
  });

  it('such a placeholder is an error in the editor and `flopsfit run` refuses to start every experiment only to fail it', async function () {
    this.timeout(60_000);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flopsfit-ph-'));
    try {
      const file = path.join(dir, 'ph.sweep.yaml');
      const node = JSON.stringify(process.execPath);
      const text = `name: ph\nbudgets: [1e9]\nmodel:\n  family: command\n  command: [${node}, t.mjs, "--out={run-dir}"]\n  countParams: [${node}, "-e", "console.log(Number(process.argv[1]) ** 2)", "{size}"]\n  size: {min: 8, max: 64, multiple: 8}\n`;
      fs.writeFileSync(file, text);
      const v = validateSweepText(text, file);
      const d = v.diagnostics.find((x) => x.code === 'unknown-placeholder');
      assert.equal(d?.severity, 'error', JSON.stringify(v.diagnostics));
      assert.equal(d?.range.start.line, 4);
      await assert.rejects(prepareSweep(file), (err: Error & { exitCode?: number }) => {
        assert.equal(err.exitCode, 2);
        assert.match(err.message, /ph\.sweep\.yaml:5:\d+: error: unknown placeholder \{run-dir\}; did you mean \{runDir\}\?/);
        return true;
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
