#pragma once
// `corates-sync client --server URL --token T --state DIR <command>`: a
// command-line client over the SDK (corates::client), so a person can try the
// op queue and the document cache from a shell.
//   enqueue TYPE JSON | status | sync      (client_command.cpp)
//   doc get NAME | doc edit NAME ... | doc watch NAME   (client_doc_command.cpp)
#include "corates/client/endpoint.hpp"

#include <CLI/CLI.hpp>

#include <filesystem>
#include <string>

namespace corates::app {

// What every `client` subcommand receives once the common options are parsed.
struct ClientCommandContext {
  corates::client::Endpoint endpoint;
  std::filesystem::path state_root;  // --state DIR (the SDK keeps each user apart below it)
  std::string user_hint;             // --user NAME, for when the server cannot be asked
};

void register_client_command(CLI::App& app);
bool client_selected();
int run_client();

// The `doc ...` subcommands, registered under the `client` subcommand.
void register_client_doc_commands(CLI::App& client);
bool client_doc_selected();
int run_client_doc(const ClientCommandContext& context);

}  // namespace corates::app
