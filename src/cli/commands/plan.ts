/**
 * `flopsfit plan <config> [--json]` — validate a sweep config and print its IsoFLOP plan.
 *
 * Exit codes: 0 valid (warnings allowed), 1 invalid config (located `file:line:col: error: …`
 * lines on stderr), 2 usage error.
 */
import * as path from 'node:path';
import { loadSweepConfig, formatDiagnostic, type ConfigDiagnostic } from '../../core/config';
import { buildPlan, createCommandParamCounter, formatPlanTable, planSemanticDiagnostics, resolveConfigPath } from '../../core/plan';
import { CliError, numberOption, parseArgs } from '../util';

export const summary = 'validate a sweep config and print its IsoFLOP plan';

const HELP = `Usage: flopsfit plan <config> [options]

Validates a sweep config (*.sweep.yaml / *.sweep.json) and prints its IsoFLOP plan.

Options:
  --json                 print the plan as JSON (the contracts Plan: experiments, budgets,
                         totalFlops, estimatedSeconds, warnings, …)
  --workspace <dir>      folder relative paths resolve against (default: the nearest folder
                         above the config holding .vscode or .git, else the config's folder)
  --max-rows <n>         experiments listed in the table (default: all)
  --no-count             do not run a command model's countParams (plans nothing for it)
  --throughput <flops/s> plan FLOPs per second of one experiment, for the time estimate
  -h, --help             this help

Exit code 0 when the config is valid (warnings allowed), 1 when it is not.`;

export async function run(args: string[]): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  const parsed = parseArgs(args, { flags: ['json', 'no-count'], values: ['workspace', 'max-rows', 'throughput'] });
  if (parsed.positionals.length !== 1) throw new CliError(`expected one config file\n\n${HELP}`, 2);
  const shown = parsed.positionals[0];
  const file = path.resolve(shown);
  const maxRows = numberOption(parsed, 'max-rows', { integer: true, min: 0 });
  const throughput = numberOption(parsed, 'throughput', { min: 0 });
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
  const countParams =
    config.model.family === 'command' && !parsed.flags['no-count']
      ? createCommandParamCounter(config.model, resolveConfigPath(config.model.cwd ?? '.', file, workspaceRoot))
      : undefined;
  const plan = buildPlan(config, {
    configPath: file,
    workspaceRoot,
    countParams,
    throughput: throughput ? { flopsPerSecond: throughput, source: `--throughput ${throughput}` } : undefined,
  });
  const semantic = planSemanticDiagnostics(plan, loaded.source ?? (loaded.text !== undefined ? { text: loaded.text, fileName: file } : undefined));
  report([...loaded.diagnostics, ...semantic]);
  if (parsed.flags.json) process.stdout.write(JSON.stringify(plan, null, 2) + '\n');
  else process.stdout.write(formatPlanTable(plan, { maxRows, warnings: false }));
  if (semantic.some((d) => d.severity === 'error')) return 1;
  return 0;
}
