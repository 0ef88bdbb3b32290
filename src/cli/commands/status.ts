/** `flopsfit status <config>`: where each experiment of a sweep stands (with its Slurm job, state, reason, node). */
import * as path from 'node:path';
import { formatDiagnostic, loadSweepConfig } from '../../core/config';
import { RUN_FILES } from '../../core/contracts';
import { describeLock, lockHolderAlive, readLock, readManifest } from '../../core/manifest';
import { resolveRunDir } from '../../core/plan';
import { deriveSweepStatus, experimentStatus } from '../../core/runDir';
import { sweepStatus } from '../../engine/runner/executors/slurm/status';
import { fmtCount, fmtFlops } from '../../engine/runner/format';
import { CliError, parseArgs } from '../util';

export const summary = 'show the state of a sweep’s experiments (Slurm job, state, reason, node)';

const HELP = `Usage: flopsfit status <config> [--out <dir>] [--workspace <dir>] [--json]

Prints each experiment's state from the sweep's manifest. Experiments on a Slurm cluster show their
job id, Slurm state (PENDING with its reason, RUNNING on a node, …), read live with one squeue call.
Nothing is written: a runner may be following the sweep at the same time.`;

export async function run(args: string[]): Promise<number> {
  const parsed = parseArgs(args, { values: ['out', 'workspace'], flags: ['json', 'help'] });
  if (parsed.flags.help) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  if (parsed.positionals.length !== 1) throw new CliError(`expected one sweep config\n\n${HELP}`, 2);
  const configPath = path.resolve(parsed.positionals[0]);
  const shown = path.relative(process.cwd(), configPath) || configPath;
  const loaded = loadSweepConfig(configPath);
  const errors = loaded.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length || !loaded.config) throw new CliError(`${shown} is not a valid sweep config:\n${errors.map((d) => '  ' + formatDiagnostic(shown, d)).join('\n')}`, 2);
  const runDir = parsed.values.out ? path.resolve(parsed.values.out) : resolveRunDir(loaded.config, configPath, parsed.values.workspace ? path.resolve(parsed.values.workspace) : undefined);
  const m = readManifest(runDir);
  if (!m.ok) {
    if (m.missing) throw new CliError(`the sweep has not run yet: ${path.join(runDir, RUN_FILES.manifest)} does not exist`, 1);
    throw new CliError(m.error, 1);
  }
  const st = await sweepStatus(m.value);
  // the one status rule the editor uses too (src/core/runDir/status.ts)
  const lock = readLock(runDir);
  const lockAlive = lock.ok && lockHolderAlive(lock.value);
  const derived = deriveSweepStatus({ manifest: m.value, ...(lock.ok ? { lock: lock.value } : {}), lockAlive });
  for (const r of st.rows) r.status = experimentStatus(m.value.experiments[r.id], derived.runnerAlive);
  if (parsed.flags.json) {
    process.stdout.write(JSON.stringify({ runDir, status: derived.status, label: derived.label, counts: derived.counts, ...st }, null, 2) + '\n');
    return 0;
  }
  const counts: Record<string, number> = {};
  for (const r of st.rows) counts[r.status] = (counts[r.status] ?? 0) + 1;
  const runner = lock.ok && lockAlive ? `followed by ${describeLock(lock.value)}` : 'no runner attached';
  const lines = [
    `sweep ${m.value.sweep}: ${derived.label} — ${Object.entries(counts).map(([k, v]) => `${v} ${k}`).join(', ')} (${runner})`,
    `run directory ${runDir}`,
  ];
  if (st.slurmError) lines.push(`Slurm: ${st.slurmError} — showing the last known states`);
  const w = Math.max(...st.rows.map((r) => (r.jobId ?? '').length), 3);
  for (const r of st.rows) {
    const where = r.state ? `${(r.jobId ?? '').padEnd(w)}  ${r.state}${r.reason ? ` (${r.reason})` : ''}${r.node ? ` on ${r.node}` : ''}` : '';
    lines.push(
      `  ${r.id.slice(0, 12)}  ${r.status.padEnd(9)}  C=${fmtFlops(r.budget)}  N=${fmtCount(r.params).padEnd(5)}` +
        (where ? `  ${where}` : '') +
        (r.finalLoss !== undefined ? `  loss ${r.finalLoss.toFixed(4)}` : '') +
        (r.note ? `  — ${r.note}` : ''),
    );
  }
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}
