/**
 * Sweeps as VS Code tasks (type `flopsfit`): "Run sweep <name>", "Resume sweep <name>" and
 * "Fit <name>" for every sweep config in the workspace, and the same from tasks.json:
 *
 *   { "type": "flopsfit", "config": "sweeps/small.sweep.yaml", "action": "run", "parallel": 2 }
 *
 * A task runs the bundled `flopsfit` process (dist/flopsfit.js of this extension) with the editor's
 * own runtime (desktop: process.execPath with ELECTRON_RUN_AS_NODE=1; code-server: node), or the
 * `flopsfit.nodePath` setting, in a pseudoterminal. Terminating the task (or closing its terminal,
 * or Ctrl+C in it) sends SIGINT: the runner stops every experiment at a checkpoint. Training never
 * starts in an untrusted workspace. Training never runs in the extension host.
 *
 * Other features use `sweepTask`, `executeSweepTask`, `stopSweep` and `stopExperiment`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { loadSweepConfig } from '../../core/config';
import { RunnerLock, Manifest, RUN_FILES } from '../../core/contracts';
import { isExperimentProcess, lockHolderAlive, readJsonFile } from '../../core/manifest';
import { resolveRunDir } from '../../core/plan';
import { log } from '../log';

export const TASK_TYPE = 'flopsfit';
export const TASK_SOURCE = 'FlopsFit';
export type SweepAction = 'run' | 'resume' | 'fit' | 'stop';
/** the tasks listed for every config (stop is started by the Stop command, for detached cluster sweeps) */
const ACTIONS: readonly SweepAction[] = ['run', 'resume', 'fit'];
const ALL_ACTIONS: readonly SweepAction[] = [...ACTIONS, 'stop'];
const CONFIG_GLOB = '**/*.sweep.{yaml,yml,json}';
const EXCLUDE_GLOB = '**/{node_modules,.flopsfit,.git}/**';

export interface SweepTaskOptions {
  experiment?: string;
  retryFailed?: boolean;
  parallel?: number;
}

export interface FlopsFitTaskDefinition extends vscode.TaskDefinition {
  type: typeof TASK_TYPE;
  /** workspace-relative (or absolute) path of the sweep config */
  config: string;
  action: SweepAction;
  experiment?: string;
  parallel?: number;
  retryFailed?: boolean;
}

let extensionRoot: string | undefined;

function isDefinition(d: vscode.TaskDefinition): d is FlopsFitTaskDefinition {
  return d.type === TASK_TYPE && typeof d.config === 'string' && d.config.length > 0 && ALL_ACTIONS.includes(d.action as SweepAction);
}

function folderOf(uri: vscode.Uri): vscode.WorkspaceFolder | undefined {
  return vscode.workspace.getWorkspaceFolder(uri);
}

/** The definition's config as an absolute path (relative paths resolve against the task's folder). */
export function configPathOf(def: FlopsFitTaskDefinition, scope?: vscode.WorkspaceFolder | vscode.TaskScope): string {
  if (path.isAbsolute(def.config)) return path.normalize(def.config);
  const folder = typeof scope === 'object' ? scope : vscode.workspace.workspaceFolders?.[0];
  return path.resolve(folder?.uri.fsPath ?? process.cwd(), def.config);
}

/** The sweep's display name: its `name` when the config parses, else the file name. */
function sweepName(configPath: string): string {
  try {
    const text = fs.readFileSync(configPath, 'utf8');
    const m = /^name:\s*["']?([^"'#\n]+?)["']?\s*(?:#.*)?$/m.exec(text) ?? /"name"\s*:\s*"([^"]+)"/.exec(text);
    if (m) return m[1].trim();
  } catch {
    // fall through
  }
  return path.basename(configPath).replace(/\.sweep\.(ya?ml|json)$/i, '');
}

function taskLabel(def: FlopsFitTaskDefinition, name: string): string {
  const base = def.action === 'run' ? `Run sweep ${name}` : def.action === 'resume' ? `Resume sweep ${name}` : def.action === 'stop' ? `Stop sweep ${name}` : `Fit ${name}`;
  const extras = [def.experiment ? `experiment ${def.experiment}` : '', def.retryFailed ? 'retry failed' : ''].filter(Boolean);
  return extras.length ? `${base} (${extras.join(', ')})` : base;
}

function definitionFor(configUri: vscode.Uri, action: SweepAction, opts: SweepTaskOptions = {}): FlopsFitTaskDefinition {
  const folder = folderOf(configUri);
  const config = folder ? path.relative(folder.uri.fsPath, configUri.fsPath).split(path.sep).join('/') : configUri.fsPath;
  const def: FlopsFitTaskDefinition = { type: TASK_TYPE, config, action };
  if (opts.experiment) def.experiment = opts.experiment;
  if (opts.retryFailed) def.retryFailed = true;
  if (opts.parallel) def.parallel = opts.parallel;
  return def;
}

/** Builds the task for a definition; everything is derived from the definition (deterministic). */
function buildTask(def: FlopsFitTaskDefinition, scope: vscode.WorkspaceFolder | vscode.TaskScope): vscode.Task {
  const configPath = configPathOf(def, scope);
  const task = new vscode.Task(
    def,
    scope,
    taskLabel(def, sweepName(configPath)),
    TASK_SOURCE,
    new vscode.CustomExecution(async (resolved) => new SweepTerminal(isDefinition(resolved) ? resolved : def, configPath, scope)),
  );
  task.presentationOptions = { reveal: vscode.TaskRevealKind.Always, panel: vscode.TaskPanelKind.Dedicated, clear: true, showReuseMessage: false };
  task.detail = def.action === 'fit' || def.action === 'stop' ? `flopsfit ${def.action} ${def.config}` : `flopsfit run ${def.config}${def.action === 'resume' ? ' --resume' : ''}`;
  return task;
}

/** The task for a sweep config and action (what the explorer and the commands execute). */
export function sweepTask(configUri: vscode.Uri, action: SweepAction, opts?: SweepTaskOptions): vscode.Task {
  return buildTask(definitionFor(configUri, action, opts), folderOf(configUri) ?? vscode.TaskScope.Workspace);
}

function explainUntrusted(): void {
  void vscode.window
    .showWarningMessage(
      'FlopsFit does not start training in an untrusted workspace: a sweep runs code and commands from this folder. Trust the workspace to run it.',
      'Manage Workspace Trust',
    )
    .then((pick) => {
      if (pick) void vscode.commands.executeCommand('workbench.trust.manage');
    });
}

/** Starts a sweep task; in an untrusted workspace, tells the user why not and returns undefined. */
export async function executeSweepTask(configUri: vscode.Uri, action: SweepAction, opts?: SweepTaskOptions): Promise<vscode.TaskExecution | undefined> {
  if (action !== 'fit' && !vscode.workspace.isTrusted) {
    explainUntrusted();
    return undefined;
  }
  const running = findExecution(configUri);
  if (running && action !== 'fit' && action !== 'stop') {
    void vscode.window.showInformationMessage(`The sweep ${path.basename(configUri.fsPath)} is already running in a task.`);
    return running;
  }
  return vscode.tasks.executeTask(sweepTask(configUri, action, opts));
}

function findExecution(configUri: vscode.Uri): vscode.TaskExecution | undefined {
  const want = path.normalize(configUri.fsPath);
  return vscode.tasks.taskExecutions.find((e) => {
    const d = e.task.definition;
    return isDefinition(d) && (d.action === 'run' || d.action === 'resume') && configPathOf(d, e.task.scope) === want;
  });
}

/** The sweep's run directory as the runner resolves it (undefined when the config does not parse). */
export function runDirOf(configUri: vscode.Uri): string | undefined {
  const loaded = loadSweepConfig(configUri.fsPath);
  if (!loaded.config) return undefined;
  return resolveRunDir(loaded.config, configUri.fsPath, folderOf(configUri)?.uri.fsPath);
}

/**
 * Stops a sweep gracefully: terminates its task (→ SIGINT), or, for a sweep started outside VS Code
 * (e.g. `flopsfit run` in a shell), signals the lock holder. Returns whether anything was stopped.
 */
export async function stopSweep(configUri: vscode.Uri): Promise<boolean> {
  const execution = findExecution(configUri);
  if (execution) {
    execution.terminate();
    return true;
  }
  const runDir = runDirOf(configUri);
  if (!runDir) return false;
  const lock = readJsonFile(path.join(runDir, RUN_FILES.lock), RunnerLock);
  // a stale lock (the runner was killed) names a pid that may now be another program: never signal it
  if (!lock.ok || lock.value.host !== os.hostname() || !lockHolderAlive(lock.value)) return false;
  try {
    process.kill(lock.value.pid, 'SIGINT');
    log().info(`stop: sent SIGINT to the runner of ${configUri.fsPath} (pid ${lock.value.pid})`);
    return true;
  } catch {
    return false;
  }
}

/** Stops one running experiment at its checkpoint (its process group gets SIGTERM; the runner records it as stopped). */
export async function stopExperiment(configUri: vscode.Uri, experimentId: string): Promise<boolean> {
  const runDir = runDirOf(configUri);
  if (!runDir) return false;
  const m = readJsonFile(path.join(runDir, RUN_FILES.manifest), Manifest);
  const pid = m.ok ? m.value.experiments[experimentId]?.pid : undefined;
  if (!pid || m.ok === false || m.value.experiments[experimentId]?.status !== 'running') return false;
  // the manifest's pid must still be that experiment's process (pids are reused)
  if (isExperimentProcess(pid, experimentId) === false) return false;
  try {
    process.kill(-pid, 'SIGTERM');
  } catch {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      return false;
    }
  }
  return true;
}

/** The node executable and environment for the flopsfit process. */
export function flopsfitRuntime(): { node: string; env: NodeJS.ProcessEnv; script: string } {
  const configured = vscode.workspace.getConfiguration('flopsfit').get<string>('nodePath')?.trim();
  const root = extensionRoot ?? path.resolve(__dirname, '..');
  const env: NodeJS.ProcessEnv = { ...process.env, FORCE_COLOR: '0' };
  delete env.NODE_OPTIONS; // the extension host's loader flags are not for us
  if (!configured) env.ELECTRON_RUN_AS_NODE = '1';
  // The .vsix carries no node_modules: optional GPU backends (@tensorflow/tfjs-node-gpu, webgpu)
  // installed elsewhere are found through NODE_PATH.
  const extra = (vscode.workspace.getConfiguration('flopsfit').get<string[]>('gpuModulePaths') ?? []).filter((p) => typeof p === 'string' && p.trim());
  if (extra.length) env.NODE_PATH = [...extra.map((p) => p.trim()), ...(env.NODE_PATH ? [env.NODE_PATH] : [])].join(path.delimiter);
  // The PyTorch engine's Python (src/engine/python.ts): the setting, then the Python extension's choice.
  const pythonPath = vscode.workspace.getConfiguration('flopsfit').get<string>('pythonPath')?.trim();
  if (pythonPath) env.FLOPSFIT_PYTHON_SETTING = pythonPath;
  try {
    const py = vscode.extensions.getExtension<{ environments?: { getActiveEnvironmentPath?: () => { path?: string } } }>('ms-python.python');
    const selected = py?.isActive ? py.exports?.environments?.getActiveEnvironmentPath?.()?.path : undefined;
    if (selected) env.FLOPSFIT_PYTHON_EXTENSION = selected;
  } catch {
    /* the Python extension is optional */
  }
  return { node: configured || process.execPath, env, script: path.join(root, 'dist', 'flopsfit.js') };
}

export function taskArgs(def: FlopsFitTaskDefinition, configPath: string, workspaceRoot: string | undefined): string[] {
  const args = [def.action === 'fit' || def.action === 'stop' ? def.action : 'run', configPath];
  if (workspaceRoot) args.push('--workspace', workspaceRoot);
  if (def.action === 'fit' || def.action === 'stop') return args;
  if (def.action === 'resume') args.push('--resume');
  if (def.experiment) args.push('--only', def.experiment);
  if (def.retryFailed) args.push('--retry-failed');
  const parallel = def.parallel ?? vscode.workspace.getConfiguration('flopsfit').get<number>('parallel') ?? 0;
  if (parallel > 0) args.push('--parallel', String(Math.floor(parallel)));
  return args;
}

/** The task's terminal: runs `flopsfit` and relays its output; closing it stops the sweep gracefully. */
class SweepTerminal implements vscode.Pseudoterminal {
  private readonly writeEmitter = new vscode.EventEmitter<string>();
  private readonly closeEmitter = new vscode.EventEmitter<number>();
  readonly onDidWrite = this.writeEmitter.event;
  readonly onDidClose = this.closeEmitter.event;
  private child?: ChildProcess;
  private interrupts = 0;

  constructor(
    private readonly def: FlopsFitTaskDefinition,
    private readonly configPath: string,
    private readonly scope: vscode.WorkspaceFolder | vscode.TaskScope,
  ) {}

  private print(text: string): void {
    this.writeEmitter.fire(text.replace(/\r?\n/g, '\r\n'));
  }

  open(): void {
    if (this.def.action !== 'fit' && !vscode.workspace.isTrusted) {
      this.print('FlopsFit does not start training in an untrusted workspace: a sweep runs code and commands from this folder.\nTrust the workspace (Workspaces: Manage Workspace Trust) to run it.\n');
      explainUntrusted();
      this.closeEmitter.fire(1);
      return;
    }
    if (!fs.existsSync(this.configPath)) {
      this.print(`flopsfit: the sweep config ${this.configPath} does not exist\n`);
      this.closeEmitter.fire(2);
      return;
    }
    const { node, env, script } = flopsfitRuntime();
    const workspaceRoot = typeof this.scope === 'object' ? this.scope.uri.fsPath : vscode.workspace.getWorkspaceFolder(vscode.Uri.file(this.configPath))?.uri.fsPath;
    const args = taskArgs(this.def, this.configPath, workspaceRoot);
    log().info(`task: ${node} ${script} ${args.join(' ')}`);
    // detached: its own process group, so that the extension host going away (a window reload)
    // never takes the runner down mid-step; closing the terminal stops it gracefully (SIGINT: every
    // experiment writes a checkpoint first), and the sweep service follows its files meanwhile
    const child = spawn(node, [script, ...args], { cwd: workspaceRoot ?? path.dirname(this.configPath), env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    this.child = child;
    child.stdout?.setEncoding('utf8');
    child.stderr?.setEncoding('utf8');
    child.stdout?.on('data', (s: string) => this.print(s));
    child.stderr?.on('data', (s: string) => this.print(s));
    child.on('error', (err) => {
      this.print(`flopsfit: could not start ${node}: ${err.message}\n(set "flopsfit.nodePath" to a Node.js ≥ 20 executable)\n`);
      this.child = undefined;
      this.closeEmitter.fire(127);
    });
    child.on('exit', (code, signal) => {
      this.child = undefined;
      if (signal) this.print(`\nflopsfit: ended by ${signal}\n`);
      this.closeEmitter.fire(code ?? 1);
    });
  }

  handleInput(data: string): void {
    if (data.includes('\x03')) this.interrupt();
  }

  /** The terminal was closed or the task terminated: stop gracefully (the runner checkpoints). */
  close(): void {
    this.interrupt();
  }

  private interrupt(): void {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    this.interrupts++;
    if (this.interrupts === 1) this.print('\nflopsfit: stopping (the running experiments save a checkpoint)…\n');
    child.kill('SIGINT');
  }
}

class SweepTaskProvider implements vscode.TaskProvider {
  async provideTasks(token?: vscode.CancellationToken): Promise<vscode.Task[]> {
    const files = await vscode.workspace.findFiles(CONFIG_GLOB, EXCLUDE_GLOB, 500, token);
    files.sort((a, b) => (a.fsPath < b.fsPath ? -1 : a.fsPath > b.fsPath ? 1 : 0));
    const tasks: vscode.Task[] = [];
    for (const uri of files) for (const action of ACTIONS) tasks.push(sweepTask(uri, action));
    return tasks;
  }

  resolveTask(task: vscode.Task): vscode.Task | undefined {
    const def = task.definition;
    if (!isDefinition(def)) {
      log().warn(`tasks.json: a "flopsfit" task needs "config" (the sweep config path) and "action" (run, resume or fit): ${JSON.stringify(def)}`);
      return undefined;
    }
    // The definition object must be the one VS Code gave us.
    return buildTask(def, task.scope ?? vscode.TaskScope.Workspace);
  }
}

export function registerTasks(context: vscode.ExtensionContext): void {
  extensionRoot = context.extensionUri.fsPath;
  context.subscriptions.push(vscode.tasks.registerTaskProvider(TASK_TYPE, new SweepTaskProvider()));
}
