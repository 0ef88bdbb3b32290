import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import fsModule from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { atomicWriteTarget, writeJsonAtomicSync } from '../../src/core/atomic';
import { countTransformerParams } from '../../src/core/model/transformer';

describe('atomic writes', () => {
  it('replaces the file and leaves no temp files behind', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-atomic-'));
    const file = path.join(dir, 'sub', 'm.json');
    writeJsonAtomicSync(file, { a: 1 });
    writeJsonAtomicSync(file, { a: 2 });
    assert.deepEqual(JSON.parse(fs.readFileSync(file, 'utf8')), { a: 2 });
    assert.deepEqual(fs.readdirSync(path.dirname(file)), ['m.json']);
  });

  it('atomicWriteTarget maps the temp file of a write back to its target (what a watcher may see instead)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-atomic-'));
    const file = path.join(dir, 'manifest.json');
    const renames: [string, string][] = [];
    // the module object itself (the namespace import is read-only): the writer's fs.renameSync
    const rename = fsModule.renameSync;
    fsModule.renameSync = (a, b) => {
      renames.push([String(a), String(b)]);
      rename(a, b);
    };
    try {
      writeJsonAtomicSync(file, { a: 1 });
    } finally {
      fsModule.renameSync = rename;
    }
    assert.equal(renames.length, 1, 'one rename of a temp file onto the target');
    const [tmp, target] = renames[0]!;
    assert.notEqual(tmp, target);
    assert.equal(atomicWriteTarget(tmp), target);
    assert.equal(atomicWriteTarget(file), undefined, 'the target itself is not a temp file');
    assert.equal(atomicWriteTarget(path.join(dir, '.hidden.json')), undefined);
    assert.equal(atomicWriteTarget(path.join(dir, 'x.1.2.tmp')), undefined, 'temp files start with a dot');
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('transformer closed form', () => {
  it('matches the engine-bench table (d64/L2, d128/L4 untied, V256 T128)', () => {
    const c = countTransformerParams({ dModel: 64, nLayers: 2, contextLength: 128, vocabSize: 256, mlpRatio: 4, tiedEmbeddings: false });
    assert.equal(c.nonEmbedding, 100_096);
    assert.equal(c.total, 141_056);
    const c2 = countTransformerParams({ dModel: 128, nLayers: 4, contextLength: 128, vocabSize: 256, mlpRatio: 4, tiedEmbeddings: false });
    assert.equal(c2.nonEmbedding, 793_344);
    assert.equal(c2.total, 875_264);
  });
});
