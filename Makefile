# The two quick-start commands: `make demo` and `make test`. Each installs what is missing,
# builds, then runs. BUILD_TYPE=Debug or SANITIZE=1 for other builds.
BUILD ?= build
BUILD_TYPE ?= Release
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all setup configure build test test-sanitize demo conformance fuzz clean

all: build

setup:
	@scripts/setup.sh

configure: setup
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

test: build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

demo: build
	@$(BUILD)/kiln-demo

conformance: build
	@$(BUILD)/kiln conformance --data-dir $(BUILD)/onnx-node-tests

# Every CPU test under AddressSanitizer + UBSan, in its own build folder (slow: a full build).
test-sanitize: setup
	@cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKILN_SANITIZE=ON -DKILN_WITH_CUDA=OFF >/dev/null
	@cmake --build build-asan -j $(JOBS)
	@cd build-asan && ctest --output-on-failure -j $(JOBS)

fuzz: setup
	@scripts/fuzz.sh $${FUZZ_SECONDS:-600}

clean:
	rm -rf $(BUILD)
