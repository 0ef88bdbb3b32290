#!/usr/bin/env bash
# FlopsFit GPU training benchmark: the engine on each GPU backend (tensorflow-gpu, webgpu) vs
# PyTorch on the same NVIDIA GPU. Needs only this repository with its node_modules (npm ci done
# on a machine with internet) and a Node >= 20.6 binary; PyTorch comes from the machine's python3.
# No network access. Finishes in under 10 minutes (each engine run is time-boxed).
#
#   bench/gpu.sh                 GPU-sized model (d 768, 8 layers, context 512, batch 32)
#   bench/gpu.sh --tiny --allow-no-gpu --engines torch-fp32,webgpu   test the script without a GPU
#   bench/gpu.sh --help          all options
#
# Node is looked for in $NODE, ./.node/bin/node (a copied Node install), then PATH.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

# tsx's --import loader needs Node >= 20.6
node_ok() {
  "$1" -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 6) ? 0 : 1)' 2>/dev/null
}

node_bin=""
for cand in "${NODE:-}" "$root/.node/bin/node" "$(command -v node 2>/dev/null || true)"; do
  if [ -n "$cand" ] && [ -x "$cand" ] && node_ok "$cand"; then
    node_bin="$cand"
    break
  fi
done
if [ -z "$node_bin" ]; then
  echo "bench/gpu.sh: no Node.js >= 20.6 found (set NODE=/path/to/node, or copy a Node install to $root/.node)" >&2
  exit 2
fi

for pkg in @tensorflow/tfjs tsx; do
  if [ ! -e "node_modules/$pkg/package.json" ]; then
    echo "bench/gpu.sh: node_modules/$pkg is missing: run 'npm ci' where there is internet and bring node_modules along (see bench/README.md, GPU)" >&2
    exit 2
  fi
done

exec "$node_bin" --import tsx bench/gpu-bench.ts "$@"
