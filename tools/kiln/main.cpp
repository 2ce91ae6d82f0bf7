#include <cstdio>
#include <exception>

#include "commands.h"

namespace kiln::cli {

int report(const Status& status) {
  if (status.is_ok()) return 0;
  std::fprintf(stderr, "kiln: error: %s\n", status.message().c_str());
  return 1;
}

}  // namespace kiln::cli

int main(int argc, char** argv) {
  CLI::App app{"Kiln: a deep-learning inference compiler and runtime.\n"
               "Imports ONNX models, optimizes them and runs them on the CPU (reference) or a GPU."};
  app.require_subcommand(1);
  int exit_code = 0;
  kiln::cli::add_build_command(app, exit_code);
  kiln::cli::add_run_command(app, exit_code);
  kiln::cli::add_inspect_command(app, exit_code);
  kiln::cli::add_compare_command(app, exit_code);
  kiln::cli::add_bench_command(app, exit_code);
  kiln::cli::add_conformance_command(app, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kiln: error: %s\n", e.what());
    return 1;
  }
  return exit_code;
}
