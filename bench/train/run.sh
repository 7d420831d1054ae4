#!/usr/bin/env bash
# Tiny-GPT training throughput (the trainer's default model: 4 layers, width 128, 4 heads, context
# 256, batch 16, vocab 256): median full AdamW steps (forward, backward, clip, update) as tokens/s,
# attnlab vs PyTorch on the same model shape and random tokens. Writes the PyTorch peer's JSON to
# bench/train/results/peer.json and prints it.
#
# Usage: bench/train/run.sh [BUILD_DIR] [--threads 2] [peer_torch_train.py flags: --steps 20 ...]
# The peer runs in the project venv (.venv, torch 2.13: eager and torch.compile; made by
# scripts/bootstrap.sh --bench), else on Debian's python3-torch 1.13 (eager only).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
build=build/release
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then build=$1; shift; fi
threads=2
peer_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --threads) threads=$2; shift 2 ;;
    *) peer_args+=("$1"); shift ;;
  esac
done
# Same wait policy for both sides (see bench/gpt2/run.sh): this machine is shared.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
results="$here/results"
mkdir -p "$results"

# attnlab side: measured by `attnlab bench-train` of this binary, written beside peer.json.
ATTNLAB=${ATTNLAB:-$build/apps/attnlab/attnlab}

# PyTorch side.
python=
for py in "$root/.venv/bin/python" /usr/bin/python3; do
  if [ -x "$py" ] && "$py" -c "import torch" 2>/dev/null; then python=$py; break; fi
done
if [ -z "$python" ]; then
  echo "PyTorch peer skipped: no torch in .venv or /usr/bin/python3 (scripts/bootstrap.sh --bench)"
  exit 0
fi
tmp=$(mktemp "$results/.peer.json.XXXXXX")
trap 'rm -f "$tmp"' EXIT
"$python" "$here/peer_torch_train.py" --threads "$threads" "${peer_args[@]}" > "$tmp"
chmod 644 "$tmp"
mv "$tmp" "$results/peer.json"
cat "$results/peer.json"
echo "  peer: $python; OMP_WAIT_POLICY=$OMP_WAIT_POLICY; command: bench/train/run.sh $build --threads $threads ${peer_args[*]}" >&2
