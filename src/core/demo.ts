/**
 * The built-in demo sweep (`flopsfit demo`, `npm run demo`): a small IsoFLOP sweep of the built-in
 * transformer on the synthetic Markov source, sized to plan, train and fit on a 2-core CPU (wasm,
 * one process per core) in a few minutes. The source's entropy rate is known exactly, so the
 * fitted irreducible loss E is a known-answer check of the whole pipeline.
 *
 * The config is bundled as text (no file outside the bundle is needed); the demo writes it into
 * its run directory so the user can read, copy and change it.
 */
export const DEMO_CONFIG_FILE = 'demo.sweep.yaml';

/** How far the fitted E may be from the source's entropy rate for the demo to count as a pass. */
export const DEMO_E_TOLERANCE = 0.1;

export const DEMO_CONFIG_TEXT = `# FlopsFit demo sweep: written by \`flopsfit demo\`. Copy it into your workspace to start your own.
#
# The data is a synthetic Markov source (64 tokens, 4 successors each) whose entropy rate, the loss
# floor E, is known exactly. Its transition table needs some width to represent (dModel 4 cannot,
# 12 nearly can) and some data to learn, so losses depend on both N and D: three compute budgets,
# four model widths each, a tiny two-layer transformer on the CPU (wasm, one process per core).
name: demo
description: Built-in demo - IsoFLOP sweep on the synthetic source (known irreducible loss).
model:
  family: transformer
  nLayers: 2
  nHeads: 2
  contextLength: 32
  size: { param: dModel, min: 4, max: 64, multiple: 4 }
data: { source: synthetic, vocabSize: 64, branching: 4, seed: 0 }
budgets: [2.0e9, 1.0e10, 3.0e10]
planning:
  sizesPerBudget: 4
  # this source is learnt best by small models trained long: its optimum moves from dModel 8 at
  # 2e9 FLOPs to dModel 12 at 3e10 (measured), so the grids are centred on ~150 tokens/param, wide
  # enough that every budget brackets its optimum (a width-limited model below it, a data-limited
  # one above) and the smallest budget includes dModel 4
  priorTokensPerParam: 150
  sizeSpread: 40
  tokensPerParam: { min: 1, max: 4000 }
training:
  batchSize: 32
  learningRate: 0.01
  weightDecay: 0
  evalTokens: 16384
  evalInterval: 0
  checkpointInterval: 200
  backend: wasm
fit: { bootstrap: 100, confidence: 0.9 }
`;
