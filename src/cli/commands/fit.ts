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
import { FIT_METHODS, FitInputError, readPointsFile, serializeFitReport, type FitMethod, type FitOptions, type FitReport } from '../../core/fit';
import { fmt } from '../../core/fit/fit';
import { addExtras, readHyperRunsFile, type ExtraOptions } from '../../core/fit/extras';
import { HYPER_FORMS, type HyperForm } from '../../core/fit/extraTypes';
import { writeFitReport } from '../../core/fit/io';
import { fitOptionsFromConfig } from '../../core/fit/configOptions';
import { OPTIMUM_METHODS, type OptimumMethod } from '../../core/fit/isoflop';
import { MAX_DEFAULT_FIT_WORKERS, defaultFitWorkers, fitRunDirAsync, fitScalingLawsAsync } from '../../core/fit/parallel';
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

Input files: columns N (params), D (tokens) or C (FLOPs; C = 6·N·D when absent), loss; optional
budget (IsoFLOP group), id, and exclude/epoch_excluded (rows marked 1 are left out).

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
  --keep-edges           also use budgets whose lowest loss is at the smallest or largest size
                         (not bracketed; left out by default) in the IsoFLOP power laws
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
    flags: ['json', 'keep-edges', 'no-presets'],
    values: ['input', 'run-dir', 'method', 'hyper', 'hyper-band', 'approach1', 'bootstrap', 'confidence', 'seed', 'target', 'table', 'k', 'tolerance', 'out', 'workspace', 'workers', 'optimum', 'window'],
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

  let report: FitReport;
  try {
    if (runDir !== undefined) {
      report = await fitRunDirAsync(runDir, options, par);
    } else {
      const loaded = readPointsFile(path.resolve(parsed.values.input!), options.flopsPerParamPerToken ?? 6);
      report = await fitScalingLawsAsync(loaded.points, options, par);
      report.warnings.unshift(...loaded.warnings);
      addExtras(report, { hyperRuns: readHyperRunsFile(path.resolve(parsed.values.input!), options.flopsPerParamPerToken ?? 6) }, options.extras);
    }
  } catch (err) {
    if (err instanceof FitInputError) throw new CliError(err.message, 1);
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

export function formatReport(r: FitReport): string {
  const out: string[] = [];
  const pct = `${+(r.settings.confidence * 100).toFixed(2)}%`;
  out.push(`${r.points.length} points; methods: ${r.settings.methods.join(', ')}`);
  if (r.bootstrap) {
    const s = r.bootstrap.succeeded;
    const parts = (['isoflop', 'parametric', 'vpnls'] as const).filter((m) => s[m] !== undefined).map((m) => `${m} ${s[m]}/${r.bootstrap!.samples}`);
    out.push(`bootstrap: ${parts.join(', ')} resamples succeeded; intervals are ${pct} percentile intervals [lo, hi]`);
  }
  if (r.isoflop) {
    const iso = r.isoflop;
    const how = iso.optimum ? `${iso.optimum.method}${iso.optimum.window ? ` (window ±${iso.optimum.window})` : ''}` : 'parabola';
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
  if (r.parametric) {
    const p = r.parametric;
    out.push('', `Parametric (approach 3): L(N, D) = E + A/N^α + B/D^β`);
    const rows = [['', 'estimate', ...(r.bootstrap ? ['interval', 'se'] : [])]];
    for (const [k, v] of [
      ['E', p.E],
      ['A', p.A],
      ['B', p.B],
      ['alpha', p.alpha],
      ['beta', p.beta],
      ['a', p.a],
      ['b', p.b],
    ] as const) {
      if (v === undefined) continue;
      const name = `parametric.${k}`;
      const iv = r.bootstrap?.intervals[name];
      const se = r.bootstrap?.se[name];
      rows.push([k, fmt(v), ...(r.bootstrap ? [iv ? `[${fmt(iv[0])}, ${fmt(iv[1])}]` : '-', se === undefined ? '-' : se === null ? 'not finite' : fmt(se)] : [])]);
    }
    out.push(table(rows).trimEnd());
    out.push(`  objective ${fmt(p.objective)} (Σ Huber); best of ${p.starts} starts${p.converged ? ', converged' : ', NOT converged'}; rms ln-residual ${fmt(p.rmsLogResidual)}`);
  }
  if (r.vpnls) {
    const p = r.vpnls;
    out.push('', `VPNLS (variable projection): L(N, D) = E + A/N^α + B/D^β, least squares on raw loss`);
    const rows = [['', 'estimate', ...(r.bootstrap ? ['interval', 'se'] : [])]];
    for (const [k, v] of [
      ['E', p.E],
      ['A', p.A],
      ['B', p.B],
      ['alpha', p.alpha],
      ['beta', p.beta],
      ['a', p.a],
      ['b', p.b],
    ] as const) {
      if (v === undefined) continue;
      const name = `vpnls.${k}`;
      const iv = r.bootstrap?.intervals[name];
      const se = r.bootstrap?.se[name];
      rows.push([k, fmt(v), ...(r.bootstrap ? [iv ? `[${fmt(iv[0])}, ${fmt(iv[1])}]` : '-', se === undefined ? '-' : se === null ? 'not finite' : fmt(se)] : [])]);
    }
    out.push(table(rows).trimEnd());
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
    out.push(table(rows).trimEnd());
  }
  out.push(...formatExtras(r));
  if (r.table.length) {
    out.push('', 'Compute-optimal table');
    const rows = [['budget C', 'method', 'N_opt', 'D_opt', 'D/N', 'loss']];
    for (const t of r.table) rows.push([fmt(t.budget), t.method, fmt(t.nOpt), fmt(t.dOpt), fmt(t.tokensPerParam), fmt(t.loss)]);
    out.push(table(rows).trimEnd());
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
