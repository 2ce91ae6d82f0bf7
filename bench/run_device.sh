#!/usr/bin/env bash
# One device call: GPU op tests, then for each benchmark model: export (PyTorch), build CUDA
# engines, check them against the CPU reference (kiln compare), time them (kiln bench), and time
# the peers in the same call. Image models at batch 256 also get a row "<model>-fp16-io": the
# engine built with float16 channels-last I/O (the form the PyTorch peers are fed). Results
# land in $OUT; bench/summarize.py makes the table.
#   bash bench/run_device.sh [MODELS] [BATCHES]
set -uo pipefail
OUT=${OUT:-/tmp/kiln-bench-out}
MODELS=${1:-resnet50,mobilenetv2,vit_b16,bert_base}
BATCHES=${2:-1,32,256}
mkdir -p "$OUT" /tmp/kiln-models
CUDNN_LIB=$(python3 -c 'import nvidia.cudnn, os; print(os.path.join(nvidia.cudnn.__path__[0], "lib"))' 2>/dev/null)
[ -n "$CUDNN_LIB" ] && export LD_LIBRARY_PATH="$CUDNN_LIB:${LD_LIBRARY_PATH:-}"
export PYTHONUNBUFFERED=1
KILN=./build/kiln
git rev-parse --short HEAD 2>/dev/null | sed 's/^/commit /'
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader

echo "== GPU op tests"
./build/kiln_gpu_tests --gtest_brief=1 > "$OUT/gpu_tests.log" 2>&1; tail -3 "$OUT/gpu_tests.log"

echo "== export"
python3 bench/export_models.py /tmp/kiln-models ${MODELS//,/ } 2>&1 | grep -v Warning | tail -8

: > "$OUT/kiln.jsonl"
for m in ${MODELS//,/ }; do
  f=/tmp/kiln-models/$m.onnx
  [ -f "$f" ] || { echo "no $f"; continue; }
  echo "== $m: FP32 engine vs CPU reference (batch 1)"
  timeout 240 $KILN build "$f" -o /tmp/$m.fp32.kiln --backend cuda --shape batch=1 2>&1 | tail -2
  [ -f /tmp/$m.fp32.kiln ] && timeout 240 $KILN compare "$f" /tmp/$m.fp32.kiln --rtol 1e-3 --atol 1e-3 2>&1 | tail -3
  echo "== $m: FP16 engine vs CPU reference (batch 1)"
  timeout 240 $KILN build "$f" -o /tmp/$m.fp16.kiln --backend cuda --fp16 --shape batch=1 2>&1 | tail -2
  [ -f /tmp/$m.fp16.kiln ] && timeout 240 $KILN compare "$f" /tmp/$m.fp16.kiln --rtol 1e-2 --atol 1e-2 2>&1 | tail -3
  for b in ${BATCHES//,/ }; do
    bb=$b; [ "$m" = bert_base ] && [ "$b" -gt 128 ] && bb=128
    timeout 120 $KILN bench "$f" --backend cuda --fp16 --batch $bb --json /tmp/kb.json 2>&1 | tail -4
    [ -f /tmp/kb.json ] && python3 -c "import json,sys; d=json.load(open('/tmp/kb.json')); d['model']='$m'; print(json.dumps(d))" >> "$OUT/kiln.jsonl"
    rm -f /tmp/kb.json
  done
  # The same engine with float16 channels-last I/O (--io-dtype float16 --input-layout nhwc: the
  # peers' input form, no boundary casts): image models, batch 256, rows "<model>-fp16-io".
  case $m in bert_base) continue ;; esac
  case ",$BATCHES," in *,256,*) ;; *) continue ;; esac
  IO="--io-dtype float16 --input-layout nhwc"
  echo "== $m: FP16 engine with float16 NHWC I/O vs CPU reference (batch 1)"
  timeout 240 $KILN build "$f" -o /tmp/$m.fp16io.kiln --backend cuda --fp16 $IO --shape batch=1 2>&1 | tail -2
  [ -f /tmp/$m.fp16io.kiln ] && timeout 240 $KILN compare "$f" /tmp/$m.fp16io.kiln --rtol 1e-2 --atol 1e-2 2>&1 | tail -3
  timeout 120 $KILN bench "$f" --backend cuda --fp16 $IO --batch 256 --json /tmp/kb.json 2>&1 | tail -4
  [ -f /tmp/kb.json ] && python3 -c "import json,sys; d=json.load(open('/tmp/kb.json')); d['model']='$m-fp16-io'; print(json.dumps(d))" >> "$OUT/kiln.jsonl"
  rm -f /tmp/kb.json
done

echo "== peers"
timeout 330 python3 bench/peers.py /tmp/kiln-models --models "$MODELS" --batches "$BATCHES" ${PEER_FLAGS:---compile --ort} \
  2>/dev/null | grep '^{' > "$OUT/peers.jsonl"
python3 bench/summarize.py "$OUT/kiln.jsonl" "$OUT/peers.jsonl" | tee "$OUT/table.md"
