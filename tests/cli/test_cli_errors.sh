#!/usr/bin/env bash
# The CLI on bad input: one readable error line, exit code 1, never a crash.
set -u
KILN=$1; PY=$2; WORK=$3
rm -rf "$WORK"; mkdir -p "$WORK"
fails=0
expect_error() {  # expect_error "description" "message fragment" cmd...
  local what=$1 fragment=$2; shift 2
  local out rc
  out=$("$@" 2>&1); rc=$?
  if [ $rc -ne 1 ] || ! grep -qi -- "$fragment" <<<"$out"; then
    echo "FAIL: $what: exit $rc, output: $out"; fails=$((fails+1))
  else
    echo "ok: $what"
  fi
}
expect_error "missing file" "cannot open" "$KILN" inspect "$WORK/nope.onnx"
printf 'this is not a model' > "$WORK/garbage.onnx"
expect_error "garbage bytes" "not a valid ONNX model" "$KILN" inspect "$WORK/garbage.onnx"
expect_error "unknown subcommand" "" "$KILN" frobnicate
echo "$fails failed"
[ $fails -eq 0 ]
