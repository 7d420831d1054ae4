#!/usr/bin/env bash
# Tiny-GPT training throughput (the trainer's default model: 4 layers, width 128, 4 heads, context
# 256, batch 16, vocab 256): median full AdamW steps (forward, backward, clip, update) as tokens/s,
# attnlab (bench/train_bench) vs PyTorch (bench/train/peer_torch_train.py) on the same model shape
# and random tokens, same thread count, same run. The two sides alternate for --rounds rounds so
# that a noisy neighbour hits both alike; the table gives the median over rounds of each side's
# per-round median and the ratio. JSON of every round: bench/train/results/.
#
# Usage: bench/train/run.sh [BUILD_DIR] [--threads 2] [--rounds 3] [--steps 20]
# The peer runs in the project venv (.venv, torch 2.13: eager and torch.compile; made by
# scripts/bootstrap.sh --bench) when it has torch, else on Debian's python3-torch 1.13 (eager
# only: no torch.compile, no SDPA; its attention is matmul + mask + softmax).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
build=build/release
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then build=$1; shift; fi
threads=2 rounds=3 steps=20
while [ $# -gt 0 ]; do
  case "$1" in
    --threads) threads=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    *) echo "bench/train/run.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
# Same wait policy for both sides (see bench/gpt2/run.sh): this machine is shared.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
results="$here/results"
mkdir -p "$results"
rm -f "$results"/attnlab.*.json "$results"/peer.*.json

python=
for py in "$root/.venv/bin/python" /usr/bin/python3; do
  if [ -x "$py" ] && "$py" -c "import torch" 2>/dev/null; then python=$py; break; fi
done
[ -n "$python" ] || echo "PyTorch peer skipped: no torch in .venv or /usr/bin/python3 (scripts/bootstrap.sh --bench)"

for r in $(seq 1 "$rounds"); do
  "$build/bench/train_bench" --threads "$threads" --steps "$steps" \
    --json "$results/attnlab.$r.json" > /dev/null
  if [ -n "$python" ]; then
    "$python" "$here/peer_torch_train.py" --threads "$threads" --steps "$steps" \
      > "$results/peer.$r.json.tmp" 2> "$results/peer.$r.log"
    mv "$results/peer.$r.json.tmp" "$results/peer.$r.json"
  fi
done

python3 - "$results" "$rounds" <<'PY'
import json, statistics, sys
res, rounds = sys.argv[1], int(sys.argv[2])
ours = [json.load(open(f"{res}/attnlab.{r}.json")) for r in range(1, rounds + 1)]
a = statistics.median(o["tokens_per_s"] for o in ours)
print(f"model: {ours[0]['config']}, batch {ours[0]['batch']}, context {ours[0]['context']}, "
      f"{ours[0]['params']} parameters, {ours[0]['threads']} threads, {rounds} rounds")
print(f"{'side':44s} {'tokens/s':>10s} {'ms/step':>9s} {'attnlab x':>10s}")
print(f"{'attnlab (fused attention, AdamW)':44s} {a:10.0f} {1e3 * statistics.median(o['median_step_s'] for o in ours):9.1f} {1.0:10.2f}")
peers = []
for r in range(1, rounds + 1):
    try:
        peers.append(json.load(open(f"{res}/peer.{r}.json")))
    except FileNotFoundError:
        pass
if peers:
    for m in [x["mode"] for x in peers[0]["results"]]:
        rows = [x for p in peers for x in p["results"] if x["mode"] == m]
        name = f"PyTorch {peers[0]['torch_version']} {m} ({peers[0]['config']['attention']})"
        if any("error" in x for x in rows):
            print(f"{name:44s} {'n/a':>10s}   {rows[0].get('error', '')[:60]}")
            continue
        t = statistics.median(x["tokens_per_s"] for x in rows)
        print(f"{name:44s} {t:10.0f} {1e3 * statistics.median(x['median_step_s'] for x in rows):9.1f} {a / t:10.2f}")
PY
echo "  OMP_WAIT_POLICY=$OMP_WAIT_POLICY for both; peer: ${python:-none}; command: bench/train/run.sh $build --threads $threads --rounds $rounds --steps $steps"
