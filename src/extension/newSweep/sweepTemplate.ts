/**
 * The commented `*.sweep.yaml` that "FlopsFit: New Sweep" writes. No `vscode` import (unit-tested:
 * every variant must validate and plan).
 */

export type TemplateSource =
  | { source: 'synthetic' }
  | { source: 'text'; path: string }
  | { source: 'uint16'; path: string; vocabSize: number };

export interface TemplateOptions {
  name: string;
  data: TemplateSource;
}

/** Sweep names become file and directory names: letters, digits, `.`, `_`, `-`. */
export const SWEEP_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

export function validateSweepName(name: string): string | undefined {
  if (!name.trim()) return 'Give the sweep a name.';
  if (!SWEEP_NAME_RE.test(name)) return 'Use letters, digits, ".", "_" or "-" (it names the file and the run directory).';
  return undefined;
}

function yamlString(s: string): string {
  return JSON.stringify(s); // a JSON string is a valid YAML double-quoted scalar
}

function dataBlock(d: TemplateSource): string {
  switch (d.source) {
    case 'synthetic':
      return [
        '# Training data. "synthetic" is a built-in sparse random Markov chain: no file needed, and its',
        '# entropy rate is known, so the fitted irreducible loss E can be checked against it.',
        'data:',
        '  source: synthetic',
        '  vocabSize: 128        # tokens of the chain',
        '  branching: 8          # successors per state (lower: more predictable, lower loss floor)',
        '  seed: 0               # seed of the chain itself (not of the data order)',
      ].join('\n');
    case 'text':
      return [
        '# Training data: a text file, tokenised as bytes (vocabulary 256). The end of the file is held',
        '# out for the validation loss.',
        'data:',
        '  source: text',
        `  path: ${yamlString(d.path)}`,
        '  validationFraction: 0.05',
      ].join('\n');
    case 'uint16':
      return [
        '# Training data: pre-tokenised little-endian uint16 token ids. The end of the file is held out',
        '# for the validation loss.',
        'data:',
        '  source: uint16',
        `  path: ${yamlString(d.path)}`,
        `  vocabSize: ${d.vocabSize}      # every token id must be below this`,
        '  validationFraction: 0.05',
      ].join('\n');
  }
}

export function sweepTemplate(o: TemplateOptions): string {
  return `# FlopsFit sweep config. Hover a key for its documentation; every key but name and budgets has a
# default. The explorer (FlopsFit view in the activity bar) shows the plan as you edit.
name: ${yamlString(o.name)}
description: IsoFLOP sweep of a small decoder-only transformer.

# The model: the built-in transformer; its width (dModel) is the size axis being swept.
model:
  family: transformer
  nLayers: 2
  nHeads: 2
  contextLength: 64
  size:
    param: dModel      # or nLayers
    min: 8
    max: 256
    multiple: 4

${dataBlock(o.data)}

# Compute budgets C in FLOPs (C = 6·N·D). A few minutes on a laptop CPU; raise them on a GPU.
# Also accepted: { min: 1e10, max: 1e11, count: 5 } (log-spaced).
budgets: [1e10, 3e10, 1e11]

# How each IsoFLOP curve is sampled: sizes per budget, centred in log N on N* = sqrt(C / (6·60)).
# On the synthetic source the optimum lies near 60 tokens per parameter at these budgets (measured:
# every budget brackets it); on your own data, if a budget's lowest loss is at its smallest or
# largest size, the fit says so and "FlopsFit: Extend Sweep" (or flopsfit plan --extend) adds sizes.
planning:
  sizesPerBudget: 5
  priorTokensPerParam: 60    # Chinchilla's compute-optimal D/N is about 20 on web text
  sizeSpread: 30             # largest / smallest N per budget
  tokensPerParam: { min: 1, max: 2000 }

# Extra axes crossed with every (budget, size) cell, and repeats.
sweep:
  hyperparameters: {}        # e.g. { learningRate: [1e-3, 3e-3] }
  seeds: 1

training:
  batchSize: 16
  learningRate: 1.0e-2       # small models trained briefly learn fastest at a high rate
  weightDecay: 0
  schedule: cosine
  backend: auto              # auto | torch | torch-cpu | tensorflow-gpu | webgpu | tensorflow | wasm | cpu

# Scaling-law fits run after the last experiment (FlopsFit: Fit Scaling Laws runs them again).
fit:
  methods: [isoflop, parametric]
  bootstrap: 200
`;
}
