/** Checks the planner makes of a config and its files (placeholders, data), as plan warnings. */
import * as fs from 'node:fs';
import type { DataSpec, ExperimentSpec } from '../contracts';
import type { SweepConfig } from '../config/schema';
import { closestKey } from '../config/diagnostics';
import { checkPlaceholders } from './placeholders';
import { formatNumber as fmt } from './grid';

export function checkCommandPlaceholders(config: SweepConfig, warn: (code: string, message: string, p?: (string | number)[]) => void): void {
  for (const p of checkPlaceholders(config, closestKey)) warn('unknown-placeholder', p.message, p.path);
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

export function isDirectory(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

export function checkData(config: SweepConfig, data: DataSpec, experiments: ExperimentSpec[], warn: (code: string, message: string, p?: (string | number)[]) => void): void {
  if (data.source === 'synthetic') return;
  let size: number;
  try {
    const st = fs.statSync(data.path);
    if (!st.isFile()) {
      warn('data-missing', `data path is not a file: ${data.path}`, ['data', 'path']);
      return;
    }
    size = st.size;
  } catch {
    warn('data-missing', `data file not found: ${data.path}`, ['data', 'path']);
    return;
  }
  const totalTokens = data.source === 'uint16' ? Math.floor(size / 2) : size;
  if (data.source === 'uint16' && size % 2 !== 0) warn('data-odd-size', `the uint16 file has an odd number of bytes (${size}); the last byte is ignored`, ['data', 'path']);
  const valTokens = Math.floor(totalTokens * data.validationFraction);
  const trainTokens = totalTokens - valTokens;
  if (totalTokens === 0) {
    warn('data-too-small', 'the data file is empty', ['data', 'path']);
    return;
  }
  const maxD = experiments.reduce((m, e) => Math.max(m, e.tokens), 0);
  if (maxD > trainTokens) {
    const passes = trainTokens > 0 ? maxD / trainTokens : Infinity;
    warn(
      'data-too-small',
      `the largest experiment trains on ${fmt(maxD)} tokens but the training split holds ${fmt(trainTokens)} (${Number.isFinite(passes) ? passes.toFixed(1) : '∞'} passes)${
        config.training.allowRepeat ? '; repeated data bends the scaling law' : '; set training.allowRepeat: true to allow repeats, or use more data or smaller budgets'
      }`,
      ['data', 'path'],
    );
  }
  if (valTokens < config.training.evalTokens) {
    warn('eval-too-small', `the validation split holds ${fmt(valTokens)} tokens, fewer than training.evalTokens (${config.training.evalTokens})`, ['training', 'evalTokens']);
  }
}

