// Compiled only when the target links corates::server (app/CMakeLists.txt
// must list it); until then this file is empty and main does not call it.
#if __has_include("corates/server/server.hpp")
#include "serve_command.hpp"

#include "corates/server/config.hpp"
#include "corates/server/server.hpp"

#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

namespace corates::app {
namespace {

struct ServeState {
  CLI::App* command = nullptr;
  std::string config_file;
  std::map<std::string, std::string> flags;  // key -> value, only those given
};

ServeState& serve_state() {
  static ServeState s;
  return s;
}

std::string flag_name(std::string_view key) {
  std::string out = "--";
  for (char c : key) out.push_back(c == '_' ? '-' : c);
  return out;
}

}  // namespace

void register_serve_command(CLI::App& app) {
  ServeState& st = serve_state();
  CLI::App* cmd = app.add_subcommand(
      "serve", "Run the sync server: y-websocket protocol at ws://HOST:PORT/ws/<doc-name>, HTTP API, /metrics");
  st.command = cmd;
  const server::ServerConfig defaults;
  for (const server::ConfigKey& key : server::config_keys()) {
    const std::string name(key.name);
    std::string help(key.help);
    if (name == "config") {
      help += " [env " + server::env_name(name) + "]";
      cmd->add_option(flag_name(name), st.config_file, help)->type_name("FILE");
      continue;
    }
    help += " [default " + server::config_value(defaults, name) + "; env " + server::env_name(name) +
            "; TOML key " + name + "]";
    cmd->add_option_function<std::string>(
           flag_name(name), [name](const std::string& v) { serve_state().flags[name] = v; }, help)
        ->type_name(name == "listen" ? "HOST:PORT" : name == "data" ? "DIR" : "VALUE");
  }
  cmd->footer(
      "Precedence: defaults < config file < CORATES_* environment < flags.\n"
      "Prints \"listening on http://HOST:PORT\" once it accepts connections; SIGINT/SIGTERM shut down\n"
      "gracefully (connections closed with 1001, everything acknowledged is durable) and exit 0.");
}

bool serve_selected() { return serve_state().command != nullptr && serve_state().command->parsed(); }

int run_serve() {
  ServeState& st = serve_state();
  std::string config_file = st.config_file;
  if (config_file.empty()) {
    if (const char* env = std::getenv("CORATES_CONFIG")) config_file = env;
  }
  auto config = server::load_config(
      config_file,
      [](std::string_view name) -> std::optional<std::string> {
        const char* v = std::getenv(std::string(name).c_str());
        if (v == nullptr) return std::nullopt;
        return std::string(v);
      },
      st.flags);
  if (!config) {
    std::fprintf(stderr, "corates-sync: serve: %s\n", config.error().message.c_str());
    return config.error().code == ErrorCode::kIo ? 1 : 2;
  }
  server::configure_logging(*config);
  auto srv = server::Server::create(*config);
  if (!srv) {
    std::fprintf(stderr, "corates-sync: serve: %s\n", srv.error().message.c_str());
    return srv.error().code == ErrorCode::kInvalidArgument ? 2 : 1;
  }
  server::Server& s = **srv;
  s.start();
  const bool v6 = s.host().find(':') != std::string::npos;
  std::printf("listening on http://%s%s%s:%u\n", v6 ? "[" : "", s.host().c_str(), v6 ? "]" : "",
              static_cast<unsigned>(s.port()));
  std::fflush(stdout);
  s.wait_for_signal();
  s.stop();
  return 0;
}

}  // namespace corates::app

#endif  // __has_include("corates/server/server.hpp")
