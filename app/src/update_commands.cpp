// `corates-sync update ...`: placeholder registration until the CRDT core lands.
#include "commands.hpp"

#include <cstdio>
#include <functional>
#include <vector>

namespace corates::app {
namespace {
std::vector<std::function<int()>> g_runners;  // NOLINT: filled once at start-up
}

void register_update_commands(CLI::App& app) {
  auto* update = app.add_subcommand("update", "Work on Yjs binary updates offline");
  update->require_subcommand(1);
}

int run_selected(CLI::App& app) {
  (void)app;
  std::fprintf(stderr, "corates-sync: nothing to do\n");
  return 2;
}

}  // namespace corates::app
