// Runs the integration suite (test/integration/suite/*.test.ts) inside VS Code.
//
//   node test/integration/runTest.mjs [--grep <pattern>] [--verbose] [--timeout <s, default 1200>]
//
// 1. Bundles the suite with esbuild into out/integration/suite/ (one file per *.test.ts plus
//    index.js; `vscode` and npm packages stay external and resolve from node_modules at run time).
// 2. Runs two VS Code sessions (see SESSIONS): the first-sweep test on an empty folder, the rest on
//    a fresh temp copy of test/integration/workspace/ (tests may write there).
// 3. Each calls @vscode/test-electron's runTests with vscodeExecutablePath = test/harness/run-tests.mjs
//    (headless code-server + chromium). FLOPSFIT_VSCODE=desktop runs the same suite in desktop
//    VS Code that test-electron downloads; FLOPSFIT_VSCODE=<path> in that VS Code executable.
// Exit code: 0 when every test passed. The last line printed is `N passed, N failed` over both sessions.
import * as esbuild from 'esbuild';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runTests } from '@vscode/test-electron';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const suiteSrc = path.join(root, 'test/integration/suite');
const suiteOut = path.join(root, 'out/integration/suite');
const harness = path.join(root, 'test/harness/run-tests.mjs');

function parse(argv) {
  const o = { grep: undefined, verbose: false, timeout: undefined };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--grep' || a === '-g') o.grep = argv[++i];
    else if (a.startsWith('--grep=')) o.grep = a.slice('--grep='.length);
    else if (a === '--verbose') o.verbose = true;
    else if (a === '--timeout') o.timeout = argv[++i];
    else if (a.startsWith('--timeout=')) o.timeout = a.slice('--timeout='.length);
    else {
      console.error(`runTest: unknown argument ${a}\nusage: node test/integration/runTest.mjs [--grep <pattern>] [--verbose] [--timeout <s>]`);
      process.exit(2);
    }
  }
  return o;
}

async function bundleSuite() {
  const entries = fs.readdirSync(suiteSrc).filter((f) => f === 'index.ts' || f.endsWith('.test.ts'));
  fs.rmSync(suiteOut, { recursive: true, force: true });
  await esbuild.build({
    absWorkingDir: root,
    entryPoints: entries.map((f) => path.join(suiteSrc, f)),
    outdir: suiteOut,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    sourcemap: 'inline',
    packages: 'external', // mocha, zod, … load from node_modules; `vscode` is provided by the host
    external: ['vscode'],
    logLevel: 'warning',
  });
  return entries.filter((f) => f.endsWith('.test.ts')).length;
}

/**
 * The sessions: the first-sweep test runs in its own VS Code on an EMPTY folder (a newcomer's
 * first steps: no config, no run directory); every other test in one VS Code on a copy of
 * test/integration/workspace/. Each session's test files are chosen by FLOPSFIT_TEST_FILES /
 * FLOPSFIT_TEST_EXCLUDE (suite/index.ts).
 */
const EMPTY_FOLDER_TESTS = 'firstSweep';
const SESSIONS = [
  { name: 'empty folder', empty: true, env: { FLOPSFIT_TEST_FILES: EMPTY_FOLDER_TESTS } },
  { name: 'test workspace', empty: false, env: { FLOPSFIT_TEST_EXCLUDE: EMPTY_FOLDER_TESTS } },
];

/** Runs one VS Code session; returns its exit code. */
async function session(opts, s) {
  const workspace = fs.mkdtempSync(path.join(os.tmpdir(), s.empty ? 'flopsfit-empty-' : 'flopsfit-ws-'));
  if (!s.empty) fs.cpSync(path.join(root, 'test/integration/workspace'), workspace, { recursive: true });

  // FLOPSFIT_VSCODE: unset = the headless harness; `desktop` = let test-electron download desktop
  // VS Code (needs update.code.visualstudio.com); any other value = path of a VS Code executable.
  const choice = process.env.FLOPSFIT_VSCODE ?? '';
  const useHarness = choice === '';
  const launchArgs = [workspace, '--disable-extensions'];
  if (useHarness) {
    launchArgs.push(`--screenshots=${path.join(root, 'test-results')}`);
    // The whole run (all suites) must finish within this; per-test limits are mocha's (60 s default).
    launchArgs.push(`--timeout=${opts.timeout ?? 1200}`);
    if (opts.verbose) launchArgs.push('--verbose');
  }
  const vscodeExecutablePath = useHarness ? harness : choice === 'desktop' ? undefined : path.resolve(choice);
  console.log(`[runTest] session: ${s.name} (${workspace})`);
  let code = 0;
  try {
    await runTests({
      vscodeExecutablePath,
      extensionDevelopmentPath: root,
      extensionTestsPath: path.join(suiteOut, 'index'),
      launchArgs,
      extensionTestsEnv: {
        FLOPSFIT_TEST_GREP: opts.grep ?? '',
        FLOPSFIT_INTEGRATION: '1',
        ...s.env,
      },
    });
  } catch (e) {
    if (typeof e?.code === 'number' && e.code !== 0) code = e.code; // the runner's own exit code
    else {
      console.error(`runTest: ${e?.message ?? e}`); // e.g. VS Code could not be downloaded or started
      code = 1;
    }
  } finally {
    fs.rmSync(workspace, { recursive: true, force: true });
  }
  return code;
}

async function main() {
  const opts = parse(process.argv.slice(2));
  const nFiles = await bundleSuite();
  console.log(`[runTest] bundled ${nFiles} test file(s) into ${path.relative(root, suiteOut)}/`);

  // test-electron prints "Exit code: N" after the runner's summary: dropped. Each session's
  // `N passed, N failed` line is counted; one line for the whole suite is printed last.
  const log = console.log;
  console.log = (...args) => {
    if (typeof args[0] === 'string' && /^Exit code:/.test(args[0])) return;
    log(...args);
  };
  const totals = { passed: 0, failed: 0, skipped: 0 };
  let pending = '';
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = (chunk, ...rest) => {
    pending += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      const m = /^(\d+) passed, (\d+) failed(?:, (\d+) skipped)?\s*$/.exec(line);
      if (m) {
        totals.passed += Number(m[1]);
        totals.failed += Number(m[2]);
        totals.skipped += Number(m[3] ?? 0);
      }
    }
    return write(chunk, ...rest);
  };
  let code = 0;
  try {
    for (const s of SESSIONS) code = (await session(opts, s)) || code;
  } finally {
    process.stdout.write = write;
    console.log = log;
  }
  if (code !== 0 && totals.failed === 0) totals.failed = 1; // a session that failed without a summary
  console.log(`${totals.passed} passed, ${totals.failed} failed${totals.skipped ? `, ${totals.skipped} skipped` : ''}`);
  process.exit(code);
}

main().catch((e) => {
  console.error(`runTest: ${e?.stack ?? e}`);
  process.exit(1);
});
