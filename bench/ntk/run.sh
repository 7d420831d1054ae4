#!/usr/bin/env bash
# Empirical NTK of the 2-layer ReLU net: attnlab's structured kernel (two GEMMs) vs PyTorch's
# per-example gradients contracted J·Jᵀ (python3-torch 1.13, functorch) on the same inputs, plus
# attnlab's GEMMs against the OpenBLAS sgemm/dgemm ceiling; then, when .venv/bin/python has them,
# the same PyTorch rows under torch 2.13 (torch.func) and the pure-JAX peer (bench/ntk/peer_jax.py:
# jacobian contraction and NTK-vector products, compile time apart), and, when .venv-nt has
# neural-tangents 0.6.5, its empirical_ntk_fn (implementations 1-3) on the first 500 rows
# (bench/ntk/peer_nt.py). Prints tables with ratios.
#
# Usage: bench/ntk/run.sh BUILD_DIR [--n 2000] [--m 4096] [--d 784] [--threads 2] [--repeats 3]
# Needs scripts/bootstrap.sh --bench (python3-torch, python3-numpy; torch 2.13 and jax in .venv;
# neural-tangents in .venv-nt).
# Each Jacobian reference at the default size does ~1.3e13 flops (minutes on 2 cores) and peaks
# near 4 GB (JAX JC with its default chunk of 250 rows: about 7 GB; neural-tangents on 500 rows:
# about 13 GB and 2.5 min).
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
# One Python peer: run SCRIPT under PYTHON when CHECK (Python source) succeeds there, else say why not.
py_peer() {  # LABEL PYTHON CHECK SCRIPT [ARGS...]
  local label=$1 py=$2 check=$3 script=$4; shift 4
  echo
  if [ -x "$py" ] && "$py" -c "$check" 2>/dev/null; then
    OMP_NUM_THREADS=$threads "$py" "$here/$script" --dir "$work" --threads "$threads" \
      --repeats "$repeats" "$@"
  else
    echo "$label skipped: $py cannot run it (scripts/bootstrap.sh --bench)"
  fi
}
py_peer "PyTorch 2.x (torch.func) peer" "$venv_python" "import torch, torch.func, numpy" \
  peer_torch.py --peer-rows-only
py_peer "JAX peer" "$venv_python" "import jax, numpy" peer_jax.py
# neural-tangents 0.6.5 (its own venv: it needs jax 0.4.25), on the first 500 rows only.
nt_shim="import sys, types; sys.modules['neural_tangents.experimental'] = types.ModuleType('neural_tangents.experimental'); import neural_tangents"
py_peer "neural-tangents cross-check" "$here/../../.venv-nt/bin/python" "$nt_shim" peer_nt.py
echo "  command: bench/ntk/run.sh $build --n $n --m $m --d $d --threads $threads --repeats $repeats"
