#!/usr/bin/env bash
# scripts/run_fuzz.sh — run every libFuzzer target of tests/fuzz for a fixed time, on a copy of
# its checked-in seed corpus, and fail on any crash, sanitizer report, leak or timeout.
#
#   scripts/run_fuzz.sh [BUILD_DIR]        default build/fuzz (`make fuzz` builds it first)
#
# Environment:
#   FUZZ_SECONDS   seconds per target (default 30), libFuzzer's -max_total_time
#   FUZZ_TARGETS   space-separated subset of target names (default: every tests/fuzz/*_fuzz.cpp)
#   FUZZ_RSS_MB    -rss_limit_mb (default 2048)
#
# Per target T: tests/fuzz/corpus/T is copied to BUILD_DIR/corpus-run/T (fresh each run; the
# checked-in corpus is never written), the dictionaries listed below are joined into
# BUILD_DIR/corpus-run/T.dict, and BUILD_DIR/tests/fuzz/fuzz_T runs with
#   -max_total_time=FUZZ_SECONDS -timeout=10 -rss_limit_mb=FUZZ_RSS_MB -dict=... -print_final_stats=1
# Its log goes to BUILD_DIR/fuzz-logs/T.log and any crashing input to
# BUILD_DIR/fuzz-artifacts/T/ (reproduce: BUILD_DIR/tests/fuzz/fuzz_T ARTIFACT). A table of
# executions, coverage (libFuzzer's cov: edges / ft: features), corpus size and result follows;
# the exit status is 1 when any target failed.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-build/fuzz}
case "$build" in /*) ;; *) build="$here/$build" ;; esac
seconds=${FUZZ_SECONDS:-30}
rss_mb=${FUZZ_RSS_MB:-2048}
src="$here/tests/fuzz"

# Dictionaries of each target (tests/fuzz/dict/NAME.dict), joined in this order.
declare -A dicts=(
  [npy]="npy" [idx]="idx" [llmc]="llmc"
  [safetensors]="safetensors json" [checkpoint]="checkpoint safetensors gpt2_config json"
  [gpt2_config]="gpt2_config json" [bert_config]="bert_config json"
  [bpe]="bpe" [bpe_vocab]="bpe json" [wordpiece]="wordpiece json"
  [attention_override]="attention_override" [attention_spec_json]="attention_spec_json json"
  [json_strict]="json"
)

if [ -n "${FUZZ_TARGETS:-}" ]; then
  read -r -a targets <<<"$FUZZ_TARGETS"
else
  targets=()
  for f in "$src"/*_fuzz.cpp; do
    name=$(basename "$f" _fuzz.cpp)
    targets+=("$name")
  done
fi

mkdir -p "$build/corpus-run" "$build/fuzz-logs" "$build/fuzz-artifacts"
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

echo "run_fuzz: ${#targets[@]} targets x ${seconds} s (logs: ${build#"$here"/}/fuzz-logs)"
rows=()
failed=()
start_all=$SECONDS
for t in "${targets[@]}"; do
  bin="$build/tests/fuzz/fuzz_$t"
  log="$build/fuzz-logs/$t.log"
  run_corpus="$build/corpus-run/$t"
  artifacts="$build/fuzz-artifacts/$t/"
  if [ ! -x "$bin" ]; then
    rows+=("$t|-|-|-|-|MISSING BINARY")
    failed+=("$t")
    continue
  fi
  rm -rf "$run_corpus" "$artifacts"
  mkdir -p "$run_corpus" "$artifacts"
  if [ -d "$src/corpus/$t" ]; then
    cp "$src/corpus/$t"/* "$run_corpus"/ 2>/dev/null || true
  else
    echo "run_fuzz: warning: no seed corpus tests/fuzz/corpus/$t" >&2
  fi
  seeds=$(find "$run_corpus" -type f | wc -l)
  dict_args=()
  if [ -n "${dicts[$t]:-}" ]; then
    : >"$run_corpus.dict"
    for d in ${dicts[$t]}; do cat "$src/dict/$d.dict" >>"$run_corpus.dict"; done
    dict_args=(-dict="$run_corpus.dict")
  fi
  printf 'run_fuzz: %-20s ' "$t"
  t0=$SECONDS
  # TMPDIR: where targets that need real files put their per-process scratch directory.
  scratch="$build/fuzz-tmp/$t"
  rm -rf "$scratch" && mkdir -p "$scratch"
  (cd "$build" && TMPDIR="$scratch" "$bin" -max_total_time="$seconds" -timeout=10 \
     -rss_limit_mb="$rss_mb" "${dict_args[@]}" -print_final_stats=1 \
     -artifact_prefix="$artifacts" "$run_corpus") >"$log" 2>&1
  rc=$?
  rm -rf "$scratch"
  # Last status line, e.g. "#123456 DONE cov: 1234 ft: 5678 corp: 80/10Kb ...".
  status=$(grep -E '^#[0-9]+.*cov: [0-9]+' "$log" | tail -n 1)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$status")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$status")
  corp=$(find "$run_corpus" -type f | wc -l)
  if [ "$rc" = 0 ] && [ -n "$execs" ]; then
    result=ok
  else
    if grep -q 'ERROR: LeakSanitizer' "$log"; then result=LEAK
    elif grep -q 'ERROR: libFuzzer: timeout' "$log"; then result=TIMEOUT
    elif grep -q 'out-of-memory' "$log"; then result=OOM
    elif grep -qE 'ERROR: (AddressSanitizer|libFuzzer)|runtime error:|FUZZ_CHECK failed' "$log"; then
      result=CRASH
    else result="FAILED (exit $rc)"
    fi
    failed+=("$t")
  fi
  echo "$result ($((SECONDS - t0)) s)"
  rows+=("$t|${execs:--}|${cov:--}|${ft:--}|$seeds -> $corp|$result")
done

echo
printf '%-20s %12s %7s %8s %14s  %s\n' target executions cov ft corpus result
printf '%-20s %12s %7s %8s %14s  %s\n' -------------------- ------------ ------- -------- \
  -------------- ------
for r in "${rows[@]}"; do
  IFS='|' read -r t execs cov ft corp result <<<"$r"
  printf '%-20s %12s %7s %8s %14s  %s\n' "$t" "$execs" "$cov" "$ft" "$corp" "$result"
done
echo "run_fuzz: $((SECONDS - start_all)) s in all; corpus = seeds -> seeds + new inputs (${build#"$here"/}/corpus-run)"

if [ "${#failed[@]}" -gt 0 ]; then
  for t in "${failed[@]}"; do
    echo
    echo "== fuzz_$t FAILED; last lines of ${build#"$here"/}/fuzz-logs/$t.log:"
    tail -n 40 "$build/fuzz-logs/$t.log" 2>/dev/null
    for a in "$build/fuzz-artifacts/$t"/*; do
      [ -f "$a" ] && echo "   reproduce: ${build#"$here"/}/tests/fuzz/fuzz_$t ${a#"$here"/}"
    done
  done
  echo
  echo "run_fuzz: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "run_fuzz: all ${#targets[@]} targets passed"
