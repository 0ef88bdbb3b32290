/**
 * Finding a Python with PyTorch for the torch engine (src/engine/torchEngine.ts).
 *
 * Candidates, in order (each probed at most once per process; every skip is logged with why):
 *   1. the `flopsfit.pythonPath` setting (the extension passes it as FLOPSFIT_PYTHON_SETTING)
 *   2. FLOPSFIT_PYTHON
 *   3. the interpreter selected in the Python extension (passed as FLOPSFIT_PYTHON_EXTENSION)
 *   4. python3, then python, on PATH
 *   5. well-known places: /usr/bin/python3 (Debian's python3-torch), /usr/local/bin/python3,
 *      conda/miniconda/miniforge base environments, /opt/homebrew/bin/python3
 * A probe runs the shipped trainer's `probe` command: Python version, torch version, CUDA devices,
 * Apple mps. The first candidate with torch ≥ 1.13 wins. Successful probes are reused for ten
 * minutes across processes (see probeCacheFile).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { z } from 'zod';

/** What `flopsfit_torch.py probe` prints (one JSON line). */
export const PythonProbe = z.object({
  python: z.string(),
  executable: z.string(),
  torch: z.string().nullable(),
  error: z.string().optional(),
  cuda: z.array(z.object({ name: z.string(), memory: z.number(), capability: z.array(z.number()).optional() })).optional(),
  cudaVersion: z.string().nullable().optional(),
  cudaError: z.string().optional(),
  mps: z.boolean().optional(),
  sdpa: z.boolean().optional(),
  compile: z.boolean().optional(),
  threads: z.number().optional(),
});
export type PythonProbe = z.infer<typeof PythonProbe>;

export interface PythonCandidate {
  /** a path, or a bare name looked up on PATH */
  command: string;
  /** where it came from, for the log */
  source: string;
}

/** The oldest torch the engine runs on (Debian's python3-torch). */
export const MIN_TORCH: [number, number] = [1, 13];

/** The trainer script: beside the bundle (dist/), else in the source tree. */
export function trainerScript(): string {
  const candidates = [path.join(__dirname, 'flopsfit_torch.py'), path.join(__dirname, 'torch', 'flopsfit_torch.py'), path.join(__dirname, '..', '..', 'src', 'engine', 'torch', 'flopsfit_torch.py')];
  for (const c of candidates) if (fs.existsSync(c)) return c;
  throw new Error(`the PyTorch trainer flopsfit_torch.py is missing (looked in ${candidates.join(', ')}); reinstall FlopsFit`);
}

export function pythonCandidates(env: NodeJS.ProcessEnv = process.env): PythonCandidate[] {
  const out: PythonCandidate[] = [];
  const add = (command: string | undefined, source: string) => {
    const c = command?.trim();
    if (c) out.push({ command: c, source });
  };
  add(env.FLOPSFIT_PYTHON_SETTING, 'setting flopsfit.pythonPath');
  add(env.FLOPSFIT_PYTHON, 'FLOPSFIT_PYTHON');
  add(env.FLOPSFIT_PYTHON_EXTENSION, "the Python extension's interpreter");
  if (env.FLOPSFIT_PYTHON_ONLY === '1') return out;
  add('python3', 'PATH');
  add('python', 'PATH');
  const home = os.homedir();
  const known = ['/usr/bin/python3', '/usr/local/bin/python3', '/opt/homebrew/bin/python3', '/opt/conda/bin/python', ...['miniconda3', 'miniforge3', 'anaconda3', 'mambaforge'].map((d) => path.join(home, d, 'bin', 'python'))];
  if (process.platform === 'win32') known.length = 0;
  for (const k of known) add(k, 'well-known path');
  return out;
}

/** Resolves a bare name on PATH; undefined when not found. */
function which(cmd: string, env: NodeJS.ProcessEnv): string | undefined {
  if (cmd.includes('/') || cmd.includes(path.sep)) return fs.existsSync(cmd) ? cmd : undefined;
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    for (const ext of process.platform === 'win32' ? ['.exe', ''] : ['']) {
      const p = path.join(dir, cmd + ext);
      try {
        if (fs.statSync(p).isFile()) return p;
      } catch {
        /* not here */
      }
    }
  }
  return undefined;
}

function realpath(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch {
    return p;
  }
}

function torchTooOld(version: string): boolean {
  const m = /^(\d+)\.(\d+)/.exec(version);
  if (!m) return false;
  const [maj, min] = [Number(m[1]), Number(m[2])];
  return maj < MIN_TORCH[0] || (maj === MIN_TORCH[0] && min < MIN_TORCH[1]);
}

/** Probes one interpreter: the probe, or why it cannot be used. */
export function probePython(command: string, env: NodeJS.ProcessEnv = process.env, timeoutMs = 120_000): { probe?: PythonProbe; reason?: string } {
  const r = spawnSync(command, [trainerScript(), 'probe'], { env, encoding: 'utf8', timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.error) {
    const code = (r.error as NodeJS.ErrnoException).code;
    return { reason: code === 'ENOENT' ? 'not found' : code === 'EACCES' ? 'not executable' : code === 'ETIMEDOUT' ? `the probe took longer than ${timeoutMs / 1000} s` : r.error.message };
  }
  const line = (r.stdout ?? '').trim().split('\n').pop() ?? '';
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch {
    const err = (r.stderr ?? '').trim().split('\n').pop() ?? '';
    return { reason: `not a working Python 3 (exit ${r.status ?? r.signal}${err ? `: ${err.slice(0, 200)}` : ''})` };
  }
  const p = PythonProbe.safeParse(json);
  if (!p.success) return { reason: 'the probe printed an unexpected answer' };
  if (!p.data.torch) return { probe: p.data, reason: `Python ${p.data.python} has no torch (${p.data.error ?? 'import failed'})` };
  if (torchTooOld(p.data.torch)) return { probe: p.data, reason: `torch ${p.data.torch} is older than ${MIN_TORCH.join('.')}` };
  return { probe: p.data };
}

export interface FoundPython {
  command: string;
  source: string;
  probe: PythonProbe;
  /** why earlier candidates were skipped */
  skipped: string[];
}

const cache = new Map<string, ReturnType<typeof probePython>>();

/**
 * Successful probes are also kept for a few minutes in a small file in the temp folder, keyed by
 * the interpreter's real path and modification time: a sweep starts one process per experiment,
 * and importing torch to probe costs about a second each time. Failures are never kept (installing
 * torch takes effect at once). FLOPSFIT_PYTHON_PROBE_CACHE=0 turns it off.
 */
const PROBE_TTL_MS = 10 * 60_000;

function probeCacheFile(): string {
  const uid = typeof process.getuid === 'function' ? process.getuid() : 'user';
  return path.join(os.tmpdir(), `flopsfit-python-probes-${uid}.json`);
}

type ProbeCache = Record<string, { mtimeMs: number; at: number; probe: PythonProbe }>;

function readProbeCache(env: NodeJS.ProcessEnv): ProbeCache {
  if (env.FLOPSFIT_PYTHON_PROBE_CACHE === '0') return {};
  try {
    const raw = JSON.parse(fs.readFileSync(probeCacheFile(), 'utf8')) as ProbeCache;
    return raw && typeof raw === 'object' ? raw : {};
  } catch {
    return {};
  }
}

function cachedProbe(key: string, env: NodeJS.ProcessEnv): PythonProbe | undefined {
  const e = readProbeCache(env)[key];
  if (!e || Date.now() - e.at > PROBE_TTL_MS) return undefined;
  try {
    if (fs.statSync(key).mtimeMs !== e.mtimeMs) return undefined;
  } catch {
    return undefined;
  }
  const p = PythonProbe.safeParse(e.probe);
  return p.success && p.data.torch ? p.data : undefined;
}

function keepProbe(key: string, probe: PythonProbe, env: NodeJS.ProcessEnv): void {
  if (env.FLOPSFIT_PYTHON_PROBE_CACHE === '0') return;
  try {
    const all = readProbeCache(env);
    all[key] = { mtimeMs: fs.statSync(key).mtimeMs, at: Date.now(), probe };
    const file = probeCacheFile();
    const tmp = `${file}.${process.pid}`;
    fs.writeFileSync(tmp, JSON.stringify(all));
    fs.renameSync(tmp, file);
  } catch {
    /* a cache only */
  }
}

/** The first candidate with a usable torch, or undefined with every skip reason (each logged). */
export function findPython(log: (line: string) => void = () => {}, env: NodeJS.ProcessEnv = process.env): { found?: FoundPython; skipped: string[] } {
  const skipped: string[] = [];
  const seen = new Set<string>();
  for (const c of pythonCandidates(env)) {
    const resolved = which(c.command, env);
    if (!resolved) {
      // explicit choices that are missing are worth a line; PATH and well-known misses are quiet
      if (!['PATH', 'well-known path'].includes(c.source)) {
        skipped.push(`${c.command} (${c.source}): not found`);
        log(`python: skipped ${skipped[skipped.length - 1]}`);
      }
      continue;
    }
    const key = realpath(resolved);
    if (seen.has(key)) continue;
    seen.add(key);
    let r = cache.get(key);
    if (!r) {
      const kept = cachedProbe(key, env);
      r = kept ? { probe: kept } : probePython(resolved, env);
      if (!kept && r.probe && !r.reason) keepProbe(key, r.probe, env);
      cache.set(key, r);
    }
    if (r.reason || !r.probe) {
      skipped.push(`${resolved} (${c.source}): ${r.reason}`);
      log(`python: skipped ${skipped[skipped.length - 1]}`);
      continue;
    }
    return { found: { command: resolved, source: c.source, probe: r.probe, skipped }, skipped };
  }
  return { skipped };
}

/** Forgets earlier probes (tests). */
export function clearPythonCache(): void {
  cache.clear();
}

/** The devices a probe found, for the log ("cuda: 2 × NVIDIA H100", "mps", "cpu only"). */
export function describeProbe(p: PythonProbe): string {
  const cuda = p.cuda ?? [];
  const dev = cuda.length ? `cuda: ${cuda.length} × ${cuda[0].name}` : p.mps ? 'mps' : 'cpu only';
  return `Python ${p.python}, torch ${p.torch}, ${dev}`;
}
