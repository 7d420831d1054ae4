#!/usr/bin/env bash
# Exact leave-one-out kernel influence: attnlab (one Cholesky reused for all T test points) vs
# PyTorch peers on the same inputs — the same closed form, a solve per test point, and
# brute-force refits (a few timed, extrapolated to n). Prints one table with ratios.
#
# Usage: bench/influence/run.sh BUILD_DIR [--n 2000] [--t 100] [--c 10] [--threads 2] [--repeats 3]
# Needs scripts/bootstrap.sh --bench (python3-torch, python3-numpy).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=${1:?usage: run.sh BUILD_DIR [--n N] [--t T] [--c C] [--threads T] [--repeats R]}
shift
n=2000 t=100 c=10 threads=2 repeats=3
while [ $# -gt 0 ]; do
  case "$1" in
    --n) n=$2; shift 2 ;;
    --t) t=$2; shift 2 ;;
    --c) c=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --repeats) repeats=$2; shift 2 ;;
    *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
work=$(mktemp -d "${TMPDIR:-/tmp}/attnlab-influence-bench-XXXXXX")
trap 'rm -rf "$work"' EXIT
"$build/bench/influence_bench" --out "$work" --n "$n" --t "$t" --c "$c" --threads "$threads" \
  --repeats "$repeats" > /dev/null
if ! /usr/bin/python3 -c "import torch, numpy" 2>/dev/null; then
  echo "PyTorch peer skipped: python3-torch/python3-numpy missing (scripts/bootstrap.sh --bench)"
  cat "$work/attnlab.json"
  exit 0
fi
OMP_NUM_THREADS=$threads /usr/bin/python3 "$here/peer_torch.py" --dir "$work" \
  --threads "$threads" --repeats "$repeats"
echo "  command: bench/influence/run.sh $build --n $n --t $t --c $c --threads $threads --repeats $repeats"
