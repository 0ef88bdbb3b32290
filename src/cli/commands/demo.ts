/**
 * `flopsfit demo`: plans, trains and fits the built-in demo sweep (src/core/demo.ts) on the
 * synthetic source, on the CPU, then compares the fitted irreducible loss E with the source's
 * exact entropy rate. Writes everything to ./.flopsfit/demo/ (or --out); a second run resumes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomicSync } from '../../core/atomic';
import { RUN_FILES } from '../../core/contracts';
import { syntheticEntropyRate } from '../../core/data/synthetic';
import { DEMO_CONFIG_FILE, DEMO_CONFIG_TEXT, DEMO_E_TOLERANCE } from '../../core/demo';
import { FitReport } from '../../core/fit';
import { readJsonFile } from '../../core/manifest';
import { formatDuration } from '../../core/format';
import { CliError, numberOption, parseArgs } from '../util';
import { executeSweep, prepareSweep } from './run';

export const summary = 'plan, train and fit the built-in demo sweep';

const HELP = `Usage: flopsfit demo [--out <dir>] [--parallel <n>] [--fresh]

Plans, trains and fits the built-in demo sweep: a tiny transformer on the synthetic Markov source
(whose entropy rate, the loss floor, is known exactly), three compute budgets with five sizes each,
on the CPU (wasm, one process per core). Then prints the fitted exponents and compares the fitted
irreducible loss E with the source's entropy rate (the demo passes within ${DEMO_E_TOLERANCE * 100}%).

Options:
  --out <dir>       run directory (default: ./.flopsfit/demo)
  --parallel <n>    experiments at once (default: one per CPU core)
  --fresh           discard an earlier demo run in <dir> and start over (default: resume it)

Exit status: 0 done and E within ${DEMO_E_TOLERANCE * 100}%; 1 an experiment failed or E is off; 130 stopped.`;

export async function run(args: string[]): Promise<number> {
  const parsed = parseArgs(args, { values: ['out', 'parallel'], flags: ['fresh', 'help'] });
  if (parsed.flags.help) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  if (parsed.positionals.length) throw new CliError(`demo takes no arguments\n\n${HELP}`, 2);
  process.stdout.on('error', () => {});
  const parallel = numberOption(parsed, 'parallel', { integer: true, min: 1 });
  const outDir = path.resolve(parsed.values.out ?? path.join('.flopsfit', 'demo'));
  const configFile = path.join(outDir, DEMO_CONFIG_FILE);

  if (parsed.flags.fresh && fs.existsSync(outDir)) {
    const isDemo = !fs.existsSync(path.join(outDir, RUN_FILES.manifest)) || fs.existsSync(configFile);
    if (!isDemo) throw new CliError(`--fresh: ${outDir} holds a run that is not the demo's; not deleting it`, 2);
    for (const f of [RUN_FILES.manifest, RUN_FILES.results, RUN_FILES.fit, RUN_FILES.plan, RUN_FILES.experimentsDir]) {
      fs.rmSync(path.join(outDir, f), { recursive: true, force: true });
    }
  }
  let current: string | undefined;
  try {
    current = fs.readFileSync(configFile, 'utf8');
  } catch {
    current = undefined;
  }
  if (current !== DEMO_CONFIG_TEXT) writeFileAtomicSync(configFile, DEMO_CONFIG_TEXT);

  const t0 = Date.now();
  const prep = await prepareSweep(configFile, { workspace: process.cwd(), out: outDir });
  const data = prep.config.data;
  if (data.source !== 'synthetic') throw new CliError('the demo config must use the synthetic source', 70);
  const entropy = syntheticEntropyRate({ vocabSize: data.vocabSize, branching: data.branching, seed: data.seed });
  process.stdout.write(
    `flopsfit demo: ${prep.plan.experiments.length} experiments, ${prep.plan.budgets.length} budgets, synthetic source (vocabulary ${data.vocabSize}, branching ${data.branching}) ` +
      `with entropy rate ${entropy.toFixed(4)} nats/token (the loss floor E the fit should find)\n`,
  );
  const outcome = await executeSweep(prep, { parallel });
  const elapsed = (Date.now() - t0) / 1000;
  if (outcome.exitCode !== 0) return outcome.exitCode;

  const fit = readJsonFile(path.join(outDir, RUN_FILES.fit), FitReport);
  const say = (l: string) => process.stdout.write(l + '\n');
  say('');
  say(`flopsfit demo: finished in ${formatDuration(elapsed)}`);
  say(`  config   ${configFile}`);
  say(`  results  ${path.join(outDir, RUN_FILES.results)}`);
  say(`  fit      ${path.join(outDir, RUN_FILES.fit)}`);
  if (!fit.ok) {
    say(`flopsfit demo: no fit to check (${fit.error})`);
    return 1;
  }
  const p = fit.value.parametric;
  if (!p) {
    say('flopsfit demo: the parametric fit did not produce E');
    return 1;
  }
  const rel = (p.E - entropy) / entropy;
  const iv = fit.value.bootstrap?.intervals['parametric.E'];
  const ok = Math.abs(rel) <= DEMO_E_TOLERANCE;
  say(
    `  irreducible loss: fitted E = ${p.E.toFixed(4)}${iv ? ` [${iv[0].toFixed(3)}, ${iv[1].toFixed(3)}]` : ''} vs the source's entropy rate ${entropy.toFixed(4)} nats/token ` +
      `(${rel >= 0 ? '+' : ''}${(rel * 100).toFixed(1)}%: ${ok ? `within ${DEMO_E_TOLERANCE * 100}%` : `OFF by more than ${DEMO_E_TOLERANCE * 100}%`})`,
  );
  return ok ? 0 : 1;
}
