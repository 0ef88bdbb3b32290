#!/usr/bin/env bash
# FlopsFit GPU benchmark. One command, under 8 minutes, writes its table and logs to an output folder.
#
# 1. The PyTorch engine (bench/gpu_torch_bench.py; needs only python3 with a CUDA torch, no Node.js):
#    tokens/s and MFU (bf16 dense peak) at GPT-2 small (d 768, 12 layers, context 1024) and at the
#    sweep-sized d256 and d128 shapes, torch.compile off and on, each against the reference script
#    bench/gpu_torch.py on the same shape; then 1, 2 and 4 d128 runs packed on the one GPU.
# 2. With --tfjs, and only where a Node >= 20.6 and node_modules are present: the TensorFlow.js GPU
#    backends (bench/gpu-bench.ts), options after `--` passed to it.
#
#   bench/gpu.sh [--out DIR] [--python PATH] [--budget S] [--time-box S] [--only RUN,...]
#   bench/gpu.sh --cpu-smoke [--out DIR]     the whole path on the CPU at toy shapes (< 1 minute)
#   bench/gpu.sh --tfjs [-- --engines webgpu --d 256 --layers 4 --heads 4 --context 256 --time-box 60 --budget 120]
#
# The output folder: --out, else $OUT, else bench/results/gpu-<time>. Exit codes: 0 measured,
# 2 bad option / no Python with torch, 3 no CUDA GPU (nothing was run), 4 nothing measured.
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

out="${OUT:-}"
python="${PYTHON:-}"
tfjs=0
pass=()
tfjs_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="${2:?--out needs a folder}"; shift 2 ;;
    --python) python="${2:?--python needs a path}"; shift 2 ;;
    --budget|--only|--time-box) pass+=("$1" "${2:?$1 needs a value}"); shift 2 ;;
    --cpu-smoke) pass+=("$1"); shift ;;
    --tfjs) tfjs=1; shift ;;
    --) shift; tfjs_args=("$@"); break ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench/gpu.sh: unknown option $1 (--help lists them)" >&2; exit 2 ;;
  esac
done
[ -n "$out" ] || out="$root/bench/results/gpu-$(date -u +%Y%m%dT%H%M%S)"
mkdir -p "$out/logs" || { echo "bench/gpu.sh: cannot create $out" >&2; exit 2; }

# the first Python that imports torch
if [ -z "$python" ]; then
  for cand in python3 /usr/bin/python3 python; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import torch' >/dev/null 2>&1; then
      python="$(command -v "$cand")"
      break
    fi
  done
fi
if [ -z "$python" ] && ! command -v nvidia-smi >/dev/null 2>&1 && [ ! -d /proc/driver/nvidia/gpus ] && [[ " ${pass[*]-} " != *" --cpu-smoke "* ]]; then
  echo "bench/gpu.sh: no NVIDIA GPU (no nvidia-smi, no /proc/driver/nvidia/gpus) and no python3 with torch; nothing was run" | tee "$out/gpu-table.md" >&2
  exit 3
fi
if [ -z "$python" ]; then
  echo "bench/gpu.sh: no python3 with torch found found (--python PATH or PYTHON=...); nothing was run" | tee "$out/gpu-table.md" >&2
  exit 2
fi

if ! command -v "$python" >/dev/null 2>&1; then
  echo "bench/gpu.sh: --python $python: no such program" >&2
  exit 2
fi
"$python" bench/gpu_torch_bench.py --out "$out" --python "$python" ${pass[@]+"${pass[@]}"} 2>&1 | tee "$out/logs/gpu_torch_bench.log"
rc=${PIPESTATUS[0]}
if [ "$rc" -eq 3 ] || [ "$rc" -eq 2 ] || [ "$tfjs" -eq 0 ]; then
  exit "$rc"
fi

# --tfjs: the TensorFlow.js GPU backends, where Node and node_modules came along
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
why=""
[ -n "$node_bin" ] || why="no Node.js >= 20.6 (set NODE=/path/to/node, or copy a Node install to $root/.node)"
for pkg in @tensorflow/tfjs tsx; do
  [ -n "$why" ] || [ -e "node_modules/$pkg/package.json" ] || why="node_modules/$pkg is missing (run 'npm ci' where there is internet and bring node_modules along)"
done
if [ -n "$why" ]; then
  echo "bench/gpu.sh: TensorFlow.js GPU backends not measured: $why" | tee -a "$out/gpu-table.md"
  exit "$rc"
fi
echo
echo "## TensorFlow.js GPU backends (bench/gpu-bench.ts)" | tee -a "$out/gpu-table.md"
"$node_bin" --import tsx bench/gpu-bench.ts --python "$python" --json "$out/gpu-tfjs.json" ${tfjs_args[@]+"${tfjs_args[@]}"} 2>"$out/logs/tfjs.log" | tee -a "$out/gpu-table.md"
trc=${PIPESTATUS[0]}
[ "$trc" -eq 0 ] || echo "bench/gpu.sh: the TensorFlow.js benchmark exited $trc (see logs/tfjs.log)" | tee -a "$out/gpu-table.md"
exit "$rc"
