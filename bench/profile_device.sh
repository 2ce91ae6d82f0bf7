#!/usr/bin/env bash
# Per-layer profiles of CUDA engines: kiln bench --profile for MODEL:BATCH pairs.
#   bash bench/profile_device.sh resnet50:256 bert_base:128 ...
set -uo pipefail
CUDNN_LIB=$(python3 -c 'import nvidia.cudnn, os; print(os.path.join(nvidia.cudnn.__path__[0], "lib"))' 2>/dev/null)
[ -n "$CUDNN_LIB" ] && export LD_LIBRARY_PATH="$CUDNN_LIB:${LD_LIBRARY_PATH:-}"
mkdir -p /tmp/kiln-models
models=$(for p in "$@"; do echo "${p%%:*}"; done | sort -u)
for m in $models; do
  [ -f /tmp/kiln-models/$m.onnx ] || python3 bench/export_models.py /tmp/kiln-models $m 2>&1 | grep exported
done
for p in "$@"; do
  m=${p%%:*}; b=${p##*:}
  echo "== $m batch $b"
  timeout 120 ./build/kiln bench /tmp/kiln-models/$m.onnx --backend cuda --fp16 --batch $b --profile --iterations 50 2>&1 \
    | grep -v "Skipping plan"
done
