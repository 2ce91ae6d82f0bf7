# The two quick-start commands: `make demo` and `make test`. Each installs what is missing,
# builds, then runs. BUILD_TYPE=Debug or SANITIZE=1 for other builds.
BUILD ?= build
BUILD_TYPE ?= Release
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all setup configure build test demo conformance fuzz clean device-bundle

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

clean:
	rm -rf $(BUILD)
