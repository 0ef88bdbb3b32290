#!/usr/bin/env bash
# CI check of the bring-your-own-trainer example: runs a copy of examples/pytorch/ in a temporary
# folder, from another current directory (the example must run from anywhere), with Debian's
# python3 + python3-torch (/usr/bin first on PATH), and asserts that every planned experiment
# completed, results.jsonl has a row for each, and the fit wrote fit.json. Needs `npm run build`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
repo="$(pwd)"
/usr/bin/python3 -c 'import torch' || { echo "ci-check: python3-torch is not installed" >&2; exit 1; }
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
cp -r examples/pytorch "$out/pytorch"
(cd / && PATH="/usr/bin:$PATH" node "$repo/dist/flopsfit.js" run "$out/pytorch/pytorch.sweep.yaml" \
  --out "$out/run" --parallel 2 --progress 60)
node - "$out/run" <<'JS'
const fs = require('node:fs');
const path = require('node:path');
const dir = process.argv[2];
const m = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
const bad = m.order.filter((id) => m.experiments[id].status !== 'completed');
const rows = fs.readFileSync(path.join(dir, 'results.jsonl'), 'utf8').trim().split('\n').filter(Boolean);
const problems = [];
if (m.order.length < 4) problems.push(`only ${m.order.length} experiments planned`);
if (bad.length) problems.push(`not completed: ${bad.map((id) => `${id} (${m.experiments[id].status}: ${m.experiments[id].reason ?? ''})`).join(', ')}`);
if (rows.length !== m.order.length) problems.push(`${rows.length} result rows for ${m.order.length} experiments`);
if (!fs.existsSync(path.join(dir, 'fit.json'))) problems.push('no fit.json');
if (problems.length) {
  console.error('pytorch ci-check: FAIL: ' + problems.join('; '));
  process.exit(1);
}
console.log(`pytorch ci-check: OK — ${m.order.length} PyTorch experiments completed and fitted`);
JS
