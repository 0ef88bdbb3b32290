/**
 * The whole validation pipeline for one config text, as the editor runs it on every (debounced)
 * edit and `npm run bench:validate` measures it: syntax → schema → plan → semantic warnings.
 * Never throws.
 */
import type { Plan } from '../contracts';
import { parseSweepConfig, type ConfigDiagnostic, type SweepConfig } from '../config';
import { sortDiagnostics } from '../config/diagnostics';
import { buildPlan, type BuildPlanOptions } from './build';
import { planSemanticDiagnostics } from './diagnostics';

export interface ValidationResult {
  config?: SweepConfig;
  plan?: Plan;
  diagnostics: ConfigDiagnostic[];
}

export function validateSweepText(text: string, fileName: string, opts: Partial<BuildPlanOptions> = {}): ValidationResult {
  const parsed = parseSweepConfig(text, fileName);
  if (!parsed.config) return { diagnostics: parsed.diagnostics };
  try {
    const plan = buildPlan(parsed.config, { ...opts, configPath: opts.configPath ?? fileName });
    const semantic = planSemanticDiagnostics(plan, parsed.source ?? { text, fileName });
    return { config: parsed.config, plan, diagnostics: sortDiagnostics([...parsed.diagnostics, ...semantic]) };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return {
      config: parsed.config,
      diagnostics: [
        ...parsed.diagnostics,
        { severity: 'error', message: `internal error while planning: ${message}`, range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, path: [], code: 'internal' },
      ],
    };
  }
}
