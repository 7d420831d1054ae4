#!/usr/bin/env bash
# GPT-2 124M-shaped inference: attnlab vs PyTorch 2.13 eager (SDPA), Hugging Face transformers'
# GPT2LMHeadModel and PyTorch 1.13 eager, on the same random weights and tokens: 1024-token
# prefill + 128-token KV-cache decode, plus the decode bound from the measured memory bandwidth.
# Prints one table (compare.py).
#
# Usage: bench/gpt2/run.sh BUILD_DIR [--threads 2] [--repeats 3] [--prefill 1024] [--decode 128]
# Needs scripts/bootstrap.sh --bench (.venv with torch 2.13 + transformers, python3-torch 1.13);
# a missing peer is listed as skipped. Writes ~1 GB to a temp dir.
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
# Every peer uses an OpenMP runtime. On a shared machine, spinning OpenMP threads wait for descheduled
# partners at every barrier (a decode step has ~60), so the default wait policy measures the
# neighbours; passive waiting is set for all of them alike unless the caller chose one.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
work=$(mktemp -d "${TMPDIR:-/tmp}/attnlab-gpt2-bench-XXXXXX")
trap 'rm -rf "$work"' EXIT
"$build/bench/gpt2_bench" --out "$work" --threads "$threads" --repeats "$repeats" \
  --prefill "$prefill" --decode "$decode" > /dev/null
# Peers, one JSON each: PyTorch 2.13 eager with SDPA and Hugging Face transformers'
# GPT2LMHeadModel from the project venv, PyTorch 1.13 eager (matmul attention) from Debian.
venv_py="$here/../../.venv/bin/python"
peer_args=(--dir "$work" --threads "$threads" --repeats "$repeats" --prefill "$prefill" --decode "$decode")
run_peer() {  # NAME PYTHON SCRIPT [ARGS...]
  local name=$1 py=$2 script=$3; shift 3
  if ! "$py" -c "import torch, numpy" >/dev/null 2>&1; then
    printf '{"skipped": "%s: %s has no torch/numpy (scripts/bootstrap.sh --bench)"}\n' "$name" "$py" > "$work/peer_$name.json"
  elif ! "$py" "$here/$script" "${peer_args[@]}" "$@" > "$work/peer_$name.json" 2> "$work/peer_$name.err"; then
    printf '{"skipped": "%s failed: %s"}\n' "$name" "$(tail -n 1 "$work/peer_$name.err" | tr -d '"\\')" > "$work/peer_$name.json"
  fi
}
run_peer torch2 "$venv_py" peer_torch.py --attention sdpa
if "$venv_py" -c "import transformers" >/dev/null 2>&1; then
  run_peer hf "$venv_py" peer_hf.py --attn-implementation sdpa
else
  echo '{"skipped": "transformers: not in .venv (scripts/bootstrap.sh --bench)"}' > "$work/peer_hf.json"
fi
run_peer torch1 /usr/bin/python3 peer_torch.py --attention matmul
python3 "$here/compare.py" "$work/attnlab.json" "$work/peer_torch2.json" "$work/peer_hf.json" \
  "$work/peer_torch1.json"
echo "  OMP_WAIT_POLICY=$OMP_WAIT_POLICY for every peer"
echo "  command: bench/gpt2/run.sh $build --threads $threads --repeats $repeats --prefill $prefill --decode $decode"
