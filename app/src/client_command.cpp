// `corates-sync client ...`: the op queue from a shell (client_command.hpp).
#include "cli_io.hpp"
#include "client_command.hpp"

#include "corates/client/client.hpp"

#include <boost/json.hpp>

#include <chrono>
#include <cstdio>
#include <mutex>
#include <thread>
#include <optional>
#include <string>

namespace corates::app {
namespace {

namespace json = boost::json;
using corates::client::Client;
using corates::client::ClientOptions;
using corates::client::OpStatus;
using corates::client::QueuedOp;
using corates::client::SyncState;

struct ClientState {
  CLI::App* command = nullptr;
  CLI::App* enqueue = nullptr;
  CLI::App* status = nullptr;
  CLI::App* sync = nullptr;
  CLI::App* run = nullptr;
  CLI::App* cache_put = nullptr;
  CLI::App* cache_get = nullptr;
  std::string cache_key;
  std::string cache_value;
  std::string server;
  std::string token;
  std::string state_dir;
  std::string user;
  unsigned timeout_ms = 10'000;
  // enqueue
  std::string type;
  std::string payload;
  int payload_version = 1;
  std::string state_vector;
  unsigned repeat = 1;
  // status / sync
  bool json = false;
  bool with_changes = false;
  std::size_t limit = 10'000;
  // run
  bool until_drained = false;
  unsigned max_seconds = 30;
  unsigned upgrade_poll_ms = 30'000;
  unsigned backoff_max_ms = 30'000;
  std::size_t batch_size = 100;
};

ClientState& state() {
  static ClientState s;
  return s;
}

json::object op_json(const QueuedOp& op) {
  json::object o{{"id", op.id}, {"seq", op.seq}, {"type", op.type}, {"status", client::to_string(op.status)},
                 {"hlc", op.hlc}, {"attempts", op.attempts}};
  if (op.checkpoint) o["checkpoint"] = *op.checkpoint;
  if (op.error) {
    boost::system::error_code ec;
    json::value details = json::parse(op.error->details_json, ec);
    o["error"] = json::object{{"code", op.error->code},
                              {"message", op.error->message},
                              {"details", ec ? json::value(json::array{}) : details}};
  }
  return o;
}

int run_enqueue(Client& c) {
  ClientState& st = state();
  std::optional<std::string> sv;
  if (!st.state_vector.empty()) sv = st.state_vector;
  // Each copy is its own op (own id and seq), durable before its id is printed.
  for (unsigned i = 0; i < st.repeat; ++i) {
    auto id = c.enqueue(st.type, st.payload, st.payload_version, sv);
    if (!id) {
      const int status =
          id.error().code == ErrorCode::kInvalidArgument || id.error().code == ErrorCode::kTooLarge ? 2 : 1;
      return report_failure("client", status, "enqueue: " + id.error().message);
    }
    std::printf("%s\n", id->c_str());
  }
  return 0;
}

int run_status(Client& c) {
  ClientState& st = state();
  client::OpQueue& q = *c.queue();
  auto counts = q.counts();
  auto cp = q.checkpoint();
  auto nchanges = q.change_count();
  auto failed = q.failed_ops(st.limit);
  if (!counts || !cp || !nchanges || !failed) return report_failure("client", 1, "status: cannot read the queue");
  if (st.json) {
    auto ops = q.list(std::nullopt, st.limit);
    if (!ops) return report_failure("client", 1, "status: " + ops.error().message);
    json::array all;
    for (const auto& op : *ops) all.push_back(op_json(op));
    json::array f;
    for (const auto& op : *failed) f.push_back(op_json(op));
    json::object out{{"user", c.user().name},
                     {"userId", c.user().id},
                     {"clientId", q.client_id()},
                     {"counts", json::object{{"pending", counts->pending},
                                             {"syncing", counts->syncing},
                                             {"applied", counts->applied},
                                             {"failed", counts->failed},
                                             {"waiting", counts->waiting()}}},
                     {"checkpoint", *cp},
                     {"changes", *nchanges},
                     {"ops", std::move(all)},
                     {"failed", std::move(f)}};
    if (st.with_changes) {
      auto changes = q.changes(0, st.limit);
      if (!changes) return report_failure("client", 1, "status: " + changes.error().message);
      json::array list;
      for (const auto& ch : *changes) {
        list.push_back(json::object{{"checkpoint", ch.checkpoint}, {"id", ch.id}, {"clientId", ch.client_id},
                                    {"seq", ch.seq}, {"type", ch.type}, {"userId", ch.user_id}});
      }
      out["changeList"] = std::move(list);
    }
    std::printf("%s\n", json::serialize(out).c_str());
    return 0;
  }
  std::printf("user %s%s, client %s\n", c.user().name.empty() ? "(anonymous)" : c.user().name.c_str(),
              c.user().verified ? "" : " (not verified)", q.client_id().c_str());
  std::printf("%zu waiting (%zu pending, %zu syncing), %zu applied, %zu failed; checkpoint %llu, %zu changes cached\n",
              counts->waiting(), counts->pending, counts->syncing, counts->applied, counts->failed,
              static_cast<unsigned long long>(*cp), *nchanges);
  for (const auto& op : *failed) {
    std::printf("failed: seq %llu %s %s: %s: %s\n", static_cast<unsigned long long>(op.seq), op.id.c_str(),
                op.type.c_str(), op.error ? op.error->code.c_str() : "?", op.error ? op.error->message.c_str() : "");
  }
  return 0;
}

int run_sync(Client& c) {
  ClientState& st = state();
  auto report = c.sync_once();
  if (!report) {
    const client::SyncStatus s = c.sync()->status();
    switch (s.state) {
      case SyncState::kUpgradeRequired:
        return report_failure("client", 1, "sync: upgrade required: " + s.message);
      case SyncState::kOffline:
        return report_failure("client", 1, "sync: server unreachable or busy (" + s.code + "): " + report.error().message);
      case SyncState::kUnauthorized:
        return report_failure("client", 1, "sync: not authorized: " + s.code + ": " + s.message);
      default:
        return report_failure("client", 1, "sync: " + (s.code.empty() ? std::string() : s.code + ": ") + report.error().message);
    }
  }
  if (st.json) {
    json::object out{{"sent", report->sent},         {"applied", report->applied},
                     {"rejected", report->rejected}, {"pulled", report->pulled},
                     {"checkpoint", report->checkpoint}, {"cacheCleared", report->cache_cleared},
                     {"waiting", report->counts.waiting()}, {"failed", report->counts.failed}};
    std::printf("%s\n", json::serialize(out).c_str());
  } else {
    std::printf("synced: sent %zu, applied %zu, rejected %zu, pulled %zu%s; checkpoint %llu; %zu waiting, %zu failed\n",
                report->sent, report->applied, report->rejected, report->pulled,
                report->cache_cleared ? " (cache cleared)" : "", static_cast<unsigned long long>(report->checkpoint),
                report->counts.waiting(), report->counts.failed);
  }
  return 0;
}

// The background loop, for a person watching it (and the end-to-end tests):
// one line per state change and per op status change on stdout.
int run_loop(Client& c) {
  ClientState& st = state();
  std::mutex out_mutex;
  auto say = [&](const std::string& line) {
    std::lock_guard lock(out_mutex);
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
  };
  c.sync()->on_status([&](const client::SyncStatus& s) {
    say("state " + std::string(client::to_string(s.state)) + (s.code.empty() ? "" : " " + s.code) +
        (s.message.empty() ? "" : ": " + s.message));
  });
  const int sub = c.queue()->subscribe([&](const QueuedOp& op, OpStatus) {
    say("op " + op.id + " seq " + std::to_string(op.seq) + " " + std::string(client::to_string(op.status)) +
        (op.error ? " " + op.error->code : ""));
  });
  c.sync()->on_changes([&](const std::vector<client::Change>& changes, std::uint64_t checkpoint) {
    say("changes " + std::to_string(changes.size()) + " checkpoint " + std::to_string(checkpoint));
  });
  c.start();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(st.max_seconds);
  int rc = 0;
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (st.until_drained) {
      auto counts = c.queue()->counts();
      if (counts && counts->waiting() == 0 && c.sync()->status().state == SyncState::kIdle) break;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      if (st.until_drained) {
        auto counts = c.queue()->counts();
        std::fprintf(stderr, "corates-sync: client: run: %zu ops still waiting after %u s (state %s)\n",
                     counts ? counts->waiting() : 0, st.max_seconds,
                     std::string(client::to_string(c.sync()->status().state)).c_str());
        rc = 1;
      }
      break;
    }
  }
  c.stop();
  c.queue()->unsubscribe(sub);
  c.sync()->on_status({});
  c.sync()->on_changes({});
  if (rc == 0) say("drained");
  return rc;
}

}  // namespace

void register_client_command(CLI::App& app) {
  ClientState& st = state();
  CLI::App* cmd = app.add_subcommand("client", "A command-line client over the C++ SDK: op queue and documents");
  st.command = cmd;
  cmd->require_subcommand(1);
  cmd->add_option("--server", st.server, "server URL, e.g. http://127.0.0.1:8080")->required();
  cmd->add_option("--token", st.token, "session token (corates-sync token ...); empty without auth")
      ->envname("CORATES_TOKEN");
  cmd->add_option("--state", st.state_dir, "the SDK's state directory (each user kept apart below it)")->required();
  cmd->add_option("--user", st.user, "user name to use when the server cannot be asked (offline, first run)");
  cmd->add_option("--timeout-ms", st.timeout_ms, "per-request timeout")->capture_default_str()->check(
      CLI::Range(100u, 600'000u));

  st.enqueue = cmd->add_subcommand("enqueue", "Queue an op (durable at once; prints its id)");
  st.enqueue->add_option("type", st.type, "op type, e.g. todo.add")->required();
  st.enqueue->add_option("payload", st.payload, "payload JSON object")->required();
  st.enqueue->add_option("--payload-version", st.payload_version, "shape of the payload")->capture_default_str();
  st.enqueue->add_option("--state-vector", st.state_vector, "base64url Yjs state vector the op depends on");
  st.enqueue->add_option("--repeat", st.repeat, "queue this many copies, each its own op (one id per line)")
      ->capture_default_str()
      ->check(CLI::Range(1u, 1'000'000u));

  st.status = cmd->add_subcommand("status", "Counts by status and the failed ops with their reasons");
  st.status->add_flag("--json", st.json, "machine-readable output (every op with its status)");
  st.status->add_flag("--changes", st.with_changes, "with --json: also the pulled changes (changeList)");
  st.status->add_option("--limit", st.limit, "at most this many ops listed")->capture_default_str();

  st.sync = cmd->add_subcommand("sync", "One sync pass: push the queue, pull the changes");
  st.sync->add_flag("--json", st.json, "machine-readable output");

  st.run = cmd->add_subcommand("run", "Run the background sync loop (events, backoff); print state and op changes");
  st.run->add_flag("--until-drained", st.until_drained, "exit 0 once nothing is waiting");
  st.run->add_option("--max-seconds", st.max_seconds, "stop after this long (exit 1 if not drained)")
      ->capture_default_str();
  st.run->add_option("--upgrade-poll-ms", st.upgrade_poll_ms, "how often a too-old client asks again")
      ->capture_default_str();
  st.run->add_option("--backoff-max-ms", st.backoff_max_ms, "longest wait between retries")->capture_default_str();
  for (CLI::App* c : {st.sync, st.run}) {
    c->add_option("--batch-size", st.batch_size, "ops per push")->capture_default_str()->check(CLI::Range(1, 1000));
  }

  st.cache_put = cmd->add_subcommand("cache-put", "Store KEY -> VALUE in the app cache (cleared on cacheVersion change)");
  st.cache_put->add_option("key", st.cache_key)->required();
  st.cache_put->add_option("value", st.cache_value)->required();
  st.cache_get = cmd->add_subcommand("cache-get", "Print the app cache's value for KEY (exit 1 if absent)");
  st.cache_get->add_option("key", st.cache_key)->required();

  register_client_doc_commands(*cmd);
}

bool client_selected() { return state().command != nullptr && state().command->parsed(); }

int run_client() {
  ClientState& st = state();
  auto endpoint = client::parse_endpoint(st.server);
  if (!endpoint) return report_failure("client", 2, endpoint.error().message);
  endpoint->token = st.token;
  endpoint->timeout = std::chrono::milliseconds(st.timeout_ms);
  if (client_doc_selected()) {
    ClientCommandContext ctx{*endpoint, st.state_dir, st.user};
    return run_client_doc(ctx);
  }
  ClientOptions options;
  options.endpoint = *endpoint;
  options.state_root = st.state_dir;
  options.user_hint = st.user;
  options.sync.upgrade_poll = std::chrono::milliseconds(st.upgrade_poll_ms);
  options.sync.backoff.max = std::chrono::milliseconds(std::max(st.backoff_max_ms, 1u));
  options.sync.batch_size = st.batch_size;
  auto c = Client::open(options);
  if (!c) {
    return report_failure("client", c.error().code == ErrorCode::kInvalidArgument ? 2 : 1, c.error().message);
  }
  if (st.enqueue->parsed()) return run_enqueue(**c);
  if (st.status->parsed()) return run_status(**c);
  if (st.sync->parsed()) return run_sync(**c);
  if (st.run->parsed()) return run_loop(**c);
  if (st.cache_put->parsed()) {
    auto r = (*c)->queue()->cache_put(st.cache_key, st.cache_value);
    return r ? 0 : report_failure("client", 1, "cache-put: " + r.error().message);
  }
  if (st.cache_get->parsed()) {
    auto r = (*c)->queue()->cache_get(st.cache_key);
    if (!r) return report_failure("client", 1, "cache-get: " + r.error().message);
    if (!*r) return report_failure("client", 1, "cache-get: no entry '" + st.cache_key + "'");
    std::printf("%s\n", (*r)->c_str());
    return 0;
  }
  return report_failure("client", 2, "no client command given");
}

}  // namespace corates::app
