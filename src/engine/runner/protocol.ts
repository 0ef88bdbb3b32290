/**
 * The bring-your-own trainer protocol (`model.family: command`).
 *
 * The runner starts the user's command once per experiment, with these placeholders substituted in
 * every argument (anywhere in the string, e.g. `--width={size}`):
 *
 *   {size}        the swept size value (e.g. the width)         {params}  N used by the fit
 *   {tokens}      training tokens D to train on, exactly          {budget}  the compute budget C
 *   {seed}        the experiment's seed                           {id}      the experiment id
 *   {steps}       ceil(tokens / (batchSize · contextLength))      {lr}      the learning rate
 *   {dataPath}    the data file (text / uint16 data sources)     {specPath} {runDir}/spec.json
 *   {runDir}      the experiment's own folder (absolute): checkpoints and metrics go there
 *   {<name>}      any hyperparameter of the sweep's grid (e.g. {learningRate}) and any training
 *                 setting (e.g. {batchSize}, {learningRate}, {evalTokens})
 *
 * The command also gets FLOPSFIT_RUN_DIR, FLOPSFIT_EXPERIMENT_ID, FLOPSFIT_TOKENS, FLOPSFIT_SEED and
 * FLOPSFIT_RESUME=1 (when an earlier attempt of the experiment ran: resume from your checkpoint in
 * {runDir} if you have one) in its environment.
 *
 * Output, one JSON object per line on stdout (other lines are kept in log.txt and otherwise ignored):
 *   {"step": 100, "tokens": 51200, "trainLoss": 3.21, "evalLoss": 3.30, "lr": 0.001}
 *       a metrics line (the fields of MetricsLine; `step` and `tokens` required) — copied into
 *       {runDir}/metrics.jsonl. A trainer may instead append such lines to {runDir}/metrics.jsonl
 *       itself (then it prints none).
 *   {"result": {"finalLoss": 2.93, "tokens": 1024000, "steps": 2000, "finalTrainLoss": 2.90}}
 *       the final result line, printed once at the end; `finalLoss` is the held-out evaluation loss
 *       in nats per token (the loss the fit uses); the other fields are optional.
 * Exit status 0 with a result line: completed. Any other exit status: failed (the last lines of
 * output become the reason), or stopped when the runner asked the command to stop (SIGTERM: save a
 * checkpoint and exit). A non-finite loss (NaN/Infinity, also as Python's json.dumps writes them)
 * fails the experiment.
 */
import { type MetricsLine } from '../../core/contracts';
import { MetricsLine as MetricsLineSchema } from '../../core/contracts';

// the placeholders have one home, shared with the planner's validation
export { PlaceholderError, placeholderValues, substitute } from '../../core/plan/placeholders';

export type ProtocolLine =
  | { kind: 'metrics'; metrics: MetricsLine; nonFinite?: string }
  | { kind: 'result'; finalLoss: number; nonFinite?: string; tokens?: number; steps?: number; finalTrainLoss?: number; params?: number }
  | { kind: 'invalid'; error: string };

/** Python's json.dumps writes NaN / Infinity / -Infinity; JSON does not have them. */
function parseLenient(line: string): { value: unknown; nonFinite: boolean } | undefined {
  try {
    return { value: JSON.parse(line), nonFinite: false };
  } catch {
    if (!/\b(NaN|Infinity)\b/.test(line)) return undefined;
    try {
      const value = JSON.parse(line.replace(/-?\bInfinity\b|\bNaN\b/g, 'null'));
      return { value, nonFinite: true };
    } catch {
      return undefined;
    }
  }
}

const LOSS_KEYS = ['trainLoss', 'evalLoss'] as const;

/**
 * Classifies one line of a command's stdout. Lines that are not JSON objects return undefined
 * (ordinary output); JSON objects that look like protocol lines but do not validate are 'invalid'.
 */
export function parseProtocolLine(raw: string): ProtocolLine | undefined {
  const line = raw.trim();
  if (!line.startsWith('{') || !line.endsWith('}')) return undefined;
  const parsed = parseLenient(line);
  if (!parsed || typeof parsed.value !== 'object' || parsed.value === null || Array.isArray(parsed.value)) return undefined;
  const obj = parsed.value as Record<string, unknown>;
  if ('result' in obj) {
    const r = obj.result;
    if (typeof r !== 'object' || r === null) return { kind: 'invalid', error: 'the result line must be {"result": {"finalLoss": <number>, ...}}' };
    const res = r as Record<string, unknown>;
    const num = (k: string) => (typeof res[k] === 'number' && Number.isFinite(res[k]) ? (res[k] as number) : undefined);
    const finalLoss = res.finalLoss;
    if (finalLoss === null || (typeof finalLoss === 'number' && !Number.isFinite(finalLoss))) {
      return { kind: 'result', finalLoss: NaN, nonFinite: 'non-finite final loss' };
    }
    if (typeof finalLoss !== 'number') return { kind: 'invalid', error: 'the result line has no numeric "finalLoss"' };
    return { kind: 'result', finalLoss, tokens: num('tokens'), steps: num('steps'), finalTrainLoss: num('finalTrainLoss'), params: num('params') };
  }
  if ('step' in obj) {
    let nonFinite: string | undefined;
    for (const k of LOSS_KEYS) {
      if (obj[k] === null && parsed.nonFinite) {
        nonFinite = `non-finite ${k === 'trainLoss' ? 'training' : 'evaluation'} loss at step ${String(obj.step)}`;
        delete obj[k];
      }
    }
    const m = MetricsLineSchema.safeParse(obj);
    if (!m.success) return { kind: 'invalid', error: `metrics line: ${m.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}` };
    return nonFinite ? { kind: 'metrics', metrics: m.data, nonFinite } : { kind: 'metrics', metrics: m.data };
  }
  return undefined;
}

/** Splits streamed text into complete lines, keeping the unterminated tail for the next chunk. */
export class LineSplitter {
  private rest = '';
  push(chunk: string): string[] {
    const text = this.rest + chunk;
    const lines = text.split('\n');
    this.rest = lines.pop() ?? '';
    return lines.map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  }
  flush(): string[] {
    const r = this.rest;
    this.rest = '';
    return r ? [r] : [];
  }
}
