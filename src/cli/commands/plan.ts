/**
 * `flopsfit plan <config> [--json] [--calibrate]` — validate a sweep config and print its IsoFLOP
 * plan. `--calibrate` first times a few training steps on the config's backend
 * (src/engine/calibrate.ts, imported lazily: without the flag, plan never loads tfjs) and writes
 * `<runDir>/calibration.json`, which the plan's time estimate then uses.
 *
 * Exit codes: 0 valid (warnings allowed), 1 invalid config (located `file:line:col: error: …`
 * lines on stderr), 2 usage error.
 */
import * as path from 'node:path';
import { loadSweepConfig, formatDiagnostic, type ConfigDiagnostic } from '../../core/config';
import { buildPlan, formatPlanTable, planSemanticDiagnostics } from '../../core/plan';
import type { SweepConfig } from '../../core/config/schema';
import type { Plan } from '../../core/contracts';
import { sweepFilenamePatterns } from '../../core/sweepFiles';
import { CliError, countParamsWithProgress, numberOption, parseArgs } from '../util';
import * as fs from 'node:fs';
import { writeFileAtomicSync } from '../../core/atomic';
import { applyConfigChanges, completedIds, describeChange, describeEdgeBudget, proposeExtension, readFitReportFile, splitByCompleted } from '../../core/plan/extend';

export const summary = 'validate a sweep config and print its IsoFLOP plan';

const HELP = `Usage: flopsfit plan <config> [options]

Validates a sweep config (${sweepFilenamePatterns().join(' / ')}) and prints its IsoFLOP plan.

Options:
  --json                 print the plan as JSON (the contracts Plan: experiments, budgets,
                         totalFlops, estimatedSeconds, warnings, …)
  --workspace <dir>      folder relative paths resolve against (default: the nearest folder
                         above the config holding .vscode or .git, else the config's folder)
  --max-rows <n>         experiments listed in the table (default: all)
  --no-count             do not run a command model's countParams (plans nothing for it)
  --throughput <flops/s> executed FLOPs per second of one experiment, for the time estimate
  --calibrate            first time a few training steps of the plan's smallest and largest
                         models on the config's backend (about 20 s), write
                         <runDir>/calibration.json, and estimate from it (built-in transformer;
                         a command trainer's speed comes from its finished runs)
  --calibrate-seconds <s> time box of --calibrate, at least 3 (default 20)
  --extend <fit.json>    the follow-up to this sweep when its fit found budgets whose lowest loss
                         is at the smallest or largest size (not bracketed): the wider size range
                         and re-centred prior, the experiments to add (completed ones are kept)
  --write                with --extend: apply those changes to the config file
  -h, --help             this help

Exit code 0 when the config is valid (warnings allowed), 1 when it is not.`;

export async function run(args: string[]): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  const parsed = parseArgs(args, { flags: ['json', 'no-count', 'calibrate', 'write'], values: ['workspace', 'max-rows', 'throughput', 'calibrate-seconds', 'extend'] });
  if (parsed.positionals.length !== 1) throw new CliError(`expected one config file\n\n${HELP}`, 2);
  const shown = parsed.positionals[0];
  const file = path.resolve(shown);
  const maxRows = numberOption(parsed, 'max-rows', { integer: true, min: 0 });
  const throughput = numberOption(parsed, 'throughput', { min: 0 });
  const calibrateSeconds = numberOption(parsed, 'calibrate-seconds', { min: 3 });
  if (calibrateSeconds !== undefined && !parsed.flags.calibrate) throw new CliError('--calibrate-seconds needs --calibrate', 2);
  const workspaceRoot = parsed.values.workspace ? path.resolve(parsed.values.workspace) : undefined;

  const loaded = loadSweepConfig(file);
  const report = (ds: ConfigDiagnostic[]) => {
    for (const d of ds) process.stderr.write(formatDiagnostic(shown, d) + '\n');
  };
  if (!loaded.config) {
    report(loaded.diagnostics);
    const errors = loaded.diagnostics.filter((d) => d.severity === 'error').length;
    process.stderr.write(`flopsfit: ${shown}: invalid sweep config (${errors} error${errors === 1 ? '' : 's'})\n`);
    return 1;
  }
  const config = loaded.config;
  const counted = parsed.flags['no-count'] ? undefined : await countParamsWithProgress(config, file);
  const planOptions = {
    configPath: file,
    workspaceRoot,
    countParams: counted?.counter,
    commandStartupSeconds: counted?.startupSeconds,
    throughput: throughput ? { flopsPerSecond: throughput, source: `--throughput ${throughput}` } : undefined,
  };
  if (parsed.values.extend !== undefined) return extend(file, shown, config, planOptions, path.resolve(parsed.values.extend), parsed.flags.write === true, maxRows);
  if (parsed.flags.write) throw new CliError('--write needs --extend <fit.json>', 2);
  let plan = buildPlan(config, planOptions);
  let calibrationFailed = false;
  if (parsed.flags.calibrate) {
    const calibrated = await runCalibration(config, plan, calibrateSeconds);
    calibrationFailed = calibrated === false;
    if (calibrated) {
      plan = buildPlan(config, planOptions);
      if (throughput) note('--throughput takes precedence over the calibration for this estimate');
      else if (!plan.throughputSource.startsWith('calibrated')) note(`the finished runs in ${plan.runDir} give the estimate (they outrank the calibration)`);
    }
  }
  const semantic = planSemanticDiagnostics(plan, loaded.source ?? (loaded.text !== undefined ? { text: loaded.text, fileName: file } : undefined));
  report([...loaded.diagnostics, ...semantic]);
  if (parsed.flags.json) process.stdout.write(JSON.stringify(plan, null, 2) + '\n');
  else process.stdout.write(formatPlanTable(plan, { maxRows, warnings: false }));
  if (semantic.some((d) => d.severity === 'error') || calibrationFailed) return 1;
  return 0;
}

function note(line: string): void {
  process.stderr.write(`flopsfit: ${line}\n`);
}

/**
 * Runs `--calibrate`: true when calibration.json was written, undefined when there is nothing to
 * calibrate (said on stderr), false when the calibration failed (said on stderr).
 */
async function runCalibration(config: SweepConfig, plan: Plan, timeBoxSeconds: number | undefined): Promise<boolean | undefined> {
  if (config.model.family !== 'transformer') {
    note(
      `--calibrate: a command trainer cannot be calibrated by flopsfit; its throughput comes from the runs already finished in ${plan.runDir} (until one finishes, the estimate is a wide built-in guess)`,
    );
    return undefined;
  }
  if (!plan.experiments.length) {
    note('--calibrate: the plan has no experiments, nothing to calibrate');
    return undefined;
  }
  note(`calibrating on ${config.training.backend} (at most ${timeBoxSeconds ?? 20} s)…`);
  try {
    const { calibrate } = await import('../../engine/calibrate');
    const { calibration, file } = await calibrate(plan.experiments, plan.runDir, {
      backend: config.training.backend,
      timeBoxSeconds,
      log: (line) => process.stderr.write(`  ${line}\n`),
    });
    note(
      `calibrated ${calibration.backend} (${calibration.device}): ${(calibration.flopsPerSecond / 1e9).toPrecision(3)} GFLOP/s per process, ` +
        `${(calibration.stepOverheadSeconds * 1000).toFixed(1)} ms per step, in ${(calibration.elapsedSeconds ?? 0).toFixed(1)} s → ${file}`,
    );
    return true;
  } catch (err) {
    note(`calibration failed: ${err instanceof Error ? err.message : String(err)}`);
    return false;
  }
}

/** `--extend <fit.json>`: the follow-up sweep for budgets whose optimum was not bracketed. */
function extend(file: string, shown: string, config: SweepConfig, planOptions: Parameters<typeof buildPlan>[1], fitFile: string, write: boolean, maxRows: number | undefined): number {
  const fit = readFitReportFile(fitFile);
  if (!fit.report) throw new CliError(`--extend: ${fit.error}`, 1);
  const proposal = proposeExtension(fit.report, config);
  const out: string[] = proposal.budgets.map(describeEdgeBudget);
  for (const n of proposal.notes) out.push(n);
  if (proposal.changes.length === 0) {
    if (proposal.budgets.length > 0 && proposal.notes.length === 0) out.push(`${shown} already reaches these sizes: run it, then fit again`);
    process.stdout.write(out.join('\n') + '\n');
    return 0;
  }
  out.push('', `changes to ${shown}:`);
  for (const c of proposal.changes) out.push(`  ${describeChange(c)}`);
  const plan = buildPlan(proposal.config, planOptions);
  const { kept, toRun } = splitByCompleted(plan, completedIds(plan.runDir));
  out.push('', `the extended plan: ${plan.experiments.length} experiments; ${kept.length} already completed (kept), ${toRun.length} to run; completed runs outside the new grid stay in results.jsonl and in the fit`);
  for (const w of plan.warnings) out.push(`warning: ${w.message}`);
  process.stdout.write(out.join('\n') + '\n\n' + formatPlanTable({ ...plan, experiments: toRun }, { maxRows, warnings: false }));
  if (write) {
    writeFileAtomicSync(file, applyConfigChanges(fs.readFileSync(file, 'utf8'), file, proposal.changes));
    process.stdout.write(`\nwrote ${shown}; run \`flopsfit run ${shown}\` to train the ${toRun.length} new experiment(s)\n`);
  } else {
    process.stdout.write(`\napply with --write (or edit ${shown}), then \`flopsfit run ${shown}\`\n`);
  }
  return 0;
}
