/**
 * Every sweep FlopsFit ships must bracket its own optimum: `npm run check:examples` trains the
 * built-in demo, the New Sweep template (synthetic data) and every runnable example in examples/
 * with their own default budgets, exactly as a user would (`flopsfit run <config>`), then reads the
 * fit.json the runner wrote (through the shared schema) and checks that at every budget the lowest
 * loss is at an inner size (IsoFLOP group status "ok"). A budget whose lowest loss is at the
 * smallest or largest size tried fails the check, with the sizes the fit suggests adding.
 *
 *   npm run check:examples                    all of them (about 15 minutes on a 2-core CPU)
 *   npm run check:examples -- --only demo     one (repeatable): demo, template, tiny, …
 *
 * examples/byo-trainer is not run: its training loop is the user's to write (it only counts
 * parameters). The PyTorch example needs python3 with torch; without it that example is reported
 * as not run, and the check fails when FLOPSFIT_REQUIRE_TORCH=1 (as in CI).
 * Exit status: 0 all checked sweeps bracket every budget; 1 otherwise.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DEMO_CONFIG_FILE, DEMO_CONFIG_TEXT } from '../src/core/demo';
import { parseFitReport } from '../src/core/fit/types';
import { sweepTemplate } from '../src/extension/newSweep/sweepTemplate';

const repo = path.resolve(__dirname, '..');
const cli = path.join(repo, 'dist', 'flopsfit.js');

interface Sweep {
  name: string;
  /** the config file to run (written to a temporary folder for the built-in texts) */
  config: () => string;
  needsTorch?: boolean;
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'flopsfit-examples-'));
function written(file: string, text: string): string {
  const p = path.join(tmp, 'configs', file);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, text);
  return p;
}

const SWEEPS: Sweep[] = [
  { name: 'demo', config: () => written(DEMO_CONFIG_FILE, DEMO_CONFIG_TEXT) },
  { name: 'template', config: () => written('new-sweep.sweep.yaml', sweepTemplate({ name: 'new-sweep', data: { source: 'synthetic' } })) },
  { name: 'tiny', config: () => path.join(repo, 'examples', 'tiny.sweep.yaml') },
  { name: 'chinchilla-cpu', config: () => path.join(repo, 'examples', 'chinchilla-cpu.sweep.yaml') },
  { name: 'lr-grid', config: () => path.join(repo, 'examples', 'lr-grid.sweep.json') },
  { name: 'pytorch', config: () => path.join(repo, 'examples', 'pytorch', 'pytorch.sweep.yaml'), needsTorch: true },
];

/**
 * The PATH under which `python3` imports torch: the current one, else with the first folder on it
 * (or /usr/bin, Debian's python3-torch) whose python3 does put first; undefined when none does.
 */
function torchPath(): string | undefined {
  const current = process.env.PATH ?? '';
  const dirs = [...new Set([...current.split(path.delimiter).filter(Boolean), '/usr/bin'])];
  for (const dir of ['', ...dirs]) {
    const python = dir ? path.join(dir, 'python3') : 'python3';
    if (dir && !fs.existsSync(python)) continue;
    if (spawnSync(python, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0) return dir ? `${dir}${path.delimiter}${current}` : current;
  }
  return undefined;
}

function run(config: string, out: string, pathVar: string | undefined): Promise<{ code: number; log: string }> {
  return new Promise((resolve) => {
    const env = pathVar === undefined ? process.env : { ...process.env, PATH: pathVar };
    const child = spawn(process.execPath, [cli, 'run', config, '--out', out, '--progress', '60'], { cwd: repo, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    child.stdout.on('data', (d: Buffer) => (log += d.toString()));
    child.stderr.on('data', (d: Buffer) => (log += d.toString()));
    child.on('close', (code) => resolve({ code: code ?? 1, log }));
  });
}

function fmtN(n: number): string {
  return n >= 1e3 ? `${+(n / 1e3).toPrecision(3)}k` : String(Math.round(n));
}

/** One line per budget; failures listed. */
function judge(fitFile: string): { lines: string[]; failures: string[] } {
  const parsed = parseFitReport(JSON.parse(fs.readFileSync(fitFile, 'utf8')));
  if (!parsed.success) return { lines: [], failures: [`fit.json does not match the fit-report schema: ${parsed.error.issues[0]?.message}`] };
  const fit = parsed.data;
  const groups = fit.isoflop?.groups ?? fit.isoflopSkipped?.groups ?? [];
  const lines: string[] = [];
  const failures: string[] = [];
  if (groups.length === 0) failures.push('the fit has no IsoFLOP budgets');
  for (const g of groups) {
    // the lowest loss over the runs at each size (a sweep with hyperparameter axes or seeds has several)
    const best = new Map<number, number>();
    for (const p of g.points) best.set(p.N, Math.min(best.get(p.N) ?? Infinity, p.loss));
    const sizes = [...best.keys()].sort((a, b) => a - b);
    const lowest = Math.min(...best.values());
    const curve = sizes.map((n) => `${fmtN(n)} ${best.get(n)!.toFixed(4)}${best.get(n) === lowest ? '*' : ''}`).join('  ');
    lines.push(`    C=${g.budget.toExponential(1)}  ${g.status.padEnd(5)} ${curve}`);
    if (g.status !== 'ok') {
      const extend = g.status === 'edge' && g.extend ? `: add ${g.extend.direction} models (N ≈ ${g.extend.sizes.map(fmtN).join(', ')})` : '';
      failures.push(`budget ${g.budget.toExponential(1)} does not bracket its optimum (${g.status})${extend}`);
    }
  }
  // a sweep with hyperparameter axes must bracket each axis' best value too
  for (const law of fit.hyper?.laws ?? []) {
    lines.push(`    ${law.name}: best value inside the values tried in ${law.cells - (law.edgeCells ?? 0)} of ${law.cells} cells`);
    if (!law.edgeCells) continue;
    const edges = (fit.hyper?.cells ?? []).flatMap((cell) => {
      const tried = [...new Set(fit.hyper!.runs.filter((r) => r.cell === cell.index).map((r) => r.values[law.name]))].sort((a, b) => a - b);
      const best = cell.best[law.name];
      return tried.length >= 2 && (best === tried[0] || best === tried[tried.length - 1]) ? [`C=${cell.budget.toExponential(1)} N=${fmtN(cell.N)} best ${best} of ${tried.join(', ')}`] : [];
    });
    failures.push(`${law.name}: in ${law.edgeCells} of ${law.cells} cells the best value is at the edge of the values tried (${edges.join('; ')})`);
  }
  if (fit.isoflop) lines.push(`    N_opt ∝ C^${fit.isoflop.a.toFixed(3)} from ${fit.isoflop.usedGroups} budgets`);
  return { lines, failures };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const only = args.flatMap((a, i) => (args[i - 1] === '--only' ? [a] : []));
  const unknown = only.filter((o) => !SWEEPS.some((s) => s.name === o));
  if (unknown.length) {
    process.stderr.write(`check:examples: unknown sweep ${unknown.join(', ')} (one of ${SWEEPS.map((s) => s.name).join(', ')})\n`);
    process.exit(2);
  }
  if (!fs.existsSync(cli)) {
    process.stderr.write('check:examples: dist/flopsfit.js is missing: run `npm run build` first\n');
    process.exit(2);
  }
  const torch = torchPath();
  let failed = 0;
  process.stdout.write('byo-trainer  not run: its training loop is yours to write (examples/byo-trainer/train.py only counts parameters)\n');
  for (const s of SWEEPS.filter((x) => only.length === 0 || only.includes(x.name))) {
    if (s.needsTorch && torch === undefined) {
      const required = process.env.FLOPSFIT_REQUIRE_TORCH === '1';
      if (required) failed++;
      process.stdout.write(`${s.name.padEnd(14)} ${required ? 'FAIL' : 'not run'}: python3 has no PyTorch (on Debian: apt install python3-torch)\n`);
      continue;
    }
    const out = path.join(tmp, 'runs', s.name);
    const t0 = Date.now();
    const { code, log } = await run(s.config(), out, s.needsTorch ? torch : undefined);
    const seconds = Math.round((Date.now() - t0) / 1000);
    const fitFile = path.join(out, 'fit.json');
    if (code !== 0 || !fs.existsSync(fitFile)) {
      failed++;
      process.stdout.write(`FAIL  ${s.name}: flopsfit run exited ${code}${fs.existsSync(fitFile) ? '' : ' without a fit.json'} (${seconds} s)\n${log.split('\n').slice(-15).join('\n')}\n`);
      continue;
    }
    const { lines, failures } = judge(fitFile);
    if (failures.length) failed++;
    process.stdout.write(`${failures.length ? 'FAIL' : 'PASS'}  ${s.name}: ${failures.length ? failures.join('; ') : 'every budget brackets its optimum'} (${seconds} s)\n${lines.join('\n')}\n`);
  }
  if (failed) process.stdout.write(`check:examples: ${failed} sweep(s) failed; their run directories are kept in ${path.join(tmp, 'runs')}\n`);
  else {
    fs.rmSync(tmp, { recursive: true, force: true });
    process.stdout.write('check:examples: every sweep brackets its optimum\n');
  }
  process.exit(failed ? 1 : 0);
}

void main();
