// The kiln CLI's subcommands. Each add_* registers its options on the app and a callback that
// sets the exit code; errors print one line "kiln: error: ..." and exit with 1.
#pragma once
#include <CLI/CLI.hpp>

#include "core/status.h"

namespace kiln::cli {

void add_run_command(CLI::App& app, int& exit_code);
void add_inspect_command(CLI::App& app, int& exit_code);
void add_conformance_command(CLI::App& app, int& exit_code);

// Prints the error and returns the exit code for it.
int report(const Status& status);

}  // namespace kiln::cli
