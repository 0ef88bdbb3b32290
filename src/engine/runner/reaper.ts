/**
 * The reaper: a tiny detached watchdog process, one per runner, so that a runner killed with
 * SIGKILL (or crashing) never leaves experiment processes training forever.
 *
 * Every experiment runs in its own process group (detached). The runner tells the reaper, through a
 * pipe, which groups are alive ("+pid" / "-pid" lines). When the pipe closes without a final "done"
 * line, the runner is gone: the reaper sends SIGTERM to every group still listed (the trainers save
 * a checkpoint and exit as stopped), waits up to the grace period, then SIGKILLs what is left.
 */
import { spawn, type ChildProcess } from 'node:child_process';

const SOURCE = String.raw`
const groups = new Set();
let buf = '';
let done = false;
const graceMs = Number(process.env.FLOPSFIT_REAPER_GRACE_MS || 60000);
function alive(pid) { try { process.kill(-pid, 0); return true; } catch (e) { return e.code === 'EPERM'; } }
function signal(pid, sig) { try { process.kill(-pid, sig); } catch {} }
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  buf += chunk;
  const lines = buf.split('\n');
  buf = lines.pop();
  for (const line of lines) {
    if (line === 'done') done = true;
    else if (line[0] === '+') groups.add(Number(line.slice(1)));
    else if (line[0] === '-') groups.delete(Number(line.slice(1)));
  }
});
process.stdin.on('error', () => {});
process.stdin.on('close', () => {
  if (done) process.exit(0);
  for (const pid of groups) signal(pid, 'SIGTERM');
  const t0 = Date.now();
  const timer = setInterval(() => {
    const left = [...groups].filter(alive);
    if (left.length === 0) process.exit(0);
    if (Date.now() - t0 > graceMs) { for (const pid of left) signal(pid, 'SIGKILL'); process.exit(0); }
  }, 200);
});
`;

export interface Reaper {
  add(pid: number): void;
  remove(pid: number): void;
  /** The runner ends normally: the reaper exits without touching anything. */
  done(): void;
}

export function startReaper(nodePath: string, graceMs?: number): Reaper {
  let child: ChildProcess | undefined;
  try {
    child = spawn(nodePath, ['-e', SOURCE], {
      detached: true,
      stdio: ['pipe', 'ignore', 'ignore'],
      env: { ...process.env, ELECTRON_RUN_AS_NODE: '1', ...(graceMs !== undefined ? { FLOPSFIT_REAPER_GRACE_MS: String(graceMs) } : {}) },
    });
    child.on('error', () => {
      child = undefined;
    });
    child.stdin?.on('error', () => {});
    child.unref();
    // The pipe must not keep the runner alive, but must stay open as long as the runner lives.
    (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  } catch {
    child = undefined;
  }
  const send = (line: string) => {
    try {
      child?.stdin?.write(line + '\n');
    } catch {
      // the reaper is a safety net; the runner works without it
    }
  };
  return {
    add: (pid) => send(`+${pid}`),
    remove: (pid) => send(`-${pid}`),
    done: () => {
      send('done');
      try {
        child?.stdin?.end();
      } catch {
        /* ignore */
      }
    },
  };
}
