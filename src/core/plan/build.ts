/**
 * The IsoFLOP plan: a validated sweep config → every experiment, fully resolved (contracts Plan).
 *
 *   1. probe the size axis (log-spaced candidates rounded to the multiple) and count N exactly;
 *   2. per budget C: D = C / (k·N), keep sizes inside the tokens-per-parameter band with at least
 *      planning.minSteps steps, pick planning.sizesPerBudget of them centred in log N on
 *      N* = sqrt(C / (k·priorTokensPerParam)); flag grids that cannot bracket N*;
 *   3. cross every (budget, size) cell with the hyperparameter grid and the seeds;
 *   4. give every experiment a stable id (hash of its resolved settings) and estimate wall time.
 *
 * Pure TypeScript: no `vscode` import. Deterministic for a given config and file system.
 */
import { createHash, type Hash } from 'node:crypto';
import * as path from 'node:path';
import type { DataSpec, ExperimentSpec, HyperValue, Plan, PlanWarning, TrainingSpec, BudgetPlan } from '../contracts';
import { LIMITS, TRAINING_KEYS, type SweepConfig } from '../config/schema';
import { defaultParallelism, type Host } from './parallelism';
import { canonicalJson, ID_LENGTH } from './ids';
import { portablePath } from '../runDir/identity';
import { formatNumber as fmt, probeSizes, selectSizes, sizeMultiple, tokensFor, type ParamCounter, type SizeCandidate } from './grid';
import { builtinThroughput, calibratedThroughput, experimentSeconds, measuredThroughput, wallSeconds, type ThroughputEstimate } from './throughput';
import { readCalibration } from './calibration';
import { applyHyperRules, resolveHyperRules } from './hyperRules';
import { baseDir, commandCwd, resolveConfigPath, resolveRunDir } from './paths';
import { checkCommandPlaceholders, checkData, isDirectory, plural } from './checks';

export interface BuildPlanOptions {
  /** absolute path of the config file (relative paths in it resolve against the workspace root) */
  configPath: string;
  /** the workspace folder; default: see {@link findWorkspaceRoot} */
  workspaceRoot?: string;
  /** a throughput to use (executed FLOPs per second of one experiment process, see experimentWork); outranks finished runs and calibration.json */
  throughput?: { flopsPerSecond: number; source: string };
  /** N of a command model at a size value; without it a command model's sizes are not counted */
  countParams?: ParamCounter;
  /** skip the file-system checks (data file, finished runs); for fuzzing and benchmarks */
  noFileSystem?: boolean;
  /** the machine the default parallelism is decided for (tests); default: this one */
  host?: Host;
  /** seconds a command trainer takes to start (countCommandParams times its countParams): counted per experiment */
  commandStartupSeconds?: number;
}

// ---------------------------------------------------------------------------------------------
// the plan

function cartesian(axes: Record<string, HyperValue[]>): Record<string, HyperValue>[] {
  let out: Record<string, HyperValue>[] = [{}];
  for (const [name, values] of Object.entries(axes)) {
    const next: Record<string, HyperValue>[] = [];
    for (const combo of out) for (const v of values) next.push({ ...combo, [name]: v });
    out = next;
  }
  return out;
}

function seedList(seeds: number | number[]): number[] {
  return Array.isArray(seeds) ? [...seeds] : Array.from({ length: seeds }, (_, i) => i);
}

/** The budgets in FLOPs, ascending; a {min, max, count} range is log-spaced, 3 significant digits. */
export function budgetValues(config: SweepConfig): number[] {
  const b = config.budgets;
  if (Array.isArray(b)) return [...b].sort((x, y) => x - y);
  if (b.count === 1 || b.min === b.max) return [b.min];
  const out: number[] = [];
  const a = Math.log10(b.min);
  const z = Math.log10(b.max);
  for (let i = 0; i < b.count; i++) {
    const v = i === 0 ? b.min : i === b.count - 1 ? b.max : Number(Math.pow(10, a + ((z - a) * i) / (b.count - 1)).toPrecision(3));
    if (!out.includes(v)) out.push(v);
  }
  return out;
}

/** The config path of a budget (for locating warnings). */
function budgetPath(config: SweepConfig, budget: number): (string | number)[] {
  if (!Array.isArray(config.budgets)) return ['budgets'];
  const i = config.budgets.indexOf(budget);
  return i >= 0 ? ['budgets', i] : ['budgets'];
}

function resolveData(config: SweepConfig, configPath: string, workspaceRoot?: string): DataSpec {
  const d = config.data;
  if (d.source === 'synthetic') return { ...d };
  return { ...d, path: resolveConfigPath(d.path, configPath, workspaceRoot) };
}

function resolveTraining(config: SweepConfig, combo: Record<string, HyperValue>): TrainingSpec {
  const t: Record<string, unknown> = { ...config.training };
  for (const [k, v] of Object.entries(combo)) if ((TRAINING_KEYS as string[]).includes(k)) t[k] = v;
  return t as TrainingSpec;
}

/** Builds the plan. Never throws for a config that parseSweepConfig accepted. */
export function buildPlan(config: SweepConfig, opts: BuildPlanOptions): Plan {
  const configPath = path.resolve(opts.configPath);
  const base = baseDir(configPath, opts.workspaceRoot);
  const runDir = resolveRunDir(config, configPath, opts.workspaceRoot);
  const warnings: PlanWarning[] = [];
  const warn = (code: string, message: string, p?: (string | number)[], budget?: number) =>
    warnings.push({ code, message, ...(p ? { path: p } : {}), ...(budget !== undefined ? { budget } : {}) });

  const k = config.planning.flopsPerParamPerToken;
  const data = resolveData(config, configPath, opts.workspaceRoot);
  const seeds = seedList(config.sweep.seeds);
  const budgets = budgetValues(config);
  // the number of combinations, counted before any is made: 10 axes of 10 values are 10^10
  const comboCount = Object.values(config.sweep.hyperparameters).reduce((n, values) => n * values.length, 1);
  const combos = comboCount * seeds.length * budgets.length > LIMITS.experiments ? [] : cartesian(config.sweep.hyperparameters);
  const contextLength = config.model.contextLength;
  // training.learningRate / batchSize given by a rule are evaluated per experiment (./hyperRules)
  const rules = resolveHyperRules(config, (p) => resolveConfigPath(p, configPath, opts.workspaceRoot));
  for (const e of rules.errors) warn('hyper-rule', `${e.path.join('.')}: ${e.message}; no experiments are planned until it resolves`, e.path);
  const batchSizes = config.sweep.hyperparameters.batchSize?.filter((v): v is number => typeof v === 'number') ?? [];
  // a batch-size rule counts as 1 sequence here: each cell is checked with its own value below
  const trainingBatch = typeof config.training.batchSize === 'number' ? config.training.batchSize : 1;
  const minBatchTokens = (batchSizes.length ? batchSizes.reduce((a, b) => Math.min(a, b), Infinity) : trainingBatch) * contextLength;

  const workCwd = config.model.family === 'command' ? commandCwd(config.model, configPath) : base;
  let cwdMissing = false;
  if (config.model.family === 'command') {
    checkCommandPlaceholders(config, warn);
    if (!opts.noFileSystem && !isDirectory(workCwd)) {
      // every count and every experiment would fail with "command not found": say why
      cwdMissing = true;
      warn(
        'cwd-missing',
        config.model.cwd
          ? `model.cwd: folder not found: ${workCwd} (a relative model.cwd is relative to the config file's folder)`
          : `the config file's folder, where the command runs, is not found: ${workCwd}`,
        config.model.cwd ? ['model', 'cwd'] : ['model'],
      );
    }
  } else {
    for (const name of Object.keys(config.sweep.hyperparameters)) {
      if (!(TRAINING_KEYS as string[]).includes(name)) {
        warn('hyperparameter-unused', `'${name}' is not a training setting, so the built-in transformer ignores it (it only multiplies the experiments)`, [
          'sweep',
          'hyperparameters',
          name,
        ]);
      }
    }
  }

  const probe = probeSizes(config, workCwd, cwdMissing ? undefined : opts.countParams);
  if (probe.unknown) {
    warn('params-unknown', 'parameter counts of a command model are not computed here (untrusted workspace or no counter); run `flopsfit plan` to count them', [
      'model',
      'countParams',
    ]);
  }
  if (!probe.unknown && !probe.sizes.length && !probe.skipped.length) {
    warn(
      'no-sizes',
      `no multiple of ${sizeMultiple(config)} lies in [${fmt(config.model.size.min)}, ${fmt(config.model.size.max)}]`,
      ['model', 'size'],
    );
  }
  if (probe.skipped.length) {
    // group by reason: one broken counter gives one message, not sixty
    const byReason = new Map<string, number[]>();
    for (const s of probe.skipped) byReason.set(s.reason, [...(byReason.get(s.reason) ?? []), s.value]);
    const groups = [...byReason.entries()].map(([reason, vs]) => `${reason} (${vs.length > 6 ? `${vs.slice(0, 6).join(', ')}, …` : vs.join(', ')})`);
    const shown = groups.slice(0, 3).join('; ');
    const more = groups.length > 3 ? `; and ${groups.length - 3} other reasons` : '';
    const allFailed = !probe.sizes.length;
    warn(allFailed ? 'no-sizes' : 'size-skipped', `${probe.skipped.length} size${probe.skipped.length === 1 ? '' : 's'} skipped: ${shown}${more}`, ['model', 'size']);
  }

  // the total before expanding: a typo must not allocate millions of experiments
  const perCell = comboCount * seeds.length;
  const upperBound = budgets.length * Math.min(config.planning.sizesPerBudget, Math.max(1, probe.sizes.length)) * perCell;
  const tooMany = upperBound > LIMITS.experiments || combos.length === 0;
  if (tooMany) {
    const count = (n: number) => (Number.isSafeInteger(n) ? n.toLocaleString('en-US') : n.toExponential(2).replace('e+', 'e'));
    warn(
      'too-many-experiments',
      `too many experiments: the plan would have up to ${count(upperBound)} (${plural(budgets.length, 'budget')} × ${plural(config.planning.sizesPerBudget, 'size')} × ${count(comboCount)} hyperparameter combination${comboCount === 1 ? '' : 's'} × ${plural(seeds.length, 'seed')}); the limit is ${count(LIMITS.experiments)}`,
      comboCount > 1 ? ['sweep', 'hyperparameters'] : ['sweep'],
    );
  }

  const experiments: ExperimentSpec[] = [];
  const budgetPlans: BudgetPlan[] = [];
  const droppedCells: string[] = [];
  const settings = {
    k,
    prior: config.planning.priorTokensPerParam,
    band: config.planning.tokensPerParam,
    spread: config.planning.sizeSpread,
    sizesPerBudget: config.planning.sizesPerBudget,
    minTokens: config.planning.minSteps * minBatchTokens,
  };

  // objects shared by many experiments, hashed once (see canonicalJson's memo)
  const memo = new WeakMap<object, string>();
  const hashedData: DataSpec = 'path' in data ? { ...data, path: portablePath(data.path, base) } : data;
  const comboTraining = combos.map((combo) => resolveTraining(config, combo));
  const hashedModels = new Map<SizeCandidate, ExperimentSpec['model']>();
  const shared = { memo, hashedData, hashedModels, cells: new Map<SizeCandidate, Map<Record<string, HyperValue>, Hash>>(), base };

  const ruleErrors = new Set<string>();
  budgets.forEach((budget, index) => {
    const sel = probe.unknown ? undefined : selectSizes(budget, probe.sizes, settings);
    const bp: BudgetPlan = {
      index,
      budget,
      priorOptimalParams: Math.sqrt(budget / (k * config.planning.priorTokensPerParam)),
      sizeValues: [],
      experiments: 0,
      brackets: false,
    };
    budgetPlans.push(bp);
    if (!sel) {
      bp.skipped = 'parameter counts unknown';
      return;
    }
    bp.brackets = sel.brackets;
    if (sel.skipped) {
      bp.skipped = sel.skipped;
      if (probe.sizes.length) warn('budget-infeasible', sel.skipped, budgetPath(config, budget), budget);
      return;
    }
    bp.sizeValues = sel.chosen.map((c) => c.value).sort((a, b) => a - b);
    if (!sel.brackets && sel.chosen.length > 0) {
      const lo = sel.chosen[0].params;
      const hi = sel.chosen[sel.chosen.length - 1].params;
      const side = hi < sel.priorOptimalParams ? 'below' : 'above';
      const hint =
        side === 'below'
          ? 'raise model.size.max (or planning.tokensPerParam.min), or lower the budget'
          : 'lower model.size.min (or raise planning.tokensPerParam.max), or raise the budget';
      warn(
        'grid-not-bracketing',
        `budget ${fmt(budget)}: the sizes (N ${fmt(lo)}–${fmt(hi)}) are all ${side} the prior optimum N*≈${fmt(sel.priorOptimalParams)}, so the IsoFLOP minimum cannot be located; ${hint}`,
        budgetPath(config, budget),
        budget,
      );
    }
    if (tooMany) return;
    for (const size of sel.chosen) {
      const tokens = tokensFor(budget, k, size.params);
      for (let ci = 0; ci < combos.length; ci++) {
        let combo = combos[ci];
        let training = comboTraining[ci];
        if (rules.active) {
          const r = applyHyperRules(training, rules, { C: budget, N: size.params, D: tokens });
          if (r.error && !ruleErrors.has(r.error.message)) {
            ruleErrors.add(r.error.message);
            warn('hyper-rule', `${r.error.path.join('.')}: ${r.error.message}; that cell is dropped`, r.error.path, budget);
          }
          if (!r.training) continue;
          training = r.training;
          combo = { ...combo }; // the cell's id hash depends on the budget now (see makeExperiment)
        }
        const stepTokens = training.batchSize * contextLength;
        if (tokens < config.planning.minSteps * stepTokens) {
          droppedCells.push(`C=${fmt(budget)} N=${fmt(size.params)} ${JSON.stringify(combo)}`);
          continue;
        }
        for (const seed of seeds) {
          experiments.push(makeExperiment(config, { budget, index, size, tokens, k, combo, seed, data, training }, shared));
          bp.experiments++;
        }
      }
    }
  });

  if (droppedCells.length) {
    warn(
      'cell-infeasible',
      `${droppedCells.length} (budget, size, hyperparameter) cell${droppedCells.length === 1 ? '' : 's'} dropped: fewer than planning.minSteps (${config.planning.minSteps}) steps at that batch size, e.g. ${droppedCells[0]}`,
      ['sweep', 'hyperparameters', 'batchSize'],
    );
  }
  if (!experiments.length && !probe.unknown && !tooMany) {
    warn('no-experiments', 'the plan is empty: no budget has a feasible model size', ['budgets']);
  }

  if (!opts.noFileSystem) checkData(config, data, experiments, warn);

  // totals and the time estimate
  let totalFlops = 0;
  let totalTokens = 0;
  for (const e of experiments) {
    totalFlops += k * e.params * e.tokens;
    totalTokens += e.tokens;
  }
  const tp = throughputFor(config, runDir, opts);
  const parallel = config.run.parallel ?? defaultParallelism([config], opts.host);
  const at = (fps: number) => wallSeconds(experiments.map((e) => experimentSeconds(e, tp, fps)), parallel);
  const estimatedSeconds = at(tp.flopsPerSecond);
  const estimatedSecondsRange: [number, number] = [at(tp.range[1]), at(tp.range[0])];

  return {
    version: 1,
    sweep: config.name,
    configPath,
    runDir,
    experiments,
    budgets: budgetPlans,
    totalFlops,
    totalTokens,
    estimatedSeconds,
    estimatedSecondsRange,
    throughputSource: `${tp.source}; ${parallel} at once`,
    ...(Object.keys(rules.describe).length ? { rules: rules.describe as Record<string, string> } : {}),
    warnings,
  };
}

function throughputFor(config: SweepConfig, runDir: string, opts: BuildPlanOptions): ThroughputEstimate {
  const builtin = builtinThroughput(config.training.backend);
  if (opts.throughput && opts.throughput.flopsPerSecond > 0 && Number.isFinite(opts.throughput.flopsPerSecond)) {
    const f = opts.throughput.flopsPerSecond;
    return { flopsPerSecond: f, range: [f * 0.75, f * 1.25], source: opts.throughput.source, gpu: builtin.gpu };
  }
  if (!opts.noFileSystem) {
    const measured = measuredThroughput(runDir);
    if (measured) return { ...measured, gpu: measured.gpu || builtin.gpu };
    // a command trainer has no built-in calibration; a file for one would be hand-made: use it too
    const cal = readCalibration(runDir, config.training.backend);
    if (cal.ok) return calibratedThroughput(cal.calibration);
  }
  if (config.model.family === 'command') {
    // its speed is unknown; its start-up is at least what one countParams run took
    const startup = Math.max(builtin.startupSeconds ?? 0, opts.commandStartupSeconds ?? 0);
    const timed = opts.commandStartupSeconds !== undefined ? `; ${startup.toFixed(1)} s start-up per experiment, as long as countParams took` : '';
    return {
      flopsPerSecond: builtin.flopsPerSecond,
      range: [builtin.range[0] / 10, builtin.range[1] * 100],
      source: `${builtin.source} (a command trainer's speed is unknown until one experiment finishes${timed})`,
      gpu: builtin.gpu,
      startupSeconds: startup,
    };
  }
  return builtin;
}

function makeExperiment(
  config: SweepConfig,
  a: {
    budget: number;
    index: number;
    size: SizeCandidate;
    tokens: number;
    k: number;
    combo: Record<string, HyperValue>;
    seed: number;
    data: DataSpec;
    training: TrainingSpec;
  },
  shared: {
    memo: WeakMap<object, string>;
    hashedData: DataSpec;
    hashedModels: Map<SizeCandidate, ExperimentSpec['model']>;
    cells: Map<SizeCandidate, Map<Record<string, HyperValue>, Hash>>;
    base: string;
  },
): ExperimentSpec {
  const spec: Omit<ExperimentSpec, 'id'> = {
    sweep: config.name,
    budget: a.budget,
    budgetIndex: a.index,
    sizeParam: config.model.size.param,
    sizeValue: a.size.value,
    params: a.size.params,
    paramsTotal: a.size.paramsTotal,
    tokens: a.tokens,
    tokensPerParam: a.tokens / a.size.params,
    flopsPerParamPerToken: a.k,
    hyperparameters: { ...a.combo },
    seed: a.seed,
    model: a.size.model,
    data: a.data,
    training: a.training,
    root: shared.base,
  };
  // the id hashes the settings with workspace-relative paths: moving the workspace keeps the ids
  let model = shared.hashedModels.get(a.size);
  if (!model) {
    model = a.size.model.family === 'command' ? { ...a.size.model, cwd: portablePath(a.size.model.cwd, shared.base) } : a.size.model;
    shared.hashedModels.set(a.size, model);
  }
  // id = sha256 of [settings shared by the (size, hyperparameters) cell, this experiment's own];
  // the cell's hash state is computed once and copied per budget and seed
  let cell = shared.cells.get(a.size)?.get(a.combo);
  if (!cell) {
    const common = { sweep: spec.sweep, sizeParam: spec.sizeParam, flopsPerParamPerToken: spec.flopsPerParamPerToken, hyperparameters: a.combo, model, data: shared.hashedData, training: a.training };
    cell = createHash('sha256').update('[' + canonicalJson(common, shared.memo) + ',');
    if (!shared.cells.has(a.size)) shared.cells.set(a.size, new Map());
    shared.cells.get(a.size)!.set(a.combo, cell);
  }
  // canonicalJson of {budget, budgetIndex, params, paramsTotal, seed, sizeValue, tokens, tokensPerParam},
  // written out (keys already sorted): this runs for every experiment on every keystroke
  const own =
    `{"budget":${num(spec.budget)},"budgetIndex":${num(spec.budgetIndex)},"params":${num(spec.params)},"paramsTotal":${num(spec.paramsTotal)},` +
    `"seed":${num(spec.seed)},"sizeValue":${num(spec.sizeValue)},"tokens":${num(spec.tokens)},"tokensPerParam":${num(spec.tokensPerParam)}}`;
  const id = cell.copy().update(own + ']').digest('hex').slice(0, ID_LENGTH);
  return { id, ...spec };
}

/** A number as JSON writes it. */
function num(x: number): string {
  return Number.isFinite(x) ? String(x) : 'null';
}

/** Placeholders a command template may use: one home, shared with the runner. */
