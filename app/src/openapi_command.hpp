#pragma once
// `corates-sync openapi`: prints the server's OpenAPI 3.1 document (the one
// GET /openapi.json serves and contracts/openapi.json holds).
#include <CLI/CLI.hpp>

namespace corates::app {

void register_openapi_command(CLI::App& app);
bool openapi_selected();
// Exit status: 0, or 1 when the document cannot be built (a build bug).
int run_openapi();

}  // namespace corates::app
