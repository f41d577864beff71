#include "cli_io.hpp"
#include "token_command.hpp"

#include "corates/storage/auth_store.hpp"
#include "corates/storage/password_hash.hpp"

#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>

namespace corates::app {
namespace {

struct TokenState {
  CLI::App* command = nullptr;
  std::string user;
  std::string role;
  std::string doc;
  std::string data = "./data";
  std::uint64_t ttl_hours = 24 * 30;
  bool password_stdin = false;
};

TokenState& state() {
  static TokenState s;
  return s;
}

}  // namespace

void register_token_command(CLI::App& app) {
  TokenState& st = state();
  CLI::App* cmd = app.add_subcommand(
      "token", "Create a development user if needed, optionally grant it a role on documents, print a session token");
  st.command = cmd;
  cmd->add_option("--user", st.user, "user name (created if missing)")->required();
  cmd->add_option("--role", st.role, "grant this role: owner, editor or viewer (needs --doc)");
  cmd->add_option("--doc", st.doc, "glob over document names for --role: * ? [...], e.g. 'notes/*' or '*'");
  cmd->add_option("--data", st.data, "data directory of the server (auth.sqlite3 inside)")->capture_default_str();
  cmd->add_option("--ttl-hours", st.ttl_hours, "session lifetime in hours")->capture_default_str()->check(
      CLI::Range(std::uint64_t{1}, std::uint64_t{24 * 366}));
  cmd->add_flag("--password-stdin", st.password_stdin,
                "set the user's password from the first line of stdin (for POST /api/auth/session)");
  cmd->footer(
      "Prints only the token on stdout. Use it as `Authorization: Bearer TOKEN` or as ?token=TOKEN on\n"
      "ws://HOST:PORT/ws/<doc>. Without --role, the user owns the documents it opens first (docs/auth.md).");
}

bool token_selected() { return state().command != nullptr && state().command->parsed(); }

int run_token() {
  TokenState& st = state();
  std::optional<storage::DocRole> role;
  if (!st.role.empty() || !st.doc.empty()) {
    if (st.role.empty() || st.doc.empty()) return report_failure("token", 2, "--role and --doc go together");
    role = storage::parse_doc_role(st.role);
    if (!role || *role == storage::DocRole::kNone) {
      return report_failure("token", 2, "--role must be owner, editor or viewer, not '" + st.role + "'");
    }
  }
  std::string password;
  if (st.password_stdin) {
    if (!std::getline(std::cin, password) || password.empty()) return report_failure("token", 2, "no password on stdin");
    if (!password.empty() && password.back() == '\r') password.pop_back();
  }
  auto store = storage::open_sqlite_auth_store({st.data});
  if (!store) return report_failure("token", 1, store.error().message);
  storage::AuthStore& s = **store;
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();

  auto user = s.find_user_by_name(st.user);
  bool created = false;
  if (!user && user.error().code == ErrorCode::kNotFound) {
    user = s.create_user(st.user, "", "", "dev", now);
    created = true;
  }
  if (!user) return report_failure("token", user.error().code == ErrorCode::kInvalidArgument ? 2 : 1, user.error().message);
  if (st.password_stdin) {
    auto hash = storage::hash_password(password);
    if (!hash) return report_failure("token", 2, hash.error().message);
    if (auto r = s.set_password_hash(user->id, *hash); !r) return report_failure("token", 1, r.error().message);
  }
  if (role) {
    if (auto r = s.set_grant(st.doc, user->id, *role); !r) {
      return report_failure("token", r.error().code == ErrorCode::kInvalidArgument ? 2 : 1, r.error().message);
    }
  }
  const std::int64_t expires = now + static_cast<std::int64_t>(st.ttl_hours) * 3600 * 1000;
  auto session = s.create_session(user->id, "dev", now, expires);
  if (!session) return report_failure("token", 1, session.error().message);
  std::fprintf(stderr, "%s user '%s' (%s)%s%s; session %s valid for %llu h\n", created ? "created" : "existing",
               user->name.c_str(), user->id.c_str(), role ? (", " + st.role + " on '" + st.doc + "'").c_str() : "",
               st.password_stdin ? ", password set" : "", session->session.id.c_str(),
               static_cast<unsigned long long>(st.ttl_hours));
  std::printf("%s\n", session->token.c_str());
  return 0;
}

}  // namespace corates::app
