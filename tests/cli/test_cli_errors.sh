#!/usr/bin/env bash
# The CLI on bad input: one readable error line, exit code 1, never a crash.
#   test_cli_errors.sh KILN PYTHON WORKDIR
set -u
KILN=$1; PY=$2; WORK=$3
HERE=$(cd "$(dirname "$0")" && pwd)
rm -rf "$WORK"; mkdir -p "$WORK"
fails=0
fail() { echo "FAIL: $*"; fails=$((fails+1)); }
# expect_error "description" "message fragment" cmd...   (exit code 1, fragment in the output)
expect_error() {
  local what=$1 fragment=$2; shift 2
  local out rc
  out=$("$@" 2>&1); rc=$?
  if [ $rc -ne 1 ] || ! grep -qi -- "$fragment" <<<"$out"; then fail "$what: exit $rc, output: $out"
  else echo "ok: $what"; fi
}
# expect_error_line: the same, and the output is exactly one line "kiln: error: ...".
expect_error_line() {
  local what=$1 fragment=$2; shift 2
  local out rc
  out=$("$@" 2>&1); rc=$?
  if [ $rc -ne 1 ] || ! grep -qi -- "$fragment" <<<"$out" || [ "$(wc -l <<<"$out")" -ne 1 ] ||
     ! grep -q '^kiln: error: ' <<<"$out"; then fail "$what: exit $rc, output: $out"
  else echo "ok: $what: $out"; fi
}
# expect_no_crash: exit 0 or 1 (a clean success or a clean error).
expect_no_crash() {
  local what=$1; shift
  local out rc
  out=$("$@" 2>&1); rc=$?
  if [ $rc -gt 1 ]; then fail "$what: exit $rc (crash?), output: $out"; else echo "ok: $what (exit $rc)"; fi
}

expect_error "missing file" "cannot open" "$KILN" inspect "$WORK/nope.onnx"
printf 'this is not a model' > "$WORK/garbage.onnx"
expect_error "garbage bytes" "not a valid ONNX model" "$KILN" inspect "$WORK/garbage.onnx"
expect_error "unknown subcommand" "" "$KILN" frobnicate

if ! "$PY" "$HERE/make_bad_inputs.py" "$WORK"; then
  echo "FAIL: could not write the test inputs"; exit 1
fi
W=$WORK; M=$WORK/model
if "$KILN" run "$W/good.onnx" --input "X=$W/x_ok.npy" >/dev/null 2>&1; then echo "ok: good model runs"
else fail "good model does not run"; fi
expect_error_line "truncated protobuf" "truncated or corrupt" "$KILN" inspect "$W/truncated.onnx"
for i in 0 1 2; do expect_no_crash "bit-flipped protobuf $i" "$KILN" run "$W/flipped$i.onnx" --random-inputs; done
expect_error_line "cycle" "cycle" "$KILN" inspect "$W/cycle.onnx"
expect_error_line "node reads a value nobody produces" "reads 'ghost', which no node" "$KILN" inspect "$W/dangling.onnx"
expect_error_line "output nobody produces" "output 'Z' is not produced by any node" "$KILN" inspect "$W/no_producer.onnx"
expect_error_line "initializer negative dim" "negative dim" "$KILN" inspect "$W/init_negative.onnx"
expect_error_line "initializer dims overflow" "overflows" "$KILN" inspect "$W/init_overflow.onnx"
expect_error_line "huge raw initializer, little data" "bytes of raw_data" "$KILN" inspect "$W/init_huge.onnx"
expect_error_line "huge typed initializer, little data" "float_data holds 2 values" "$KILN" inspect "$W/init_huge_typed.onnx"
expect_error_line "input negative dim" "negative dim -5" "$KILN" inspect "$W/input_negative.onnx"
expect_error_line "input dims overflow" "product overflows" "$KILN" inspect "$W/input_overflow.onnx"
expect_error_line "opset too new" "imports opset 1000" "$KILN" inspect "$W/opset_new.onnx"
if "$KILN" inspect "$M/ext_ok.onnx" >/dev/null 2>&1; then echo "ok: external data inside the folder"
else fail "external data inside the folder does not load"; fi
expect_error_line "external data absolute path" "absolute paths are refused" "$KILN" inspect "$M/ext_absolute.onnx"
expect_error_line "external data '..'" "'..' is refused" "$KILN" inspect "$M/ext_dotdot.onnx"
expect_error_line "external data symlink out" "resolves outside the model's folder" "$KILN" inspect "$M/ext_symlink.onnx"
expect_error_line "external data offset beyond the file" "offset 100 is outside the file" "$KILN" inspect "$M/ext_offset.onnx"
expect_error_line "external data length beyond the file" "runs past the end of the file" "$KILN" inspect "$M/ext_length.onnx"
expect_error_line "run: wrong input dtype" "input 'X' has dtype int64, the model expects float32" \
  "$KILN" run "$W/good.onnx" --input "X=$W/x_int.npy"
expect_error_line "run: wrong input shape" "input 'X' has shape \[3,2\], the model expects" \
  "$KILN" run "$W/good.onnx" --input "X=$W/x_shape.npy"
expect_error_line "run: unknown input name" "no input named 'Q'" "$KILN" run "$W/good.onnx" --input "X=$W/x_ok.npy" --input "Q=$W/x_ok.npy"
expect_error_line "run: missing .npy" "cannot open" "$KILN" run "$W/good.onnx" --input "X=$W/none.npy"
expect_error_line "corrupt .npy: truncated data" "data bytes" "$KILN" run "$W/good.onnx" --input "X=$W/x_truncated.npy"
expect_error_line "corrupt .npy: bad magic" "not a .npy file" "$KILN" run "$W/good.onnx" --input "X=$W/x_magic.npy"
expect_error_line "corrupt .npy: bad shape" "bad shape" "$KILN" run "$W/good.onnx" --input "X=$W/x_header.npy"
expect_error_line "corrupt .npy: huge shape, little data" "data bytes" "$KILN" run "$W/good.onnx" --input "X=$W/x_huge.npy"
echo "$fails failed"
[ $fails -eq 0 ]
