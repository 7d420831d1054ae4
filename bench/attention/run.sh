#!/usr/bin/env bash
# Attention kernel benchmark: fused attnlab vs PyTorch composite vs OpenBLAS sgemm, one table.
# Usage: bench/attention/run.sh BUILD_DIR [extra attention_bench flags]
set -euo pipefail
build=${1:?usage: run.sh BUILD_DIR}
shift
"$build/bench/attention_bench" "$@"
