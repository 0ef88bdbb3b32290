/**
 * Loads the built results webview (dist/webview.js + media/results.css) in headless Debian
 * chromium through playwright-core, in a page that behaves like a VS Code webview: the same CSP
 * as the panel (nonce script, no inline/eval), --vscode-* theme variables, a fake
 * acquireVsCodeApi whose postMessage lands in `messages`, and `send()` for host → webview
 * messages. CSP violations are collected in `cspViolations`.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import type { Browser, Page } from 'playwright-core';

const root = path.resolve(__dirname, '../..');

function loadPlaywright(): typeof import('playwright-core') {
  const req = createRequire(__filename);
  for (const base of [root, path.join(root, 'test/harness')]) {
    try {
      return req(req.resolve('playwright-core', { paths: [base] }));
    } catch {
      /* try the next location */
    }
  }
  throw new Error('playwright-core not found: run test/harness/install.sh (or `npm install --save-dev playwright-core`)');
}

export const THEMES = {
  dark: {
    bodyClass: 'vscode-dark',
    vars: {
      '--vscode-foreground': '#cccccc',
      '--vscode-descriptionForeground': '#9d9d9d',
      '--vscode-editor-background': '#1f1f1f',
      '--vscode-font-family': 'system-ui, "DejaVu Sans", sans-serif',
      '--vscode-font-size': '13px',
      '--vscode-editor-font-family': '"DejaVu Sans Mono", monospace',
      '--vscode-panel-border': '#2b2b2b',
      '--vscode-widget-border': '#313131',
      '--vscode-badge-background': '#616161',
      '--vscode-badge-foreground': '#f8f8f8',
      '--vscode-button-background': '#0078d4',
      '--vscode-button-foreground': '#ffffff',
      '--vscode-button-secondaryBackground': '#313131',
      '--vscode-button-secondaryForeground': '#cccccc',
      '--vscode-focusBorder': '#0078d4',
      '--vscode-errorForeground': '#f85149',
      '--vscode-editorWarning-foreground': '#cca700',
      '--vscode-list-hoverBackground': '#2a2d2e',
      '--vscode-textBlockQuote-background': '#2b2b2b',
      '--vscode-charts-foreground': '#cccccc',
      '--vscode-charts-blue': '#3794ff',
      '--vscode-charts-purple': '#b180d7',
      '--vscode-charts-green': '#89d185',
      '--vscode-charts-yellow': '#cca700',
      '--vscode-charts-orange': '#d18616',
      '--vscode-charts-red': '#f14c4c',
      '--vscode-checkbox-background': '#313131',
      '--vscode-checkbox-border': '#3c3c3c',
      '--vscode-panelTitle-activeBorder': '#0078d4',
      '--vscode-panelTitle-activeForeground': '#cccccc',
      '--vscode-panelTitle-inactiveForeground': '#9d9d9d',
    },
  },
  light: {
    bodyClass: 'vscode-light',
    vars: {
      '--vscode-foreground': '#3b3b3b',
      '--vscode-descriptionForeground': '#717171',
      '--vscode-editor-background': '#ffffff',
      '--vscode-font-family': 'system-ui, "DejaVu Sans", sans-serif',
      '--vscode-font-size': '13px',
      '--vscode-editor-font-family': '"DejaVu Sans Mono", monospace',
      '--vscode-panel-border': '#e5e5e5',
      '--vscode-widget-border': '#e5e5e5',
      '--vscode-badge-background': '#cccccc',
      '--vscode-badge-foreground': '#3b3b3b',
      '--vscode-button-background': '#005fb8',
      '--vscode-button-foreground': '#ffffff',
      '--vscode-button-secondaryBackground': '#e5e5e5',
      '--vscode-button-secondaryForeground': '#3b3b3b',
      '--vscode-focusBorder': '#005fb8',
      '--vscode-errorForeground': '#f85149',
      '--vscode-editorWarning-foreground': '#bf8803',
      '--vscode-list-hoverBackground': '#f2f2f2',
      '--vscode-textBlockQuote-background': '#f8f8f8',
      '--vscode-charts-foreground': '#616161',
      '--vscode-charts-blue': '#1a85ff',
      '--vscode-charts-purple': '#652d90',
      '--vscode-charts-green': '#388a34',
      '--vscode-charts-yellow': '#bf8803',
      '--vscode-charts-orange': '#d18616',
      '--vscode-charts-red': '#e51400',
      '--vscode-checkbox-background': '#f8f8f8',
      '--vscode-checkbox-border': '#cecece',
      '--vscode-checkbox-foreground': '#3b3b3b',
      '--vscode-panelTitle-activeBorder': '#005fb8',
      '--vscode-panelTitle-activeForeground': '#3b3b3b',
      '--vscode-panelTitle-inactiveForeground': '#3b3b3b99',
    },
  },
} as const;

export type ThemeName = keyof typeof THEMES;

export interface WebviewPage {
  browser: Browser;
  page: Page;
  /** messages the webview posted to the "host" */
  messages: unknown[];
  cspViolations: string[];
  pageErrors: string[];
  send(msg: unknown): Promise<void>;
  waitFor(pred: (m: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  setTheme(theme: ThemeName): Promise<void>;
  close(): Promise<void>;
}

export async function openWebviewPage(
  opts: {
    theme?: ThemeName;
    state?: unknown;
    width?: number;
    height?: number;
    query?: string;
    /** benchmark only: a worker script served at /bench-worker.js (the page CSP then adds worker-src 'self') */
    workerSource?: string;
  } = {},
): Promise<WebviewPage> {
  const webviewJs = path.join(root, 'dist/webview.js');
  if (!fs.existsSync(webviewJs)) throw new Error('dist/webview.js missing: run `npm run build` first');
  const nonce = crypto.randomBytes(16).toString('base64');
  const theme = THEMES[opts.theme ?? 'dark'];
  const themeCss = (name: ThemeName) => `html { ${Object.entries(THEMES[name].vars).map(([k, v]) => `${k}: ${v};`).join(' ')} }\n`;
  const fakeApi = `(() => {
    window.__toHost = [];
    window.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));
    let state = ${JSON.stringify(opts.state ?? null)};
    let acquired = false;
    window.acquireVsCodeApi = () => {
      if (acquired) throw new Error('acquireVsCodeApi called twice');
      acquired = true;
      return {
        postMessage: (m) => { window.__toHost.push(m); if (window.__hostMessage) window.__hostMessage(JSON.stringify(m)); },
        getState: () => state,
        setState: (s) => { state = s; window.__state = s; return s; },
      };
    };
  })();`;
  const csp = `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'self'; img-src 'self' data: blob:; font-src 'self'${opts.workerSource ? "; worker-src 'self'" : ''}`;
  const html = `<!DOCTYPE html><html lang="en"><head><meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<link rel="stylesheet" id="theme" href="/theme-${opts.theme ?? 'dark'}.css"><link rel="stylesheet" href="/media/results.css">
<title>results</title></head><body class="${theme.bodyClass}"><div id="app"></div>
<script nonce="${nonce}" src="/fake-api.js"></script>
<script nonce="${nonce}" src="/dist/webview.js"></script></body></html>`;
  const files: Record<string, () => [string, Buffer | string]> = {
    '/': () => ['text/html', html],
    '/fake-api.js': () => ['text/javascript', fakeApi],
    '/bench-worker.js': () => ['text/javascript', opts.workerSource ?? ''],
    '/theme-dark.css': () => ['text/css', themeCss('dark')],
    '/theme-light.css': () => ['text/css', themeCss('light')],
    '/dist/webview.js': () => ['text/javascript', fs.readFileSync(webviewJs)],
    '/media/results.css': () => ['text/css', fs.readFileSync(path.join(root, 'media/results.css'))],
  };
  const server = http.createServer((req, res) => {
    const f = files[(req.url ?? '/').split('?')[0]];
    if (!f) {
      res.writeHead(404).end();
      return;
    }
    const [type, body] = f();
    res.writeHead(200, { 'content-type': type }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;

  const { chromium } = loadPlaywright();
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--js-flags=--expose-gc'],
  });
  const page = await browser.newPage({ viewport: { width: opts.width ?? 1280, height: opts.height ?? 900 } });
  const messages: unknown[] = [];
  const cspViolations: string[] = [];
  const pageErrors: string[] = [];
  const waiters: { pred: (m: Record<string, unknown>) => boolean; resolve: (m: Record<string, unknown>) => void }[] = [];
  await page.exposeFunction('__hostMessage', (json: string) => {
    const m = JSON.parse(json) as Record<string, unknown>;
    messages.push(m);
    for (let i = waiters.length - 1; i >= 0; i--) {
      if (waiters[i].pred(m)) {
        waiters[i].resolve(m);
        waiters.splice(i, 1);
      }
    }
  });
  page.on('console', (m) => {
    const t = m.text();
    if (/Content Security Policy|Refused to/i.test(t)) cspViolations.push(t);
  });
  page.on('pageerror', (e) => pageErrors.push(e.message));
  const ready = new Promise<Record<string, unknown>>((resolve) => waiters.push({ pred: (m) => m.type === 'ready', resolve }));
  await page.goto(`http://127.0.0.1:${port}/${opts.query ?? ''}`);
  await Promise.race([ready, new Promise((_, rej) => setTimeout(() => rej(new Error(`webview did not post ready; page errors: ${pageErrors.join('; ')}`)), 15000))]);

  return {
    browser,
    page,
    messages,
    cspViolations,
    pageErrors,
    async send(msg) {
      await page.evaluate(`window.postMessage(${JSON.stringify(msg)}, '*')`);
    },
    waitFor(pred, timeoutMs = 10000) {
      const found = (messages as Record<string, unknown>[]).find(pred);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const w = { pred, resolve };
        waiters.push(w);
        setTimeout(() => {
          const i = waiters.indexOf(w);
          if (i >= 0) {
            waiters.splice(i, 1);
            reject(new Error('timed out waiting for a webview message'));
          }
        }, timeoutMs);
      });
    },
    async setTheme(name) {
      // swap the stylesheet, wait for it, then the body class (VS Code's theme-change signal)
      await page.evaluate(`new Promise((resolve) => {
        const link = document.getElementById('theme');
        link.onload = () => { document.body.className = ${JSON.stringify(THEMES[name].bodyClass)}; resolve(); };
        link.href = '/theme-${name}.css';
      })`);
      await page.waitForTimeout(200);
    },
    async close() {
      await browser.close();
      server.close();
    },
  };
}
