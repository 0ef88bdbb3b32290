#!/usr/bin/env node
// Headless VS Code test runner.
//
// Starts the VS Code server bundled in the npm package `code-server`, opens its web workbench in
// Debian's chromium (driven by playwright-core) in extension-test mode, and lets the Node extension
// host run the mocha suite exported by --extensionTestsPath (`run()`: resolves = pass, rejects =
// fail). Prints the extension host's console (the mocha reporter's output), then a closing line
// `N passed, N failed`.
//
// Accepts the VS Code-style command line that @vscode/test-electron builds, so it can be given to
// `runTests({ vscodeExecutablePath })`: `--x=y` and `--x y` forms, the workspace folder as the first
// positional argument; other VS Code flags (--no-sandbox, --user-data-dir=…) are ignored.
//
// Exit codes: 0 passed · 1 run() rejected or the test module did not load · 2 usage error ·
//             3 timeout · 4 code-server died · 5 the page crashed
//
// Test hooks: the extension host inherits VSCODE_HARNESS_URL (http://127.0.0.1:<port>).
//   POST /screenshot {"name": "x"}  -> saves <screenshots>/x.png, answers {"path": "<abs>"}
//   POST /query {"selector": "css"} -> answers {"texts": [innerText of each match],
//                                      "labels": [aria-label of each match or its first labelled descendant],
//                                      "html": [outerHTML of each match, first 4000 characters]}
// (see test/integration/harness.ts).
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { format } from 'node:util';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const CODE_SERVER = path.join(HERE, 'node_modules/code-server/out/node/entry.js');
const CHROMIUM = process.env.VSCODE_HARNESS_CHROMIUM || '/usr/bin/chromium';

const EXIT = { passed: 0, failed: 1, usage: 2, timeout: 3, serverDied: 4, pageCrashed: 5 };

// ---------------------------------------------------------------------------------------------
// command line

const USAGE = `usage: run-tests.mjs --extensionDevelopmentPath <dir> --extensionTestsPath <module>
                    [--workspace <dir> | <dir>] [--screenshots <dir>] [--timeout <s>] [--verbose]`;

/** Options that take a value; every other `--flag` is a VS Code flag we ignore. */
const VALUE_OPTS = new Set([
  'extensionDevelopmentPath',
  'extensionTestsPath',
  'workspace',
  'screenshots',
  'timeout',
  // VS Code flags with a separate value that must not be taken for the workspace
  'user-data-dir',
  'extensions-dir',
  'locale',
  'log',
  'profile',
]);

function usage(msg) {
  process.stderr.write(`run-tests: ${msg}\n${USAGE}\n`);
  process.exit(EXIT.usage);
}

function parseArgs(argv) {
  const o = { extensionDevelopmentPath: [], positional: [], verbose: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) {
      o.positional.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = eq >= 0 ? a.slice(2, eq) : a.slice(2);
    let value = eq >= 0 ? a.slice(eq + 1) : undefined;
    if (name === 'verbose') {
      o.verbose = true;
      continue;
    }
    if (value === undefined && VALUE_OPTS.has(name)) {
      value = argv[++i];
      if (value === undefined) usage(`--${name} needs a value`);
    }
    if (name === 'extensionDevelopmentPath') o.extensionDevelopmentPath.push(value);
    else if (['extensionTestsPath', 'workspace', 'screenshots', 'timeout'].includes(name)) o[name] = value;
    // anything else: a VS Code flag (ignored)
  }
  if (o.positional.length > 1) usage(`unexpected arguments: ${o.positional.slice(1).join(' ')}`);
  o.workspace ??= o.positional[0];
  if (!o.extensionDevelopmentPath.length) usage('--extensionDevelopmentPath is required');
  if (!o.extensionTestsPath) usage('--extensionTestsPath is required');
  const timeout = o.timeout === undefined ? 300 : Number(o.timeout);
  if (!Number.isFinite(timeout) || timeout <= 0) usage(`--timeout must be a positive number of seconds, got ${o.timeout}`);
  return {
    extensionDevelopmentPath: o.extensionDevelopmentPath.map((p) => path.resolve(p)),
    extensionTestsPath: path.resolve(o.extensionTestsPath),
    workspace: o.workspace ? path.resolve(o.workspace) : undefined,
    screenshots: path.resolve(o.screenshots ?? 'test-results'),
    timeoutMs: timeout * 1000,
    verbose: o.verbose,
  };
}

// ---------------------------------------------------------------------------------------------
// output

let stdoutClosed = false;
function out(line) {
  if (stdoutClosed) return;
  try {
    process.stdout.write(line.endsWith('\n') ? line : line + '\n');
  } catch {
    stdoutClosed = true;
  }
}
const note = (msg) => out(`[harness] ${msg}`);

/** Workbench / extension host chatter that is not the tests' output. */
const NOISE = [
  /vsda/i,
  /Found unexpected service worker controller/,
  /\[Extension Host\] (debugger|Debugger)/,
  /^%c/, // styled workbench logs
  /Ignoring the error while validating workspace folder/,
  /No search provider registered for scheme/,
  /Could not find pty \d+ on pty host/,
  /punycode.*deprecated/i,
  /ExperimentalWarning/,
  /Use `node --trace-(deprecation|warnings)/,
  /allow-scripts and allow-same-origin/,
  /^Resolv(ing|ed) connection token/,
  /^Creating a socket \(/,
  /^Ignoring fetching additional builtin extensions/,
  /^ChatSessionStore:/,
  /^Updating additional builtin extensions cache/,
  /^\[Service Worker\]/,
];
const isNoise = (line) => NOISE.some((re) => re.test(line));

const counts = { passed: 0, failed: 0, pending: 0, seen: false };
function countMocha(line) {
  // eslint-disable-next-line no-control-regex
  const plain = line.replace(/\u001b\[[0-9;]*m/g, '');
  let m;
  if ((m = /^\s*(\d+) passing\b/.exec(plain))) (counts.passed += Number(m[1])), (counts.seen = true);
  else if ((m = /^\s*(\d+) failing\b/.exec(plain))) (counts.failed += Number(m[1])), (counts.seen = true);
  else if ((m = /^\s*(\d+) pending\b/.exec(plain))) counts.pending += Number(m[1]);
}

function summaryLine() {
  return `${counts.passed} passed, ${counts.failed} failed` + (counts.pending ? `, ${counts.pending} skipped` : '');
}

// ---------------------------------------------------------------------------------------------
// helpers

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitForHttp(url, deadline, isDead) {
  while (Date.now() < deadline) {
    if (isDead()) return false;
    const ok = await new Promise((resolve) => {
      const req = http.get(url, (res) => {
        res.resume();
        resolve(res.statusCode !== undefined && res.statusCode < 500);
      });
      req.on('error', () => resolve(false));
      req.setTimeout(1000, () => req.destroy());
    });
    if (ok) return true;
    await sleep(150);
  }
  return false;
}

const remoteUri = (authority, p) => `vscode-remote://${authority}${p.split(path.sep).map(encodeURIComponent).join('/')}`;

/** Makes the workbench honour the payload's extension-development entries (VS Code ≥ ~1.10x). */
function initScript() {
  const orig = Element.prototype.getAttribute;
  Element.prototype.getAttribute = function (name) {
    const v = orig.call(this, name);
    if (name === 'data-settings' && v && this.id === 'vscode-workbench-web-configuration') {
      try {
        const cfg = JSON.parse(v);
        cfg.developmentOptions = { ...(cfg.developmentOptions || {}), enableSmokeTestDriver: true };
        return JSON.stringify(cfg);
      } catch {
        return v;
      }
    }
    return v;
  };
}

function safeName(name) {
  const s = String(name ?? '').replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[-.]+/, '').slice(0, 100);
  return s || 'screenshot';
}

// ---------------------------------------------------------------------------------------------
// main

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  for (const p of opts.extensionDevelopmentPath) {
    if (!fs.existsSync(path.join(p, 'package.json'))) usage(`no package.json in extensionDevelopmentPath ${p}`);
  }
  if (!fs.existsSync(opts.extensionTestsPath) && !fs.existsSync(opts.extensionTestsPath + '.js')) {
    usage(`extensionTestsPath not found: ${opts.extensionTestsPath}`);
  }
  if (!fs.existsSync(CODE_SERVER)) {
    process.stderr.write(`run-tests: code-server is not installed; run ${path.join(HERE, 'install.sh')}\n`);
    process.exit(EXIT.usage);
  }
  if (!fs.existsSync(CHROMIUM)) {
    process.stderr.write(`run-tests: ${CHROMIUM} not found (apt-get install chromium, or run install.sh)\n`);
    process.exit(EXIT.usage);
  }
  const { chromium } = await import('playwright-core');

  const t0 = Date.now();
  const elapsed = () => `${((Date.now() - t0) / 1000).toFixed(1)}s`;

  // Short base path: XDG_RUNTIME_DIR holds Unix sockets (path limit 108 bytes).
  const base = fs.mkdtempSync(path.join(process.env.VSCODE_HARNESS_TMP || os.tmpdir(), 'vsch-'));
  const dirs = {};
  for (const d of ['user', 'ext', 'config', 'data', 'run', 'tmp', 'chrome']) {
    dirs[d] = path.join(base, d);
    fs.mkdirSync(dirs[d], { recursive: true, mode: 0o700 });
  }
  const workspace = opts.workspace ?? fs.mkdtempSync(path.join(base, 'ws-'));
  fs.mkdirSync(opts.screenshots, { recursive: true });

  const settings = {
    'workbench.startupEditor': 'none',
    'workbench.tips.enabled': false,
    'workbench.enableExperiments': false,
    'telemetry.telemetryLevel': 'off',
    'security.workspace.trust.enabled': false,
    'update.mode': 'none',
    'extensions.autoUpdate': false,
    'extensions.autoCheckUpdates': false,
    'git.enabled': false,
    'git.autoRepositoryDetection': false,
    'npm.autoDetect': 'off',
    'typescript.tsc.autoDetect': 'off',
    'chat.disableAIFeatures': true,
    'window.restoreWindows': 'none',
    ...(process.env.VSCODE_HARNESS_SETTINGS ? JSON.parse(process.env.VSCODE_HARNESS_SETTINGS) : {}),
  };
  fs.mkdirSync(path.join(dirs.user, 'User'), { recursive: true });
  fs.writeFileSync(path.join(dirs.user, 'User', 'settings.json'), JSON.stringify(settings, null, 2));

  // --- state + cleanup -----------------------------------------------------------------------
  let server; // code-server child process (own process group)
  let context; // playwright browser context
  let shotServer;
  let finishing = false;
  let resolveDone;
  const done = new Promise((r) => (resolveDone = r));
  const finish = (code, why) => {
    if (finishing) return;
    finishing = true;
    if (why) note(why);
    resolveDone(code);
  };

  async function cleanup() {
    try {
      await Promise.race([context?.close(), sleep(5000)]);
    } catch {
      /* browser already gone */
    }
    shotServer?.close();
    if (server?.pid && server.exitCode === null) {
      try {
        process.kill(-server.pid, 'SIGTERM');
      } catch {
        /* gone */
      }
      const t = Date.now();
      while (Date.now() - t < 3000 && server.exitCode === null && server.signalCode === null) await sleep(100);
    }
    if (server?.pid) {
      try {
        process.kill(-server.pid, 'SIGKILL'); // whatever is left of the group (pty host, watcher)
      } catch {
        /* all gone */
      }
    }
    fs.rmSync(base, { recursive: true, force: true, maxRetries: 3 });
  }

  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(sig, () => finish(130, `received ${sig}, cleaning up`));
  }
  process.stdout.on('error', () => {
    stdoutClosed = true;
    finish(1);
  });

  // --- screenshot endpoint -------------------------------------------------------------------
  let page;
  const shotPort = await freePort();
  shotServer = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', async () => {
      const reply = (status, obj) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(obj));
      };
      if (req.method !== 'POST') return reply(404, { error: 'POST /screenshot or /query' });
      try {
        const body_ = JSON.parse(body || '{}');
        if (!page) return reply(503, { error: 'no page yet' });
        if (req.url === '/screenshot') {
          const file = path.join(opts.screenshots, `${safeName(body_.name)}.png`);
          await page.screenshot({ path: file });
          note(`screenshot ${path.relative(process.cwd(), file) || file}`);
          return reply(200, { path: file });
        }
        if (req.url === '/query') {
          if (typeof body_.selector !== 'string') return reply(400, { error: 'selector must be a string' });
          const found = await page.evaluate(
            (sel) =>
              Array.from(document.querySelectorAll(sel)).map((e) => ({
                text: e instanceof HTMLElement ? e.innerText : (e.textContent ?? ''),
                label: e.getAttribute('aria-label') || e.querySelector('[aria-label]:not([aria-label=""])')?.getAttribute('aria-label') || '',
                html: e.outerHTML.slice(0, 4000),
              })),
            body_.selector,
          );
          return reply(200, { texts: found.map((f) => f.text), labels: found.map((f) => f.label), html: found.map((f) => f.html) });
        }
        reply(404, { error: `unknown route ${req.url}` });
      } catch (e) {
        reply(500, { error: String(e?.message ?? e) });
      }
    });
  });
  await new Promise((r) => shotServer.listen(shotPort, '127.0.0.1', r));

  // --- code-server ---------------------------------------------------------------------------
  const port = await freePort();
  const authority = `127.0.0.1:${port}`;
  const serverArgs = [
    CODE_SERVER,
    '--auth', 'none',
    '--bind-addr', authority,
    '--user-data-dir', dirs.user,
    '--extensions-dir', dirs.ext,
    '--disable-telemetry',
    '--disable-update-check',
    '--disable-workspace-trust',
    '--disable-getting-started-override',
    '--disable-proxy',
    '--ignore-last-opened',
  ];
  const env = {
    ...process.env,
    EXTENSIONS_GALLERY: '{}',
    XDG_CONFIG_HOME: dirs.config,
    XDG_DATA_HOME: dirs.data,
    XDG_RUNTIME_DIR: dirs.run,
    TMPDIR: dirs.tmp,
    VSCODE_HARNESS_URL: `http://127.0.0.1:${shotPort}`,
  };
  delete env.ELECTRON_RUN_AS_NODE;
  delete env.VSCODE_IPC_HOOK_CLI;
  server = spawn(process.execPath, serverArgs, { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  note(`code-server pid ${server.pid} (process group ${server.pid}; if orphaned: kill -- -${server.pid})`);
  const serverLog = [];
  const onServerOutput = (chunk) => {
    for (const line of chunk.toString().split('\n')) {
      if (!line.trim()) continue;
      serverLog.push(line);
      if (serverLog.length > 200) serverLog.shift();
      if (opts.verbose) out(`[code-server] ${line}`);
    }
  };
  server.stdout.on('data', onServerOutput);
  server.stderr.on('data', onServerOutput);
  server.on('exit', (code, signal) => {
    if (!finishing) {
      if (!opts.verbose) for (const l of serverLog.slice(-30)) out(`[code-server] ${l}`);
      finish(EXIT.serverDied, `code-server exited unexpectedly (${code ?? signal})`);
    }
  });

  const timer = setTimeout(() => finish(EXIT.timeout, `timed out after ${opts.timeoutMs / 1000}s`), opts.timeoutMs);

  const run = async () => {
    const up = await waitForHttp(`http://${authority}/healthz`, Date.now() + 60_000, () => finishing);
    if (finishing) return;
    if (!up) return finish(EXIT.serverDied, 'code-server did not start listening within 60s');
    note(`code-server listening on ${authority} (${elapsed()})`);

    // --- chromium ----------------------------------------------------------------------------
    context = await chromium.launchPersistentContext(dirs.chrome, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1400, height: 900 },
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--disable-dev-shm-usage',
        '--disable-crash-reporter',
        '--disable-breakpad',
      ],
    });
    if (finishing) return;
    await context.exposeFunction('codeAutomationExit', (code) => {
      finish(code === 0 ? EXIT.passed : EXIT.failed);
    });
    await context.exposeFunction('codeAutomationLog', (type, args) => {
      const text = format(...(Array.isArray(args) ? args : [args]));
      for (const line of text.split('\n')) {
        if (isNoise(line)) continue;
        countMocha(line);
        out(type === 'error' && opts.verbose ? `[error] ${line}` : line);
      }
    });
    await context.addInitScript(initScript);
    page = context.pages()[0] ?? (await context.newPage());
    page.on('crash', () => finish(EXIT.pageCrashed, 'the page crashed'));
    page.on('pageerror', (e) => opts.verbose && out(`[page error] ${e.message}`));
    page.on('console', (m) => opts.verbose && out(`[browser ${m.type()}] ${m.text()}`));

    const payload = [
      ...opts.extensionDevelopmentPath.map((p) => ['extensionDevelopmentPath', remoteUri(authority, p)]),
      ['extensionTestsPath', remoteUri(authority, opts.extensionTestsPath)],
      ['skipWelcome', 'true'],
      ['skipReleaseNotes', 'true'],
    ];
    const url =
      `http://${authority}/?folder=${encodeURIComponent(workspace)}` +
      `&payload=${encodeURIComponent(JSON.stringify(payload))}`;
    await page.goto(url, { waitUntil: 'domcontentloaded', timeout: 60_000 });
    note(`workbench opened (${elapsed()}); workspace ${workspace}`);
  };
  run().catch((e) => finish(EXIT.failed, `harness error: ${e?.stack ?? e}`));

  const code = await done;
  clearTimeout(timer);
  await cleanup();
  if (code === EXIT.failed && !counts.seen) {
    note('no mocha summary was seen: the test module did not load or run() failed before mocha ran');
  }
  note(`finished in ${elapsed()} with exit code ${code}`);
  out(summaryLine());
  // The closing line must not contradict the exit code: a failed run with 0 failures counted
  // (e.g. run() threw) is still a failure, shown by the exit code and the note above.
  process.exit(code);
}

main().catch((e) => {
  process.stderr.write(`run-tests: ${e?.stack ?? e}\n`);
  process.exit(EXIT.failed);
});
