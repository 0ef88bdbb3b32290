/**
 * `npm run bench:validate`: how long the editor's validation of a 200-line sweep config takes —
 * the full pipeline it runs on every (debounced) edit: syntax → schema → plan → semantic
 * diagnostics (src/core/plan/validate.ts). Goal: under 20 ms per validation.
 *
 * Printed against a reference measured in the same run on the same text: a bare parse of it
 * (`yaml`'s parseDocument for YAML, JSON.parse for JSON), so the ratio says how much the
 * validation costs over merely reading the file, whatever the machine's speed or load.
 *
 * Times are CPU time of this process per call (process.cpuUsage), measured in alternating batches
 * with the reference, so that other processes on a shared machine do not inflate them; wall time
 * is printed beside it. Options: --iterations <n> (default 300), --json (one JSON line).
 */
import * as os from 'node:os';
import * as path from 'node:path';
import * as YAML from 'yaml';
import * as jsonc from 'jsonc-parser';
import { validateSweepText } from '../src/core/plan/validate';

const GOAL_MS = 20;

/** A realistic, fully written-out 200-line YAML config. */
export function config200(): string {
  const lines: string[] = [
    '# Benchmark sweep: every section written out, with comments, as a user would.',
    'name: bench-200',
    'description: >-',
    '  A 200-line config used by bench/validate.ts to time the editor validation.',
    '',
    'model:',
    '  family: transformer',
    '  nLayers: 2',
    '  nHeads: 4',
    '  contextLength: 128',
    '  mlpRatio: 4',
    '  tiedEmbeddings: false',
    '  size:',
    '    param: dModel',
    '    min: 16',
    '    max: 512',
    '    multiple: 8',
    '    probes: 64',
    '',
    'data:',
    '  source: synthetic',
    '  vocabSize: 128',
    '  branching: 8',
    '  seed: 0',
    '',
    '# twelve budgets, one per line',
    'budgets:',
  ];
  for (let i = 0; i < 12; i++) lines.push(`  - ${Number((1e12 * Math.pow(10, i / 6)).toPrecision(3))}   # budget ${i + 1}`);
  lines.push(
    '',
    'planning:',
    '  sizesPerBudget: 5',
    '  flopsPerParamPerToken: 6',
    '  countEmbeddingParams: false',
    '  priorTokensPerParam: 20',
    '  sizeSpread: 10',
    '  minSteps: 10',
    '  tokensPerParam:',
    '    min: 1',
    '    max: 1000',
    '',
    'sweep:',
    '  seeds: 2',
    '  hyperparameters:',
    '    learningRate:',
    '      - 0.001',
    '      - 0.002',
    '    warmupFraction:',
    '      - 0.02',
    '      - 0.05',
    '',
    'training:',
    '  batchSize: 16',
    '  learningRate: 0.001',
    '  schedule: cosine',
    '  warmupFraction: 0.05',
    '  minLrRatio: 0.1',
    '  weightDecay: 0.1',
    '  beta1: 0.9',
    '  beta2: 0.95',
    '  gradClip: 1',
    '  evalTokens: 16384',
    '  evalInterval: 100',
    '  checkpointInterval: 200',
    '  backend: auto',
    '  allowRepeat: false',
    '',
    'fit:',
    '  methods: [isoflop, parametric]',
    '  bootstrap: 200',
    '  confidence: 0.9',
    '  seed: 0',
    '  target: 1e16',
    '  tableBudgets:',
  );
  for (let i = 0; i < 8; i++) lines.push(`    - ${Number((1e14 * Math.pow(10, i / 2)).toPrecision(3))}`);
  lines.push('', 'run:', '  parallel: 2', '');
  // notes, as people leave them, up to 200 lines
  let n = 0;
  while (lines.length < 200) lines.push(`# note ${++n}: lr 1e-3 was best at the 3e12 budget in the previous sweep (run ${n})`);
  return lines.slice(0, 200).join('\n') + '\n';
}

/** The same config as JSON with comments (200 lines or so). */
export function config200Json(): string {
  const value = YAML.parse(config200());
  return '// benchmark config\n' + JSON.stringify(value, null, 2) + '\n';
}

interface Timing {
  /** wall-clock ms per call, median over batches */
  wall: number;
  /** CPU ms (user + system) of this process per call, median over batches: unaffected by other
   * processes competing for the cores, so comparable on a busy machine */
  cpu: number;
  /** 95th percentile of the per-batch CPU ms */
  cpuP95: number;
}

/**
 * Times `a` and `b` in alternating batches (so that load changes hit both alike), `batches` ×
 * `perBatch` calls each.
 */
function timePair(a: () => void, b: () => void, batches: number, perBatch: number): [Timing, Timing] {
  const samples: { wall: number; cpu: number }[][] = [[], []];
  const fns = [a, b];
  for (let i = 0; i < batches; i++) {
    for (let j = 0; j < 2; j++) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      for (let k = 0; k < perBatch; k++) fns[j]();
      const wall = (performance.now() - t0) / perBatch;
      const c = process.cpuUsage(c0);
      samples[j].push({ wall, cpu: (c.user + c.system) / 1000 / perBatch });
    }
  }
  const summarise = (s: { wall: number; cpu: number }[]): Timing => {
    const walls = s.map((x) => x.wall).sort((x, y) => x - y);
    const cpus = s.map((x) => x.cpu).sort((x, y) => x - y);
    return { wall: walls[Math.floor(walls.length / 2)], cpu: cpus[Math.floor(cpus.length / 2)], cpuP95: cpus[Math.floor(cpus.length * 0.95)] };
  };
  return [summarise(samples[0]), summarise(samples[1])];
}

function main(): void {
  const args = process.argv.slice(2);
  const iterations = Number(args[args.indexOf('--iterations') + 1]) > 0 && args.includes('--iterations') ? Number(args[args.indexOf('--iterations') + 1]) : 300;
  const asJson = args.includes('--json');
  const dir = path.join(os.tmpdir(), 'flopsfit-bench-validate');
  const cases = [
    { name: 'yaml', file: path.join(dir, 'bench.sweep.yaml'), text: config200(), reference: (t: string) => YAML.parseDocument(t), refName: 'yaml.parseDocument' },
    { name: 'json', file: path.join(dir, 'bench.sweep.json'), text: config200Json(), reference: (t: string) => jsonc.parse(t), refName: 'jsonc-parser parse' },
  ];
  const results = [];
  for (const c of cases) {
    const coldStart = performance.now();
    const first = validateSweepText(c.text, c.file, { workspaceRoot: dir });
    const coldMs = performance.now() - coldStart;
    const errors = first.diagnostics.filter((d) => d.severity === 'error');
    if (!first.plan || errors.length) throw new Error(`benchmark config is invalid: ${JSON.stringify(errors)}`);
    // warm up both, then alternate batches of each
    timePair(() => validateSweepText(c.text, c.file, { workspaceRoot: dir }), () => c.reference(c.text), 3, 10);
    const [v, r] = timePair(() => validateSweepText(c.text, c.file, { workspaceRoot: dir }), () => c.reference(c.text), Math.max(1, Math.round(iterations / 10)), 10);
    results.push({
      format: c.name,
      lines: c.text.split('\n').length - 1,
      experiments: first.plan.experiments.length,
      validateCpuMs: v.cpu,
      validateCpuP95Ms: v.cpuP95,
      validateWallMs: v.wall,
      coldMs,
      reference: c.refName,
      referenceCpuMs: r.cpu,
      referenceWallMs: r.wall,
      ratio: v.cpu / r.cpu,
      goalMs: GOAL_MS,
      pass: v.cpu < GOAL_MS,
    });
  }
  if (asJson) {
    process.stdout.write(JSON.stringify({ iterations, results, load: os.loadavg()[0] }) + '\n');
  } else {
    console.log(`validate a 200-line sweep config (parse + schema + plan + semantic diagnostics), ${iterations} calls each, load average ${os.loadavg()[0].toFixed(1)}`);
    console.log('  (ms per call: CPU time of this process, median of batches of 10; wall time in brackets)');
    for (const x of results) {
      console.log(
        `  ${x.format.padEnd(4)} ${x.lines} lines, ${x.experiments} experiments: ${x.validateCpuMs.toFixed(2)} ms (p95 ${x.validateCpuP95Ms.toFixed(2)}, wall ${x.validateWallMs.toFixed(2)}, first call ${x.coldMs.toFixed(1)} wall)` +
          ` vs reference ${x.reference} ${x.referenceCpuMs.toFixed(3)} ms (wall ${x.referenceWallMs.toFixed(3)}) → ${x.ratio.toFixed(1)}× the bare parse; goal < ${GOAL_MS} ms: ${x.pass ? 'PASS' : 'FAIL'}`,
      );
    }
  }
  if (results.some((x) => !x.pass)) process.exitCode = 1;
}

if (require.main === module) main();
