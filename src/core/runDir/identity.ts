/**
 * An experiment's identity: the hash of every resolved setting, with paths written relative to the
 * root the plan resolved them against (the workspace), so that moving or re-cloning a workspace
 * keeps every id. The planner computes ids with a faster incremental form of the same hash (an
 * agreement test checks they are equal for every experiment), and the runner's change detection
 * compares identities, never absolute paths.
 */
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import type { ExperimentSpec } from '../contracts';
import { canonicalJson, ID_LENGTH } from '../plan/ids';

/** The form of a path that goes into an id: relative to the root when inside it (portable). */
export function portablePath(abs: string, root: string): string {
  const rel = path.relative(root, abs);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel.split(path.sep).join('/') : abs;
}

/** The settings an experiment's id hashes that it shares with its (size, hyperparameters) cell. */
export function cellSettings(spec: Omit<ExperimentSpec, 'id'>, root: string): Record<string, unknown> {
  const model = spec.model.family === 'command' ? { ...spec.model, cwd: portablePath(spec.model.cwd, root) } : spec.model;
  const data = 'path' in spec.data ? { ...spec.data, path: portablePath(spec.data.path, root) } : spec.data;
  return {
    sweep: spec.sweep,
    sizeParam: spec.sizeParam,
    flopsPerParamPerToken: spec.flopsPerParamPerToken,
    hyperparameters: spec.hyperparameters,
    model,
    data,
    training: spec.training,
  };
}

/** The settings that are the experiment's own (budget, size, seed, tokens). */
export function ownSettings(spec: Omit<ExperimentSpec, 'id'>): Record<string, number> {
  return {
    budget: spec.budget,
    budgetIndex: spec.budgetIndex,
    params: spec.params,
    paramsTotal: spec.paramsTotal,
    seed: spec.seed,
    sizeValue: spec.sizeValue,
    tokens: spec.tokens,
    tokensPerParam: spec.tokensPerParam,
  };
}

/**
 * The id of an experiment with these settings, paths taken relative to `root` (default: the root
 * recorded in the spec; a spec without one hashes its paths as they are).
 */
export function experimentIdentity(spec: Omit<ExperimentSpec, 'id'>, root = spec.root ?? '/'): string {
  const text = '[' + canonicalJson(cellSettings(spec, root)) + ',' + canonicalJson(ownSettings(spec)) + ']';
  return createHash('sha256').update(text).digest('hex').slice(0, ID_LENGTH);
}

/** Whether a stored spec (spec.json of an earlier run) has the same identity as the plan's. */
export function sameExperiment(stored: ExperimentSpec, planned: ExperimentSpec): boolean {
  return experimentIdentity(stored) === experimentIdentity(planned);
}
