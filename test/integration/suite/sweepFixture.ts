/**
 * A tiny sweep for the explorer and command tests: a bring-your-own trainer (`model.family:
 * command`) that is a small Node script, so a whole sweep runs in seconds and its pace, failures
 * and stops are under the test's control:
 *   <dir>/trainer-delay.txt   milliseconds between metrics lines (default 20)
 *   <dir>/trainer-fail.txt    size values (one per line) whose experiments exit 3 after one line
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { TreeSnapshot } from '../../../src/extension/explorer/nodes';
import { activate, sleep, waitFor, workspaceFile } from '../harness';

export const TRAINER = `// fake trainer for FlopsFit integration tests (see test/integration/suite/sweepFixture.ts)
import * as fs from 'node:fs';
import * as path from 'node:path';
const args = process.argv.slice(2);
const opt = (k) => { const i = args.indexOf(k); return i >= 0 ? args[i + 1] : undefined; };
const here = path.dirname(new URL(import.meta.url).pathname);
const size = Number(opt('--size'));
if (args.includes('--count-params')) { console.log(String(24 * size * size)); process.exit(0); }
const tokens = Number(opt('--tokens'));
const read = (f) => { try { return fs.readFileSync(path.join(here, f), 'utf8'); } catch { return ''; } };
const delay = () => Number(read('trainer-delay.txt').trim() || 20); // read every tick: tests slow a run down
const fail = read('trainer-fail.txt').split(/\\s+/).filter(Boolean).map(Number).includes(size);
process.on('SIGTERM', () => { console.error('stopping on SIGTERM'); process.exit(143); });
const steps = 8;
const N = 24 * size * size;
const lossAt = (t) => 1.7 + 406 / Math.pow(N, 0.34) + 411 / Math.pow(Math.max(t, 1), 0.28) / 10;
let step = 0;
function tick() {
  step++;
  const t = Math.round((tokens * step) / steps);
  console.log(JSON.stringify({ step, tokens: t, trainLoss: lossAt(t) + 0.01, tokensPerSecond: 1000 }));
  if (fail) { console.error('fake failure for size ' + size); process.exit(3); }
  if (step >= steps) {
    console.log(JSON.stringify({ result: { finalLoss: lossAt(tokens), tokens, steps } }));
    process.exit(0);
  }
  setTimeout(tick, delay());
}
setTimeout(tick, delay());
`;

export interface Fixture {
  name: string;
  /** deletes the config, trainer and run directory, and waits until the tree has dropped the sweep */
  remove(): Promise<void>;
  dir: string;
  config: vscode.Uri;
  runDir: string;
  setDelay(ms: number): void;
  setFail(sizes: number[]): void;
}

/** Leaves the Sweeps view as a later test expects it: everything collapsed, scrolled to the top. */
export async function resetView(): Promise<void> {
  await vscode.commands.executeCommand('workbench.view.extension.flopsfit');
  await vscode.commands.executeCommand('flopsfit.sweeps.focus');
  await sleep(300);
  await vscode.commands.executeCommand('workbench.actions.treeView.flopsfit.sweeps.collapseAll').then(undefined, () => undefined);
  await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  await vscode.commands.executeCommand('notifications.clearAll');
}

/** Writes `<name>.sweep.yaml` (+ trainer) into `<workspace>/<name>/` and returns its handles. */
export function writeFixture(name: string, budgets = '[1e10, 3e10]'): Fixture {
  const dir = workspaceFile(name);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'trainer.mjs'), TRAINER);
  const node = JSON.stringify(process.execPath);
  const yaml = `# integration-test sweep (fake trainer)
name: ${name}
model:
  family: command
  command: [${node}, trainer.mjs, --size, "{size}", --tokens, "{tokens}", --out, "{runDir}"]
  countParams: [${node}, trainer.mjs, --count-params, --size, "{size}"]
  size: { param: width, min: 8, max: 64, multiple: 8 }
budgets: ${budgets}
planning: { sizesPerBudget: 3, minSteps: 1 }
training: { batchSize: 1 }
fit: { bootstrap: 0 }
run: { directory: .flopsfit/${name}, parallel: 1 }
`;
  const file = path.join(dir, `${name}.sweep.yaml`);
  fs.writeFileSync(file, yaml);
  const fx: Fixture = {
    name,
    remove: async () => {
      fs.rmSync(dir, { recursive: true, force: true });
      fs.rmSync(fx.runDir, { recursive: true, force: true });
      await waitFor(`${name} to leave the tree`, async () => !(await sweepSnap(name)), 15_000);
    },
    dir,
    config: vscode.Uri.file(file),
    runDir: workspaceFile('.flopsfit', name),
    setDelay: (ms) => fs.writeFileSync(path.join(dir, 'trainer-delay.txt'), String(ms)),
    setFail: (sizes) => fs.writeFileSync(path.join(dir, 'trainer-fail.txt'), sizes.join('\n')),
  };
  fx.setDelay(20);
  fx.setFail([]);
  return fx;
}

/** One rendered row of the Sweeps tree, as the extension's API gives it. */
export type Snap = TreeSnapshot;

export interface ExplorerApi {
  snapshot(): Promise<Snap[]>;
  refreshCounts(): { full: number; sweep: number; budget: number; experiment: number };
  reveal(configUri: vscode.Uri): Promise<void>;
  node(configUri: vscode.Uri, experimentId?: string): Promise<unknown>;
}

export async function explorerApi(): Promise<ExplorerApi> {
  const api = (await activate()) as unknown as { explorer?: ExplorerApi };
  if (!api.explorer) throw new Error('the extension API has no explorer');
  return api.explorer;
}

export async function sweepSnap(name: string): Promise<Snap | undefined> {
  const snap = await (await explorerApi()).snapshot();
  return snap.find((s) => s.label === name);
}

/** The budget rows of a sweep (not the "Optimum not bracketed" row a fit may add first). */
export function budgets(s: Snap | undefined): Snap[] {
  return (s?.children ?? []).filter((b) => b.kind === 'budget');
}

export function experiments(s: Snap | undefined): Snap[] {
  return budgets(s).flatMap((b) => b.children ?? []);
}

/** Waits until the sweep's row satisfies `ok` (polling the data snapshot, not the UI). */
export async function waitForSweep(name: string, what: string, ok: (s: Snap) => boolean, timeoutMs = 30_000): Promise<Snap> {
  let last: Snap | undefined;
  try {
    return await waitFor(`${name}: ${what}`, async () => {
      const s = await sweepSnap(name);
      last = s;
      return s && ok(s) ? s : undefined;
    }, timeoutMs, 150);
  } catch (err) {
    // say what the tree showed instead
    const rows = last
      ? [`${last.label} [${last.contextValue}] ${last.description ?? ''}`, ...experiments(last).map((e) => `  ${e.label} [${e.contextValue}] ${e.description ?? ''}`)]
      : ['(no such sweep in the tree)'];
    throw new Error(`${(err as Error).message}\nlast tree:\n${rows.join('\n')}`);
  }
}

export function statuses(s: Snap): string[] {
  return experiments(s).map((e) => e.contextValue ?? '');
}

export { sleep };
