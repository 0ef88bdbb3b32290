/**
 * Backend failure classification and the one-step smoke test that `backend: auto` runs on every
 * candidate before trusting it with an experiment.
 *
 * A backend can look available (its package loads, an adapter is found) and still be unusable:
 * CUDA libraries of the wrong version, a device that runs out of memory at the experiment's size,
 * a kernel that is missing or wrong on that backend. Running one real training step (forward,
 * backward, optimizer update) and checking that the loss comes back finite catches all of these
 * before the run starts, and gives the log a reason a user can act on.
 *
 * Pure TypeScript: no tfjs import, so the classification is unit-tested without a backend.
 */

/** Why a backend was not used. The first words of every logged reason. */
export const FAILURE_KINDS = [
  'not-installed',
  'driver-missing',
  'no-device',
  'no-adapter',
  'software-adapter',
  'out-of-memory',
  'smoke-failed',
  'init-failed',
] as const;
export type FailureKind = (typeof FAILURE_KINDS)[number];

/** Short human wording of each kind, used at the start of log lines. */
export const FAILURE_LABELS: Record<FailureKind, string> = {
  'not-installed': 'not installed',
  'driver-missing': 'driver missing',
  'no-device': 'no GPU device',
  'no-adapter': 'no adapter',
  'software-adapter': 'software adapter only',
  'out-of-memory': 'out of memory',
  'smoke-failed': 'smoke test failed',
  'init-failed': 'initialisation failed',
};

export interface ClassifiedError {
  kind: FailureKind;
  /** one line, no stack trace */
  message: string;
}

const NOT_INSTALLED = /MODULE_NOT_FOUND|Cannot find module|Cannot find package|ERR_MODULE_NOT_FOUND/i;
const DRIVER_MISSING =
  /lib(?:cudart|cublas|cublasLt|cudnn|cufft|curand|cusolver|cusparse|nvinfer|cuda|nvidia-ml|vulkan|EGL|GLESv2)[^\s:'"]*\.so|cannot open shared object|CUDA driver version is insufficient|no CUDA-capable device|CUDA_ERROR_NO_DEVICE|cuInit|NVIDIA driver|Couldn't load Vulkan|eglInitialize failed|EGL_NOT_INITIALIZED|ERR_DLOPEN_FAILED/i;
const OUT_OF_MEMORY =
  /out of memory|\bOOM\b|ResourceExhausted|RESOURCE_EXHAUSTED|failed to allocate|could not allocate|cannot allocate|allocation failed|OutOfMemory|(?:exceeds?|larger than) (?:the )?max(?:imum)?[A-Za-z ]*(?:buffer|binding)|maxStorageBufferBindingSize|maxBufferSize|CUDA_ERROR_OUT_OF_MEMORY/i;
const NO_ADAPTER = /no (?:suitable |compatible )?(?:WebGPU )?adapter|requestAdapter|navigator\.gpu|no suitable backends/i;

/** First line of an error's message, without the stack. */
export function errorMessage(err: unknown): string {
  let text: string;
  if (err instanceof Error) text = err.message || err.name;
  else if (typeof err === 'string') text = err;
  else {
    try {
      text = JSON.stringify(err) ?? String(err);
    } catch {
      text = String(err);
    }
  }
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0 && !/^at\s/.test(l));
  const first = lines[0] ?? 'unknown error';
  return first.length > 300 ? `${first.slice(0, 297)}...` : first;
}

/**
 * Maps an error thrown while loading or using a backend to a failure kind. `fallback` is the kind
 * for errors that match nothing more specific (an init error vs. a failing step).
 */
export function classifyBackendError(err: unknown, fallback: FailureKind = 'init-failed'): ClassifiedError {
  const full = err instanceof Error ? `${err.message}\n${String((err as { code?: unknown }).code ?? '')}` : String(err);
  const message = errorMessage(err);
  if (OUT_OF_MEMORY.test(full)) return { kind: 'out-of-memory', message };
  if (NOT_INSTALLED.test(full)) return { kind: 'not-installed', message };
  if (DRIVER_MISSING.test(full)) return { kind: 'driver-missing', message };
  if (NO_ADAPTER.test(full)) return { kind: 'no-adapter', message };
  return { kind: fallback, message };
}

export type SmokeOutcome =
  | { ok: true; loss: number; ms: number }
  | { ok: false; kind: FailureKind; reason: string; ms: number };

export interface SmokeOptions {
  /** give up after this long (a hung driver, a software adapter at a large size); default 10 min */
  timeoutMs?: number;
  /**
   * Errors the backend reported out of band during the step (WebGPU's uncaptured errors: an
   * out-of-memory buffer allocation there does not throw, it poisons later results).
   */
  drainErrors?: () => string[];
  /** clock, for tests */
  now?: () => number;
}

/**
 * Runs one training step and checks that it produced a finite loss. Never throws: every failure
 * comes back classified, with a one-line reason.
 */
export async function smokeTest(step: () => Promise<number> | number, options: SmokeOptions = {}): Promise<SmokeOutcome> {
  const now = options.now ?? (() => performance.now());
  const timeoutMs = options.timeoutMs ?? 600_000;
  const start = now();
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new SmokeTimeout(timeoutMs)), timeoutMs);
      timer.unref?.();
    });
    const loss = await Promise.race([Promise.resolve().then(step), timeout]);
    const ms = now() - start;
    const outOfBand = options.drainErrors?.() ?? [];
    if (outOfBand.length > 0) {
      const c = classifyBackendError(new Error(outOfBand[0]), 'smoke-failed');
      const more = outOfBand.length > 1 ? ` (+${outOfBand.length - 1} more)` : '';
      return { ok: false, kind: c.kind, reason: `${c.message}${more}`, ms };
    }
    if (typeof loss !== 'number' || !Number.isFinite(loss)) {
      return { ok: false, kind: 'smoke-failed', reason: `one training step gave a non-finite loss (${String(loss)})`, ms };
    }
    return { ok: true, loss, ms };
  } catch (err) {
    const ms = now() - start;
    if (err instanceof SmokeTimeout) {
      return { ok: false, kind: 'smoke-failed', reason: `one training step took longer than ${Math.round(timeoutMs / 1000)} s`, ms };
    }
    const c = classifyBackendError(err, 'smoke-failed');
    return { ok: false, kind: c.kind, reason: c.message, ms };
  } finally {
    if (timer) clearTimeout(timer);
  }
}

class SmokeTimeout extends Error {
  constructor(readonly ms: number) {
    super(`timed out after ${ms} ms`);
  }
}
