#pragma once
// `corates-sync token --user NAME [--role ROLE --doc PATTERN] [--data DIR]`:
// creates the user if needed (a development account without a password,
// unless --password-stdin sets one), optionally grants ROLE on every document
// whose name matches the glob PATTERN, and prints a new session token on
// stdout (docs/auth.md). Works on <DIR>/auth.sqlite3, also while a server
// runs on the same directory.
#include <CLI/CLI.hpp>

namespace corates::app {

void register_token_command(CLI::App& app);
bool token_selected();
// Exit status: 0, 2 for bad input, 1 when the data directory is unusable.
int run_token();

}  // namespace corates::app
