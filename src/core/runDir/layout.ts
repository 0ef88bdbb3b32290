/**
 * The run directory's layout: every path the runner writes and the extension, the fit and the
 * results panel read, in one place (file names in `RUN_FILES`, src/core/contracts.ts).
 *
 *   <runDir>/plan.json  manifest.json  runner.lock  results.jsonl  fit.json  calibration.json
 *   <runDir>/experiments/<id>/spec.json  metrics.jsonl  result.json  log.txt  checkpoint/
 */
import * as path from 'node:path';
import { RUN_FILES } from '../contracts';

export { RUN_FILES };

export const runPaths = {
  plan: (runDir: string) => path.join(runDir, RUN_FILES.plan),
  manifest: (runDir: string) => path.join(runDir, RUN_FILES.manifest),
  lock: (runDir: string) => path.join(runDir, RUN_FILES.lock),
  results: (runDir: string) => path.join(runDir, RUN_FILES.results),
  fit: (runDir: string) => path.join(runDir, RUN_FILES.fit),
  calibration: (runDir: string) => path.join(runDir, RUN_FILES.calibration),
  experiments: (runDir: string) => path.join(runDir, RUN_FILES.experimentsDir),
  experiment: (runDir: string, id: string) => path.join(runDir, RUN_FILES.experimentsDir, id),
  spec: (runDir: string, id: string) => path.join(runDir, RUN_FILES.experimentsDir, id, RUN_FILES.spec),
  metrics: (runDir: string, id: string) => path.join(runDir, RUN_FILES.experimentsDir, id, RUN_FILES.metrics),
  result: (runDir: string, id: string) => path.join(runDir, RUN_FILES.experimentsDir, id, RUN_FILES.result),
  log: (runDir: string, id: string) => path.join(runDir, RUN_FILES.experimentsDir, id, RUN_FILES.log),
  checkpoint: (runDir: string, id: string) => path.join(runDir, RUN_FILES.experimentsDir, id, RUN_FILES.checkpoint),
} as const;

/** The kinds of run-directory file that readers follow. */
export type RunFileKind = 'plan' | 'manifest' | 'lock' | 'results' | 'fit' | 'metrics' | 'result';

/**
 * What an absolute path inside a run directory is (undefined: not a file anyone follows, or not
 * inside the run directory). `id` names the experiment for per-experiment files.
 */
export function classifyRunPath(runDir: string, absPath: string): { kind: RunFileKind; id?: string } | undefined {
  const rel = path.relative(runDir, absPath);
  if (!rel || rel.startsWith('..') || path.isAbsolute(rel)) return undefined;
  const parts = rel.split(/[\\/]/);
  if (parts.length === 1) {
    switch (parts[0]) {
      case RUN_FILES.plan:
        return { kind: 'plan' };
      case RUN_FILES.manifest:
        return { kind: 'manifest' };
      case RUN_FILES.lock:
        return { kind: 'lock' };
      case RUN_FILES.results:
        return { kind: 'results' };
      case RUN_FILES.fit:
        return { kind: 'fit' };
      default:
        return undefined;
    }
  }
  if (parts.length === 3 && parts[0] === RUN_FILES.experimentsDir && !parts[1]!.startsWith('.')) {
    if (parts[2] === RUN_FILES.metrics) return { kind: 'metrics', id: parts[1] };
    if (parts[2] === RUN_FILES.result) return { kind: 'result', id: parts[1] };
  }
  return undefined;
}

/**
 * The glob, relative to `base` (an existing ancestor of the run directory, or the run directory
 * itself), that matches every file `classifyRunPath` knows: watchers created on an ancestor keep
 * working when the run directory does not exist yet.
 */
export function runDirWatchGlob(runDir: string, base: string): string {
  const rel = path.relative(base, runDir).split(path.sep).filter(Boolean).join('/');
  const prefix = rel ? `${rel}/` : '';
  return `${prefix}{${RUN_FILES.plan},${RUN_FILES.manifest},${RUN_FILES.lock},${RUN_FILES.results},${RUN_FILES.fit},${RUN_FILES.experimentsDir}/*/${RUN_FILES.metrics},${RUN_FILES.experimentsDir}/*/${RUN_FILES.result}}`;
}
