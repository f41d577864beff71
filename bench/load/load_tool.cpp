// load_tool: the client side of the load benchmark (bench/load/run.sh).
//
// Raw-protocol WebSocket clients (Boost.Beast) speaking y-websocket's framing
// (corates-sync, @y/websocket-server) or Hocuspocus's dialect (document name in
// every frame, an auth frame first, SyncStatus acks). Updates are made and
// applied with our own crdt library, frames with our protocol library.
//
// Latency: each client inserts exactly kUpdateLen characters per update, so
// the n-th update of client C covers clocks [n*L, (n+1)*L) of C. Send times
// are kept per (document, sender, n); a receiver reads the clock ranges of
// every update it gets (parse_update_meta), so merged broadcasts (Hocuspocus
// batches one event-loop turn into one frame) and collapsed queues are
// credited to every update they contain, once.
//
// Threads: each worker owns an io_context and whole documents (all clients
// of a document live on one thread), so the per-document tables need no lock.
//
// Output: one JSON object per scenario (or per saturation step) on stdout.

#include "corates/crdt/doc.hpp"
#include "corates/crdt/encoding.hpp"
#include "corates/crdt/lib0/decoding.hpp"
#include "corates/crdt/lib0/encoding.hpp"
#include "corates/crdt/text.hpp"
#include "corates/crdt/updates.hpp"
#include "corates/protocol/message.hpp"

#include <CLI/CLI.hpp>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <future>
#include <deque>
#include <fstream>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <vector>

#include <unistd.h>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace crdt = corates::crdt;
namespace protocol = corates::protocol;
using tcp = asio::ip::tcp;
using Bytes = std::vector<std::uint8_t>;

constexpr std::uint64_t kUpdateLen = 8;  // characters (= clock units) per update
constexpr const char* kTextName = "t";

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

enum class Dialect { kYws, kHocuspocus };

struct Options {
  std::string url;  // ws://HOST:PORT/PATH (yws: the document name is appended)
  Dialect dialect = Dialect::kYws;
  std::string label = "server";
  std::string scenario = "rate";
  std::string prefix = "load";
  int threads = 1;
  int server_pid = 0;
  int connect_concurrency = 256;
  // rate / saturate
  int docs = 1;
  int clients = 50;
  double rate = 10;  // updates/s per client
  double warmup = 2, duration = 10, drain = 5;
  double start_rate = 1, factor = 1.5;
  int max_steps = 12;
  double p99_limit_ms = 100;
  // idle
  int conns = 1000;
  double settle = 2;
  // join
  int history = 100000;
  int edits_per_frame = 100;
  int single_joins = 5;
  int joiners = 100;
};

// --- /proc sampling ----------------------------------------------------------

struct ProcSample {
  double cpu_s = 0;  // utime + stime
  std::uint64_t rss = 0, hwm = 0;  // bytes
  bool ok = false;
};

ProcSample sample_proc(int pid) {
  ProcSample s;
  const std::string base = pid > 0 ? fmt::format("/proc/{}/", pid) : std::string("/proc/self/");
  std::ifstream stat(base + "stat");
  std::string line;
  if (!std::getline(stat, line)) return s;
  // Fields after the command name (which may contain spaces) start at ") ".
  auto p = line.rfind(')');
  if (p == std::string::npos) return s;
  std::istringstream in(line.substr(p + 2));
  std::vector<std::string> f;
  for (std::string x; in >> x;) f.push_back(x);
  if (f.size() < 13) return s;
  const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  s.cpu_s = (std::stod(f[11]) + std::stod(f[12])) / tick;  // fields 14 and 15
  std::ifstream status(base + "status");
  while (std::getline(status, line)) {
    auto kb = [&](const char* key) -> std::optional<std::uint64_t> {
      if (line.rfind(key, 0) != 0) return std::nullopt;
      return std::stoull(line.substr(std::strlen(key))) * 1024;
    };
    if (auto v = kb("VmRSS:")) s.rss = *v;
    if (auto v = kb("VmHWM:")) s.hwm = *v;
  }
  s.ok = true;
  return s;
}

// --- statistics ----------------------------------------------------------------

struct Percentiles {
  double p50 = NAN, p99 = NAN, max = NAN;
};

// `missing` samples count as infinitely late.
Percentiles percentiles(std::vector<std::uint32_t>& us, std::uint64_t missing = 0) {
  Percentiles p;
  const std::size_t n = us.size() + missing;
  if (n == 0) return p;
  std::sort(us.begin(), us.end());
  auto at = [&](double q) {
    std::size_t i = static_cast<std::size_t>(std::ceil(q * static_cast<double>(n)));
    i = i == 0 ? 0 : i - 1;
    return i < us.size() ? us[i] / 1000.0 : INFINITY;
  };
  p.p50 = at(0.50);
  p.p99 = at(0.99);
  p.max = missing > 0 ? INFINITY : (us.empty() ? NAN : us.back() / 1000.0);
  return p;
}

std::string num(double v, int digits = 2) {
  if (std::isnan(v)) return "null";
  if (std::isinf(v)) return "\"inf\"";
  return fmt::format("{:.{}f}", v, digits);
}

// --- clients -------------------------------------------------------------------

class Worker;
struct Client;

// One document: its clients and the send times of their updates.
struct Group {
  std::string name;
  std::vector<Client*> members;
  std::unordered_map<crdt::ClientID, int> slot_of;  // senders only
  std::vector<std::vector<std::int64_t>> send_ns;   // [slot][seq]
};

// Phase times shared (read-only once sending starts) by all workers.
struct Schedule {
  std::int64_t start = 0, t0 = 0, t1 = 0;
  double rate = 0;
};

struct WorkerStats {
  std::atomic<std::uint64_t> synced{0}, failed{0};
  std::atomic<std::uint64_t> expected_measured{0}, delivered_measured{0};
  std::atomic<std::uint64_t> delivered_window{0}, sent_measured{0}, sent_total{0};
  std::atomic<std::uint64_t> expected_total{0}, delivered_total{0};  // every update, warm-up and late ones too
  std::atomic<std::uint64_t> acks{0}, frames_in{0}, bytes_in{0};
  std::vector<std::uint32_t> lat_us;  // owned by the worker thread
  std::uint64_t send_lag_max_ns = 0;
  std::uint64_t late_sends = 0;  // fired >10 ms after their slot: the tool lagged
  std::string first_error;
};

struct Client {
  Client(Worker& w, Group& g, bool with_doc);
  void start();
  void send(Bytes frame);
  void close();

  Worker& w_;
  Group& g_;
  int slot_ = -1;  // sender slot in the group, -1 if it never sends
  websocket::stream<beast::tcp_stream> ws_;
  beast::flat_buffer rbuf_;
  std::deque<Bytes> outq_;
  bool writing_ = false, open_ = false, closing_ = false, done_ = false;
  std::unique_ptr<crdt::Doc> doc_;
  crdt::Text* text_ = nullptr;
  Bytes last_update_;
  std::vector<crdt::Clock> upto_;  // per sender slot: clock received so far
  asio::steady_timer timer_;
  std::uint64_t seq_ = 0;
  std::int64_t next_send_ = 0;
  std::int64_t t_connect_ = 0, t_synced_ = 0;
  std::atomic<int> step2_count_{0};
  bool keep_step2_ = false;
  Bytes step2_;
  std::uint64_t rng_;
  std::function<void(Client&)> on_synced_;

 private:
  void on_connect(beast::error_code ec);
  void on_handshake(beast::error_code ec);
  void do_read();
  void on_read(beast::error_code ec);
  void do_write();
  void handle_frame(std::span<std::uint8_t> frame);
  void handle_sync(std::span<const std::uint8_t> sync_frame);
  void handle_update(std::span<const std::uint8_t> update, bool step2);
  void fail(std::string what);
  Bytes wrap(const Bytes& payload) const;
  void schedule_send();
  void do_send_update();

 public:
  void start_send_timer();
};

class Worker {
 public:
  Worker(const Options& o, tcp::endpoint ep, std::string host, std::string path, int index)
      : opt_(o), ep_(std::move(ep)), host_(std::move(host)), path_(std::move(path)),
        rng_(0x5eed0000u + static_cast<unsigned>(index)),
        guard_(asio::make_work_guard(ioc_)) {}

  void run_thread() {
    thread_ = std::thread([this] { ioc_.run(); });
  }
  void join() {
    guard_.reset();
    if (thread_.joinable()) thread_.join();
  }
  void stop() { ioc_.stop(); }
  template <class F>
  void post(F&& f) {
    asio::post(ioc_, std::forward<F>(f));
  }

  Group& add_group(std::string name) {
    groups_.push_back(std::make_unique<Group>());
    groups_.back()->name = std::move(name);
    return *groups_.back();
  }
  Client& add_client(Group& g, bool with_doc, bool sender) {
    clients_.push_back(std::make_unique<Client>(*this, g, with_doc));
    Client& c = *clients_.back();
    if (sender) {
      c.slot_ = static_cast<int>(g.send_ns.size());
      g.send_ns.emplace_back();
      g.slot_of[c.doc_->client_id()] = c.slot_;
    }
    g.members.push_back(&c);
    return c;
  }
  void finish_groups() {
    for (auto& g : groups_)
      for (Client* c : g->members) c->upto_.assign(g->send_ns.size(), 0);
  }

  // Connects pending clients, at most connect_concurrency at a time.
  void connect_all() {
    next_connect_ = 0;
    in_flight_ = 0;
    pump_connects();
  }
  void connect_done() {
    --in_flight_;
    pump_connects();
  }
  // Starts clients added after connect_all (joiners).
  void connect_pending() { pump_connects(); }
  void start_sending(const Schedule& s) {
    schedule_ = s;
    for (auto& c : clients_)
      if (c->slot_ >= 0 && c->open_) post([cl = c.get()] { cl->start_send_timer(); });
  }
  void close_all() {
    for (auto& c : clients_) c->close();
  }

  // Convergence: every member of a group has the same state vector and text.
  std::pair<std::uint64_t, std::uint64_t> check_convergence(std::string& detail) {
    std::uint64_t ok = 0, bad = 0;
    for (auto& g : groups_) {
      bool same = true;
      Bytes sv0;
      std::string text0;
      bool first = true;
      for (Client* c : g->members) {
        if (!c->doc_) continue;
        Bytes sv = crdt::encode_state_vector(*c->doc_);
        std::string text = c->text_->to_string();
        if (first) {
          sv0 = std::move(sv);
          text0 = std::move(text);
          first = false;
        } else if (sv != sv0 || text != text0) {
          same = false;
        }
      }
      if (first) continue;
      if (same) {
        ++ok;
      } else {
        ++bad;
        if (detail.empty()) detail = fmt::format("document {} diverged", g->name);
      }
    }
    return {ok, bad};
  }

  const Options& opt_;
  tcp::endpoint ep_;
  std::string host_, path_;
  std::mt19937_64 rng_;
  asio::io_context ioc_{1};
  asio::executor_work_guard<asio::io_context::executor_type> guard_;
  std::thread thread_;
  std::vector<std::unique_ptr<Group>> groups_;
  std::vector<std::unique_ptr<Client>> clients_;
  WorkerStats stats_;
  Schedule schedule_;
  std::size_t next_connect_ = 0;
  int in_flight_ = 0;

 private:
  void pump_connects() {
    while (in_flight_ < opt_.connect_concurrency && next_connect_ < clients_.size()) {
      ++in_flight_;
      clients_[next_connect_++]->start();
    }
  }
};

std::atomic<std::uint64_t> g_client_ids{1};

Client::Client(Worker& w, Group& g, bool with_doc)
    : w_(w), g_(g), ws_(w.ioc_), timer_(w.ioc_), rng_(w.rng_()) {
  if (with_doc) {
    doc_ = std::make_unique<crdt::Doc>();
    // Distinct ids in the run, above what a stock client picks by chance less often than never.
    doc_->set_client_id(0x40000000u + g_client_ids.fetch_add(1));
    text_ = &doc_->get<crdt::Text>(kTextName);
    doc_->on_update([this](std::span<const std::uint8_t> u, const crdt::Origin&, crdt::Transaction&) {
      last_update_.assign(u.begin(), u.end());
    });
  }
}

Bytes Client::wrap(const Bytes& payload) const {
  if (w_.opt_.dialect == Dialect::kYws) return payload;
  crdt::lib0::Encoder e;
  e.write_var_string(g_.name);
  e.write_uint8_array(payload);
  return std::move(e).to_bytes();
}

void Client::fail(std::string what) {
  if (!done_) {
    done_ = true;
    if (t_synced_ == 0) {
      w_.stats_.failed.fetch_add(1, std::memory_order_relaxed);
      w_.connect_done();
    }
  }
  if (w_.stats_.first_error.empty()) w_.stats_.first_error = std::move(what);
  open_ = false;
  timer_.cancel();
  beast::error_code ignored;
  beast::get_lowest_layer(ws_).socket().close(ignored);
}

void Client::start() {
  t_connect_ = now_ns();
  // Generous: 100 joiners of a large document queue behind each other.
  beast::get_lowest_layer(ws_).expires_after(std::chrono::seconds(300));
  beast::get_lowest_layer(ws_).async_connect(w_.ep_, [this](beast::error_code ec) { on_connect(ec); });
}

void Client::on_connect(beast::error_code ec) {
  if (ec) return fail("connect: " + ec.message());
  beast::get_lowest_layer(ws_).socket().set_option(tcp::no_delay(true));
  std::string target = w_.path_;
  if (w_.opt_.dialect == Dialect::kYws) target += g_.name;
  ws_.async_handshake(w_.host_, target.empty() ? "/" : target,
                      [this](beast::error_code e) { on_handshake(e); });
}

void Client::on_handshake(beast::error_code ec) {
  if (ec) return fail("handshake: " + ec.message());
  beast::get_lowest_layer(ws_).expires_never();
  websocket::stream_base::timeout t{};
  t.handshake_timeout = std::chrono::seconds(30);
  t.idle_timeout = websocket::stream_base::none();
  t.keep_alive_pings = false;
  ws_.set_option(t);
  ws_.binary(true);
  ws_.read_message_max(256u << 20);
  open_ = true;
  if (w_.opt_.dialect == Dialect::kHocuspocus) {
    // Auth first: [name][Auth=2][Token=0][token], as the provider sends it.
    crdt::lib0::Encoder e;
    e.write_var_uint(2);
    e.write_var_uint(0);
    e.write_var_string("");
    send(wrap(std::move(e).to_bytes()));
  }
  Bytes sv = doc_ ? crdt::encode_state_vector(*doc_) : Bytes{0};
  send(wrap(protocol::encode_sync_step1(sv)));
  do_read();
}

void Client::send(Bytes frame) {
  if (!open_ || closing_) return;
  outq_.push_back(std::move(frame));
  if (!writing_) do_write();
}

void Client::do_write() {
  writing_ = true;
  ws_.async_write(asio::buffer(outq_.front()), [this](beast::error_code ec, std::size_t) {
    writing_ = false;
    if (ec) {
      if (!closing_) fail("write: " + ec.message());
      return;
    }
    outq_.pop_front();
    if (!outq_.empty() && open_ && !closing_) do_write();
  });
}

void Client::do_read() {
  ws_.async_read(rbuf_, [this](beast::error_code ec, std::size_t) { on_read(ec); });
}

void Client::on_read(beast::error_code ec) {
  if (ec) {
    if (!closing_) fail("read: " + ec.message());
    open_ = false;
    return;
  }
  auto data = rbuf_.data();
  w_.stats_.frames_in.fetch_add(1, std::memory_order_relaxed);
  w_.stats_.bytes_in.fetch_add(data.size(), std::memory_order_relaxed);
  handle_frame({static_cast<std::uint8_t*>(data.data()), data.size()});
  rbuf_.consume(rbuf_.size());
  if (open_) do_read();
}

void Client::handle_frame(std::span<std::uint8_t> frame) {
  if (w_.opt_.dialect == Dialect::kYws) return handle_sync(frame);
  crdt::lib0::Decoder d(frame);
  d.read_var_string_view();
  const std::size_t type_pos = d.pos();
  const std::uint64_t type = d.read_var_uint();
  if (!d.ok()) return fail("malformed Hocuspocus frame");
  switch (type) {
    case 4:  // SyncReply: a sync message that asks for no step 1 back
      frame[type_pos] = 0;
      [[fallthrough]];
    case 0:
      return handle_sync(frame.subspan(type_pos));
    case 2: {  // Auth: 1 permission denied, 2 authenticated
      if (d.read_var_uint() == 1) fail("Hocuspocus: permission denied");
      return;
    }
    case 8:  // SyncStatus: the server applied one of our updates
      w_.stats_.acks.fetch_add(1, std::memory_order_relaxed);
      return;
    default:
      return;  // awareness, stateless, ...
  }
}

void Client::handle_sync(std::span<const std::uint8_t> sync_frame) {
  auto msg = protocol::decode_message(sync_frame);
  if (!msg) return fail("undecodable frame: " + msg.error().message);
  if (auto* s1 = std::get_if<protocol::SyncStep1>(&*msg)) {
    Bytes reply{0, 0};  // empty update
    if (doc_) {
      auto diff = crdt::encode_state_as_update(*doc_, s1->state_vector);
      if (!diff) return fail("bad state vector from server");
      reply = std::move(*diff);
    }
    send(wrap(protocol::encode_sync_step2(reply)));
  } else if (auto* s2 = std::get_if<protocol::SyncStep2>(&*msg)) {
    handle_update(s2->update, true);
  } else if (auto* u = std::get_if<protocol::SyncUpdate>(&*msg)) {
    handle_update(u->update, false);
  }
}

void Client::handle_update(std::span<const std::uint8_t> update, bool step2) {
  const std::int64_t now = now_ns();
  if (step2) {
    ++step2_count_;
    if (keep_step2_) step2_.assign(update.begin(), update.end());
  }
  if (!g_.slot_of.empty()) {
    auto meta = crdt::parse_update_meta(update);
    if (!meta) return fail("undecodable update: " + meta.error().message);
    const Schedule& s = w_.schedule_;
    for (const auto& [client, to] : meta->to) {
      auto it = g_.slot_of.find(client);
      if (it == g_.slot_of.end() || it->second == slot_) continue;
      const int from_slot = it->second;
      crdt::Clock& have = upto_[static_cast<std::size_t>(from_slot)];
      if (to <= have) continue;
      const auto& sent = g_.send_ns[static_cast<std::size_t>(from_slot)];
      for (std::uint64_t seq = have / kUpdateLen; seq < to / kUpdateLen && seq < sent.size(); ++seq) {
        const std::int64_t t_send = sent[seq];
        w_.stats_.delivered_total.fetch_add(1, std::memory_order_relaxed);
        if (now >= s.t0 && now < s.t1) w_.stats_.delivered_window.fetch_add(1, std::memory_order_relaxed);
        if (t_send >= s.t0 && t_send < s.t1) {
          w_.stats_.lat_us.push_back(static_cast<std::uint32_t>(std::min<std::int64_t>((now - t_send) / 1000, UINT32_MAX)));
          w_.stats_.delivered_measured.fetch_add(1, std::memory_order_relaxed);
        }
      }
      have = to;
    }
  }
  if (doc_) {
    auto r = crdt::apply_update(*doc_, update);
    if (!r) return fail("apply: " + r.error().message);
  }
  if (step2 && t_synced_ == 0) {
    t_synced_ = now;
    if (!done_) {
      done_ = true;
      w_.stats_.synced.fetch_add(1, std::memory_order_relaxed);
      w_.connect_done();
    }
    if (on_synced_) on_synced_(*this);
  }
}

void Client::schedule_send() {
  const double period_ns = 1e9 / w_.schedule_.rate;
  timer_.expires_at(std::chrono::steady_clock::time_point(std::chrono::nanoseconds(next_send_)));
  timer_.async_wait([this, period_ns](beast::error_code ec) {
    if (ec || !open_ || closing_) return;
    const std::int64_t now = now_ns();
    const auto lag = static_cast<std::uint64_t>(std::max<std::int64_t>(0, now - next_send_));
    w_.stats_.send_lag_max_ns = std::max(w_.stats_.send_lag_max_ns, lag);
    if (lag > 10'000'000) ++w_.stats_.late_sends;
    do_send_update();
    next_send_ += static_cast<std::int64_t>(period_ns);
    if (next_send_ < w_.schedule_.t1) schedule_send();
  });
}

void Client::do_send_update() {
  const std::uint64_t pos = text_->length() == 0 ? 0 : rng_ % (text_->length() + 1);
  rng_ = rng_ * 6364136223846793005ull + 1442695040888963407ull;
  const std::string payload = fmt::format("{:07x};", seq_ & 0xfffffff);
  last_update_.clear();
  text_->insert(pos, payload);
  const std::int64_t t = now_ns();
  auto& sent = g_.send_ns[static_cast<std::size_t>(slot_)];
  sent.push_back(t);
  ++seq_;
  const Schedule& s = w_.schedule_;
  w_.stats_.sent_total.fetch_add(1, std::memory_order_relaxed);
  w_.stats_.expected_total.fetch_add(g_.slot_of.size() - 1, std::memory_order_relaxed);
  if (t >= s.t0 && t < s.t1) {
    w_.stats_.sent_measured.fetch_add(1, std::memory_order_relaxed);
    w_.stats_.expected_measured.fetch_add(g_.slot_of.size() - 1, std::memory_order_relaxed);
  }
  send(wrap(protocol::encode_sync_update(last_update_)));
}

void Client::close() {
  timer_.cancel();
  if (!open_ || closing_) return;
  closing_ = true;
  ws_.async_close(websocket::close_code::normal, [this](beast::error_code) {
    open_ = false;
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).socket().close(ignored);
  });
}

void Client::start_send_timer() {
  const double period_ns = 1e9 / w_.schedule_.rate;
  // A random phase, so the clients of a document do not send in lockstep.
  next_send_ = w_.schedule_.start + static_cast<std::int64_t>(static_cast<double>(rng_ % 1'000'000) / 1e6 * period_ns);
  rng_ = rng_ * 6364136223846793005ull + 1442695040888963407ull;
  schedule_send();
}

// --- phases --------------------------------------------------------------------

struct Env {
  Options opt;
  tcp::endpoint ep;
  std::string host, path;
};

void sleep_until_ns(std::int64_t t) {
  const std::int64_t d = t - now_ns();
  if (d > 0) std::this_thread::sleep_for(std::chrono::nanoseconds(d));
}

// A set of workers (threads) with their documents and clients, for one run.
class Phase {
 public:
  Phase(const Env& env, int threads) {
    for (int i = 0; i < std::max(1, threads); ++i)
      workers_.push_back(std::make_unique<Worker>(env.opt, env.ep, env.host, env.path, i));
  }
  ~Phase() { finish(); }
  Worker& worker_for(std::size_t doc_index) { return *workers_[doc_index % workers_.size()]; }
  std::vector<std::unique_ptr<Worker>>& workers() { return workers_; }

  void start() {
    for (auto& w : workers_) {
      w->finish_groups();
      w->run_thread();
      w->post([wp = w.get()] { wp->connect_all(); });
    }
  }
  // Waits until `total` clients synced or failed; returns the number synced.
  std::uint64_t wait_synced(std::uint64_t total, double timeout_s) {
    const std::int64_t deadline = now_ns() + static_cast<std::int64_t>(timeout_s * 1e9);
    while (true) {
      std::uint64_t synced = 0, failed = 0;
      for (auto& w : workers_) {
        synced += w->stats_.synced.load();
        failed += w->stats_.failed.load();
      }
      if (synced + failed >= total || now_ns() > deadline) return synced;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  template <class F>
  auto on_each(F f) {  // runs f(worker) on each worker's thread, waits for all
    using R = decltype(f(*workers_[0]));
    std::vector<std::future<R>> fs;
    for (auto& w : workers_) {
      auto p = std::make_shared<std::promise<R>>();
      fs.push_back(p->get_future());
      w->post([p, f, wp = w.get()] { p->set_value(f(*wp)); });
    }
    std::vector<R> out;
    for (auto& fu : fs) out.push_back(fu.get());
    return out;
  }
  void finish() {
    if (finished_) return;
    finished_ = true;
    for (auto& w : workers_) w->post([wp = w.get()] { wp->close_all(); });
    // Give the close handshakes a moment, then stop whatever is left.
    const std::int64_t deadline = now_ns() + 3'000'000'000;
    while (now_ns() < deadline) {
      auto open = on_each([](Worker& w) {
        std::uint64_t n = 0;
        for (auto& c : w.clients_) n += c->open_ ? 1 : 0;
        return n;
      });
      std::uint64_t total = 0;
      for (auto n : open) total += n;
      if (total == 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    for (auto& w : workers_) {
      w->stop();
      w->join();
    }
  }

 private:
  std::vector<std::unique_ptr<Worker>> workers_;
  bool finished_ = false;
};

std::string json_str(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) {
      out += fmt::format("\\u{:04x}", static_cast<int>(c));
      continue;
    }
    out += c;
  }
  return out + "\"";
}

double mb(std::uint64_t b) { return static_cast<double>(b) / (1024.0 * 1024.0); }

struct RateResult {
  bool sustained = false;
  std::string why;
  double offered = 0, delivered_per_s = 0, p99 = NAN;
  std::string json;
};

// S1, S2 and each step of S5: `docs` documents x `clients` clients, each
// sending `rate` updates/s; measured over [t0, t1) after a warm-up.
RateResult run_rate(const Env& env, const std::string& scenario, int docs, int clients, double rate,
                    const std::string& prefix) {
  const Options& o = env.opt;
  Phase ph(env, o.threads);
  for (int d = 0; d < docs; ++d) {
    Worker& w = ph.worker_for(static_cast<std::size_t>(d));
    Group& g = w.add_group(fmt::format("{}-{}", prefix, d));
    for (int c = 0; c < clients; ++c) w.add_client(g, true, true);
  }
  const auto total = static_cast<std::uint64_t>(docs) * static_cast<std::uint64_t>(clients);
  const std::int64_t t_connect = now_ns();
  ph.start();
  const std::uint64_t synced = ph.wait_synced(total, 60 + static_cast<double>(total) / 100.0);
  const double connect_s = static_cast<double>(now_ns() - t_connect) / 1e9;

  Schedule s;
  s.rate = rate;
  s.start = now_ns() + 200'000'000;
  s.t0 = s.start + static_cast<std::int64_t>(o.warmup * 1e9);
  s.t1 = s.t0 + static_cast<std::int64_t>(o.duration * 1e9);
  if (synced == total) {
    for (auto& w : ph.workers()) w->post([wp = w.get(), s] { wp->start_sending(s); });
  }
  sleep_until_ns(s.t0);
  const ProcSample srv0 = sample_proc(o.server_pid), self0 = sample_proc(0);
  sleep_until_ns(s.t1);
  const ProcSample srv1 = sample_proc(o.server_pid), self1 = sample_proc(0);

  auto sum = [&](auto member) {
    std::uint64_t n = 0;
    for (auto& w : ph.workers()) n += (w->stats_.*member).load();
    return n;
  };
  // Drain: wait until every update (late sends of a lagging tool included)
  // reached every receiver, or time out; only then can documents converge.
  const std::int64_t drain_deadline = s.t1 + static_cast<std::int64_t>(o.drain * 1e9);
  while (now_ns() < drain_deadline &&
         sum(&WorkerStats::delivered_total) < sum(&WorkerStats::expected_total))
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const std::uint64_t undelivered_total =
      sum(&WorkerStats::expected_total) - std::min(sum(&WorkerStats::expected_total), sum(&WorkerStats::delivered_total));
  auto conv = ph.on_each([](Worker& w) {
    std::string detail;
    auto r = w.check_convergence(detail);
    return std::make_tuple(r.first, r.second, detail);
  });
  ph.finish();

  std::uint64_t conv_ok = 0, conv_bad = 0;
  std::string error;
  std::vector<std::uint32_t> lat;
  std::uint64_t lag_max = 0, late = 0;
  for (auto& [ok, bad, detail] : conv) {
    conv_ok += ok;
    conv_bad += bad;
    if (error.empty() && undelivered_total == 0) error = detail;
  }
  for (auto& w : ph.workers()) {
    lat.insert(lat.end(), w->stats_.lat_us.begin(), w->stats_.lat_us.end());
    lag_max = std::max(lag_max, w->stats_.send_lag_max_ns);
    late += w->stats_.late_sends;
    if (error.empty()) error = w->stats_.first_error;
  }
  const std::uint64_t expected = sum(&WorkerStats::expected_measured);
  const std::uint64_t delivered = sum(&WorkerStats::delivered_measured);
  const std::uint64_t lost = expected > delivered ? expected - delivered : 0;
  const Percentiles p = percentiles(lat, lost);
  const double dur = static_cast<double>(s.t1 - s.t0) / 1e9;
  const double offered = static_cast<double>(sum(&WorkerStats::sent_measured)) / dur;
  const double delivered_per_s = static_cast<double>(sum(&WorkerStats::delivered_window)) / dur;
  const double offered_deliveries = static_cast<double>(expected) / dur;

  RateResult r;
  r.offered = offered;
  r.delivered_per_s = delivered_per_s;
  r.p99 = p.p99;
  if (synced != total) r.why = fmt::format("only {} of {} clients synced", synced, total);
  else if (lost > 0) r.why = fmt::format("{} deliveries missing after {} s of drain", lost, o.drain);
  else if (conv_bad > 0 && undelivered_total == 0) r.why = "documents diverged";
  else if (conv_bad > 0) r.why = fmt::format("{} late updates still undelivered after the drain", undelivered_total);
  else if (!(p.p99 <= o.p99_limit_ms)) r.why = fmt::format("p99 {:.1f} ms > {} ms", p.p99, o.p99_limit_ms);
  else if (delivered_per_s < 0.95 * offered_deliveries) r.why = "deliveries fell behind";
  r.sustained = r.why.empty();

  r.json = fmt::format(
      "{{\"scenario\":{},\"server\":{},\"docs\":{},\"clients_per_doc\":{},\"rate_per_client\":{},"
      "\"connect_s\":{},\"synced\":{},\"clients\":{},"
      "\"duration_s\":{},\"offered_updates_per_s\":{},\"expected_deliveries\":{},\"delivered\":{},\"lost\":{},"
      "\"delivered_per_s\":{},\"offered_deliveries_per_s\":{},\"p50_ms\":{},\"p99_ms\":{},\"max_ms\":{},"
      "\"server_cpu_pct\":{},\"server_rss_mb\":{},\"server_hwm_mb\":{},\"tool_cpu_pct\":{},"
      "\"converged_docs\":{},\"diverged_docs\":{},\"undelivered_total\":{},\"late_sends\":{},\"send_lag_max_ms\":{},"
      "\"acks\":{},\"frames_in\":{},\"bytes_in\":{},\"sustained\":{},\"why\":{},\"error\":{}}}",
      json_str(scenario), json_str(o.label), docs, clients, num(rate, 3), num(connect_s), synced, total,
      num(dur), num(offered, 1), expected, delivered, lost, num(delivered_per_s, 1),
      num(offered_deliveries, 1), num(p.p50, 3), num(p.p99, 3), num(p.max, 3),
      srv0.ok && srv1.ok ? num((srv1.cpu_s - srv0.cpu_s) / dur * 100, 1) : "null",
      srv1.ok ? num(mb(srv1.rss), 1) : "null", srv1.ok ? num(mb(srv1.hwm), 1) : "null",
      num((self1.cpu_s - self0.cpu_s) / dur * 100, 1), conv_ok, conv_bad, undelivered_total, late,
      num(static_cast<double>(lag_max) / 1e6, 1), sum(&WorkerStats::acks), sum(&WorkerStats::frames_in),
      sum(&WorkerStats::bytes_in), r.sustained ? "true" : "false", json_str(r.why), json_str(error));
  return r;
}

// S5: raise the per-client rate by `factor` until a step is not sustained.
void run_saturate(const Env& env) {
  const Options& o = env.opt;
  double rate = o.start_rate;
  std::optional<RateResult> best;
  double best_rate = 0;
  std::string stop = "max steps reached";
  for (int step = 0; step < o.max_steps; ++step, rate *= o.factor) {
    RateResult r = run_rate(env, "saturate-step", o.docs, o.clients, rate, fmt::format("{}-s{}", o.prefix, step));
    std::printf("%s\n", r.json.c_str());
    std::fflush(stdout);
    if (!r.sustained) {
      stop = fmt::format("at {} updates/s per client: {}", num(rate, 2), r.why);
      break;
    }
    best = r;
    best_rate = rate;
  }
  std::printf("%s\n",
              fmt::format("{{\"scenario\":\"saturate\",\"server\":{},\"docs\":{},\"clients_per_doc\":{},"
                          "\"best_rate_per_client\":{},\"best_offered_updates_per_s\":{},"
                          "\"best_delivered_per_s\":{},\"best_p99_ms\":{},\"stopped\":{}}}",
                          json_str(o.label), o.docs, o.clients, best ? num(best_rate, 3) : "null",
                          best ? num(best->offered, 1) : "null", best ? num(best->delivered_per_s, 1) : "null",
                          best ? num(best->p99, 3) : "null", json_str(stop))
                  .c_str());
}

// S3: idle synced connections and the server memory they hold.
void run_idle(const Env& env) {
  const Options& o = env.opt;
  const ProcSample before = sample_proc(o.server_pid);
  const ProcSample self_before = sample_proc(0);
  Phase ph(env, o.threads);
  std::vector<Group*> groups;
  for (int d = 0; d < o.docs; ++d)
    groups.push_back(&ph.worker_for(static_cast<std::size_t>(d)).add_group(fmt::format("{}-{}", o.prefix, d)));
  for (int i = 0; i < o.conns; ++i) {
    const std::size_t d = static_cast<std::size_t>(i % o.docs);
    ph.worker_for(d).add_client(*groups[d], false, false);
  }
  const std::int64_t t = now_ns();
  ph.start();
  const std::uint64_t synced = ph.wait_synced(static_cast<std::uint64_t>(o.conns), 120 + o.conns / 100.0);
  const double connect_s = static_cast<double>(now_ns() - t) / 1e9;
  std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<int>(o.settle * 1000)));
  const ProcSample after = sample_proc(o.server_pid);
  const ProcSample self_after = sample_proc(0);
  std::string error;
  for (auto& w : ph.workers())
    if (error.empty()) error = w->stats_.first_error;
  // Still open at the end of the hold: a server that dropped idle clients would show here.
  auto open = ph.on_each([](Worker& w) {
    std::uint64_t n = 0;
    for (auto& c : w.clients_) n += c->open_ ? 1 : 0;
    return n;
  });
  std::uint64_t still_open = 0;
  for (auto n : open) still_open += n;
  ph.finish();
  const double per_conn =
      synced > 0 && before.ok && after.ok
          ? (static_cast<double>(after.rss) - static_cast<double>(before.rss)) / static_cast<double>(synced)
          : NAN;
  std::printf("%s\n",
              fmt::format("{{\"scenario\":\"idle\",\"server\":{},\"docs\":{},\"conns\":{},\"synced\":{},"
                          "\"still_open\":{},\"connect_s\":{},\"server_rss_before_mb\":{},\"server_rss_after_mb\":{},"
                          "\"server_bytes_per_conn\":{},\"tool_bytes_per_conn\":{},\"error\":{}}}",
                          json_str(o.label), o.docs, o.conns, synced, still_open, num(connect_s),
                          before.ok ? num(mb(before.rss), 1) : "null", after.ok ? num(mb(after.rss), 1) : "null",
                          num(per_conn, 0),
                          num(synced ? (static_cast<double>(self_after.rss) - static_cast<double>(self_before.rss)) /
                                           static_cast<double>(synced)
                                     : NAN,
                              0),
                          json_str(error))
                  .c_str());
}

// S4: a document with `history` edits; one joiner at a time, then `joiners` at once.
void run_join(const Env& env) {
  const Options& o = env.opt;
  // The history: one writer making random inserts and deletes, one transaction per edit.
  crdt::Doc seed;
  seed.set_client_id(0x30000001u);
  auto& text = seed.get<crdt::Text>(kTextName);
  std::vector<Bytes> batch, frames;
  seed.on_update([&](std::span<const std::uint8_t> u, const crdt::Origin&, crdt::Transaction&) {
    batch.emplace_back(u.begin(), u.end());
  });
  std::mt19937_64 rng(42);
  const std::string alphabet = "abcdefghijklmnopqrstuvwxyz ";
  for (int i = 0; i < o.history; ++i) {
    const std::uint64_t len = text.length();
    if (len > 0 && rng() % 4 == 0) {
      const std::uint64_t pos = rng() % len;
      text.remove(pos, std::min<std::uint64_t>(1 + rng() % 4, len - pos));
    } else {
      std::string s(1 + rng() % 6, 'x');
      for (char& c : s) c = alphabet[rng() % alphabet.size()];
      text.insert(len == 0 ? 0 : rng() % (len + 1), s);
    }
    if (static_cast<int>(batch.size()) >= o.edits_per_frame || i + 1 == o.history) {
      auto merged = crdt::merge_updates(batch);
      if (!merged) {
        std::fprintf(stderr, "load_tool: merge failed: %s\n", merged.error().message.c_str());
        std::exit(1);
      }
      frames.push_back(protocol::encode_sync_update(*merged));
      batch.clear();
    }
  }
  const Bytes seed_sv = crdt::encode_state_vector(seed);
  const std::string seed_text = text.to_string();
  const std::size_t seed_update_bytes = crdt::encode_state_as_update(seed).size();

  Phase ph(env, 1);
  Worker& w = *ph.workers()[0];
  Group& g = w.add_group(o.prefix + "-history");
  Client& seeder = w.add_client(g, false, false);
  ph.start();
  if (ph.wait_synced(1, 30) != 1) {
    std::printf("{\"scenario\":\"join\",\"server\":%s,\"error\":%s}\n", json_str(o.label).c_str(),
                json_str("seeder did not sync: " + w.stats_.first_error).c_str());
    return;
  }
  // Send the history, then a step 1 whose step 2 answer comes after all of it.
  const std::int64_t t_seed = now_ns();
  w.post([&] {
    for (auto& f : frames) seeder.send([&] {
      if (o.dialect == Dialect::kYws) return f;
      crdt::lib0::Encoder e;
      e.write_var_string(g.name);
      e.write_uint8_array(f);
      return std::move(e).to_bytes();
    }());
    Bytes s1 = protocol::encode_sync_step1(seed_sv);
    if (o.dialect == Dialect::kHocuspocus) {
      crdt::lib0::Encoder e;
      e.write_var_string(g.name);
      e.write_uint8_array(s1);
      s1 = std::move(e).to_bytes();
    }
    seeder.send(std::move(s1));
  });
  while (seeder.step2_count_.load() < 2 && now_ns() - t_seed < 600'000'000'000)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const double seed_s = static_cast<double>(now_ns() - t_seed) / 1e9;
  const ProcSample loaded = sample_proc(o.server_pid);

  // Joiners: time from TCP connect to the step 2 answer received.
  std::vector<Client*> joined;
  auto add_joiners = [&](int n) {
    auto done = std::make_shared<std::atomic<int>>(0);
    w.post([&, n, done] {
      for (int i = 0; i < n; ++i) {
        Client& c = w.add_client(g, false, false);
        c.keep_step2_ = true;
        c.on_synced_ = [done](Client&) { done->fetch_add(1); };
        joined.push_back(&c);
      }
      w.connect_pending();
    });
    return done;
  };
  std::vector<std::uint32_t> single_us;
  for (int i = 0; i < o.single_joins; ++i) {
    auto done = add_joiners(1);
    const std::int64_t deadline = now_ns() + 120'000'000'000;
    while (done->load() < 1 && now_ns() < deadline && w.stats_.failed.load() == 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    ph.on_each([&](Worker&) {
      Client* c = joined.back();
      if (c->t_synced_ > 0) single_us.push_back(static_cast<std::uint32_t>((c->t_synced_ - c->t_connect_) / 1000));
      c->close();
      return 0;
    });
  }
  const std::size_t burst_from = joined.size();
  const ProcSample cpu0 = sample_proc(o.server_pid);
  const std::int64_t t_burst = now_ns();
  auto done = add_joiners(o.joiners);
  while (done->load() < o.joiners && now_ns() - t_burst < 300'000'000'000 &&
         w.stats_.failed.load() == 0)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  const double burst_all_s = static_cast<double>(now_ns() - t_burst) / 1e9;
  const ProcSample cpu1 = sample_proc(o.server_pid);
  std::vector<std::uint32_t> burst_us;
  std::size_t verified = 0, checked = 0;
  std::size_t step2_bytes = 0;
  ph.on_each([&](Worker&) {
    for (std::size_t i = burst_from; i < joined.size(); ++i)
      if (joined[i]->t_synced_ > 0)
        burst_us.push_back(static_cast<std::uint32_t>((joined[i]->t_synced_ - joined[i]->t_connect_) / 1000));
    return 0;
  });
  ph.finish();
  // Every joiner got the whole history: its step 2 covers the seed's state vector.
  bool content_ok = false;
  for (Client* c : joined) {
    if (c->step2_.empty()) continue;
    ++checked;
    auto sv = crdt::encode_state_vector_from_update(c->step2_);
    if (sv && *sv == seed_sv) ++verified;
    if (step2_bytes == 0) {
      step2_bytes = c->step2_.size();
      crdt::Doc d;
      content_ok = crdt::apply_update(d, c->step2_).has_value() && d.get<crdt::Text>(kTextName).to_string() == seed_text;
    }
  }
  const Percentiles single = percentiles(single_us);
  const std::uint64_t burst_missing = static_cast<std::uint64_t>(o.joiners) - burst_us.size();
  const Percentiles burst = percentiles(burst_us, burst_missing);
  std::printf(
      "%s\n",
      fmt::format("{{\"scenario\":\"join\",\"server\":{},\"history_edits\":{},\"history_frames\":{},"
                  "\"update_bytes\":{},\"step2_bytes\":{},\"text_chars\":{},\"seed_s\":{},\"server_rss_loaded_mb\":{},"
                  "\"single_joins\":{},\"single_p50_ms\":{},\"single_min_ms\":{},\"burst_joiners\":{},"
                  "\"burst_p50_ms\":{},\"burst_p99_ms\":{},\"burst_max_ms\":{},\"burst_all_s\":{},"
                  "\"burst_server_cpu_s\":{},\"verified\":{},\"checked\":{},\"content_ok\":{},\"error\":{}}}",
                  json_str(o.label), o.history, frames.size(), seed_update_bytes, step2_bytes, seed_text.size(),
                  num(seed_s, 2), loaded.ok ? num(mb(loaded.rss), 1) : "null", single_us.size(), num(single.p50, 2),
                  single_us.empty() ? "null" : num(single_us.front() / 1000.0, 2), o.joiners, num(burst.p50, 2),
                  num(burst.p99, 2), num(burst.max, 2), num(burst_all_s, 3),
                  cpu0.ok && cpu1.ok ? num(cpu1.cpu_s - cpu0.cpu_s, 3) : "null", verified, checked,
                  content_ok ? "true" : "false", json_str(w.stats_.first_error))
          .c_str());
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  std::string dialect = "yws";
  CLI::App app{"Load benchmark client for corates-sync, @y/websocket-server and Hocuspocus"};
  app.add_option("--url", o.url, "ws://HOST:PORT/PATH (yws: the document name is appended)")->required();
  app.add_option("--dialect", dialect, "yws or hocuspocus");
  app.add_option("--label", o.label, "server name in the output");
  app.add_option("--scenario", o.scenario, "rate, saturate, idle or join");
  app.add_option("--prefix", o.prefix, "document name prefix");
  app.add_option("--threads", o.threads, "client threads");
  app.add_option("--server-pid", o.server_pid, "pid whose CPU and RSS are sampled");
  app.add_option("--connect-concurrency", o.connect_concurrency, "connections in progress at once per thread");
  app.add_option("--docs", o.docs, "documents");
  app.add_option("--clients", o.clients, "clients per document (rate, saturate)");
  app.add_option("--rate", o.rate, "updates/s per client (rate)");
  app.add_option("--warmup", o.warmup, "seconds of sending before measuring");
  app.add_option("--duration", o.duration, "seconds measured");
  app.add_option("--drain", o.drain, "seconds to wait for the last deliveries");
  app.add_option("--start-rate", o.start_rate, "saturate: first updates/s per client");
  app.add_option("--factor", o.factor, "saturate: rate multiplier per step");
  app.add_option("--max-steps", o.max_steps, "saturate: steps at most");
  app.add_option("--p99-limit-ms", o.p99_limit_ms, "saturate: p99 above this is not sustained");
  app.add_option("--conns", o.conns, "idle: connections");
  app.add_option("--settle", o.settle, "idle: seconds to wait before sampling memory");
  app.add_option("--history", o.history, "join: edits in the document's history");
  app.add_option("--edits-per-frame", o.edits_per_frame, "join: edits merged per seeding frame");
  app.add_option("--single-joins", o.single_joins, "join: joins one after another");
  app.add_option("--joiners", o.joiners, "join: joiners at once");
  CLI11_PARSE(app, argc, argv);
  if (dialect == "hocuspocus") {
    o.dialect = Dialect::kHocuspocus;
  } else if (dialect != "yws") {
    std::fprintf(stderr, "load_tool: unknown dialect %s\n", dialect.c_str());
    return 2;
  }
  // ws://HOST:PORT/PATH
  const std::string scheme = "ws://";
  if (o.url.rfind(scheme, 0) != 0) {
    std::fprintf(stderr, "load_tool: --url must start with ws://\n");
    return 2;
  }
  const std::string rest = o.url.substr(scheme.size());
  const auto slash = rest.find('/');
  const std::string hostport = rest.substr(0, slash);
  Env env;
  env.path = slash == std::string::npos ? "/" : rest.substr(slash);
  const auto colon = hostport.rfind(':');
  if (colon == std::string::npos) {
    std::fprintf(stderr, "load_tool: --url needs a port\n");
    return 2;
  }
  env.host = hostport;
  try {
    asio::io_context ioc;
    tcp::resolver res(ioc);
    auto eps = res.resolve(hostport.substr(0, colon), hostport.substr(colon + 1));
    env.ep = *eps.begin();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "load_tool: cannot resolve %s: %s\n", hostport.c_str(), e.what());
    return 2;
  }
  env.opt = o;
  try {
    if (o.scenario == "rate") {
      std::printf("%s\n", run_rate(env, "rate", o.docs, o.clients, o.rate, o.prefix).json.c_str());
    } else if (o.scenario == "saturate") {
      run_saturate(env);
    } else if (o.scenario == "idle") {
      run_idle(env);
    } else if (o.scenario == "join") {
      run_join(env);
    } else {
      std::fprintf(stderr, "load_tool: unknown scenario %s\n", o.scenario.c_str());
      return 2;
    }
  } catch (const std::exception& e) {  // Asio/Beast throw on resource exhaustion
    std::fprintf(stderr, "load_tool: %s\n", e.what());
    return 1;
  }
  return 0;
}
