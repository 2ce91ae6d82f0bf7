#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) in build-fuzz/ and runs each for
# DURATION_SECONDS, starting from the committed seeds (tests/fuzz/seeds/<target>/).
#   scripts/fuzz.sh DURATION_SECONDS [importer|npy|engine|optimizer|builder|all]
# Crashing inputs land in build-fuzz/artifacts/<target>/; add each one, once fixed, to the
# seeds as a regression. Prints executions and coverage (cov/ft) of each run at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:?usage: scripts/fuzz.sh DURATION_SECONDS [importer|npy|engine|optimizer|builder|all]}
WHICH=${2:-all}
BUILD=${FUZZ_BUILD:-build-fuzz}
case $WHICH in all) TARGETS="importer npy engine optimizer builder" ;; importer|npy|engine|optimizer|builder) TARGETS=$WHICH ;; *) echo "unknown target $WHICH" >&2; exit 2 ;; esac

CC=clang CXX=clang++ cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DKILN_FUZZ=ON -DKILN_WITH_CUDA=OFF -DKILN_WERROR=OFF >/dev/null
cmake --build "$BUILD" -j "${JOBS:-$(nproc)}" --target $(for t in $TARGETS; do echo "kiln_${t}_fuzzer"; done)

status=0
summary=""
for t in $TARGETS; do
  corpus=$BUILD/corpus/$t artifacts=$BUILD/artifacts/$t log=$BUILD/fuzz-$t.log
  mkdir -p "$corpus" "$artifacts"
  echo "fuzzing $t for $DURATION s (log: $log)"
  # -fork would survive crashes, but one process keeps the numbers simple; a crash stops the run.
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ASAN_OPTIONS=detect_leaks=1 \
    "$BUILD/kiln_${t}_fuzzer" "$corpus" "tests/fuzz/seeds/$t" -max_total_time="$DURATION" \
      -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts/" >"$log" 2>&1 || status=1
  last=$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)
  execs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}' || true)
  crashes=$(ls "$artifacts" | wc -l)
  summary+="$t: executions ${execs:-?}, last status: ${last:-none}; crash/leak/timeout files in $artifacts: $crashes"$'\n'
done
echo "---- fuzz summary ----"
printf '%s' "$summary"
exit $status
