/**
 * Helpers for integration tests that run inside VS Code (test/integration/suite/*.test.ts).
 *
 * Under test/harness/run-tests.mjs (code-server + headless chromium) the extension host inherits
 * VSCODE_HARNESS_URL, through which a test can ask the runner for a screenshot of the workbench or
 * query the workbench DOM. Under any other runner (desktop VS Code through @vscode/test-electron)
 * those helpers do nothing and return undefined.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';

export const EXTENSION_ID = 'flopsfit.flopsfit';

/** Set by suite/index.ts before mocha starts: was the extension activated by its own events? */
export const ACTIVATION_STATE_KEY = '__flopsfitActivationState';
export interface ActivationState {
  found: boolean;
  activeBeforeTests: boolean;
  waitedMs: number;
}
export function activationState(): ActivationState | undefined {
  return (globalThis as Record<string, unknown>)[ACTIVATION_STATE_KEY] as ActivationState | undefined;
}

/** The public API that the extension's activate() returns (src/extension/main.ts). */
export interface ActivatedApi {
  activationMs: number;
  [key: string]: unknown;
}

/** True when the tests run under the headless harness (screenshots and DOM queries work). */
export function underHarness(): boolean {
  return !!process.env.VSCODE_HARNESS_URL;
}

async function post<T>(route: string, body: unknown): Promise<T | undefined> {
  const base = process.env.VSCODE_HARNESS_URL;
  if (!base) return undefined;
  const res = await fetch(`${base}${route}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as T & { error?: string };
  if (!res.ok) throw new Error(`harness ${route} failed: ${json.error ?? res.status}`);
  return json;
}

/**
 * Saves a PNG of the whole workbench as `<screenshots dir>/<name>.png` (default test-results/).
 * Returns the file's absolute path, or undefined when not running under the harness.
 * Give the UI a moment to render first (e.g. `await sleep(500)` after opening a view).
 */
export async function screenshot(name: string): Promise<string | undefined> {
  const r = await post<{ path: string }>('/screenshot', { name });
  return r?.path;
}

/** What {@link queryWorkbench} found: one entry per matching element, in document order. */
export interface WorkbenchMatches {
  /** innerText of each match (CSS text-transform applied, e.g. view titles are upper case) */
  texts: string[];
  /** aria-label of each match, or of its first descendant that has one ('' if none) */
  labels: string[];
  /** outerHTML of each match (first 4000 characters), for debugging selectors */
  html: string[];
}

/**
 * Queries the workbench page's DOM with a CSS selector (main document only; webview contents live
 * in iframes and are not reached). Undefined when not under the harness.
 */
export async function queryWorkbench(selector: string): Promise<WorkbenchMatches | undefined> {
  return post<WorkbenchMatches>('/query', { selector });
}

/** The test workspace folder (a fresh temp copy of test/integration/workspace per run). */
export function workspaceDir(): string {
  const folder = vscode.workspace.workspaceFolders?.[0];
  if (!folder) throw new Error('no workspace folder is open');
  return folder.uri.fsPath;
}

/** Absolute path of a file in the test workspace. */
export function workspaceFile(...segments: string[]): string {
  return path.join(workspaceDir(), ...segments);
}

/** The extension's folder (the repository root) and its parsed package.json. */
export function extension(): vscode.Extension<ActivatedApi> {
  const ext = vscode.extensions.getExtension<ActivatedApi>(EXTENSION_ID);
  if (!ext) throw new Error(`extension ${EXTENSION_ID} is not installed in this VS Code`);
  return ext;
}

export function packageJson(): {
  contributes: { commands: { command: string }[]; [key: string]: unknown };
  [key: string]: unknown;
} {
  return JSON.parse(fs.readFileSync(path.join(extension().extensionPath, 'package.json'), 'utf8'));
}

/** Activates the extension (if its activation events have not already) and returns its API. */
export async function activate(): Promise<ActivatedApi> {
  return extension().activate();
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls `probe` until it returns a truthy value or `timeoutMs` passes; returns that value or
 * throws with `what` in the message. Use instead of fixed sleeps when waiting for VS Code state.
 */
export async function waitFor<T>(what: string, probe: () => T | Promise<T>, timeoutMs = 10_000, everyMs = 100): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v as NonNullable<T>;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
    }
    await sleep(everyMs);
  }
}
