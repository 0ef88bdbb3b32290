/**
 * `flopsfit fit` — fit scaling laws (Chinchilla Approaches 2 and 3) with bootstrap intervals.
 *
 *   flopsfit fit <config>                 a sweep's finished results → <runDir>/fit.json
 *   flopsfit fit --run-dir <dir>          the same, naming the run directory directly
 *   flopsfit fit --input <file>           external results (CSV / JSON / JSONL)
 *
 * Exit codes: 0 fitted, 1 bad input (message names the row) or invalid config, 2 usage error.
 */
import * as path from 'node:path';
import { formatDiagnostic, loadSweepConfig } from '../../core/config';
import { resolveRunDir } from '../../core/plan';
import { FIT_METHODS, FitInputError, readPointsFile, serializeFitReport, type BacktestSplit, type FitMethod, type FitOptions, type FitPoint, type FitReport } from '../../core/fit';
import { fmt } from '../../core/fit/format';
import { addExtras, addRunDirExtras, readHyperRunsFile, type ExtraOptions } from '../../core/fit/extras';
import { HYPER_FORMS, type HyperForm } from '../../core/fit/extraTypes';
import { readRunDirPoints, writeFitReport, writeRunDirFit } from '../../core/fit/io';
import { fitOptionsFromConfig } from '../../core/fit/configOptions';
import { OPTIMUM_METHODS, type OptimumMethod } from '../../core/fit/isoflop';
import { CONVENTIONS } from '../../core/fit/conventions';
import { MAX_DEFAULT_FIT_WORKERS, defaultFitWorkers, fitScalingLawsAsync } from '../../core/fit/parallel';
import { withBacktest } from '../../core/fit/backtest';
import { CliError, numberOption, parseArgs, type ParsedArgs } from '../util';

export const summary = 'fit scaling laws to a sweep\'s results or to a CSV/JSON file';

const HELP = `Usage: flopsfit fit <config> [options]
       flopsfit fit --run-dir <dir> [options]
       flopsfit fit --input <file.csv|file.json|file.jsonl> [options]

Fits IsoFLOP parabolas (Chinchilla approach 2) and L(N, D) = E + A/N^α + B/D^β (approach 3,
Huber δ = 1e-3 on log loss, L-BFGS from 4500 starts, as Besiroglu et al. 2024) and, on request,
the same law by variable projection (vpnls: E, A, B by non-negative least squares for each (α, β),
least squares on raw loss), with bootstrap
confidence intervals, a prediction at a target budget and a compute-optimal table.
With a config or --run-dir it reads <runDir>/results.jsonl and writes <runDir>/fit.json.

Input files: any two of N (params), D (tokens) and C (FLOPs), the third derived with C = k·N·D
(a budget column stands in for C when there is none); loss; optional budget (IsoFLOP group; else
runs are grouped by C within --tolerance), id, and exclude/epoch_excluded (rows marked 1 are left out).

Options:
  --method <m,…>         isoflop | parametric | vpnls | all, or a comma list (default: the
                         config's fit.methods, else isoflop,parametric)
  --bootstrap <n>        bootstrap resamples (default: config, else 200; 0: none)
  --confidence <x>       interval confidence in (0, 1) (default: config, else 0.95)
  --seed <s>             bootstrap seed (default: config, else 0)
  --target <C>           predict N_opt, D_opt, D/N and loss at this budget in FLOPs
  --table <C,C,…>        budgets of the compute-optimal table (default: the fitted budgets)
  --k <k>                FLOPs per parameter per token in C = k·N·D (default: config, else 6)
  --tolerance <x>        relative spread of C within one IsoFLOP group (default 0.05)
  --optimum <m>          per-budget optimum: akima (default; minimum of the Akima interpolant
                         of ln L against ln N), local-parabola (through the lowest-loss size and
                         --window sizes each side, default 2) or parabola (one parabola through
                         all of a budget's points, as Chinchilla; biased on wide grids)
  --window <n>           sizes each side of the lowest loss for --optimum local-parabola
  --convention <c>       headline parameter convention: non-embedding (Kaplan), last-layer
                         (+ output head), total, attention (+ attention FLOPs); needs the runs'
                         shapes (built-in transformer) or N_<convention> columns. The IsoFLOP
                         exponents under every available convention are shown side by side
  --weighted             weight each budget in the IsoFLOP power laws by 1 / the bootstrap
                         variance of its ln N* (as Porian et al.; needs --bootstrap > 0)
  --keep-edges           also use budgets whose lowest loss is at the smallest or largest size
                         (not bracketed; left out by default) in the IsoFLOP power laws
  --backtest <k>         also fit on all but the largest k budgets and score the predictions of
                         the held-out points' loss and the held-out budgets' N_opt (fit.json
                         "backtest"; the Fit tab's Backtest table)
  --backtest-above <C>   the same, holding out every run with C ≥ this many FLOPs
  --workers <n>          threads for the parametric multi-start and bootstrap (default: the
                         cores, at most ${MAX_DEFAULT_FIT_WORKERS}; 1: no worker threads); the result is identical
  --hyper <form>         hyperparameter laws (learning rate, batch size) from runs with swept
                         values: C (η* = k·C^e, DeepSeek), ND (k·N^a·D^b, Step Law), N, or off
                         (default C; fitted whenever a numeric hyperparameter was swept, or an
                         --input file has lr / batch_size columns)
  --hyper-band <x>       near-optimal band: runs within this fraction of their (N, D) cell's best
                         loss enter the law (default 0.0025, i.e. 0.25 %)
  --approach1 <which>    Approach 1 (lower envelope of the runs' eval-loss curves, run dirs only):
                         all (every evaluation), final (each run's last), after:<f> (points after
                         fraction f of each run's tokens, e.g. after:0.8), or off (default all)
  --no-presets           leave the published laws (Chinchilla, Epoch, Kaplan, DeepSeek, Step Law)
                         out of the report
  --out <file>           also write the report (fit.json format) to this file
  --workspace <dir>      folder the config's relative paths resolve against
  --json                 print the report as JSON (the fit.json format) instead of a summary
  -h, --help             this help`;

export async function run(args: string[]): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  const parsed = parseArgs(args, {
    flags: ['json', 'keep-edges', 'weighted', 'no-presets'],
    values: ['input', 'run-dir', 'method', 'hyper', 'hyper-band', 'approach1', 'bootstrap', 'confidence', 'seed', 'target', 'table', 'k', 'tolerance', 'out', 'workspace', 'workers', 'optimum', 'window', 'backtest', 'backtest-above', 'convention'],
  });
  const sources = [parsed.positionals.length > 0, parsed.values.input !== undefined, parsed.values['run-dir'] !== undefined].filter(Boolean).length;
  if (sources !== 1 || parsed.positionals.length > 1) {
    throw new CliError(`give exactly one of: a sweep config, --run-dir <dir>, --input <file>\n\n${HELP}`, 2);
  }

  let options: FitOptions = {};
  let runDir: string | undefined;
  if (parsed.positionals.length === 1) {
    const shown = parsed.positionals[0];
    const file = path.resolve(shown);
    const loaded = loadSweepConfig(file);
    if (!loaded.config) {
      for (const d of loaded.diagnostics) process.stderr.write(formatDiagnostic(shown, d) + '\n');
      const errors = loaded.diagnostics.filter((d) => d.severity === 'error').length;
      throw new CliError(`${shown}: invalid sweep config (${errors} error${errors === 1 ? '' : 's'})`, 1);
    }
    const c = loaded.config;
    runDir = resolveRunDir(c, file, parsed.values.workspace ? path.resolve(parsed.values.workspace) : undefined);
    options = fitOptionsFromConfig(c);
  } else if (parsed.values['run-dir'] !== undefined) {
    runDir = path.resolve(parsed.values['run-dir']);
  }
  const fromCli = cliOptions(parsed);
  options = { ...options, ...fromCli, ...(options.extras || fromCli.extras ? { extras: { ...options.extras, ...fromCli.extras } } : {}) };
  const workers = numberOption(parsed, 'workers', { integer: true, min: 1 }) ?? defaultFitWorkers();
  const par = { workers, notice: (line: string) => void process.stderr.write(line + '\n') };

  const split = backtestSplit(parsed);
  let report: FitReport;
  try {
    const loaded = runDir !== undefined ? readRunDirPoints(runDir) : readPointsFile(path.resolve(parsed.values.input!), options.flopsPerParamPerToken ?? 6);
    if (split) options = { ...options, backtest: split };
    const fitter = (pts: readonly FitPoint[], o: FitOptions) => fitScalingLawsAsync(pts, o, par);
    report = await withBacktest(await fitter(loaded.points, options), loaded.points, options, fitter);
    if (runDir !== undefined) writeRunDirFit(runDir, addRunDirExtras(report, runDir, options), loaded.warnings);
    else {
      report.warnings.unshift(...loaded.warnings);
      addExtras(report, { hyperRuns: readHyperRunsFile(path.resolve(parsed.values.input!), options.flopsPerParamPerToken ?? 6) }, options.extras);
    }
  } catch (err) {
    if (err instanceof FitInputError) {
      // name the input: a file's own errors already start with its name
      const where = runDir !== undefined ? path.join(runDir, 'results.jsonl') : path.basename(parsed.values.input!);
      const named = err.message.startsWith(path.basename(where)) || err.message.includes(where) ? err.message : `${where}: ${err.message}`;
      throw new CliError(named, 1);
    }
    throw err;
  }
  if (parsed.values.out) writeFitReport(path.resolve(parsed.values.out), report);

  if (parsed.flags.json) {
    process.stdout.write(serializeFitReport(report));
  } else {
    process.stdout.write(formatReport(report));
    if (runDir !== undefined) process.stdout.write(`\nwrote ${path.join(runDir, 'fit.json')}\n`);
    if (parsed.values.out) process.stdout.write(`${runDir !== undefined ? '' : '\n'}wrote ${parsed.values.out}\n`);
  }
  return 0;
}

function backtestSplit(parsed: ParsedArgs): BacktestSplit | undefined {
  const k = numberOption(parsed, 'backtest', { integer: true, min: 1 });
  const above = numberOption(parsed, 'backtest-above');
  if (k !== undefined && above !== undefined) throw new CliError('give one of --backtest <k> and --backtest-above <C>', 2);
  if (above !== undefined && !(above > 0)) throw new CliError(`option --backtest-above: '${parsed.values['backtest-above']}' must be a positive number of FLOPs`, 2);
  return k !== undefined ? { kind: 'budgets', k } : above !== undefined ? { kind: 'above', above } : undefined;
}

function cliOptions(parsed: ParsedArgs): FitOptions {
  const o: FitOptions = {};
  const m = parsed.values.method;
  if (m !== undefined) {
    if (m === 'all') o.methods = FIT_METHODS;
    else {
      o.methods = m.split(',').map((x) => {
        const t = x.trim();
        if (!(FIT_METHODS as readonly string[]).includes(t)) throw new CliError(`option --method: '${t}' is not one of ${FIT_METHODS.join(', ')}, all`, 2);
        return t as FitMethod;
      });
    }
  }
  const bootstrap = numberOption(parsed, 'bootstrap', { integer: true, min: 0 });
  if (bootstrap !== undefined) o.bootstrap = bootstrap;
  const confidence = numberOption(parsed, 'confidence');
  if (confidence !== undefined) {
    if (!(confidence > 0 && confidence < 1)) throw new CliError(`option --confidence: '${parsed.values.confidence}' must be between 0 and 1 (e.g. 0.95)`, 2);
    o.confidence = confidence;
  }
  const seed = numberOption(parsed, 'seed', { integer: true });
  if (seed !== undefined) o.seed = seed;
  const target = numberOption(parsed, 'target');
  if (target !== undefined) {
    if (!(target > 0)) throw new CliError(`option --target: '${parsed.values.target}' must be a positive number of FLOPs (e.g. 1e24)`, 2);
    o.target = target;
  }
  if (parsed.values.table !== undefined) {
    o.tableBudgets = parsed.values.table.split(',').map((s) => {
      const v = Number(s.trim());
      if (!(Number.isFinite(v) && v > 0)) throw new CliError(`option --table: '${s}' is not a positive number of FLOPs`, 2);
      return v;
    });
  }
  const k = numberOption(parsed, 'k');
  if (k !== undefined) {
    if (!(k > 0)) throw new CliError(`option --k: must be positive`, 2);
    o.flopsPerParamPerToken = k;
  }
  const tol = numberOption(parsed, 'tolerance', { min: 0 });
  if (tol !== undefined) o.budgetTolerance = tol;
  const optimum = parsed.values.optimum;
  if (optimum !== undefined) {
    if (!(OPTIMUM_METHODS as readonly string[]).includes(optimum)) throw new CliError(`option --optimum: '${optimum}' is not one of ${OPTIMUM_METHODS.join(', ')}`, 2);
    o.optimum = optimum as OptimumMethod;
  }
  const window = numberOption(parsed, 'window', { integer: true, min: 1 });
  if (window !== undefined) o.optimumWindow = window;
  if (parsed.flags['keep-edges']) o.keepEdgeBudgets = true;
  const extras: ExtraOptions = {};
  const hyper = parsed.values.hyper;
  const band = numberOption(parsed, 'hyper-band', { min: 0 });
  if (hyper === 'off') extras.hyper = false;
  else if (hyper !== undefined || band !== undefined) {
    if (hyper !== undefined && !(HYPER_FORMS as readonly string[]).includes(hyper)) throw new CliError(`option --hyper: '${hyper}' is not one of ${HYPER_FORMS.join(', ')}, off`, 2);
    if (band !== undefined && !(band < 1)) throw new CliError(`option --hyper-band: '${parsed.values['hyper-band']}' is a fraction of the best loss (e.g. 0.0025 for 0.25 %)`, 2);
    extras.hyper = { ...(hyper !== undefined ? { form: hyper as HyperForm } : {}), ...(band !== undefined ? { band } : {}) };
  }
  const a1 = parsed.values.approach1;
  if (a1 !== undefined) {
    const m = /^after(?::(.+))?$/.exec(a1);
    if (a1 === 'off') extras.approach1 = false;
    else if (a1 === 'all' || a1 === 'final') extras.approach1 = { restrict: a1 };
    else if (m) {
      const f = m[1] === undefined ? 0.8 : Number(m[1]);
      if (!(f >= 0 && f <= 1)) throw new CliError(`option --approach1: '${a1}': the fraction after 'after:' must be between 0 and 1 (e.g. after:0.8)`, 2);
      extras.approach1 = { restrict: 'after', afterFraction: f };
    } else throw new CliError(`option --approach1: '${a1}' is not one of all, final, after:<fraction>, off`, 2);
  }
  if (parsed.flags['no-presets']) extras.presets = false;
  if (Object.keys(extras).length) o.extras = extras;
  if (parsed.flags.weighted) o.weighted = true;
  if (parsed.values.convention !== undefined) {
    if (!(CONVENTIONS as readonly string[]).includes(parsed.values.convention)) throw new CliError(`option --convention: '${parsed.values.convention}' is not one of ${CONVENTIONS.join(', ')}`, 2);
    o.convention = parsed.values.convention;
  }
  return o;
}

// ---------------------------------------------------------------------------------------------
// Human-readable summary

function table(rows: string[][]): string {
  const widths = rows[0].map((_, j) => Math.max(...rows.map((r) => r[j].length)));
  return rows.map((r) => '  ' + r.map((c, j) => (j === 0 ? c.padEnd(widths[j]) : c.padStart(widths[j]))).join('  ')).join('\n') + '\n';
}

function withInterval(report: FitReport, name: string, value: number): string {
  const iv = report.bootstrap?.intervals[name];
  return iv ? `${fmt(value)} [${fmt(iv[0])}, ${fmt(iv[1])}]` : fmt(value);
}

/**
 * The table of an L(N, D) = E + A/N^α + B/D^β fit (parametric or VPNLS): estimate, bootstrap interval
 * and standard error of each parameter; an unidentified one says so in words.
 */
function lawRows(
  r: FitReport,
  method: 'parametric' | 'vpnls',
  p: Partial<Record<'E' | 'A' | 'B' | 'alpha' | 'beta' | 'a' | 'b', number>>,
  unidentified: (k: string) => boolean = () => false,
): string[][] {
  const rows = [['', 'estimate', ...(r.bootstrap ? ['interval', 'se'] : [])]];
  for (const k of ['E', 'A', 'B', 'alpha', 'beta', 'a', 'b'] as const) {
    const v = p[k];
    if (v === undefined) continue;
    const iv = r.bootstrap?.intervals[`${method}.${k}`];
    const se = r.bootstrap?.se[`${method}.${k}`];
    // an unidentified parameter's interval and SE say nothing but "any value": say that in words
    if (r.bootstrap && unidentified(k)) {
      rows.push([k, fmt(v), 'not identified', '-']);
      continue;
    }
    rows.push([k, fmt(v), ...(r.bootstrap ? [iv ? `[${fmt(iv[0])}, ${fmt(iv[1])}]` : '-', se === undefined ? '-' : se === null ? 'not finite' : fmt(se)] : [])]);
  }
  return rows;
}

export function formatReport(r: FitReport): string {
  const out: string[] = [];
  const pct = `${+(r.settings.confidence * 100).toFixed(2)}%`;
  out.push(`${r.points.length} points; methods: ${r.settings.methods.join(', ')}${r.settings.convention ? `; N and C counted as ${r.settings.convention}` : ''}`);
  if (r.bootstrap) {
    const s = r.bootstrap.succeeded;
    const parts = (['isoflop', 'parametric', 'vpnls'] as const).filter((m) => s[m] !== undefined).map((m) => `${m} ${s[m]}/${r.bootstrap!.samples}`);
    out.push(`bootstrap: ${parts.join(', ')} resamples succeeded; intervals are ${pct} percentile intervals [lo, hi]`);
  }
  if (r.isoflop) {
    const iso = r.isoflop;
    const how = (iso.optimum ? `${iso.optimum.method}${iso.optimum.window ? ` (window ±${iso.optimum.window})` : ''}` : 'parabola') + (iso.weights ? '; power laws weighted by 1/var(ln N*)' : '');
    out.push('', `IsoFLOP (approach 2): ${iso.usedGroups} of ${iso.groups.length} budgets used; per-budget optimum: ${how}`);
    const rows = [['budget C', 'points', 'N_opt', 'D_opt', 'L_opt', 'note']];
    for (const g of iso.groups) {
      rows.push([
        fmt(g.budget),
        String(g.points.length),
        g.nOpt !== undefined ? fmt(g.nOpt) : '-',
        g.dOpt !== undefined ? fmt(g.dOpt) : '-',
        g.lossOpt !== undefined ? fmt(g.lossOpt) : '-',
        g.status === 'edge' ? `not bracketed${g.used ? ' (kept)' : ''}: add ${g.extend?.direction ?? ''} sizes`.replace('  ', ' ') : g.status !== 'ok' ? g.status : '',
      ]);
    }
    out.push(table(rows).trimEnd());
    out.push(`  N_opt ∝ C^a: a = ${withInterval(r, 'isoflop.a', iso.a)}, ln k_N = ${withInterval(r, 'isoflop.logCoefficient', iso.logCoefficient)}`);
    out.push(`  D_opt ∝ C^b: b = ${withInterval(r, 'isoflop.b', iso.b)}`);
    out.push(`  L_opt ∝ C^${fmt(iso.lossOpt.exponent)}`);
  }
  if (r.frontier) {
    const f = r.frontier;
    out.push(
      `  optimal-loss frontier L*(C) = E + A·C^-γ: E = ${withInterval(r, 'frontier.E', f.E)}, A = ${withInterval(r, 'frontier.A', f.A)}, γ = ${withInterval(r, 'frontier.gamma', f.gamma)} (${f.usedGroups} budgets, rms ln-residual ${fmt(f.rmsLogResidual)})`,
    );
  }
  if (r.conventions?.length) {
    out.push('', 'IsoFLOP exponents by parameter convention (C = k·N·D in each)');
    const rows = [['convention', 'N range', 'budgets', 'a (N_opt)', 'b (D_opt)']];
    for (const c of r.conventions) {
      rows.push([`${c.convention}${c.headline ? ' (headline)' : ''}`, `${fmt(c.nRange[0])}–${fmt(c.nRange[1])}`, String(c.usedGroups), c.a !== undefined ? fmt(c.a) : '-', c.b !== undefined ? fmt(c.b) : '-']);
    }
    out.push(table(rows).trimEnd());
  }
  if (r.parametric) {
    const p = r.parametric;
    out.push('', `Parametric (approach 3): L(N, D) = E + A/N^α + B/D^β`);
    out.push(table(lawRows(r, 'parametric', p, (k) => p.identifiability?.parameters[k] === false)).trimEnd());
    if (p.identifiability) {
      out.push(`  ${p.identifiability.identified ? 'identified' : 'NOT IDENTIFIED'}: ${p.identifiability.summary}`);
      for (const why of p.identifiability.reasons) out.push(`    - ${why}`);
    }
    if (p.eCapped) out.push(`  E is held at the lowest observed loss (its upper bound)`);
    out.push(`  objective ${fmt(p.objective)} (Σ Huber); best of ${p.starts} starts${p.converged ? ', converged' : ', NOT converged'}; rms ln-residual ${fmt(p.rmsLogResidual)}`);
  }
  if (r.vpnls) {
    const p = r.vpnls;
    out.push('', `VPNLS (variable projection): L(N, D) = E + A/N^α + B/D^β, least squares on raw loss`);
    out.push(table(lawRows(r, 'vpnls', p)).trimEnd());
    out.push(`  RSS ${p.rss.toPrecision(6)}; rms residual ${fmt(p.rmsResidual)}; grid best α = ${fmt(p.grid.alpha)}, β = ${fmt(p.grid.beta)} of ${p.grid.points} points${p.converged ? ', refined, converged' : ', NOT converged'}`);
  }
  if (r.prediction) {
    const pr = r.prediction;
    out.push('', `Prediction at C = ${fmt(pr.budget)} FLOPs${pr.extrapolation > 1 ? ` (${fmt(pr.extrapolation)}× outside the fitted budgets)` : ''}`);
    const rows = [['method', 'N_opt', 'D_opt', 'D/N', 'loss']];
    for (const m of ['isoflop', 'parametric', 'vpnls'] as const) {
      const v = pr[m];
      if (!v) continue;
      const cell = (k: 'nOpt' | 'dOpt' | 'tokensPerParam' | 'loss') => {
        const iv = v.intervals?.[k];
        return iv ? `${fmt(v[k])} [${fmt(iv[0])}, ${fmt(iv[1])}]` : fmt(v[k]);
      };
      rows.push([m, cell('nOpt'), cell('dOpt'), cell('tokensPerParam'), cell('loss')]);
    }
    if (pr.frontier) {
      const iv = pr.frontier.interval;
      rows.push(['frontier L*(C)', '-', '-', '-', iv ? `${fmt(pr.frontier.loss)} [${fmt(iv[0])}, ${fmt(iv[1])}]` : fmt(pr.frontier.loss)]);
    }
    out.push(table(rows).trimEnd());
  }
  out.push(...formatExtras(r));
  if (r.table.length) {
    out.push('', 'Compute-optimal table');
    const rows = [['budget C', 'method', 'N_opt', 'D_opt', 'D/N', 'loss']];
    for (const t of r.table) rows.push([fmt(t.budget), t.method, fmt(t.nOpt), fmt(t.dOpt), fmt(t.tokensPerParam), fmt(t.loss)]);
    out.push(table(rows).trimEnd());
  }
  if (r.backtest) {
    const b = r.backtest;
    const pctOf = (v: number) => `${(v * 100).toFixed(2)} %`;
    const held = b.split.kind === 'budgets' ? `the largest ${b.split.k} budget(s)` : `every run with C ≥ ${fmt(b.split.above)}`;
    out.push('', `Backtest: fitted on ${b.train.points} runs (C ≤ ${fmt(b.train.largestC)}), predicting ${b.test.points} held-out runs (${held})`);
    if (b.parametric) {
      out.push(`  parametric loss: mean |error| ${pctOf(b.parametric.meanAbsRelError)}, worst ${pctOf(b.parametric.worstAbsRelError)}, bias ${b.parametric.bias >= 0 ? '+' : ''}${pctOf(b.parametric.bias)}`);
    }
    if (b.isoflop) {
      const rows = [['budget C', 'N_opt predicted', 'N_opt observed', 'ratio', 'L_opt error']];
      for (const g of b.isoflop.budgets) {
        rows.push([fmt(g.budget), fmt(g.predictedNOpt), g.observedNOpt !== undefined ? fmt(g.observedNOpt) : '-', g.nOptRatio !== undefined ? fmt(g.nOptRatio) : '-', g.lossOptRelError !== undefined ? pctOf(g.lossOptRelError) : '-']);
      }
      out.push(table(rows).trimEnd());
    }
    for (const w of b.warnings) out.push(`  - ${w}`);
  }
  if (r.warnings.length) {
    out.push('', 'Warnings:');
    for (const w of r.warnings) out.push(`  - ${w}`);
  }
  return out.join('\n') + '\n';
}

/** The sections of the hyperparameter laws, Approach 1 and the decision at the target. */
function formatExtras(r: FitReport): string[] {
  const out: string[] = [];
  const iv = (x?: [number, number]) => (x ? ` [${fmt(x[0])}, ${fmt(x[1])}]` : '');
  if (r.hyper && r.hyper.laws.length) {
    const h = r.hyper;
    out.push('', `Hyperparameter laws (${h.form} form; runs within ${+(h.band * 100).toFixed(4)} % of their cell's best loss; ${h.cells.length} cells)`);
    for (const l of h.laws) {
      const terms = Object.entries(l.exponents)
        .map(([v, e]) => `${v}^${fmt(e)}${iv(l.intervals?.[`exponents.${v}`])}`)
        .join(' · ');
      out.push(`  ${l.name} = ${fmt(l.coefficient)}${iv(l.intervals?.coefficient)} · ${terms}   (${l.bandRuns} runs, R² ${l.r2 !== undefined ? fmt(l.r2) : '-'})`);
      if (l.prediction) out.push(`    at C = ${fmt(l.prediction.budget)}: ${fmt(l.prediction.value)}${iv(l.prediction.interval)} (${l.prediction.basis})`);
    }
  }
  if (r.approach1) {
    const a = r.approach1;
    const which = a.restrict === 'final' ? 'final points only' : a.restrict === 'after' ? `points after ${+((a.afterFraction ?? 0) * 100).toFixed(2)} % of each run` : 'every evaluation point';
    out.push('', `Approach 1 (lower envelope of ${a.runs} training curves, ${which}; ${a.envelope.length} envelope points)`);
    out.push(`  N_opt ∝ C^${fmt(a.nOpt.exponent)}${iv(a.intervals?.['nOpt.exponent'])}, D_opt ∝ C^${fmt(a.dOpt.exponent)}${iv(a.intervals?.['dOpt.exponent'])}`);
  }
  if (r.decision && r.decision.rows.length) {
    const d = r.decision;
    out.push('', `Decision at C = ${fmt(d.budget)} FLOPs${d.reference !== 'none' ? ` (deadweight: compute wasted against the ${d.reference} optimum)` : ''}`);
    const rows = [['method', 'N*', 'D*', d.reference !== 'none' ? `loss (${d.reference})` : 'loss', 'deadweight']];
    for (const x of d.rows) rows.push([x.method, fmt(x.N) + iv(x.intervals?.N), fmt(x.D) + iv(x.intervals?.D), x.loss !== undefined ? fmt(x.loss) : '-', x.deadweight !== undefined ? `${(x.deadweight * 100).toFixed(2)} %` : '-']);
    out.push(table(rows).trimEnd());
    for (const h of d.hyper) out.push(`  ${h.name}* = ${fmt(h.value)}${iv(h.interval)} (${h.basis})`);
  }
  const target = r.settings.target;
  const published = (r.presets ?? []).map((p) => ({ p, at: p.points.find((q) => q.C === target) })).filter((x) => x.at);
  if (target !== undefined && published.length) {
    out.push('', `Published laws at C = ${fmt(target)} (for comparison; sources in fit.json → presets)`);
    for (const { p, at } of published) {
      const parts = Object.entries(at!)
        .filter(([key]) => key !== 'C')
        .map(([key, v]) => `${key} ${fmt(v)}`);
      out.push(`  ${p.name}: ${parts.join(', ')}`);
    }
  }
  return out;
}
