/**
 * Tasks: the `flopsfit` task provider lists Run / Resume / Fit per sweep config, running
 * "Run sweep" on a tiny config (a fast bring-your-own trainer) completes and leaves a manifest
 * with every experiment completed, tasks.json definitions resolve, and stopping a running sweep
 * task records its experiments as stopped (resumable).
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { activate, extension, sleep, waitFor, workspaceFile } from '../harness';

interface ManifestLike {
  order: string[];
  state?: string;
  experiments: Record<string, { status: string; reason?: string; finalLoss?: number }>;
}

function writeSweep(name: string, steps: number, stepMs: number): { uri: vscode.Uri; runDir: string } {
  const dir = workspaceFile('tasks-fixture');
  fs.mkdirSync(dir, { recursive: true });
  const trainer = path.join(extension().extensionPath, 'test/fixtures/runner/fake-trainer.mjs');
  const node = JSON.stringify(process.execPath);
  const file = path.join(dir, `${name}.sweep.yaml`);
  fs.writeFileSync(
    file,
    `name: ${name}
model:
  family: command
  command: [${node}, ${JSON.stringify(trainer)}, --size, "{size}", --tokens, "{tokens}", --seed, "{seed}", --out, "{runDir}", --steps, "${steps}", --step-ms, "${stepMs}"]
  countParams: [${node}, ${JSON.stringify(trainer)}, --count-params, --size, "{size}"]
  size: { min: 4, max: 64 }
budgets: [1.0e9, 1.0e10]
planning: { sizesPerBudget: 3 }
training: { batchSize: 4 }
fit: { bootstrap: 0 }
run: { parallel: 2 }
`,
  );
  return { uri: vscode.Uri.file(file), runDir: workspaceFile('.flopsfit', name) };
}

function readManifest(runDir: string): ManifestLike | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(runDir, 'manifest.json'), 'utf8')) as ManifestLike;
  } catch {
    return undefined;
  }
}

async function flopsfitTasks(): Promise<vscode.Task[]> {
  return vscode.tasks.fetchTasks({ type: 'flopsfit' });
}

function ended(execution: vscode.TaskExecution, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      sub.dispose();
      reject(new Error(`task "${execution.task.name}" did not end within ${timeoutMs} ms`));
    }, timeoutMs);
    const sub = vscode.tasks.onDidEndTask((e) => {
      if (e.execution === execution || e.execution.task.name === execution.task.name) {
        clearTimeout(timer);
        sub.dispose();
        resolve();
      }
    });
  });
}

describe('tasks', function () {
  this.timeout(120_000);

  it('lists Run, Resume and Fit for every sweep config, deterministically', async () => {
    await activate();
    const { uri } = writeSweep('tasks-list', 2, 5);
    const first = await waitFor('the tasks of tasks-list', async () => {
      const t = await flopsfitTasks();
      return t.some((x) => x.name === 'Run sweep tasks-list') ? t : undefined;
    });
    const names = first.map((t) => t.name);
    for (const n of ['Run sweep tasks-list', 'Resume sweep tasks-list', 'Fit tasks-list', 'Run sweep tiny', 'Resume sweep tiny', 'Fit tiny']) {
      assert.ok(names.includes(n), `missing task "${n}" in ${JSON.stringify(names)}`);
    }
    const run = first.find((t) => t.name === 'Run sweep tasks-list')!;
    assert.deepEqual({ ...run.definition }, { type: 'flopsfit', config: 'tasks-fixture/tasks-list.sweep.yaml', action: 'run' });
    assert.equal(run.source, 'FlopsFit');
    const second = await flopsfitTasks();
    assert.deepEqual(
      second.map((t) => [t.name, JSON.stringify(t.definition)]),
      first.map((t) => [t.name, JSON.stringify(t.definition)]),
      'provideTasks is deterministic',
    );
    assert.ok(uri.fsPath.endsWith('tasks-list.sweep.yaml'));
  });

  it('"Run sweep" runs every experiment to completion and fits', async () => {
    const { runDir } = writeSweep('tasks-run', 4, 5);
    const task = await waitFor('the Run task', async () => (await flopsfitTasks()).find((t) => t.name === 'Run sweep tasks-run'));
    const execution = await vscode.tasks.executeTask(task);
    await ended(execution, 90_000);
    const m = readManifest(runDir);
    assert.ok(m, `no manifest in ${runDir}`);
    assert.ok(m.order.length >= 4, `planned ${m.order.length} experiments`);
    for (const id of m.order) assert.equal(m.experiments[id].status, 'completed', `${id}: ${m.experiments[id].status} ${m.experiments[id].reason ?? ''}`);
    assert.equal(m.state, 'finished');
    const rows = fs.readFileSync(path.join(runDir, 'results.jsonl'), 'utf8').trim().split('\n');
    assert.equal(rows.length, m.order.length);
    assert.ok(fs.existsSync(path.join(runDir, 'fit.json')), 'the fit ran after the last experiment');
    assert.ok(!fs.existsSync(path.join(runDir, 'runner.lock')), 'the lock is released');
  });

  it('resolves a tasks.json-style definition and stopping the task stops the sweep gracefully', async () => {
    await activate();
    const { runDir } = writeSweep('tasks-stop', 400, 25);
    // A task the user wrote in tasks.json: VS Code asks the provider's resolveTask for its execution.
    fs.mkdirSync(workspaceFile('.vscode'), { recursive: true });
    fs.writeFileSync(
      workspaceFile('.vscode', 'tasks.json'),
      JSON.stringify({ version: '2.0.0', tasks: [{ type: 'flopsfit', config: 'tasks-fixture/tasks-stop.sweep.yaml', action: 'run', parallel: 1, label: 'my sweep' }] }, null, 2),
    );
    const provided = await waitFor('the tasks.json task', async () => (await flopsfitTasks()).find((t) => t.name === 'my sweep'), 20_000);
    assert.equal(provided.definition.parallel, 1);
    const execution = await vscode.tasks.executeTask(provided);
    await waitFor('an experiment to run', () => Object.values(readManifest(runDir)?.experiments ?? {}).some((e) => e.status === 'running'), 30_000);
    await sleep(500);
    const done = ended(execution, 60_000);
    execution.terminate();
    await done;
    const m = await waitFor('the runner to record the stop', () => {
      const mm = readManifest(runDir);
      return mm && mm.state !== 'running' && mm.state !== 'stopping' ? mm : undefined;
    }, 30_000);
    const statuses = m.order.map((id) => m.experiments[id].status);
    assert.ok(statuses.includes('stopped'), `statuses after stop: ${statuses.join(', ')}`);
    assert.ok(!statuses.includes('running'), `statuses after stop: ${statuses.join(', ')}`);
    assert.ok(!statuses.includes('failed'), `statuses after stop: ${statuses.join(', ')}`);
    await waitFor('the lock to be released', () => !fs.existsSync(path.join(runDir, 'runner.lock')), 10_000);
  });
});
