/**
 * The architecture's rules are enforced, not only written down: `npm run lint` fails on a
 * forbidden import between layers (eslint.config.mjs) and on a runtime import cycle
 * (scripts/check-cycles.mjs), and passes on the project itself.
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { ESLint } from 'eslint';

const root = path.resolve(__dirname, '../..');

async function restricted(file: string, code: string): Promise<string[]> {
  const eslint = new ESLint({ cwd: root });
  const [r] = await eslint.lintText(code, { filePath: path.join(root, file) });
  return r!.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

describe('architecture rules in lint', function () {
  this.timeout(120_000);

  it('refuses an import across a layer boundary, and allows the permitted ones', async () => {
    assert.match((await restricted('src/core/atomic.ts', "import * as vscode from 'vscode';\nexport const v = vscode;\n"))[0] ?? '', /src\/core is the domain/);
    assert.match((await restricted('src/core/atomic.ts', "import { runSweep } from '../engine/runner';\nexport const r = runSweep;\n"))[0] ?? '', /src\/core is the domain/);
    assert.match((await restricted('src/extension/log.ts', "import { runSweep } from '../engine/runner';\nexport const r = runSweep;\n"))[0] ?? '', /never trains/);
    assert.match((await restricted('src/engine/data.ts', "import * as vscode from 'vscode';\nexport const v = vscode;\n"))[0] ?? '', /never imports VS Code/);
    assert.match((await restricted('webview/logic.ts', "import * as fs from 'node:fs';\nexport const f = fs;\n"))[0] ?? '', /browser code/);
    assert.match((await restricted('test/unit/atomic.test.ts', "import * as b from '../../bench/cli.mjs';\nexport const x = b;\n"))[0] ?? '', /benchmarks/);
    assert.deepEqual(await restricted('src/extension/log.ts', "import { RUN_FILES } from '../core/contracts';\nexport const r = RUN_FILES;\n"), []);
    assert.deepEqual(await restricted('webview/logic.ts', "import type { Snapshot } from '../src/shared/protocol';\nexport type S = Snapshot;\n"), []);
  });

  it('finds a runtime import cycle, ignores type-only imports, and the project has none', () => {
    const script = path.join(root, 'scripts/check-cycles.mjs');
    const bad = spawnSync(process.execPath, [script, '--root', path.join(root, 'test/fixtures/cycle'), 'a.ts', 'c.ts'], { encoding: 'utf8' });
    assert.equal(bad.status, 1, bad.stdout + bad.stderr);
    assert.match(bad.stderr, /a\.ts → b\.ts → a\.ts/);
    assert.doesNotMatch(bad.stderr, /c\.ts/, 'a type-only import is not a runtime cycle');
    const ok = spawnSync(process.execPath, [script], { encoding: 'utf8', cwd: root });
    assert.equal(ok.status, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /no import cycles/);
  });
});
