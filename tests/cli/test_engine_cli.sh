#!/usr/bin/env bash
# kiln build / inspect / run / compare on a small generated model, and the refusals of
# corrupt engine files (exit 1, one readable message, no crash).
set -u
KILN=$1; PY=$2; WORK=$3
rm -rf "$WORK"; mkdir -p "$WORK"
source "$(dirname "$0")/cli_checks.sh"

# y = relu-free arithmetic over an input and two initializers, two outputs.
"$PY" - "$WORK/small.onnx" <<'PYEOF'
import sys, numpy as np, onnx
from onnx import helper, TensorProto, numpy_helper
rng = np.random.default_rng(0)
w = numpy_helper.from_array(rng.standard_normal((4, 8)).astype(np.float32), "w")
b = numpy_helper.from_array(rng.standard_normal((8,)).astype(np.float32), "b")
nodes = [helper.make_node("Mul", ["x", "w"], ["m"], name="mul"),
         helper.make_node("Add", ["m", "b"], ["a"], name="add"),
         helper.make_node("Mul", ["a", "a"], ["sq"], name="square"),
         helper.make_node("Sub", ["sq", "x"], ["y"], name="sub"),
         helper.make_node("Div", ["y", "w"], ["z"], name="div")]
g = helper.make_graph(nodes, "small", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 8])],
                      [helper.make_tensor_value_info("z", TensorProto.FLOAT, [4, 8]),
                       helper.make_tensor_value_info("a", TensorProto.FLOAT, [4, 8])], [w, b])
onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), sys.argv[1])
PYEOF
[ -f "$WORK/small.onnx" ] || { echo "FAIL: could not write the test model"; exit 1; }

expect_success "build" "5 nodes -> 2 layers" "$KILN" build "$WORK/small.onnx" -o "$WORK/small.kiln" --verbose
expect_success "inspect engine" "memory plan: arena" "$KILN" inspect "$WORK/small.kiln"
expect_success "inspect shows tactics" "cpu.reference" "$KILN" inspect "$WORK/small.kiln"
expect_success "inspect --dot" "digraph" "$KILN" inspect "$WORK/small.kiln" --dot
profile=$("$KILN" inspect "$WORK/small.kiln" --load-profile 2>&1); rc=$?
missing=""
for section in "load profile" "read (open + mmap)" "checksum (XXH64)" "verify (FlatBuffers)" "parse (graph, layers)" \
               "weights " "kernel creation " "total load" "kernel creation by tactic" "slowest layers" \
               "first execution context" "second load in this process"; do
  grep -qF -- "$section" <<<"$profile" || missing="$missing [$section]"
done
if [ $rc -ne 0 ] || [ -n "$missing" ]; then bad "inspect --load-profile: exit $rc, missing$missing: $profile"
else ok "inspect --load-profile"; fi
expect_success "inspect --load-profile lists layers" "cpu.reference" "$KILN" inspect "$WORK/small.kiln" --load-profile
expect_failure "inspect --load-profile wants an engine" "takes an engine file" "$KILN" inspect "$WORK/small.onnx" --load-profile
expect_success "run engine" "ran .*small.kiln on cpu" "$KILN" run "$WORK/small.kiln" --verbose --output-dir "$WORK/out"
expect_success "run onnx still works" "ran .*small.onnx on cpu" "$KILN" run "$WORK/small.onnx" --random-inputs
expect_success "compare random inputs" "^PASS" "$KILN" compare "$WORK/small.onnx" "$WORK/small.kiln"
"$PY" -c "import numpy as np; np.save('$WORK/x.npy', np.linspace(-2, 2, 32, dtype=np.float32).reshape(4, 8))"
expect_success "compare given inputs" "^PASS" "$KILN" compare "$WORK/small.onnx" "$WORK/small.kiln" --input "x=$WORK/x.npy"

# A model whose engine differs must FAIL the comparison (exit 1): compare against another model.
"$PY" - "$WORK/other.onnx" <<'PYEOF'
import sys, numpy as np, onnx
from onnx import helper, TensorProto
g = helper.make_graph([helper.make_node("Add", ["x", "x"], ["z"]), helper.make_node("Identity", ["x"], ["a"])],
                      "other", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 8])],
                      [helper.make_tensor_value_info("z", TensorProto.FLOAT, [4, 8]),
                       helper.make_tensor_value_info("a", TensorProto.FLOAT, [4, 8])])
onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), sys.argv[1])
PYEOF
expect_failure "compare detects a mismatch" "FAIL" "$KILN" compare "$WORK/other.onnx" "$WORK/small.kiln"

# Views: the Reshape/Flatten/Unsqueeze between two layers alias their input (no kernel); the
# Reshape that is a graph output keeps its copy. --disable-pass view-alias turns it off.
"$PY" - "$WORK/views.onnx" <<'PYEOF'
import sys, numpy as np, onnx
from onnx import helper, TensorProto, numpy_helper
s = numpy_helper.from_array(np.array([6, 4], np.int64), "s")
flat = numpy_helper.from_array(np.array([24], np.int64), "flat")
axes = numpy_helper.from_array(np.array([0], np.int64), "axes")
nodes = [helper.make_node("Relu", ["x"], ["r"], name="relu"),
         helper.make_node("Reshape", ["r", "s"], ["v"], name="reshape"),
         helper.make_node("Flatten", ["v"], ["f"], name="flatten", axis=0),
         helper.make_node("Unsqueeze", ["x", "axes"], ["xu"], name="unsqueeze"),
         helper.make_node("Neg", ["xu"], ["n"], name="neg"),
         helper.make_node("Sigmoid", ["f"], ["y"], name="sigmoid"),
         helper.make_node("Reshape", ["n", "flat"], ["z"], name="reshape_out")]
g = helper.make_graph(nodes, "views", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 6])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 24]),
                       helper.make_tensor_value_info("z", TensorProto.FLOAT, [24])], [s, flat, axes])
onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), sys.argv[1])
PYEOF
expect_success "views build" "7 nodes -> 7 layers (3 views)" "$KILN" build "$WORK/views.onnx" -o "$WORK/views.kiln"
expect_success "inspect shows views" "3 are views that run no kernel" "$KILN" inspect "$WORK/views.kiln"
expect_success "inspect names the aliased bytes" "= bytes of 'r'" "$KILN" inspect "$WORK/views.kiln"
expect_success "views compare" "^PASS" "$KILN" compare "$WORK/views.onnx" "$WORK/views.kiln"
expect_success "views off" "7 nodes -> 7 layers (0 views)" "$KILN" build "$WORK/views.onnx" -o "$WORK/copies.kiln" --disable-pass view-alias
expect_success "views off compare" "^PASS" "$KILN" compare "$WORK/views.onnx" "$WORK/copies.kiln"

# FP16 overflow protection: h = x @ 1e6 leaves float16's range, y = softmax(h @ 1e-6) does not.
"$PY" "$(dirname "$0")/make_overflow_model.py" "$WORK/overflow.onnx"
expect_success "fp16 overflow warning" "warning: layer 'big' (MatMul) keeps float32: max |value|" \
  "$KILN" build "$WORK/overflow.onnx" -o "$WORK/overflow16.kiln" --backend cpu --fp16
expect_success "fp16 overflow count in the summary" "2 layers keep float32" \
  "$KILN" build "$WORK/overflow.onnx" -o "$WORK/overflow16.kiln" --backend cpu --fp16
expect_success "fp16 with overflow check is right" "^PASS" "$KILN" compare "$WORK/overflow.onnx" "$WORK/overflow16.kiln" --rtol 1e-2 --atol 1e-3
expect_success "--no-overflow-check" "built" "$KILN" build "$WORK/overflow.onnx" -o "$WORK/overflow16u.kiln" --backend cpu --fp16 --no-overflow-check
expect_failure "fp16 without overflow check overflows" "FAIL" "$KILN" compare "$WORK/overflow.onnx" "$WORK/overflow16u.kiln" --rtol 1e-2 --atol 1e-3
"$PY" -c "import numpy as np; np.save('$WORK/xs.npy', np.full((2, 4), 0.5, np.float32))"
expect_success "--sample-input NAME=FILE" "2 layers keep float32" \
  "$KILN" build "$WORK/overflow.onnx" -o "$WORK/overflow16s.kiln" --fp16 --sample-input "x=$WORK/xs.npy"
mkdir -p "$WORK/samples" && cp "$WORK/xs.npy" "$WORK/samples/x.npy"
expect_success "--sample-input DIR" "2 layers keep float32" \
  "$KILN" build "$WORK/overflow.onnx" -o "$WORK/overflow16s.kiln" --fp16 --sample-input "$WORK/samples"
expect_failure "--sample-input needs --fp16" "needs --fp16" \
  "$KILN" build "$WORK/overflow.onnx" -o "$WORK/overflow16s.kiln" --sample-input "x=$WORK/xs.npy"
expect_failure "--sample-input unknown input" "no input named 'q'" \
  "$KILN" build "$WORK/overflow.onnx" -o "$WORK/overflow16s.kiln" --fp16 --sample-input "q=$WORK/xs.npy"

# Corrupt engines.
size=$(stat -c %s "$WORK/small.kiln")
head -c $((size / 2)) "$WORK/small.kiln" > "$WORK/truncated.kiln"
expect_failure "truncated engine" "truncated" "$KILN" inspect "$WORK/truncated.kiln"
cp "$WORK/small.kiln" "$WORK/flipped.kiln"
printf '\x5a' | dd of="$WORK/flipped.kiln" bs=1 seek=$((size - 3)) conv=notrunc 2>/dev/null
expect_failure "flipped byte" "checksum" "$KILN" run "$WORK/flipped.kiln"
expect_failure "engine garbage after magic" "invalid engine file" bash -c "printf 'KILN garbage' > '$WORK/g.kiln'; '$KILN' inspect '$WORK/g.kiln'"
expect_failure "build refuses unknown backend" "--backend" "$KILN" build "$WORK/small.onnx" -o "$WORK/x.kiln" --backend tpu
echo "$fails failed"
[ $fails -eq 0 ]
