#!/usr/bin/env bash
# On the GPU machine: CUDA engines of the channels-last test models (tests/gpu/layout_models.py)
# against the CPU reference, in FP32 (row-major), TF32, FP16 and BF16 (channels-last), and FP16
# with the channels-last step disabled; then with channels-last input bindings (--input-layout
# nhwc, the image read as it is: docs/LAYOUT.md), float16/bfloat16 I/O or float32 inputs. Prints
# one line per model and variant.
#   bash tests/gpu/run_layout_tests.sh [MODEL_DIR]
set -uo pipefail
DIR=${1:-/tmp/kiln-layout-models}
KILN=${KILN:-./build/kiln}
python3 tests/gpu/layout_models.py "$DIR" > /dev/null || { echo "could not write the layout models"; exit 1; }
fails=0
for f in "$DIR"/*.onnx; do
  name=$(basename "$f" .onnx)
  for variant in "fp32::1e-3" "tf32:--tf32:1e-2" "fp16:--fp16:2e-2" "bf16:--bf16:5e-2" \
                 "fp16-rowmajor:--fp16 --disable-pass channels-last:2e-2" \
                 "fp16-io:--fp16 --io-dtype float16 --input-layout nhwc:2e-2" \
                 "fp16-nhwc-in:--fp16 --input-layout nhwc:2e-2" \
                 "bf16-io:--bf16 --io-dtype bfloat16 --input-layout nhwc:5e-2"; do
    IFS=: read -r label flags tol <<<"$variant"
    engine=/tmp/$name.$label.kiln
    if ! out=$($KILN build "$f" -o "$engine" --backend cuda $flags --verbose 2>&1); then
      printf '%-18s %-14s BUILD FAILED %s\n' "$name" "$label" "$(tail -n 1 <<<"$out")"; fails=$((fails + 1)); continue
    fi
    layout=$(grep -o 'channels-last: .*' <<<"$out" | head -1)
    if cmp=$($KILN compare "$f" "$engine" --rtol "$tol" --atol "$tol" 2>&1); then result=PASS
    else result=FAIL; fails=$((fails + 1)); fi
    worst=$(awk 'NF>=5 && ($NF=="PASS"||$NF=="FAIL") {printf "%s abs %s rel %s; ", $1, $(NF-2), $(NF-1)}' <<<"$cmp")
    printf '%-18s %-14s %s  %s | %s\n' "$name" "$label" "$result" "$worst" "${layout:-row-major}"
    [ $result = FAIL ] && tail -n 5 <<<"$cmp"
  done
done
echo "$fails layout checks failed"
[ $fails -eq 0 ]
