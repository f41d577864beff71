// `corates-sync client ... doc get|edit NAME`: the document cache from a
// shell. Edits are stored locally first, then synced within --wait-ms;
// offline, the cached copy is shown and edits wait for the next sync.
//   exit 0: synced; 3: kept locally, the server was unreachable;
//   1: refused or failed (epoch change, auth, ...); 2: bad arguments.
#include "cli_io.hpp"
#include "client_command.hpp"

#include "corates/client/client.hpp"
#include "corates/client/doc_provider.hpp"
#include "corates/crdt/map.hpp"
#include "corates/crdt/text.hpp"
#include "corates/server/doc_json.hpp"

#include <chrono>
#include <cstdio>
#include <optional>

namespace corates::app {
namespace {

constexpr int kKeptOffline = 3;

struct DocState {
  CLI::App* doc = nullptr;
  CLI::App* get = nullptr;
  CLI::App* edit = nullptr;
  std::string name;
  unsigned wait_ms = 5000;
  std::string text_field;
  std::string map_field;
  std::optional<std::uint64_t> insert_at;
  std::string insert_text;
  std::vector<std::uint64_t> delete_range;
  std::vector<std::string> set_pair;
};

DocState& state() {
  static DocState s;
  return s;
}

// Syncs; returns the exit status and says on stderr what happened.
int sync_and_report(client::DocProvider& p, std::chrono::milliseconds wait) {
  auto r = p.sync(wait);
  if (r) return 0;
  if (r.error().code == ErrorCode::kIo || r.error().code == ErrorCode::kBusy) {
    auto unsent = p.unsent_updates();
    std::fprintf(stderr, "corates-sync: client doc: offline (%s): using the cached copy; %llu change(s) kept for the next sync\n",
                 r.error().message.c_str(), static_cast<unsigned long long>(unsent ? *unsent : 0));
    return kKeptOffline;
  }
  return report_failure("client doc", 1, r.error().message);
}

}  // namespace

void register_client_doc_commands(CLI::App& client) {
  DocState& st = state();
  st.doc = client.add_subcommand("doc", "Documents: a local cache synced over the y-websocket protocol");
  st.doc->require_subcommand(1);
  st.doc->add_option("--wait-ms", st.wait_ms, "how long to wait for the server")->capture_default_str();
  st.get = st.doc->add_subcommand("get", "Sync (if the server answers) and print the document as JSON");
  st.get->add_option("name", st.name, "document name")->required();
  st.edit = st.doc->add_subcommand("edit", "Change the document locally (durably), then sync");
  st.edit->add_option("name", st.name, "document name")->required();
  auto* text = st.edit->add_option("--text", st.text_field, "a Y.Text root to edit");
  auto* map = st.edit->add_option("--map", st.map_field, "a Y.Map root to edit");
  text->excludes(map);
  st.edit->add_option("--insert", st.insert_at, "with --text: insert at this index (UTF-16 units)")->needs(text);
  st.edit->add_option("--string", st.insert_text, "with --insert: the text to insert");
  st.edit->add_option("--delete", st.delete_range, "with --text: POS LEN")->expected(2)->needs(text);
  st.edit->add_option("--set", st.set_pair, "with --map: KEY VALUE (a string)")->expected(2)->needs(map);
}

bool client_doc_selected() { return state().doc != nullptr && state().doc->parsed(); }

int run_client_doc(const ClientCommandContext& context) {
  DocState& st = state();
  client::ClientOptions options;
  options.endpoint = context.endpoint;
  options.state_root = context.state_root;
  options.user_hint = context.user_hint;
  auto c = client::Client::open(options);
  if (!c) return report_failure("client doc", c.error().code == ErrorCode::kInvalidArgument ? 2 : 1, c.error().message);
  auto doc = (*c)->open_doc(st.name);
  if (!doc) return report_failure("client doc", doc.error().code == ErrorCode::kInvalidArgument ? 2 : 1, doc.error().message);
  client::DocProvider& p = **doc;
  const auto wait = std::chrono::milliseconds(st.wait_ms);

  if (st.edit->parsed()) {
    const bool has_text_edit = st.insert_at.has_value() || !st.delete_range.empty();
    if (!st.text_field.empty() && !has_text_edit) return report_failure("client doc", 2, "--text needs --insert POS --string S or --delete POS LEN");
    if (!st.map_field.empty() && st.set_pair.empty()) return report_failure("client doc", 2, "--map needs --set KEY VALUE");
    if (st.text_field.empty() && st.map_field.empty()) return report_failure("client doc", 2, "edit needs --text or --map");
    std::string problem;
    auto r = p.edit([&](crdt::Doc& d) {
      if (!st.text_field.empty()) {
        auto& t = d.get<crdt::Text>(st.text_field);
        if (st.insert_at) {
          if (*st.insert_at > t.length()) {
            problem = "--insert is past the end (length " + std::to_string(t.length()) + ")";
            return;
          }
          t.insert(*st.insert_at, st.insert_text);
        }
        if (!st.delete_range.empty()) {
          if (st.delete_range[0] + st.delete_range[1] > t.length()) {
            problem = "--delete is past the end (length " + std::to_string(t.length()) + ")";
            return;
          }
          t.remove(st.delete_range[0], st.delete_range[1]);
        }
      } else {
        d.get<crdt::Map>(st.map_field).set(st.set_pair[0], crdt::lib0::Any(st.set_pair[1]));
      }
    });
    if (!problem.empty()) return report_failure("client doc", 2, problem);
    if (!r) return report_failure("client doc", 1, "the edit was not stored: " + r.error().message);
    return sync_and_report(p, wait);
  }

  const int status = sync_and_report(p, wait);
  if (status == 1) return status;
  auto json = server::doc_to_json(p.doc());
  if (!json) return report_failure("client doc", 1, json.error().message);
  std::printf("%s\n", json->c_str());
  return status;
}

}  // namespace corates::app
