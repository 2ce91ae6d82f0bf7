#!/usr/bin/env bash
# On the GPU machine: the CUDA tactics vs the CPU reference (kiln_gpu_tests), then the model
# checks that exist (kiln compare of CUDA engines against the CPU reference). Built here,
# carried there: run from the repository root with build/ present.
set -uo pipefail
OUT=${OUT:-/tmp/kiln-gpu-out}
mkdir -p "$OUT"
# Use the cuDNN Kiln was compiled against (9.19, in PyTorch's tree) rather than the system's 9.14.
CUDNN_LIB=$(python3 -c 'import nvidia.cudnn, os; print(os.path.join(nvidia.cudnn.__path__[0], "lib"))' 2>/dev/null)
[ -n "$CUDNN_LIB" ] && export LD_LIBRARY_PATH="$CUDNN_LIB:${LD_LIBRARY_PATH:-}"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
./build/kiln_gpu_tests --gtest_brief=1 --gtest_output=xml:"$OUT/gpu_tests.xml" 2>&1 | tee "$OUT/gpu_tests.log" | tail -40
