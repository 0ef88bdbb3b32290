/**
 * The IsoFLOP plan (src/core/plan): the public index only. build.ts makes the plan, paths.ts
 * resolves a config's paths, checks.ts and diagnostics.ts turn problems into located diagnostics,
 * validate.ts runs the whole pipeline the editor runs on every edit, grid/ids/throughput/
 * calibration/placeholders/parallelism/commandCounter/hyperRules hold one rule each.
 */
export { buildPlan, budgetValues, type BuildPlanOptions } from './build';
export { findWorkspaceRoot, sanitizeName, resolveRunDir, resolveConfigPath, commandCwd } from './paths';
export { planSemanticDiagnostics } from './diagnostics';
export { COMMAND_PLACEHOLDERS } from './placeholders';
export type { ParamCounter } from './grid';
export { candidateValues, selectSizes, probeSizes } from './grid';
export { stableId, canonicalJson } from './ids';
export { builtinThroughput, calibratedThroughput, measuredThroughput, estimateSeconds, experimentWork, experimentSteps, BUILTIN_THROUGHPUT } from './throughput';
export { Calibration, CalibrationSample, CALIBRATION_FILE, fitCalibration, readCalibration, calibrationMatches } from './calibration';
export { formatPlanTable } from './format';
export { validateSweepText, type ValidationResult } from './validate';
export { countCommandParams, commandSizeValues, countProgressLine, createCommandParamCounter } from './commandCounter';

