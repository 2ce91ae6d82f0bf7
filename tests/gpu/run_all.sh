#!/usr/bin/env bash
# Everything the CUDA backend is checked against, in ONE device call (from the repository root,
# with build/kiln and build/kiln_gpu_tests built here and carried there):
#   1. build/kiln_gpu_tests (every CUDA tactic vs the CPU reference)
#   2. kiln conformance --backend cuda (the ONNX node tests, engines built in-process)
#   3. the model zoo (tests/models/export_zoo.py, PyTorch there) built for CUDA in FP32, TF32 and
#      FP16 and checked with kiln compare against the CPU reference (rtol 1e-3 / 1e-3 / 1e-2;
#      top-1 agreement for classifiers)
# and writes one markdown summary to $OUT/summary.md (plus five logs: at most 8 files come back
# from a device call). Each step is time-boxed;
# the whole run stays under RUN_ALL_BUDGET seconds (default 540, a device call allows 600).
#   bash tests/gpu/run_all.sh
set -uo pipefail
OUT=${OUT:-/tmp/kiln-run-all}
BUDGET=${RUN_ALL_BUDGET:-540}
ZOO=${ZOO_DIR:-/tmp/kiln-zoo}
KILN=./build/kiln
BACKEND=${KILN_BACKEND:-cuda}  # cpu: a dry run of the zoo step on a machine without a GPU
mkdir -p "$OUT" "$ZOO"
START=$(date +%s)
left() { echo $(( BUDGET - ($(date +%s) - START) )); }
# A step's time box: its own limit, or what is left of the budget (at least 5 s).
box() { local l; l=$(left); [ "$l" -lt "$1" ] && echo $(( l > 5 ? l : 5 )) || echo "$1"; }

# Use the cuDNN Kiln was compiled against (9.19, in PyTorch's tree) rather than the system's 9.14.
CUDNN_LIB=$(python3 -c 'import nvidia.cudnn, os; print(os.path.join(nvidia.cudnn.__path__[0], "lib"))' 2>/dev/null)
[ -n "$CUDNN_LIB" ] && export LD_LIBRARY_PATH="$CUDNN_LIB:${LD_LIBRARY_PATH:-}"
export PYTHONUNBUFFERED=1
SUMMARY="$OUT/summary.md"
{
  echo "# Kiln CUDA check ($(date -u '+%Y-%m-%d %H:%M UTC'))"
  echo
  echo "- commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "- GPU: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | head -1)"
  echo "- cuDNN library folder: ${CUDNN_LIB:-system}"
} > "$SUMMARY"

for f in "$KILN" ./build/kiln_gpu_tests; do
  [ -x "$f" ] || { echo "missing $f: build here (make build) and carry build/kiln and build/kiln_gpu_tests" | tee -a "$SUMMARY"; }
done

# ---- 1. GPU op tests
echo "== 1. kiln_gpu_tests"
t0=$(date +%s)
timeout "$(box 180)" ./build/kiln_gpu_tests --gtest_brief=1 > "$OUT/gpu_tests.log" 2>&1
rc=$?
tail -n 5 "$OUT/gpu_tests.log"
gt_total=$(grep -o '[0-9]* tests\? from [0-9]* test suites\? ran' "$OUT/gpu_tests.log" | tail -1 | awk '{print $1}')
gt_pass=$(grep -o 'PASSED  \] [0-9]*' "$OUT/gpu_tests.log" | awk '{print $3}' | tail -1)
gt_fail=$(grep -c '^\[  FAILED  \] .*\.' "$OUT/gpu_tests.log")
{
  echo
  echo "## 1. GPU op tests (kiln_gpu_tests, $(( $(date +%s) - t0 )) s, exit $rc$([ $rc -ge 124 ] && echo ': timed out or crashed'))"
  echo
  echo "${gt_pass:-0} of ${gt_total:-?} passed, ${gt_fail} failed"
  if [ "$gt_fail" -gt 0 ]; then
    echo; echo '```'; grep '^\[  FAILED  \] .*\.' "$OUT/gpu_tests.log" | sed 's/, where GetParam.*//' | sort -u | head -40; echo '```'
  fi
} >> "$SUMMARY"

# ---- 2. ONNX node tests on CUDA
echo "== 2. conformance --backend cuda"
NODE_TESTS=build/onnx-node-tests
if [ ! -d "$NODE_TESTS" ]; then  # 64 MiB: too big to carry; write them here with this machine's onnx
  NODE_TESTS=/tmp/kiln-node-tests
  [ -d "$NODE_TESTS" ] || timeout "$(box 90)" python3 tests/conformance/gen_node_tests.py "$NODE_TESTS" > "$OUT/export_zoo.log" 2>&1
fi
t0=$(date +%s)
timeout "$(box 240)" "$KILN" conformance --backend cuda --data-dir "$NODE_TESTS" --json "$OUT/conformance_cuda.json" \
  > "$OUT/conformance_cuda.log" 2>&1
rc=$?
tail -n 3 "$OUT/conformance_cuda.log"
{
  echo
  echo "## 2. ONNX node tests on CUDA ($(( $(date +%s) - t0 )) s, exit $rc$([ $rc -ge 124 ] && echo ': timed out or crashed'), onnx $(python3 -c 'import onnx; print(onnx.__version__)' 2>/dev/null))"
  echo
  grep -E '^(conformance|[0-9]+ passed)' "$OUT/conformance_cuda.log" | sed 's/^/    /'
  grep -qE '^[0-9]+ passed' "$OUT/conformance_cuda.log" || { echo "no summary (a crash stops after the last test listed); the log ends:"; echo '```'; tail -n 5 "$OUT/conformance_cuda.log" | cut -c1-300; echo '```'; }
  echo
  echo "Failures (first 40; all in conformance_cuda.json):"
  echo; echo '```'; grep '^FAIL ' "$OUT/conformance_cuda.log" | cut -c1-220 | head -40; echo '```'
  echo
  echo "Unsupported on CUDA, by missing kernel (top 25):"
  echo; echo '```'
  grep '^UNSUPPORTED' "$OUT/conformance_cuda.log" | grep -o "[A-Za-z:]* '[^']*' (domain '[a-z.]*') has no kernel" | awk '{print $1}' \
    | sort | uniq -c | sort -rn | head -25
  echo "other reasons: $(grep '^UNSUPPORTED' "$OUT/conformance_cuda.log" | grep -vc 'has no kernel')"
  echo '```'
} >> "$SUMMARY"

# ---- 3. model zoo: FP32 / TF32 / FP16 engines vs the CPU reference
echo "== 3. model zoo"
t0=$(date +%s)
if [ -n "${SKIP_EXPORT:-}" ]; then echo "export skipped (SKIP_EXPORT): using $ZOO" >> "$OUT/export_zoo.log"
else timeout "$(box 180)" python3 tests/models/export_zoo.py "$ZOO" >> "$OUT/export_zoo.log" 2>&1; fi
grep -E 'FAILED|exported' "$OUT/export_zoo.log" | tail -n 12
{
  echo
  echo "## 3. Model zoo on $BACKEND vs the CPU reference (export $(( $(date +%s) - t0 )) s)"
  echo
  echo "kiln compare on random inputs: FP32 rtol=atol=1e-3, TF32 rtol=atol=1e-3, FP16 rtol=atol=1e-2."
  echo "Cells: result (max abs err / max rel err) or why it did not run; top-1 = classifier agreement."
  echo
  echo "| model | layers (FP32) | FP32 | TF32 | FP16 | FP16 top-1 |"
  echo "| --- | --- | --- | --- | --- | --- |"
} >> "$SUMMARY"
ZOO_NOTES=$(grep FAILED "$OUT/export_zoo.log" | sed 's/^/- export /')
: > "$OUT/zoo.log"
for model in "$ZOO"/*.onnx; do
  [ -f "$model" ] || { echo "| (no models exported: see export_zoo.log) | | | | | |" >> "$SUMMARY"; break; }
  name=$(basename "$model" .onnx)
  row="| $name"; layers=""; top1=""
  for prec in fp32 tf32 fp16; do
    case $prec in fp32) flags=""; tol=1e-3 ;; tf32) flags="--tf32"; tol=1e-3 ;; fp16) flags="--fp16"; tol=1e-2 ;; esac
    engine="$ZOO/$name.$prec.kiln"
    if [ "$(left)" -lt 15 ]; then cell="not run (time budget)"
    elif ! out=$(timeout "$(box 90)" "$KILN" build "$model" -o "$engine" --backend "$BACKEND" $flags 2>&1); then
      cell="BUILD FAILED: $(tail -n 1 <<<"$out" | sed 's/kiln: error: //; s/|/\\|/g' | cut -c1-120)"
    else
      [ $prec = fp32 ] && layers=$(grep -o '[0-9]* nodes -> [0-9]* layers' <<<"$out")
      cmp=$(timeout "$(box 90)" "$KILN" compare "$model" "$engine" --rtol $tol --atol $tol 2>&1); crc=$?
      { echo "=== $name $prec"; echo "$cmp"; } >> "$OUT/zoo.log"
      err=$(awk 'NF>=4&&($NF=="PASS"||$NF=="FAIL"){if($(NF-2)+0>a)a=$(NF-2)+0; if($(NF-1)+0>r)r=$(NF-1)+0}END{printf "%.2g / %.2g", a, r}' <<<"$cmp")
      if [ $crc -eq 0 ]; then cell="PASS ($err)"
      elif grep -qi ' is -\?nan' <<<"$cmp"; then cell="FAIL (NaN in the output)"
      elif grep -q '^FAIL' <<<"$cmp"; then cell="FAIL ($err)"
      else cell="ERROR: $(tail -n 1 <<<"$cmp" | sed 's/kiln: error: //; s/|/\\|/g' | cut -c1-120)"; fi
      if [ $prec = fp16 ]; then
        top1=$(grep -E '^ *logits +top-1' <<<"$cmp" | grep -o 'top-1 agreement [0-9]*/[0-9]*' | awk '{split($3,a,"/"); s+=a[1]; t+=a[2]} END{if(t) print s "/" t}')
      fi
    fi
    row+=" | $cell"
    rm -f "$engine"
  done
  echo "$row | ${top1:--} |" | sed "s/^| $name |/| $name | ${layers:--} |/" >> "$SUMMARY"
  echo "$name done ($(left) s left)"
done
[ -n "$ZOO_NOTES" ] && { echo; echo "$ZOO_NOTES"; } >> "$SUMMARY"
echo >> "$SUMMARY"
echo "Total $(( $(date +%s) - START )) s." >> "$SUMMARY"
echo
cat "$SUMMARY"
