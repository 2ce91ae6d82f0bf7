#!/usr/bin/env bash
# Installs what Kiln needs to build and test, only what is missing: Debian packages, then a
# Python virtual environment (.venv) with the pinned packages of scripts/requirements.txt.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES=(
  cmake ninja-build g++ ccache pkg-config
  libprotobuf-dev protobuf-compiler          # ONNX protobuf
  flatbuffers-compiler libflatbuffers-dev    # engine file
  libcli11-dev nlohmann-json3-dev            # CLI, JSON
  libgtest-dev libgmock-dev                  # unit tests
  libopenblas-dev zlib1g-dev                 # CPU GEMM fast path, gzip (Fashion-MNIST)
  dataset-fashion-mnist                      # the demo's data
  clang libclang-rt-14-dev                   # libFuzzer targets
  python3-venv
)

missing=()
for p in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Python: any python3 >= 3.10 with venv; the pinned wheels cover 3.10-3.13.
if [ ! -x .venv/bin/python ] || ! cmp -s scripts/requirements.txt .venv/requirements.stamp; then
  echo "setup: creating .venv with scripts/requirements.txt"
  python3 -m venv .venv
  .venv/bin/python -m pip install -q --disable-pip-version-check -r scripts/requirements.txt
  cp scripts/requirements.txt .venv/requirements.stamp
fi

# Header-only C++ libraries shipped in PyPI wheels (only their headers are used, at build time):
# the cuDNN frontend (graph API) and CUTLASS. Pinned; unpacked into .deps/.
fetch_headers() {  # fetch_headers NAME==VERSION DEST SUBDIR_IN_WHEEL
  local spec=$1 dest=$2 subdir=$3
  [ -f "$dest/.stamp-$spec" ] && return 0
  echo "setup: fetching headers of $spec"
  local tmp; tmp=$(mktemp -d)
  .venv/bin/python -m pip download -q --no-deps --only-binary=:all: -d "$tmp" "$spec"
  rm -rf "$dest"; mkdir -p "$dest"
  .venv/bin/python - "$tmp"/*.whl "$dest" "$subdir" <<'PY'
import sys, zipfile
wheel, dest, subdir = sys.argv[1:4]
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        if name.startswith(subdir) and not name.endswith("/"):
            z.extract(name, dest)
PY
  rm -rf "$tmp"
  touch "$dest/.stamp-$spec"
}
fetch_headers nvidia-cudnn-frontend==1.32.0 .deps/cudnn-frontend include/
fetch_headers nvidia-cutlass==4.2.0.0 .deps/cutlass cutlass_library/source/include/
