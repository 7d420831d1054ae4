#!/usr/bin/env bash
# Empirical NTK of the 2-layer ReLU net: attnlab's structured kernel (two GEMMs) vs PyTorch's
# per-example gradients contracted J·Jᵀ (python3-torch 1.13, functorch) on the same inputs, plus
# attnlab's GEMMs against the OpenBLAS sgemm/dgemm ceiling; then, when .venv/bin/python has them,
# the same PyTorch rows under torch 2.13 (torch.func) and the pure-JAX peer (bench/ntk/peer_jax.py:
# jacobian contraction and NTK-vector products, compile time apart). Prints tables with ratios.
#
# Usage: bench/ntk/run.sh BUILD_DIR [--n 2000] [--m 4096] [--d 784] [--threads 2] [--repeats 3]
# Needs scripts/bootstrap.sh --bench (python3-torch, python3-numpy; torch 2.13 and jax in .venv).
# Each Jacobian reference at the default size does ~1.3e13 flops (minutes on 2 cores) and peaks
# near 4 GB (JAX JC with its default chunk of 250 rows: about 7 GB).
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
venv_python=$here/../../.venv/bin/python
echo
if [ -x "$venv_python" ] && "$venv_python" -c "import torch, torch.func, numpy" 2>/dev/null; then
  OMP_NUM_THREADS=$threads "$venv_python" "$here/peer_torch.py" --dir "$work" \
    --threads "$threads" --repeats "$repeats" --peer-rows-only
else
  echo "PyTorch 2.x (torch.func) peer skipped: .venv/bin/python has no torch (bootstrap.sh --bench)"
fi
echo
if [ -x "$venv_python" ] && "$venv_python" -c "import jax, numpy" 2>/dev/null; then
  OMP_NUM_THREADS=$threads "$venv_python" "$here/peer_jax.py" --dir "$work" \
    --threads "$threads" --repeats "$repeats"
else
  echo "JAX peer skipped: .venv/bin/python has no jax (bootstrap.sh --bench)"
fi
echo "  command: bench/ntk/run.sh $build --n $n --m $m --d $d --threads $threads --repeats $repeats"
