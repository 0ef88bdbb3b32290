/**
 * The one validation (parse → plan → located diagnostics, src/core/plan/validate.ts) of each config
 * text in the extension host. The inline diagnostics and the sweep service's plan (the tree, the
 * results panel, the commands) both take it from here, so a text is planned once per state of its
 * command trainer's size counts, not once per feature.
 */
import type { BuildPlanOptions } from '../../core/plan';
import { validateSweepText, type ValidationResult } from '../../core/plan/validate';

export class Validations {
  private readonly last = new Map<string, { key: string; result: ValidationResult }>();
  /** validations computed (tests; the log) */
  computed = 0;

  /**
   * The validation of `text` for the config `id` (its URI), reused while the text and the options
   * are the same. The result is shared: callers must not modify it.
   */
  validate(id: string, text: string, fileName: string, opts: Partial<BuildPlanOptions> & { configPath: string }): ValidationResult {
    const key = JSON.stringify([fileName, opts.configPath, opts.workspaceRoot ?? '', opts.countParams ? 'counted' : '', opts.commandStartupSeconds ?? '', text]);
    const hit = this.last.get(id);
    if (hit && hit.key === key) return hit.result;
    const result = validateSweepText(text, fileName, opts);
    this.computed++;
    this.last.set(id, { key, result });
    return result;
  }

  /** Forgets every cached validation (Refresh Sweeps: files the plan reads may have changed). */
  clear(): void {
    this.last.clear();
  }
}
