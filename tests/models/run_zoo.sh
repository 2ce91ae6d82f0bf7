#!/usr/bin/env bash
# Builds an engine for every zoo model and checks it against the CPU reference with
# `kiln compare` (FP32, rtol 1e-4). Prints one summary line per model: PASS/FAIL, layers
# before -> after, memory plan peak vs naive, engine load time.
#   tests/models/run_zoo.sh KILN ZOO_DIR [--backend cpu|cuda] [extra kiln build flags...]
# Export the zoo first: /usr/bin/python3 tests/models/export_zoo.py ZOO_DIR [--small]
set -u
KILN=${1:?usage: run_zoo.sh KILN ZOO_DIR [build flags]}; ZOO=${2:?zoo dir}; shift 2
RTOL=${RTOL:-1e-4}; ATOL=${ATOL:-1e-5}
fails=0; summary=""
for model in "$ZOO"/*.onnx; do
  name=$(basename "$model" .onnx); engine="$ZOO/$name.kiln"
  if ! out=$("$KILN" build "$model" -o "$engine" "$@" 2>&1); then
    summary+=$(printf '%-20s BUILD FAILED: %s' "$name" "$(tail -n 1 <<<"$out")")$'\n'; fails=$((fails+1)); continue
  fi
  layers=$(grep -o '[0-9]* nodes -> [0-9]* layers' <<<"$out")
  info=$("$KILN" inspect "$engine" 2>&1)
  plan=$(grep -o 'memory plan: .*' <<<"$info" | sed 's/memory plan: //')
  load=$(grep -o 'loaded in [0-9.]* ms' <<<"$info")
  if cmp_out=$("$KILN" compare "$model" "$engine" --rtol "$RTOL" --atol "$ATOL" 2>&1); then result=PASS
  else result=FAIL; fails=$((fails+1)); echo "$cmp_out" | tail -n 8; fi
  worst=$(awk '$NF=="PASS"||$NF=="FAIL"{if($(NF-1)+0>m)m=$(NF-1)+0}END{printf "%.3g", m+0}' <<<"$cmp_out")
  summary+=$(printf '%-20s %s  max rel err %-9s %-26s %s | %s' "$name" "$result" "$worst" "$layers" "$load" "$plan")$'\n'
done
echo "---- zoo summary (rtol $RTOL) ----"
printf '%s' "$summary"
echo "$fails failed"
[ $fails -eq 0 ]
