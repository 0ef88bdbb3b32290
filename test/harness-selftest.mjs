// Self-test of the integration test runner (test/harness/run-tests.mjs): runs the fixture suite in
// test/fixtures/failing-suite (one passing, one failing test) and checks that the runner reports
// both results, ends with "1 passed, 1 failed" and exits non-zero. A runner that swallowed failures
// would make every integration run green, so this guards the guard.
//
//   node test/harness-selftest.mjs        exit 0 when the runner behaves, 1 otherwise
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const fixture = path.join(root, 'test/fixtures/failing-suite');
const runner = path.join(root, 'test/harness/run-tests.mjs');
const shots = fs.mkdtempSync(path.join(os.tmpdir(), 'flopsfit-selftest-'));

const child = spawn(
  runner,
  [
    '--extensionDevelopmentPath', fixture,
    '--extensionTestsPath', path.join(fixture, 'index.js'),
    '--screenshots', shots,
    '--timeout', '180',
  ],
  { stdio: ['ignore', 'pipe', 'pipe'] },
);
let output = '';
child.stdout.on('data', (d) => (output += d));
child.stderr.on('data', (d) => (output += d));
const code = await new Promise((resolve) => child.on('close', (c, sig) => resolve(c ?? sig)));
fs.rmSync(shots, { recursive: true, force: true });

// A usage error must be told apart from failing tests: exit code 2.
const usage = await new Promise((resolve) => {
  const c = spawn(runner, ['--extensionTestsPath', path.join(fixture, 'index.js')], { stdio: 'ignore' });
  c.on('close', (c2, sig) => resolve(c2 ?? sig));
});

const lines = output.split('\n').map((l) => l.trimEnd()).filter(Boolean);
const last = lines.at(-1) ?? '';
const problems = [];
if (code === 0) problems.push('the runner exited 0 although a test failed');
if (code !== 1) problems.push(`expected exit code 1 (tests failed), got ${code}`);
if (last !== '1 passed, 1 failed') problems.push(`expected the last line "1 passed, 1 failed", got ${JSON.stringify(last)}`);
if (!lines.some((l) => /✔ passes/.test(l))) problems.push('the passing test is not reported');
if (!lines.some((l) => /\d\) fails on purpose/.test(l))) problems.push('the failing test is not reported');
if (usage !== 2) problems.push(`expected exit code 2 for a usage error (no --extensionDevelopmentPath), got ${usage}`);
if (!output.includes('this test is meant to fail')) problems.push("the failing test's assertion message is not printed");

if (problems.length) {
  console.log(output);
  for (const p of problems) console.log(`[harness-selftest] FAIL: ${p}`);
  process.exit(1);
}
console.log(`[harness-selftest] ok: a failing suite makes the runner exit ${code} with "${last}"`);
