#!/usr/bin/env bash
# Lowering for CUDA without a GPU (kiln build --backend cuda --target-arch sm_90): small models
# whose every node must get a CUDA tactic, a node with no CUDA kernel must be a clean error
# naming it, bad --target-arch values must be refused, and the fast paths (packed-qkv attention,
# the fused GELU product, the padded RGB stem) must be chosen. Runs in CI (no GPU needed).
#   test_cuda_lowering.sh KILN PYTHON WORKDIR
set -u
KILN=$1; PY=$2; WORK=$3
rm -rf "$WORK"; mkdir -p "$WORK"
source "$(dirname "$0")/cli_checks.sh"

"$PY" "$(dirname "$0")/make_cuda_models.py" "$WORK" || { echo "FAIL: could not write the test models"; exit 1; }

# Every layer of every model gets a cuda.* tactic, or is a view that runs no kernel (alias).
for model in "$WORK"/*.onnx; do
  name=$(basename "$model" .onnx)
  case $name in unsupported_*) continue ;; esac
  for flags in "" "--fp16"; do
    out=$("$KILN" build "$model" -o "$WORK/$name.kiln" --backend cuda --target-arch sm_90 $flags --verbose 2>&1); rc=$?
    layers=$(grep -c '\[build\] layer [0-9]*:' <<<"$out")
    cuda=$(grep -cE '\[build\] layer [0-9]*: .* -> (cuda\.|alias$)' <<<"$out")
    if [ $rc -ne 0 ] || [ "$layers" -eq 0 ] || [ "$layers" -ne "$cuda" ]; then
      bad "$name $flags: exit $rc, $cuda of $layers layers on CUDA: $(grep -v '\] layer\|\] pass\|\] optim' <<<"$out" | tail -n 3)"
    else
      ok "$name $flags: $layers layers, all on CUDA"
    fi
  done
done

# Tactic choices this backend relies on for speed (FP16): attention reading q/k/v from the
# packed qkv product (no Gather left), the GELU product fused on sm_90 only, the RGB stem padded.
expect_tactics() {  # expect_tactics "description" arch model "must match" "must not match"
  local out
  out=$("$KILN" build "$WORK/$3.onnx" -o "$WORK/t.kiln" --backend cuda --target-arch "$2" --fp16 --verbose 2>&1)
  if grep -qE -- "$4" <<<"$out" && { [ -z "$5" ] || ! grep -qE -- "$5" <<<"$out"; }; then ok "$1"
  else bad "$1: $(grep '\] layer [0-9]*:' <<<"$out" | tr '\n' ';')"; fi
}
expect_tactics "packed qkv: attention on cuDNN, no Gather layer" sm_90 vit_block "kiln::Attention .* -> cuda.cudnn.sdpa" "Gather .* -> "
expect_tactics "GELU product fused on sm_90" sm_90 vit_block "FusedMatMul .* -> cuda.cutlass.matmul_gelu" ""
expect_tactics "GELU product on cuBLASLt on sm_80" sm_80 vit_block "FusedMatMul .* -> cuda.cublaslt.matmul" "cuda.cutlass"
expect_tactics "3-channel stem padded to 4" sm_90 rgb_stem "FusedConv .* -> cuda.cudnn.conv_padded" ""

expect_error "a node with no CUDA kernel is named" "GridSample 'the_gridsample'.*no kernel on backend 'cuda'" \
  "$KILN" build "$WORK/unsupported_gridsample.onnx" -o "$WORK/u.kiln" --backend cuda --target-arch sm_90
"$KILN" build "$WORK/unsupported_gridsample.onnx" -o "$WORK/u.kiln" >/dev/null 2>&1 && ok "the GridSample model builds for the CPU" \
  || bad "the GridSample model does not build for the CPU"
expect_error "arch below 8.0" "compute capability 8.0 or newer" \
  "$KILN" build "$WORK/cnn.onnx" -o "$WORK/x.kiln" --backend cuda --target-arch sm_75
expect_error "not an arch" "--target-arch takes" "$KILN" build "$WORK/cnn.onnx" -o "$WORK/x.kiln" --backend cuda --target-arch volta
expect_error "--target-arch for the CPU" "for GPU backends" \
  "$KILN" build "$WORK/cnn.onnx" -o "$WORK/x.kiln" --target-arch sm_90

# The engine records the target: a CUDA engine with the arch and the library versions.
"$KILN" build "$WORK/cnn.onnx" -o "$WORK/cnn90.kiln" --backend cuda --target-arch 9.0 >/dev/null 2>&1
if [ -s "$WORK/cnn90.kiln" ] && head -c 4 "$WORK/cnn90.kiln" | grep -q KILN; then ok "engine file written"
else bad "no engine file for --target-arch 9.0"; fi

echo "$fails failed"
[ $fails -eq 0 ]
