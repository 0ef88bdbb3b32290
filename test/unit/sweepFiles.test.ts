import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SWEEP_FILE_PATTERN } from '../../src/core/config';
import { isSweepFile, SWEEP_FILE_RE, SWEEP_GLOB, sweepBaseName, sweepFilenamePatterns, SWEEP_YAML_GLOB } from '../../src/core/sweepFiles';

const pkg = JSON.parse(fs.readFileSync(path.resolve(__dirname, '..', '..', 'package.json'), 'utf8'));
const sorted = (xs: string[]) => [...xs].sort();
const asList = (x: string | string[]) => (Array.isArray(x) ? x : [x]);

/** A `*.sweep.{a,b}` / `*.sweep.a` glob's file-name patterns. */
function expand(glob: string): string[] {
  const m = /^(?:\*\*\/)?\*\.sweep\.(?:\{([^}]+)\}|(\w+))$/.exec(glob);
  assert.ok(m, glob);
  return (m[1] ?? m[2]).split(',').map((e) => `*.sweep.${e}`);
}

describe('sweep-file patterns: one home, and package.json agrees', () => {
  it('activates on exactly the sweep-file patterns', () => {
    const contains = (pkg.activationEvents as string[]).filter((e) => e.startsWith('workspaceContains:')).map((e) => e.slice('workspaceContains:'.length));
    assert.deepEqual(sorted(contains.flatMap(expand)), sorted(sweepFilenamePatterns()));
  });

  it('associates the languages and the schemas with exactly those patterns', () => {
    const langs = pkg.contributes.languages as { id: string; filenamePatterns?: string[] }[];
    assert.deepEqual(sorted(langs.find((l) => l.id === 'jsonc')!.filenamePatterns!), sorted(sweepFilenamePatterns('json')));
    assert.deepEqual(sorted(langs.find((l) => l.id === 'yaml')!.filenamePatterns!), sorted(sweepFilenamePatterns('yaml')));
    const json = (pkg.contributes.jsonValidation as { fileMatch: string | string[]; url: string }[]).filter((v) => /sweep\.schema/.test(v.url));
    assert.deepEqual(sorted(json.flatMap((v) => asList(v.fileMatch))), sorted(sweepFilenamePatterns('json')));
    const yaml = (pkg.contributes.yamlValidation as { fileMatch: string | string[]; url: string }[]).filter((v) => /sweep\.schema/.test(v.url));
    assert.deepEqual(sorted(yaml.flatMap((v) => asList(v.fileMatch))), sorted(sweepFilenamePatterns('yaml')));
  });

  it('the regular expression, the globs and the patterns describe the same files', () => {
    assert.deepEqual(sorted(expand(SWEEP_GLOB)), sorted(sweepFilenamePatterns()));
    assert.deepEqual(sorted(expand(SWEEP_YAML_GLOB)), sorted(sweepFilenamePatterns('yaml')));
    assert.equal(SWEEP_FILE_PATTERN, SWEEP_FILE_RE, 'the config module re-exports the one pattern');
    for (const p of sweepFilenamePatterns()) {
      const name = p.replace('*', 'my-run');
      assert.ok(isSweepFile(name) && SWEEP_FILE_PATTERN.test(name), name);
      assert.equal(sweepBaseName(`/a/b/${name}`), 'my-run');
    }
    for (const name of ['x.yaml', 'x.sweep.txt', 'x.sweep.jsonc', 'x.sweep.yaml.bak', 'sweep.yaml']) assert.ok(!isSweepFile(name), name);
  });
});
