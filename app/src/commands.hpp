#pragma once
// Subcommand registration for the corates-sync executable.
#include <CLI/CLI.hpp>

namespace corates::app {

// Adds `update ...` (offline tools for Yjs binary updates).
void register_update_commands(CLI::App& app);

// Runs whichever subcommand was selected; returns the process exit status.
// Failures print one line "corates-sync: <what>: <reason>" on stderr.
int run_selected(CLI::App& app);

}  // namespace corates::app
