#!/usr/bin/env bash
# Empirical NTK of the 2-layer ReLU net: attnlab's structured kernel (two GEMMs) vs PyTorch's
# per-example gradients contracted J·Jᵀ (python3-torch) on the same inputs, plus attnlab's GEMMs
# against the OpenBLAS sgemm/dgemm ceiling. Prints one table with ratios.
#
# Usage: bench/ntk/run.sh BUILD_DIR [--n 2000] [--m 4096] [--d 784] [--threads 2] [--repeats 3]
# Needs scripts/bootstrap.sh --bench (python3-torch, python3-numpy). The PyTorch Jacobian
# reference at the default size does ~1.3e13 flops (minutes on 2 cores) and peaks near 4 GB.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=${1:?usage: run.sh BUILD_DIR [--n N] [--m M] [--d D] [--threads T] [--repeats R]}
shift
n=2000 m=4096 d=784 threads=2 repeats=3
while [ $# -gt 0 ]; do
  case "$1" in
    --n) n=$2; shift 2 ;;
    --m) m=$2; shift 2 ;;
    --d) d=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --repeats) repeats=$2; shift 2 ;;
    *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
work=$(mktemp -d "${TMPDIR:-/tmp}/attnlab-ntk-bench-XXXXXX")
trap 'rm -rf "$work"' EXIT
"$build/bench/ntk_bench" --out "$work" --n "$n" --m "$m" --d "$d" --threads "$threads" \
  --repeats "$repeats" > /dev/null
if ! /usr/bin/python3 -c "import torch, numpy, functorch" 2>/dev/null; then
  echo "PyTorch peer skipped: python3-torch/python3-numpy missing (scripts/bootstrap.sh --bench)"
  cat "$work/attnlab.json"
  exit 0
fi
OMP_NUM_THREADS=$threads /usr/bin/python3 "$here/peer_torch.py" --dir "$work" \
  --threads "$threads" --repeats "$repeats"
echo "  command: bench/ntk/run.sh $build --n $n --m $m --d $d --threads $threads --repeats $repeats"
