import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { run as planCommand } from '../../src/cli/commands/plan';
import { isSweepFile } from '../../src/core/sweepFiles';
import { capture } from './cliHelpers';

const examples = path.resolve(__dirname, '..', '..', 'examples');

/** Every sweep config under `dir`, relative to it. */
function configsUnder(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile() && isSweepFile(e.name)) out.push(path.relative(dir, path.join(e.parentPath, e.name)));
  }
  return out.sort();
}

/** `flopsfit plan <file> --json` with the process in `cwd`: exit code and experiment count. */
async function planFrom(cwd: string, file: string): Promise<{ code: number; experiments: number; err: string }> {
  const before = process.cwd();
  process.chdir(cwd);
  try {
    const r = await capture(() => planCommand([file, '--json']));
    const experiments = r.code === 0 ? (JSON.parse(r.out) as { experiments: unknown[] }).experiments.length : 0;
    return { code: r.code, experiments, err: r.err };
  } finally {
    process.chdir(before);
  }
}

describe('examples: every one plans from any folder, and from a copy', function () {
  // command examples run their countParams (python3) once per probed size
  this.timeout(120_000);
  let tmp: string;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'flopsfit-examples-'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  const files = configsUnder(examples);
  it('ships the bring-your-own examples among them', () => {
    assert.ok(files.includes('byo-trainer.sweep.yaml') && files.includes(path.join('pytorch', 'pytorch.sweep.yaml')), files.join(', '));
  });

  for (const rel of files) {
    it(`${rel}: plans experiments from another folder (absolute and relative path)`, async () => {
      const elsewhere = fs.mkdtempSync(path.join(tmp, 'cwd-'));
      const abs = await planFrom(elsewhere, path.join(examples, rel));
      assert.equal(abs.code, 0, abs.err);
      assert.ok(abs.experiments > 0, `${rel} plans 0 experiments:\n${abs.err}`);
      const relative = await planFrom(path.dirname(examples), path.join('examples', rel));
      assert.equal(relative.experiments, abs.experiments, relative.err);
    });

    it(`${rel}: plans the same from a copy of the examples folder in a temporary folder`, async () => {
      const copy = path.join(tmp, `copy-${rel.replace(/[\\/.]/g, '_')}`);
      fs.cpSync(examples, copy, { recursive: true });
      const orig = await planFrom(tmp, path.join(examples, rel));
      const copied = await planFrom(tmp, path.join(copy, rel));
      assert.equal(copied.code, 0, copied.err);
      assert.equal(copied.experiments, orig.experiments, copied.err);
    });
  }

  it('no example points $schema at a relative path (it breaks when the file is copied)', () => {
    for (const rel of files.filter((f) => f.endsWith('.json'))) {
      const text = fs.readFileSync(path.join(examples, rel), 'utf8');
      const m = /"\$schema"\s*:\s*"([^"]*)"/.exec(text);
      if (m) assert.match(m[1], /^https?:\/\//, `${rel}: $schema ${m[1]}`);
    }
  });

  it('a missing model.cwd is reported on model.cwd, not as "command not found"', async () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'nocwd-'));
    const file = path.join(dir, 'x.sweep.yaml');
    fs.writeFileSync(
      file,
      'name: x\nbudgets: [1e9]\nmodel:\n  family: command\n  cwd: nowhere\n  command: [python3, train.py, "{size}"]\n  countParams: [python3, train.py, "{size}"]\n  size: {min: 8, max: 64}\n',
    );
    const r = await capture(() => planCommand([file]));
    assert.equal(r.code, 1);
    assert.match(r.err, /x\.sweep\.yaml:5:8: error: model\.cwd: folder not found: .*nowhere \(a relative model\.cwd is relative to the config file's folder\)/);
    assert.doesNotMatch(r.err, /command not found/);
  });
});
