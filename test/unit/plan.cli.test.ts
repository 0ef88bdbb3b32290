import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { run as planCommand } from '../../src/cli/commands/plan';
import { run as schemaCommand } from '../../src/cli/commands/schema';
import { Plan } from '../../src/core/contracts';
import { sweepJsonSchemaText } from '../../src/core/config';
import { capture } from './cliHelpers';

describe('flopsfit plan / schema (CLI)', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flopsfit-plan-cli-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('prints the plan as JSON that matches the contract, exit 0', async () => {
    const file = path.join(dir, 'ok.sweep.yaml');
    fs.writeFileSync(file, 'name: ok\nbudgets: [1e12, 1e13]\nsweep: {seeds: 2}\n');
    const r = await capture(() => planCommand([file, '--json', '--workspace', dir]));
    assert.equal(r.code, 0, r.err);
    const plan = Plan.parse(JSON.parse(r.out));
    assert.equal(plan.experiments.length, 20);
    assert.equal(plan.runDir, path.join(dir, '.flopsfit', 'ok'));
    assert.equal(r.err, '');
  });

  it('prints a readable table', async () => {
    const file = path.join(dir, 'table.sweep.yaml');
    fs.writeFileSync(file, 'name: table\nbudgets: [1e12]\n');
    const r = await capture(() => planCommand([file, '--workspace', dir]));
    assert.equal(r.code, 0);
    assert.match(r.out, /Sweep 'table': 5 experiments over 1 budget/);
    assert.match(r.out, /estimated time/);
    assert.match(r.out, /^id\s+budget\s+dModel\s+N\s+D \(tokens\)/m);
    assert.equal(r.out.split('\n').filter((l) => /^[0-9a-f]{16}\s/.test(l)).length, 5);
  });

  it('exits 1 with file:line:col messages on an invalid config', async () => {
    const file = path.join(dir, 'bad.sweep.yaml');
    fs.writeFileSync(file, 'name: bad\nbudgets: [1e12, -1]\nmodel: {family: transformer, nLayer: 2}\n');
    const r = await capture(() => planCommand([file]));
    assert.equal(r.code, 1);
    assert.equal(r.out, '');
    const lines = r.err.trim().split('\n');
    assert.ok(lines.includes(`${file}:2:17: error: budgets must be > 0, got -1`), r.err);
    assert.ok(lines.some((l) => l.startsWith(`${file}:3:30: error: unknown key 'nLayer'`)), r.err);
    const missing = await capture(() => planCommand([path.join(dir, 'nope.sweep.yaml')]));
    assert.equal(missing.code, 1);
    assert.match(missing.err, /nope\.sweep\.yaml:1:1: error: file not found/);
  });

  it('reports semantic warnings located, and still exits 0', async () => {
    const file = path.join(dir, 'warn.sweep.yaml');
    fs.writeFileSync(file, 'name: warn\nbudgets: [1e12]\ndata: {source: text, path: missing.txt}\n');
    const r = await capture(() => planCommand([file, '--workspace', dir]));
    assert.equal(r.code, 0);
    assert.match(r.err, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:3:28: warning: data file not found`));
  });

  it('prints the JSON Schema', async () => {
    const r = await capture(() => schemaCommand([]));
    assert.equal(r.code, 0);
    assert.equal(r.out, sweepJsonSchemaText());
  });
});
