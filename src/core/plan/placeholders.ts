/**
 * The placeholders of a command trainer's argv (`model.command`, `model.countParams`): their names,
 * the one pattern that finds them, the check the planner runs on a config and the substitution the
 * runner does per experiment. Both sides use this module, so a placeholder that validates is one
 * the runner can fill, and one the runner would reject never validates.
 */
import * as path from 'node:path';
import { RUN_FILES, type ExperimentSpec, type HyperValue } from '../contracts';
import { TRAINING_KEYS, type SweepConfig } from '../config/schema';

/** Placeholders every command template may use (plus every training setting, hyperparameter name and the size parameter's name). */
export const COMMAND_PLACEHOLDERS = ['size', 'tokens', 'steps', 'seed', 'budget', 'params', 'runDir', 'id', 'lr', 'dataPath', 'specPath'] as const;

/** The only placeholder `countParams` may use. */
export const COUNT_PLACEHOLDER = 'size';

/** What counts as a placeholder in an argument: `{name}` anywhere in it (e.g. `--width={size}`). */
const PLACEHOLDER = /\{([A-Za-z_][A-Za-z0-9_.-]*)\}/g;

export class PlaceholderError extends Error {}

/** The placeholders in one argument, in order. */
export function placeholdersIn(arg: string): { name: string; index: number }[] {
  return [...arg.matchAll(PLACEHOLDER)].map((m) => ({ name: m[1], index: m.index ?? 0 }));
}

/** The names a command template of this config may use. */
export function knownPlaceholders(config: SweepConfig): Set<string> {
  const known = new Set<string>([...COMMAND_PLACEHOLDERS, config.model.size.param, ...(TRAINING_KEYS as string[]), ...Object.keys(config.sweep.hyperparameters)]);
  if (config.data.source === 'synthetic') known.delete('dataPath');
  return known;
}

/** Values of every placeholder for one experiment (the runner's side of knownPlaceholders). */
export function placeholderValues(spec: ExperimentSpec, runDir: string): Record<string, string> {
  const values: Record<string, string> = {};
  const put = (k: string, v: HyperValue | undefined) => {
    if (v !== undefined) values[k] = String(v);
  };
  for (const [k, v] of Object.entries(spec.training)) put(k, v as HyperValue);
  // the PyTorch engine's optional settings: absent means their default, `auto`
  put('precision', spec.training.precision ?? 'auto');
  put('compile', spec.training.compile ?? 'auto');
  put('lr', spec.training.learningRate);
  const context = spec.model.family === 'command' ? (spec.model.contextLength ?? 1) : spec.model.contextLength;
  put('steps', Math.max(1, Math.ceil(spec.tokens / (spec.training.batchSize * context))));
  if (spec.data.source !== 'synthetic') put('dataPath', spec.data.path);
  // hyperparameter axes override the settings above (e.g. an axis named `lr`)…
  for (const [k, v] of Object.entries(spec.hyperparameters)) put(k, v);
  // …but never what identifies the experiment
  put(spec.sizeParam, spec.sizeValue);
  put('size', spec.sizeValue);
  put('tokens', spec.tokens);
  put('seed', spec.seed);
  put('budget', spec.budget);
  put('params', spec.params);
  put('id', spec.id);
  values.runDir = runDir;
  values.specPath = path.join(runDir, RUN_FILES.spec);
  return values;
}

/** Substitutes the placeholders in an argv template; an unknown placeholder is an error naming it. */
export function substitute(template: readonly string[], values: Record<string, string>): string[] {
  return template.map((arg) =>
    arg.replace(PLACEHOLDER, (whole, name: string) => {
      const v = values[name];
      if (v === undefined) {
        throw new PlaceholderError(`unknown placeholder ${whole} in the command (known: ${Object.keys(values).map((k) => `{${k}}`).join(' ')})`);
      }
      return v;
    }),
  );
}

/** `countParams` with one size filled in. */
export function substituteSize(template: readonly string[], size: number): string[] {
  return substitute(template, { [COUNT_PLACEHOLDER]: String(size) });
}

export interface PlaceholderProblem {
  message: string;
  path: (string | number)[];
}

/** The placeholders of a command config that no experiment could fill, located on the argument. */
export function checkPlaceholders(config: SweepConfig, closest: (name: string, known: Iterable<string>) => string | undefined): PlaceholderProblem[] {
  if (config.model.family !== 'command') return [];
  const out: PlaceholderProblem[] = [];
  const known = knownPlaceholders(config);
  const check = (argv: string[], key: 'command' | 'countParams', allowed: (n: string) => boolean) => {
    argv.forEach((arg, i) => {
      for (const { name } of placeholdersIn(arg)) {
        if (allowed(name)) continue;
        let message: string;
        if (key === 'countParams') message = `countParams may only use {${COUNT_PLACEHOLDER}}, not {${name}}`;
        else {
          const hint = closest(name, known);
          message = hint ? `unknown placeholder {${name}}; did you mean {${hint}}?` : `unknown placeholder {${name}} (known: ${[...known].map((k) => `{${k}}`).join(' ')})`;
        }
        out.push({ message, path: ['model', key, i] });
      }
    });
  };
  check(config.model.command, 'command', (n) => known.has(n));
  check(config.model.countParams, 'countParams', (n) => n === COUNT_PLACEHOLDER);
  if (!config.model.countParams.some((a) => placeholdersIn(a).some((p) => p.name === COUNT_PLACEHOLDER))) {
    out.push({ message: `countParams never uses {${COUNT_PLACEHOLDER}}: every size would get the same N`, path: ['model', 'countParams'] });
  }
  return out;
}
