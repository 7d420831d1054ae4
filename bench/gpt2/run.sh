#!/usr/bin/env bash
# GPT-2 124M-shaped inference: attnlab vs PyTorch (python3-torch) on the same random weights and
# tokens, 1024-token prefill + 128-token KV-cache decode, plus the decode bound from the measured
# memory bandwidth. Prints one table.
#
# Usage: bench/gpt2/run.sh BUILD_DIR [--threads 2] [--repeats 3] [--prefill 1024] [--decode 128]
# Needs scripts/bootstrap.sh --bench (python3-torch, python3-numpy). Writes ~1 GB to a temp dir.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=${1:?usage: run.sh BUILD_DIR [--threads N] [--repeats N] [--prefill N] [--decode N]}
shift
threads=2 repeats=3 prefill=1024 decode=128
while [ $# -gt 0 ]; do
  case "$1" in
    --threads) threads=$2; shift 2 ;;
    --repeats) repeats=$2; shift 2 ;;
    --prefill) prefill=$2; shift 2 ;;
    --decode) decode=$2; shift 2 ;;
    *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
# Both peers use libgomp. On a shared machine, spinning OpenMP threads wait for descheduled
# partners at every barrier (a decode step has ~60), so the default wait policy measures the
# neighbours; passive waiting is set for both peers alike unless the caller chose one.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
work=$(mktemp -d "${TMPDIR:-/tmp}/attnlab-gpt2-bench-XXXXXX")
trap 'rm -rf "$work"' EXIT
"$build/bench/gpt2_bench" --out "$work" --threads "$threads" --repeats "$repeats" \
  --prefill "$prefill" --decode "$decode" > /dev/null
if ! /usr/bin/python3 -c "import torch, numpy" 2>/dev/null; then
  echo "PyTorch peer skipped: python3-torch/python3-numpy missing (scripts/bootstrap.sh --bench)"
  cat "$work/attnlab.json"
  exit 0
fi
/usr/bin/python3 "$here/peer_torch.py" --dir "$work" --threads "$threads" --repeats "$repeats" \
  --prefill "$prefill" --decode "$decode" --attnlab "$work/attnlab.json"
echo "  OMP_WAIT_POLICY=$OMP_WAIT_POLICY for both peers"
echo "  command: bench/gpt2/run.sh $build --threads $threads --repeats $repeats --prefill $prefill --decode $decode"
