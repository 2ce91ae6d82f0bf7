// ONNX ModelProto -> ir::Model. The only module that knows ONNX exists (DESIGN.md). Model
// files are untrusted: every error is a Status naming the node, op and value concerned.
#pragma once
#include <cstddef>
#include <string>

#include "core/status.h"
#include "ir/graph.h"

namespace kiln::importer {

struct ImportOptions {
  bool infer_shapes = true;  // run shape inference after import
};

Result<ir::Model> import_model_file(const std::string& path, const ImportOptions& options = {});
// base_dir is where external data may be read from; empty refuses external data.
Result<ir::Model> import_model_bytes(const void* data, size_t size, const std::string& base_dir,
                                     const ImportOptions& options = {});

}  // namespace kiln::importer
