import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseSweepConfig, type SweepConfig } from '../../src/core/config';
import { buildPlan } from '../../src/core/plan';
import { commandSizeValues, countCommandParams, type CountProgress } from '../../src/core/plan/commandCounter';
import { run as planCommand } from '../../src/cli/commands/plan';
import { capture } from './cliHelpers';

const NODE = JSON.stringify(process.execPath);
/** A countParams that takes at least `ms` and prints size² (or fails). */
const counter = (ms: number, body = 'console.log(Number(process.argv[1]) ** 2)') => `[${NODE}, "-e", ${JSON.stringify(`setTimeout(() => ${body}, ${ms})`)}, "{size}"]`;

function config(countParams: string, size = '{min: 8, max: 64, multiple: 8, probes: 8}'): SweepConfig {
  const r = parseSweepConfig(`name: c\nbudgets: [1e9, 1e10]\nmodel: {family: command, command: [t, "{size}"], countParams: ${countParams}, size: ${size}}\n`, 'c.sweep.yaml');
  assert.ok(r.config, JSON.stringify(r.diagnostics));
  return r.config;
}

describe('command parameter counting: asynchronous, with progress, timed', function () {
  this.timeout(60_000);
  let tmp: string;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'flopsfit-count-'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('reports every size as it is counted, and the counts feed the plan', async () => {
    const c = config(counter(0));
    assert.equal(c.model.family, 'command');
    if (c.model.family !== 'command') return;
    const sizes = commandSizeValues(c);
    assert.deepEqual(sizes, [8, 16, 24, 32, 40, 48, 56, 64]);
    const seen: CountProgress[] = [];
    const counted = await countCommandParams(c.model, tmp, sizes, { onProgress: (p) => seen.push(p) });
    assert.deepEqual(
      seen.map((p) => p.done),
      sizes.map((_, i) => i + 1),
    );
    assert.ok(seen.every((p) => p.total === sizes.length));
    for (const s of sizes) assert.equal(counted.counter(s), s * s);
    const plan = buildPlan(c, { configPath: path.join(tmp, 'c.sweep.yaml'), countParams: counted.counter });
    assert.ok(plan.experiments.length > 0);
    assert.ok(plan.experiments.every((e) => e.params === e.sizeValue ** 2));
  });

  it('stops after the first three sizes fail, naming the cause', async () => {
    const c = config('[no-such-command-flopsfit, "{size}"]');
    if (c.model.family !== 'command') return assert.fail();
    const counted = await countCommandParams(c.model, tmp, commandSizeValues(c), { concurrency: 1 });
    const errors = [...counted.results.values()].map((r) => (typeof r === 'number' ? String(r) : r.error));
    assert.deepEqual(errors.slice(0, 3), Array(3).fill('countParams failed: command not found: no-such-command-flopsfit'));
    assert.ok(errors.slice(3).every((e) => e === 'not tried after 3 failures of countParams'), errors.join('\n'));
    assert.equal(counted.startupSeconds, undefined);
  });

  it('times the command: its start-up is counted in every experiment of the estimate', async () => {
    const c = config(counter(250));
    if (c.model.family !== 'command') return assert.fail();
    const counted = await countCommandParams(c.model, tmp, commandSizeValues(c));
    assert.ok(counted.startupSeconds !== undefined && counted.startupSeconds >= 0.25, String(counted.startupSeconds));
    const opts = { configPath: path.join(tmp, 'c.sweep.yaml'), countParams: counted.counter };
    const without = buildPlan(c, opts);
    const withStartup = buildPlan(c, { ...opts, commandStartupSeconds: 5 });
    // a command trainer runs one experiment at a time: every experiment pays the start-up
    assert.ok(withStartup.estimatedSeconds >= without.estimatedSeconds + withStartup.experiments.length * 4, `${withStartup.estimatedSeconds} vs ${without.estimatedSeconds}`);
    assert.match(withStartup.throughputSource, /5\.0 s start-up per experiment/);
  });

  it('flopsfit plan prints progress while a slow countParams runs', async () => {
    const file = path.join(tmp, 'slow.sweep.yaml');
    fs.writeFileSync(file, `name: slow\nbudgets: [1e9, 1e10]\nmodel: {family: command, command: [t, "{size}"], countParams: ${counter(400)}, size: {min: 8, max: 64, multiple: 8, probes: 8}}\n`);
    const r = await capture(() => planCommand([file]));
    assert.equal(r.code, 0, r.err);
    const lines = r.err.split('\n').filter((l) => l.includes('counting parameters with countParams'));
    // 8 sizes of ≥ 0.4 s two at a time take ≥ 1.6 s: a line at least every second, and the last one
    assert.ok(lines.length >= 2, r.err);
    assert.match(lines[lines.length - 1], /8\/8 sizes \(size \d+: N = [\d.]+k?\)/);
  });
});
