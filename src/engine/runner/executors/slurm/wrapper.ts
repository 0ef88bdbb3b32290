/**
 * The files of one submission (slurm/<submission>/ under the run directory):
 *
 *   submit.json          sbatch argv, job id, time ("submitting" is written before sbatch runs)
 *   sweep.sbatch         the generated wrapper below (the array job's batch script)
 *   tasks.json           array index → experiment id
 *   tasks/<i>.sh         one experiment: its variables, the setup lines, `exec` of its command
 *   logs/%A_%a.out|.err  Slurm's own output of the wrapper (the experiment's goes to runs/<id>/log.txt)
 *   status/<i>/events.jsonl  the wrapper's records: start, signal, exit
 *   STOP                 stop requested: tasks that start from now on exit at once (as stopped)
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { RUN_FILES } from '../../../../core/contracts';
import type { ExperimentCommand } from '../../command';

export const SUBMISSION_FILES = {
  submit: 'submit.json',
  wrapper: 'sweep.sbatch',
  tasks: 'tasks.json',
  tasksDir: 'tasks',
  logsDir: 'logs',
  statusDir: 'status',
  events: 'events.jsonl',
  stop: 'STOP',
} as const;

/** POSIX shell quoting. */
export function sq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * The array task wrapper. It installs its signal traps first (a TERM that lands before the trainer
 * exists must not kill it), records `start`, checks the STOP marker, runs the task script as a child
 * (which `exec`s the experiment, so the child is the trainer itself), forwards TERM/INT/USR1/USR2/HUP
 * to it as SIGTERM (the trainers' "checkpoint and stop"), waits until it is really gone, records
 * `exit` and exits with its code. It does not `exec` the trainer itself, so that the exit record is
 * always written, and it never exits before the trainer (Slurm would then kill the trainer before
 * its checkpoint, or orphan it). With `requeue` > 0, an experiment stopped by the time-limit warning
 * (USR2) without a result is requeued (`scontrol requeue`) up to that many times.
 */
export function wrapperScript(requeue: number): string {
  return `#!/bin/bash
# FlopsFit array-task wrapper (generated; one array task = one experiment). Argument: the submission folder.
child=""; stop_sig=""; st=""
now() { date +%s.%N; }
rec() { [ -n "$st" ] && printf '%s\\n' "$1" >> "$st/${SUBMISSION_FILES.events}"; }
fwd() { stop_sig=$1; rec "{\\"event\\":\\"signal\\",\\"sig\\":\\"$1\\",\\"t\\":$(now)}"; [ -n "$child" ] && kill -TERM "$child" 2>/dev/null; }
for s in TERM INT USR1 USR2 HUP; do trap "fwd $s" "$s"; done
sub=\${1:?the submission folder}
idx=\${SLURM_ARRAY_TASK_ID:?not an array task}
restart=\${SLURM_RESTART_COUNT:-0}
st="$sub/${SUBMISSION_FILES.statusDir}/$idx"; mkdir -p "$st"
rec "{\\"event\\":\\"start\\",\\"t\\":$(now),\\"jobId\\":\\"\${SLURM_JOB_ID:-}\\",\\"arrayJobId\\":\\"\${SLURM_ARRAY_JOB_ID:-}\\",\\"task\\":$idx,\\"restart\\":$restart,\\"host\\":\\"$(hostname)\\"}"
if [ -e "$sub/${SUBMISSION_FILES.stop}" ] || [ -n "$stop_sig" ]; then
  rec "{\\"event\\":\\"exit\\",\\"code\\":143,\\"t\\":$(now),\\"note\\":\\"stopped before it started\\"}"; exit 143
fi
bash "$sub/${SUBMISSION_FILES.tasksDir}/$idx.sh" &
child=$!
[ -n "$stop_sig" ] && kill -TERM "$child" 2>/dev/null
while :; do wait "$child"; rc=$?; kill -0 "$child" 2>/dev/null || break; done
if [ "$stop_sig" = USR2 ] && [ "$restart" -lt ${Math.max(0, Math.floor(requeue))} ] && [ ! -e "$sub/${SUBMISSION_FILES.stop}" ] && [ "$rc" -ne 0 ]; then
  rec "{\\"event\\":\\"exit\\",\\"code\\":$rc,\\"t\\":$(now),\\"requeued\\":true,\\"restart\\":$restart}"
  scontrol requeue "\${SLURM_ARRAY_JOB_ID}_\${SLURM_ARRAY_TASK_ID}" && exit $rc
fi
rec "{\\"event\\":\\"exit\\",\\"code\\":$rc,\\"t\\":$(now),\\"restart\\":$restart\${stop_sig:+,\\"signal\\":\\"$stop_sig\\"}}"
exit $rc
`;
}

/** One task script: the experiment's variables, the user's setup lines, then `exec` of the experiment with its output appended to its log. */
export function taskScript(o: { id: string; dir: string; attempt: number; cmd: ExperimentCommand; builtin: boolean; setup: readonly string[]; env?: Record<string, string> }): string {
  const log = path.join(o.dir, RUN_FILES.log);
  const lines = [`# flopsfit experiment ${o.id}, attempt ${o.attempt} (generated)`];
  for (const [k, v] of Object.entries({ ...(o.env ?? {}), ...o.cmd.env })) if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) lines.push(`export ${k}=${sq(v)}`);
  lines.push(`[ "\${SLURM_RESTART_COUNT:-0}" -gt 0 ] && export FLOPSFIT_RESUME=1`);
  if (o.setup.length) lines.push(`{\n${o.setup.join('\n')}\n} >> ${sq(log)} 2>&1`);
  lines.push(`cd ${sq(o.cmd.cwd)} || exit 1`);
  if (o.builtin) {
    // resume when a checkpoint exists when the task starts (also after a requeue)
    lines.push(`set --; [ -e ${sq(path.join(o.dir, RUN_FILES.checkpoint))} ] && set -- --resume`);
    lines.push(`exec ${[o.cmd.command, ...o.cmd.args].map(sq).join(' ')} "$@" >> ${sq(log)} 2>&1`);
  } else {
    lines.push(`exec ${[o.cmd.command, ...o.cmd.args].map(sq).join(' ')} >> ${sq(log)} 2>&1`);
  }
  return lines.join('\n') + '\n';
}

/** One record of events.jsonl. */
export const WrapperEvent = z.object({
  event: z.enum(['start', 'signal', 'exit']),
  t: z.number().optional(),
  jobId: z.string().optional(),
  host: z.string().optional(),
  restart: z.number().optional(),
  sig: z.string().optional(),
  signal: z.string().optional(),
  code: z.number().int().optional(),
  requeued: z.boolean().optional(),
  note: z.string().optional(),
});
export type WrapperEvent = z.infer<typeof WrapperEvent>;

/** What the wrapper recorded for one task: its last start, the signals and the exit that followed it. */
export interface TaskRecord {
  start?: WrapperEvent;
  signals: string[];
  exit?: WrapperEvent;
}

export function readTaskRecord(subDir: string, task: number): TaskRecord {
  const out: TaskRecord = { signals: [] };
  let text: string;
  try {
    text = fs.readFileSync(path.join(subDir, SUBMISSION_FILES.statusDir, String(task), SUBMISSION_FILES.events), 'utf8');
  } catch {
    return out;
  }
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    let ev: WrapperEvent;
    try {
      const p = WrapperEvent.safeParse(JSON.parse(line));
      if (!p.success) continue;
      ev = p.data;
    } catch {
      continue; // a torn last line
    }
    if (ev.event === 'start') {
      out.start = ev;
      out.signals = [];
      out.exit = undefined;
    } else if (ev.event === 'signal' && ev.sig) out.signals.push(ev.sig);
    else if (ev.event === 'exit') out.exit = ev.requeued ? undefined : ev;
  }
  return out;
}

/** submit.json */
export const SubmitRecord = z.object({
  submission: z.string(),
  state: z.enum(['submitting', 'submitted', 'failed']),
  argv: z.array(z.string()),
  experiments: z.array(z.string()),
  at: z.string(),
  arrayJobId: z.string().optional(),
  error: z.string().optional(),
});
export type SubmitRecord = z.infer<typeof SubmitRecord>;
