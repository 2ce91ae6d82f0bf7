#!/usr/bin/env bash
# Engine I/O formats (kiln build --io-dtype / --input-layout): float16/bfloat16 channels-last
# engines on the CPU backend compared with the model, .npy inputs that do not fit the binding,
# the build's refusals, and (with "cuda" as 4th argument: CUDA compiled in, no GPU needed) that
# the CUDA lowering of a CNN runs no transpose or cast before its first convolution.
#   test_io_formats.sh KILN PYTHON WORKDIR [cuda]
set -u
KILN=$1; PY=$2; WORK=$3; CUDA=${4:-}
rm -rf "$WORK"; mkdir -p "$WORK"
source "$(dirname "$0")/cli_checks.sh"

"$PY" "$(dirname "$0")/make_cuda_models.py" "$WORK" || { echo "FAIL: could not write the test models"; exit 1; }
# h = x @ 1e6 leaves float16's range (its layers stay float32), y = softmax(h @ 1e-6) does not.
"$PY" "$(dirname "$0")/make_overflow_model.py" "$WORK/overflow.onnx"

IO16=(--fp16 --io-dtype float16 --input-layout nhwc)
expect_success "build fp16 NHWC I/O (CPU)" "bindings: inputs x float16\[2,16,16,3\] (channels-last: NHWC); outputs y float16\[2,10\]" \
  "$KILN" build "$WORK/cnn.onnx" -o "$WORK/cnn16.kiln" "${IO16[@]}"
expect_success "inspect: binding dtype and dims, channels-last" "x  *float16\[2,16,16,3\] (channels-last: NHWC)" \
  "$KILN" inspect "$WORK/cnn16.kiln"
expect_success "inspect: float16 output" "y  *float16\[2,10\]" "$KILN" inspect "$WORK/cnn16.kiln"
expect_success "inspect: the build's I/O settings" "--io-dtype float16 --input-layout nhwc" "$KILN" inspect "$WORK/cnn16.kiln"
if "$KILN" inspect "$WORK/cnn16.kiln" | grep -q ' Cast '; then bad "a Cast layer in the float16-I/O engine"
else ok "no Cast layer in the float16-I/O engine"; fi
expect_success "compare fp16 NHWC I/O (random inputs)" "^PASS" \
  "$KILN" compare "$WORK/cnn.onnx" "$WORK/cnn16.kiln" --rtol 1e-2 --atol 1e-3
"$PY" -c "
import numpy as np
x = np.random.default_rng(1).uniform(-1, 1, (2, 3, 16, 16)).astype(np.float32)
np.save('$WORK/x_nchw32.npy', x)
np.save('$WORK/x_nchw16.npy', x.astype(np.float16))
np.save('$WORK/x_nhwc16.npy', x.transpose(0, 2, 3, 1).astype(np.float16))"
expect_success "compare with a given NHWC float16 input" "^PASS" \
  "$KILN" compare "$WORK/cnn.onnx" "$WORK/cnn16.kiln" --rtol 1e-2 --atol 1e-3 --input "x=$WORK/x_nhwc16.npy"
expect_success "run with a given NHWC float16 input" "y  *float16\[2,10\]" \
  "$KILN" run "$WORK/cnn16.kiln" --input "x=$WORK/x_nhwc16.npy"
expect_error "run: a float32 .npy for a float16 binding" "x_nchw32.npy is float32\[2,3,16,16\], the engine's input 'x' takes float16\[2,16,16,3\] (channels-last" \
  "$KILN" run "$WORK/cnn16.kiln" --input "x=$WORK/x_nchw32.npy"
expect_error "run: an NCHW .npy for a channels-last binding" "takes float16\[2,16,16,3\]" \
  "$KILN" run "$WORK/cnn16.kiln" --input "x=$WORK/x_nchw16.npy"
expect_error "compare: a wrong .npy" "takes float16\[2,16,16,3\]" \
  "$KILN" compare "$WORK/cnn.onnx" "$WORK/cnn16.kiln" --input "x=$WORK/x_nchw32.npy"
expect_error "run: an input the engine does not have" "no input named 'q'" \
  "$KILN" run "$WORK/cnn16.kiln" --input "q=$WORK/x_nhwc16.npy"
expect_success "bench takes the I/O flags" "throughput" \
  "$KILN" bench "$WORK/cnn.onnx" --backend cpu "${IO16[@]}" --iterations 2 --warmup 1

# The other combinations.
expect_success "build NHWC float32 I/O" "built" "$KILN" build "$WORK/cnn.onnx" -o "$WORK/cnn32.kiln" --input-layout nhwc
expect_success "compare NHWC float32 I/O" "^PASS" "$KILN" compare "$WORK/cnn.onnx" "$WORK/cnn32.kiln"
expect_success "build float16 NCHW I/O" "built" "$KILN" build "$WORK/cnn.onnx" -o "$WORK/cnn16c.kiln" --fp16 --io-dtype float16
expect_success "inspect float16 NCHW input" "x  *float16\[2,3,16,16\]$" "$KILN" inspect "$WORK/cnn16c.kiln"
expect_success "compare float16 NCHW I/O" "^PASS" "$KILN" compare "$WORK/cnn.onnx" "$WORK/cnn16c.kiln" --rtol 1e-2 --atol 1e-3
expect_success "build bfloat16 NHWC I/O" "built" \
  "$KILN" build "$WORK/cnn.onnx" -o "$WORK/cnnbf.kiln" --bf16 --io-dtype bfloat16 --input-layout nhwc
expect_success "compare bfloat16 NHWC I/O" "^PASS" "$KILN" compare "$WORK/cnn.onnx" "$WORK/cnnbf.kiln" --rtol 5e-2 --atol 1e-2
# float32 islands at the boundary: the kept MatMul reads the float16 input through a Cast up.
expect_success "float16 I/O with layers kept float32" "2 layers keep float32" \
  "$KILN" build "$WORK/overflow.onnx" -o "$WORK/overflow16.kiln" --fp16 --io-dtype float16
expect_success "float16 I/O with layers kept float32 compares" "^PASS" \
  "$KILN" compare "$WORK/overflow.onnx" "$WORK/overflow16.kiln" --rtol 1e-2 --atol 1e-3
expect_success "integer inputs stay integer" "ids  *int64\[2,8\]" bash -c \
  "'$KILN' build '$WORK/block.onnx' -o '$WORK/block16.kiln' --fp16 --io-dtype float16 >/dev/null && '$KILN' inspect '$WORK/block16.kiln'"

# A symbolic batch dim, bound by --shape after the layout change.
"$PY" - "$WORK/cnn_batch.onnx" "$WORK/cnn.onnx" <<'PYEOF'
import sys, onnx
m = onnx.load(sys.argv[2])
for v in list(m.graph.input) + list(m.graph.output):
    v.type.tensor_type.shape.dim[0].dim_param = "batch"
onnx.save(m, sys.argv[1])
PYEOF
expect_success "symbolic batch: --shape binds it" "bindings: inputs x float16\[5,16,16,3\] (channels-last: NHWC); outputs y float16\[5,10\]" \
  "$KILN" build "$WORK/cnn_batch.onnx" -o "$WORK/cnn_batch.kiln" "${IO16[@]}" --shape batch=5
expect_success "symbolic batch: compare" "^PASS" \
  "$KILN" compare "$WORK/cnn_batch.onnx" "$WORK/cnn_batch.kiln" --rtol 1e-2 --atol 1e-3

# Refusals.
expect_error "--io-dtype float16 without --fp16" "--io-dtype float16 needs --fp16" \
  "$KILN" build "$WORK/cnn.onnx" -o "$WORK/x.kiln" --io-dtype float16
expect_error "--io-dtype bfloat16 with --fp16" "--io-dtype bfloat16 needs --bf16" \
  "$KILN" build "$WORK/cnn.onnx" -o "$WORK/x.kiln" --fp16 --io-dtype bfloat16
expect_error "--io-dtype int8" "--io-dtype must be float32, float16 or bfloat16" \
  "$KILN" build "$WORK/cnn.onnx" -o "$WORK/x.kiln" --fp16 --io-dtype int8
expect_error "--input-layout chw" "--input-layout must be nchw or nhwc" \
  "$KILN" build "$WORK/cnn.onnx" -o "$WORK/x.kiln" --input-layout chw
expect_error "--input-layout nhwc without a rank-4 input" "binds rank-4 inputs channels-last, but the model has none (inputs: ids int64\[2,8\])" \
  "$KILN" build "$WORK/block.onnx" -o "$WORK/x.kiln" --input-layout nhwc

# CUDA lowering (no GPU needed): the image input is read as it is by the first convolution.
if [ "$CUDA" = cuda ]; then
  no_movement_before_conv() {  # no_movement_before_conv "description" model "forbidden ops" flags...
    local what=$1 model=$2 forbidden=$3; shift 3
    local out layers head
    out=$("$KILN" build "$WORK/$model.onnx" -o "$WORK/$model.cuda.kiln" --backend cuda --target-arch sm_90 "$@" --verbose 2>&1)
    layers=$(grep '\[build\] layer [0-9]*:' <<<"$out")
    head=$(awk '{ print } /Conv/ { exit }' <<<"$layers")  # up to the first convolution
    if ! grep -q 'Conv' <<<"$head" || grep -qE -- "$forbidden" <<<"$head" || \
       ! grep -q "1 channels-last inputs read as they are" <<<"$out"; then
      bad "$what: $(tr '\n' ';' <<<"$layers") $(grep -i 'error\|channels-last:' <<<"$out")"
    else ok "$what"; fi
  }
  no_movement_before_conv "CUDA cnn, float16 NHWC I/O: first layer is the convolution" cnn "Transpose|Reformat|Cast" "${IO16[@]}"
  expect_success "CUDA cnn: the absorbed input is still bound [N,H,W,C]" \
    "bindings: inputs x float16\[2,16,16,3\] (channels-last: NHWC); outputs y float16\[2,10\]" \
    "$KILN" build "$WORK/cnn.onnx" -o "$WORK/cnn.cuda.kiln" --backend cuda --target-arch sm_90 "${IO16[@]}"
  no_movement_before_conv "CUDA RGB stem, float16 NHWC I/O" rgb_stem "Transpose|Reformat|Cast" "${IO16[@]}"
  no_movement_before_conv "CUDA cnn, float32 NHWC input: only the precision Cast (NHWC to NHWC)" cnn "Transpose|Reformat" \
    --fp16 --input-layout nhwc
fi

echo "$fails failed"
[ $fails -eq 0 ]
