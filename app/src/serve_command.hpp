#pragma once
// `corates-sync serve`: runs the sync server (corates::server) until SIGINT
// or SIGTERM. Every configuration key is a flag, a CORATES_<KEY> variable and
// a TOML key (see `corates-sync serve --help`).
#include <CLI/CLI.hpp>

namespace corates::app {

// Adds the `serve` subcommand and its options.
void register_serve_command(CLI::App& app);

// True if `serve` was selected on the parsed command line.
bool serve_selected();

// Runs the server; returns the exit status (0 after a graceful shutdown,
// 2 for a bad configuration, 1 if the server cannot start).
int run_serve();

}  // namespace corates::app
