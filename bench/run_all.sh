#!/usr/bin/env bash
# Runs every benchmark area (bench/<area>/run.sh BUILD_DIR) and prints its comparison table.
# Usage: bench/run_all.sh [build/release] [area ...]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=${1:-build/release}
shift || true
areas=("$@")
if [ "${#areas[@]}" -eq 0 ]; then
  for d in "$here"/*/; do [ -f "$d/run.sh" ] && areas+=("$(basename "$d")"); done
fi
echo "attnlab benchmarks — $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
for area in "${areas[@]}"; do
  echo
  echo "== $area =="
  bash "$here/$area/run.sh" "$build"
done
