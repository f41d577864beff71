// corates-sync: the command-line entry point. Subcommands register themselves
// here; errors go to stderr with exit status 2 for bad input, 1 otherwise.
#include "client_command.hpp"
#include "commands.hpp"
#include "openapi_command.hpp"
#include "serve_command.hpp"
#include "token_command.hpp"

#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>

int main(int argc, char** argv) {
  CLI::App app{"corates-sync: a local-first sync engine (Yjs-compatible CRDT core and server)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "corates-sync 0.1.0");
  corates::app::register_update_commands(app);
  corates::app::register_serve_command(app);
  corates::app::register_token_command(app);
  corates::app::register_openapi_command(app);
  corates::app::register_client_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  try {
    if (corates::app::serve_selected()) return corates::app::run_serve();
    if (corates::app::token_selected()) return corates::app::run_token();
    if (corates::app::openapi_selected()) return corates::app::run_openapi();
    if (corates::app::client_selected()) return corates::app::run_client();
    return corates::app::run_selected(app);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "corates-sync: %s\n", e.what());
    return 1;
  }
}
