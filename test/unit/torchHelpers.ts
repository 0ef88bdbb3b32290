/** Shared helpers of the PyTorch engine tests. */
import { spawnSync } from 'node:child_process';
import type { Context } from 'mocha';

/** The Python the tests run the torch engine with (Debian's python3-torch in CI). */
export const TEST_PYTHON = process.env.FLOPSFIT_TEST_PYTHON ?? '/usr/bin/python3';

let hasTorch: boolean | undefined;

/**
 * Skips the calling test/suite when TEST_PYTHON has no torch, except where torch must exist
 * (FLOPSFIT_REQUIRE_TORCH=1 or CI=true): there the test fails instead of skipping.
 */
export function requireTorch(ctx: Context): void {
  if (hasTorch === undefined) {
    const r = spawnSync(TEST_PYTHON, ['-c', 'import torch'], { stdio: 'ignore', timeout: 120_000 });
    hasTorch = r.status === 0;
  }
  if (hasTorch) return;
  if (process.env.FLOPSFIT_REQUIRE_TORCH === '1' || process.env.CI === 'true') {
    throw new Error(`${TEST_PYTHON} cannot import torch, and this environment requires it (FLOPSFIT_REQUIRE_TORCH / CI)`);
  }
  ctx.skip();
}

/** Environment that makes the engine use TEST_PYTHON and nothing else. */
export function torchEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { ...process.env, FLOPSFIT_PYTHON: TEST_PYTHON, FLOPSFIT_PYTHON_ONLY: '1', FLOPSFIT_PYTHON_SETTING: '', FLOPSFIT_PYTHON_EXTENSION: '', ...extra };
}
