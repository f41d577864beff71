#include "openapi_command.hpp"

#include "corates/server/openapi.hpp"

#include <cstdio>
#include <fstream>
#include <string>

namespace corates::app {
namespace {

struct OpenApiState {
  CLI::App* command = nullptr;
  std::string output = "-";
};

OpenApiState& state() {
  static OpenApiState s;
  return s;
}

}  // namespace

void register_openapi_command(CLI::App& app) {
  OpenApiState& st = state();
  st.command = app.add_subcommand("openapi", "Print the HTTP API as an OpenAPI 3.1 document (as GET /openapi.json)");
  st.command->add_option("-o,--output", st.output, "write to FILE instead of stdout ('-')")->type_name("FILE");
}

bool openapi_selected() { return state().command != nullptr && state().command->parsed(); }

int run_openapi() {
  auto doc = server::openapi_document();
  if (!doc) {
    std::fprintf(stderr, "corates-sync: openapi: %s\n", doc.error().message.c_str());
    return 1;
  }
  const std::string& out = state().output;
  if (out == "-") {
    std::fwrite(doc->data(), 1, doc->size(), stdout);
    return std::fflush(stdout) == 0 ? 0 : 1;
  }
  std::ofstream f(out, std::ios::binary);
  f << *doc;
  f.close();
  if (!f) {
    std::fprintf(stderr, "corates-sync: openapi: cannot write %s\n", out.c_str());
    return 1;
  }
  return 0;
}

}  // namespace corates::app
