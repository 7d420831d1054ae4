#!/usr/bin/env bash
# BERT (all-MiniLM-L6-v2) sentence embeddings: attnlab vs Hugging Face transformers BertModel on
# the real model files. crosscheck.py compares token ids, embeddings and attention probabilities
# on fixed sentences; speed.py measures sentences/s (batch 32, 128-token sentences) in interleaved
# rounds. Prints both tables; exits with crosscheck.py's status (speed runs either way).
#
# Usage: bench/bert/run.sh [BUILD_DIR] [--threads 2] [--rounds 5]
# Needs scripts/bootstrap.sh --bench (.venv-hf: transformers over Debian's python3-torch) and
# .cache/minilm/all-MiniLM-L6-v2 (bootstrap); without them this prints one note and exits 0.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-build/release}
shift || true
threads=2 rounds=5
while [ $# -gt 0 ]; do
  case "$1" in
    --threads) threads=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
python=$root/.venv-hf/bin/python model=$root/.cache/minilm/all-MiniLM-L6-v2
if [ ! -x "$python" ] || ! "$python" -c "import torch, transformers" 2>/dev/null; then
  echo "BERT transformers peer skipped: .venv-hf with transformers missing (scripts/bootstrap.sh --bench)"
  exit 0
fi
if [ ! -f "$model/model.safetensors" ]; then
  echo "BERT benchmark skipped: $model missing (scripts/bootstrap.sh)"
  exit 0
fi
# Same OpenMP wait policy for both peers (see bench/gpt2/run.sh) unless the caller chose one.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
binary=$build/apps/attnlab/attnlab
status=0
"$python" "$here/crosscheck.py" --attnlab "$binary" --model "$model" || status=$?
echo
"$python" "$here/speed.py" --attnlab "$binary" --model "$model" --threads "$threads" --rounds "$rounds"
echo "  OMP_WAIT_POLICY=$OMP_WAIT_POLICY for both peers"
echo "  command: bench/bert/run.sh $build --threads $threads --rounds $rounds"
exit "$status"
