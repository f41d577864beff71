// `corates-sync client ... doc get|edit|watch NAME`: the document cache from a
// shell. Edits are stored locally first, then synced within --wait-ms;
// offline, the cached copy is shown and edits wait for the next sync.
//   exit 0: synced; 3: kept locally, the server was unreachable;
//   1: refused or failed (epoch change, auth, ...); 2: bad arguments.
// `doc watch` stays connected (DocProvider live mode) and prints one JSON
// line per change on stdout (format in kWatchHelp below).
#include "cli_io.hpp"
#include "client_command.hpp"

#include "corates/client/client.hpp"
#include "corates/client/doc_provider.hpp"
#include "corates/crdt/map.hpp"
#include "corates/crdt/text.hpp"
#include "corates/server/doc_json.hpp"

#include <boost/json.hpp>

#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <deque>
#include <mutex>
#include <optional>
#include <string>

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
  CLI::App* watch = nullptr;
  double watch_for = 0;
  std::optional<std::string> awareness;
  bool stdin_edits = false;
};

constexpr const char* kWatchHelp =
    "Stay connected (live) and print one JSON line per change on stdout:\n"
    "  {\"doc\":DOC}            at start (the cached copy) and after every change (DOC as `doc get` prints it)\n"
    "  {\"awareness\":{ID:STATE,...}}  with --awareness: the other clients' awareness states, on every change\n"
    "Connection states go to stderr. Exits after --for SECONDS or on SIGINT/SIGTERM (status 0; unsent edits\n"
    "stay stored for the next run); status 1 on an epoch change or a refusal.\n"
    "With --stdin, one edit per input line:\n"
    "  {\"text\":\"t\",\"insert\":0,\"string\":\"x\"}  {\"text\":\"t\",\"delete\":[POS,LEN]}\n"
    "  {\"map\":\"m\",\"set\":[\"KEY\",\"VALUE\"]}  {\"awareness\":JSON}  ({\"awareness\":null} clears it)";

volatile std::sig_atomic_t g_stop_signal = 0;
extern "C" void on_stop_signal(int) { g_stop_signal = 1; }

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

// One line of --stdin: an edit or an awareness change; "" or why it failed.
std::string apply_stdin_line(client::DocProvider& p, const std::string& line) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(line, ec);
  if (ec || !v.is_object()) return "not a JSON object";
  const boost::json::object& o = v.as_object();
  if (const auto* aw = o.if_contains("awareness")) {
    auto r = p.set_local_awareness(aw->is_null() ? std::nullopt
                                                 : std::optional<std::string>(boost::json::serialize(*aw)));
    return r ? std::string() : r.error().message;
  }
  std::string problem;
  const auto* text = o.if_contains("text");
  const auto* map = o.if_contains("map");
  if (text != nullptr && text->is_string()) {
    const std::string field(text->as_string());
    const auto* at = o.if_contains("insert");
    const auto* str = o.if_contains("string");
    const auto* del = o.if_contains("delete");
    if (at != nullptr && at->is_int64() && at->as_int64() >= 0 && str != nullptr && str->is_string()) {
      const auto pos = static_cast<std::uint64_t>(at->as_int64());
      const std::string s(str->as_string());
      auto r = p.edit([&](crdt::Doc& d) {
        auto& t = d.get<crdt::Text>(field);
        if (pos > t.length()) {
          problem = "insert is past the end";
          return;
        }
        t.insert(pos, s);
      });
      if (!r) return r.error().message;
      return problem;
    }
    if (del != nullptr && del->is_array() && del->as_array().size() == 2 && del->as_array()[0].is_int64() &&
        del->as_array()[1].is_int64() && del->as_array()[0].as_int64() >= 0 && del->as_array()[1].as_int64() >= 0) {
      const auto pos = static_cast<std::uint64_t>(del->as_array()[0].as_int64());
      const auto len = static_cast<std::uint64_t>(del->as_array()[1].as_int64());
      auto r = p.edit([&](crdt::Doc& d) {
        auto& t = d.get<crdt::Text>(field);
        if (pos + len > t.length()) {
          problem = "delete is past the end";
          return;
        }
        t.remove(pos, len);
      });
      if (!r) return r.error().message;
      return problem;
    }
    return "text needs insert+string or delete:[POS,LEN]";
  }
  if (map != nullptr && map->is_string()) {
    const auto* set = o.if_contains("set");
    if (set == nullptr || !set->is_array() || set->as_array().size() != 2 || !set->as_array()[0].is_string() ||
        !set->as_array()[1].is_string()) {
      return "map needs set:[KEY,VALUE] (strings)";
    }
    const std::string field(map->as_string());
    const std::string key(set->as_array()[0].as_string());
    const std::string value(set->as_array()[1].as_string());
    auto r = p.edit([&](crdt::Doc& d) { d.get<crdt::Map>(field).set(key, crdt::lib0::Any(value)); });
    return r ? std::string() : r.error().message;
  }
  return "expected text, map or awareness";
}

// `doc watch`: the provider runs live; the background thread only flags
// what changed, and this thread prints, so lines never interleave.
int watch(client::DocProvider& p) {
  DocState& st = state();
  if (st.watch_for < 0) return report_failure("client doc watch", 2, "--for must be >= 0");
  const bool show_awareness = st.awareness.has_value();
  if (st.awareness) {
    auto r = p.set_local_awareness(*st.awareness == "null" ? std::nullopt : st.awareness);
    if (!r) return report_failure("client doc watch", 2, "--awareness: " + r.error().message);
  }
  struct Shared {
    std::mutex mu;
    std::deque<client::LiveEvent> states;
    bool doc_changed = false;
    bool awareness_changed = false;
  } shared;
  client::LiveOptions options;
  options.on_event = [&shared](const client::LiveEvent& e) {
    std::lock_guard lock(shared.mu);
    switch (e.kind) {
      case client::LiveEvent::Kind::kState: shared.states.push_back(e); break;
      case client::LiveEvent::Kind::kRemoteChange: shared.doc_changed = true; break;
      case client::LiveEvent::Kind::kAwareness: shared.awareness_changed = true; break;
    }
  };
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  std::string last_doc;
  std::string last_awareness;
  auto print_doc = [&]() -> bool {
    Result<std::string> json = std::string();
    p.with_doc([&](crdt::Doc& d) { json = server::doc_to_json(d); });
    if (!json) {
      report_failure("client doc watch", 1, json.error().message);
      return false;
    }
    if (*json == last_doc) return true;
    last_doc = *json;
    std::printf("{\"doc\":%s}\n", json->c_str());
    std::fflush(stdout);
    return true;
  };
  auto print_awareness = [&] {
    boost::json::object o;
    for (const auto& [id, state_json] : p.awareness_states()) {
      boost::system::error_code ec;
      boost::json::value v = boost::json::parse(state_json, ec);
      o[std::to_string(id)] = ec ? boost::json::value(state_json) : std::move(v);
    }
    std::string line = boost::json::serialize(boost::json::object{{"awareness", std::move(o)}});
    if (line == last_awareness) return;
    last_awareness = line;
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
  };
  if (!print_doc()) return 1;
  if (auto r = p.start_live(std::move(options)); !r) return report_failure("client doc watch", 1, r.error().message);
  if (show_awareness) print_awareness();

  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(st.watch_for);
  bool reading_stdin = st.stdin_edits;
  std::string pending_input;
  int status = 0;
  client::LiveState last_state = client::LiveState::kStopped;
  std::string last_said;
  while (g_stop_signal == 0 && status == 0 &&
         (st.watch_for == 0 || std::chrono::steady_clock::now() < until)) {
    pollfd pfd{STDIN_FILENO, POLLIN, 0};
    const int ready = poll(&pfd, reading_stdin ? 1 : 0, 50);
    bool local_change = false;
    if (ready > 0 && reading_stdin) {
      char buf[4096];
      const ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
      if (n <= 0) {
        if (n == 0 || errno != EINTR) reading_stdin = false;  // EOF: keep watching
      } else {
        pending_input.append(buf, static_cast<std::size_t>(n));
        std::size_t nl;
        while ((nl = pending_input.find('\n')) != std::string::npos) {
          std::string line = pending_input.substr(0, nl);
          pending_input.erase(0, nl + 1);
          if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
          if (std::string why = apply_stdin_line(p, line); !why.empty()) {
            std::fprintf(stderr, "corates-sync: client doc watch: input line ignored (%s): %s\n", why.c_str(),
                         line.c_str());
          } else {
            local_change = true;
          }
        }
      }
    }
    std::deque<client::LiveEvent> states;
    bool doc_changed = local_change;
    bool awareness_changed = false;
    {
      std::lock_guard lock(shared.mu);
      states.swap(shared.states);
      doc_changed = doc_changed || shared.doc_changed;
      awareness_changed = shared.awareness_changed;
      shared.doc_changed = shared.awareness_changed = false;
    }
    for (const client::LiveEvent& e : states) {
      // While the server stays unreachable, say so once, not per retry.
      const std::string said = std::string(client::to_string(e.state)) + e.message;
      const bool retrying = e.state == client::LiveState::kConnecting && last_state == client::LiveState::kOffline;
      const client::LiveState prev = last_state;
      last_state = e.state;
      if (retrying || (e.state == client::LiveState::kOffline && prev != client::LiveState::kSynced && said == last_said)) {
        continue;
      }
      last_said = said;
      std::fprintf(stderr, "corates-sync: client doc watch: %s%s%s\n", client::to_string(e.state),
                   e.message.empty() ? "" : ": ", e.message.c_str());
      if (e.state == client::LiveState::kEpochMismatch || e.state == client::LiveState::kRefused) status = 1;
    }
    if (doc_changed && !print_doc()) status = 1;
    if (awareness_changed && show_awareness) print_awareness();
  }
  p.stop_live();
  auto unsent = p.unsent_updates();
  if (unsent && *unsent > 0) {
    std::fprintf(stderr, "corates-sync: client doc watch: %llu change(s) kept for the next sync\n",
                 static_cast<unsigned long long>(*unsent));
  }
  return status;
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
  st.watch = st.doc->add_subcommand("watch", kWatchHelp);
  st.watch->add_option("name", st.name, "document name")->required();
  st.watch->add_option("--for", st.watch_for, "stop after this many seconds (0: until SIGINT/SIGTERM)")
      ->capture_default_str();
  st.watch->add_option("--awareness", st.awareness,
                       "publish this awareness state (JSON; `null` publishes none) and print the others'");
  st.watch->add_flag("--stdin", st.stdin_edits, "apply edits read from stdin, one JSON object per line");
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
  if (st.watch->parsed()) return watch(p);

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
