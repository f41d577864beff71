// Differential conformance runner: replays scenarios made by real Yjs
// (node/gen.mjs, golden/*.jsonl; format in README.md) into corates::crdt and
// compares every checkpoint: JSON of each root, text deltas, state vector,
// whole-state encodings v1/v2 and diffs against state vectors, byte for byte.
// Doc-less outputs (merge, diff, state vector from update, meta, convert) are
// compared too; for merge/diff/convert, byte identity is counted and a
// difference fails only if the output, applied, gives a different document.
//
//   conformance_runner [FILE...|-] [--seed S] [--name N] [--verbose] [--no-alt]
//                      [--max-print K] [--timeout SECONDS] [--supported-types]
// With no FILE, reads stdin. Exit status: 0 all passed, 1 failures, 2 bad usage,
// 3 a record timed out (the core hangs); a crash re-raises its signal.

#include "corates/crdt/array.hpp"
#include "corates/crdt/doc.hpp"
#include "corates/crdt/encoding.hpp"
#include "corates/crdt/lib0/any.hpp"
#include "corates/crdt/map.hpp"
#include "corates/crdt/snapshot.hpp"

#if __has_include("corates/crdt/updates.hpp")
#include "corates/crdt/updates.hpp"
#define CORATES_CONFORMANCE_UPDATES 1
#endif

#if __has_include("corates/crdt/text.hpp")
#include "corates/crdt/text.hpp"
#define CORATES_CONFORMANCE_TEXT 1
#endif
#if __has_include("corates/crdt/xml.hpp")
#include "corates/crdt/xml.hpp"
#define CORATES_CONFORMANCE_XML 1
#endif

#include <boost/json.hpp>

#include <algorithm>
#include <cstdlib>
#include <charconv>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <unistd.h>
#include <vector>

namespace {

namespace json = boost::json;
namespace crdt = corates::crdt;
using Bytes = std::vector<std::uint8_t>;

// ------------------------------------------------------------------ helpers

std::optional<Bytes> from_base64(std::string_view s) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  Bytes out;
  out.reserve(s.size() * 3 / 4);
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : s) {
    if (c == '=') break;
    int v = val(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<std::uint8_t>((acc >> bits) & 0xff));
    }
  }
  return out;
}

std::string to_base64(std::span<const std::uint8_t> b) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < b.size(); i += 3) {
    std::uint32_t v = (std::uint32_t{b[i]} << 16) | (std::uint32_t{b[i + 1]} << 8) | b[i + 2];
    for (int k = 18; k >= 0; k -= 6) out += kAlphabet[(v >> k) & 63];
  }
  if (i + 1 == b.size()) {
    std::uint32_t v = std::uint32_t{b[i]} << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == b.size()) {
    std::uint32_t v = (std::uint32_t{b[i]} << 16) | (std::uint32_t{b[i + 1]} << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

std::string hex_window(std::span<const std::uint8_t> b, std::size_t center) {
  std::size_t from = center > 16 ? center - 16 : 0;
  std::size_t to = std::min(b.size(), center + 24);
  std::string out;
  char buf[4];
  if (from > 0) out += "... ";
  for (std::size_t i = from; i < to; ++i) {
    std::snprintf(buf, sizeof buf, "%02x", b[i]);
    if (i == center) out += '[';
    out += buf;
    if (i == center) out += ']';
    out += ' ';
  }
  if (to < b.size()) out += "...";
  return out;
}

std::string truncate(std::string s, std::size_t max = 3000) {
  // CONFORMANCE_FULL=1 prints whole encodings (to decode them while debugging).
  static const bool full = std::getenv("CONFORMANCE_FULL") != nullptr;
  if (!full && s.size() > max) {
    s.resize(max);
    s += "... (truncated)";
  }
  return s;
}

// Readable difference of two byte strings, or empty if equal.
std::string bytes_diff(std::span<const std::uint8_t> expected, std::span<const std::uint8_t> actual) {
  if (std::equal(expected.begin(), expected.end(), actual.begin(), actual.end())) return {};
  std::size_t i = 0;
  while (i < expected.size() && i < actual.size() && expected[i] == actual[i]) ++i;
  std::ostringstream os;
  os << "yjs " << expected.size() << " bytes, c++ " << actual.size()
     << " bytes, first difference at offset " << i << "\n"
     << "    yjs: " << hex_window(expected, i) << "\n"
     << "    c++: " << hex_window(actual, i) << "\n"
     << "    yjs base64: " << truncate(to_base64(expected), 1500) << "\n"
     << "    c++ base64: " << truncate(to_base64(actual), 1500);
  return os.str();
}

// JSON text for messages, numbers in their shortest form (json::serialize
// would print 0.5 as 5E-1).
void show_json(const json::value& v, std::string& out) {
  switch (v.kind()) {
    case json::kind::double_: {
      char buf[32];
      auto r = std::to_chars(buf, buf + sizeof buf, v.get_double());
      out.append(buf, r.ptr);
      return;
    }
    case json::kind::array: {
      out += '[';
      bool first = true;
      for (const auto& e : v.get_array()) {
        if (!first) out += ',';
        first = false;
        show_json(e, out);
      }
      out += ']';
      return;
    }
    case json::kind::object: {
      out += '{';
      bool first = true;
      for (const auto& kv : v.get_object()) {
        if (!first) out += ',';
        first = false;
        out += json::serialize(json::value(kv.key()));
        out += ':';
        show_json(kv.value(), out);
      }
      out += '}';
      return;
    }
    default:
      out += json::serialize(v);
  }
}

std::string show_json(const json::value& v) {
  std::string out;
  show_json(v, out);
  return out;
}

// First difference between two JSON values as "path: yjs X, c++ Y", or empty.
// Object key order is not significant (Yjs's own order depends on delivery).
std::string json_diff(const json::value& a, const json::value& b, const std::string& path) {
  if (a.is_object() && b.is_object()) {
    const auto& oa = a.get_object();
    const auto& ob = b.get_object();
    for (const auto& kv : oa) {
      std::string p = path + "." + std::string(kv.key());
      auto it = ob.find(kv.key());
      if (it == ob.end()) return p + ": missing in c++ (yjs: " + truncate(show_json(kv.value()), 300) + ")";
      std::string d = json_diff(kv.value(), it->value(), p);
      if (!d.empty()) return d;
    }
    for (const auto& kv : ob) {
      if (!oa.contains(kv.key())) {
        return path + "." + std::string(kv.key()) + ": extra in c++ (" +
               truncate(show_json(kv.value()), 300) + ")";
      }
    }
    return {};
  }
  if (a.is_array() && b.is_array()) {
    const auto& aa = a.get_array();
    const auto& ab = b.get_array();
    for (std::size_t i = 0; i < aa.size() && i < ab.size(); ++i) {
      std::string d = json_diff(aa[i], ab[i], path + "[" + std::to_string(i) + "]");
      if (!d.empty()) return d;
    }
    if (aa.size() != ab.size()) {
      return path + ": yjs has " + std::to_string(aa.size()) + " elements, c++ " + std::to_string(ab.size());
    }
    return {};
  }
  // Numbers: int64/uint64/double parse differently only when the texts differ
  // in form; compare by value.
  if (a.is_number() && b.is_number()) {
    std::error_code ea, eb;
    double da = a.to_number<double>(ea);
    double db = b.to_number<double>(eb);
    if (!ea && !eb && da == db) return {};
  }
  if (a == b) return {};
  return path + ": yjs " + truncate(show_json(a), 500) + ", c++ " + truncate(show_json(b), 500);
}

// ------------------------------------------------------------------ crash report

// Filled before each record, written by the signal handler if the core crashes.
char g_crash_note[2048] = "";
// Tally so far, so that a crash still reports what passed before it.
std::uint64_t g_passed = 0, g_failed = 0, g_skipped = 0;

void write_interrupted_summary() {
  char buf[256];
  int n = std::snprintf(buf, sizeof buf,
                        "conformance: %llu passed, %llu failed, %llu skipped (interrupted)\n",
                        static_cast<unsigned long long>(g_passed), static_cast<unsigned long long>(g_failed + 1),
                        static_cast<unsigned long long>(g_skipped));
  if (n > 0) (void)!write(1, buf, static_cast<std::size_t>(n));
}

extern "C" void on_timeout(int) {
  const char head[] = "\nconformance_runner: TIMEOUT (one record took too long; a hang?) while processing: ";
  (void)!write(2, head, sizeof head - 1);
  (void)!write(2, g_crash_note, std::strlen(g_crash_note));
  (void)!write(2, "\n", 1);
  std::fflush(stdout);
  write_interrupted_summary();
  _exit(3);
}

extern "C" void on_crash(int sig) {
  const char head[] = "\nconformance_runner: CRASH (signal) while processing: ";
  (void)!write(2, head, sizeof head - 1);
  (void)!write(2, g_crash_note, std::strlen(g_crash_note));
  (void)!write(2, "\n", 1);
  std::fflush(stdout);
  write_interrupted_summary();
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

// ------------------------------------------------------------------ options and stats

struct Options {
  std::vector<std::string> files;
  std::optional<std::int64_t> seed;
  std::string name;
  bool verbose = false;
  bool alt = true;
  int max_print = 10;
  unsigned timeout = 30;  // seconds per record; a hang in the core is reported, not waited out
  std::string self = "build/bin/conformance_runner";
};

struct Counter {
  std::uint64_t total = 0, identical = 0, equivalent = 0;
};

struct Stats {
  std::uint64_t passed = 0, failed = 0, skipped = 0;
  std::uint64_t checkpoints = 0, deliveries = 0;
  std::map<std::string, Counter> docless;  // "merge v1", ...
  int printed = 0;
};

bool supports_kind(std::string_view kind) {
  // Text and XML roots need the Text/Xml types (announced by their headers);
  // until then scenarios with such roots are skipped.
  if (kind == "array" || kind == "map") return true;
#ifdef CORATES_CONFORMANCE_TEXT
  if (kind == "text") return true;
#endif
#ifdef CORATES_CONFORMANCE_XML
  if (kind == "xml") return true;
#endif
  return false;
}

std::string supported_types() {
  std::string s = "array,map,nested,subdoc,bytes,bigint,special,undefined,merge,snapshot";
#ifdef CORATES_CONFORMANCE_TEXT
  s += ",text,format,embed,delta";
#endif
#ifdef CORATES_CONFORMANCE_XML
  s += ",xml,xmlhook";
#endif
#ifdef CORATES_CONFORMANCE_UPDATES
  s += ",docless";
#endif
  return s;
}

// ------------------------------------------------------------------ one scenario

struct Failure {
  std::string where;
  std::string what;
};

class Scenario {
 public:
  Scenario(const json::object& header, std::string source, const Options& opts)
      : opts_(opts), source_(std::move(source)) {
    seed_ = header.contains("seed") ? header.at("seed").to_number<std::int64_t>() : 0;
    if (const auto* n = header.if_contains("name")) name_ = std::string(n->as_string());
    gc_ = header.at("gc").as_bool();
    client_ = header.at("client").to_number<std::uint64_t>();
    if (const auto* c = header.if_contains("cmd")) cmd_ = std::string(c->as_string());
    for (const auto& r : header.at("roots").as_array()) {
      const auto& pair = r.as_array();
      roots_.emplace_back(std::string(pair.at(0).as_string()), std::string(pair.at(1).as_string()));
    }
    main_ = make_doc();
    if (opts_.alt) alt_ = make_doc();
    for (auto& d : {main_.get(), alt_.get()}) {
      if (d == nullptr) continue;
      for (const auto& [rname, kind] : roots_) define_root(*d, rname, kind);
    }
  }

  bool supported() const {
    for (const auto& r : roots_) {
      if (!supports_kind(r.second)) return false;
    }
    return true;
  }

  std::string label() const {
    std::ostringstream os;
    if (!name_.empty()) os << "golden " << name_;
    else os << "seed " << seed_;
    os << " (gc " << (gc_ ? "on" : "off") << ")";
    return os.str();
  }

  std::string replay_command() const {
    if (!name_.empty()) return opts_.self + " --name " + name_ + " " + source_;
    std::string args = cmd_.empty() ? "--seed " + std::to_string(seed_) : cmd_;
    // A generator other than gen.mjs names itself (bigmerge.mjs).
    if (!args.starts_with("node ")) args = "node tests/conformance/node/gen.mjs " + args;
    return args + " | " + opts_.self + " --verbose";
  }

  const std::optional<Failure>& failure() const { return failure_; }
  std::uint64_t deliveries() const { return log_.size(); }

  void on_record(const json::object& rec, std::size_t line_no, Stats& stats) {
    if (failure_) return;  // the first failure is the useful one
    std::string_view t = rec.at("t").as_string();
    where_ = "line " + std::to_string(line_no) + ", record '" + std::string(t) + "' after " +
             std::to_string(log_.size()) + " deliveries";
    std::snprintf(g_crash_note, sizeof g_crash_note, "%s at %s\n  replay: %s", label().c_str(),
                  where_.c_str(), replay_command().c_str());
    alarm(opts_.timeout);
    try {
      if (t == "u") on_update(rec);
      else if (t == "c") { on_checkpoint(rec); ++stats.checkpoints; }
      else if (t == "n") on_snapshot(rec);
      else if (t == "r") { on_restore(rec); ++stats.checkpoints; }
#ifdef CORATES_CONFORMANCE_UPDATES
      else if (t == "m") on_merge(rec, stats);
      else if (t == "d") on_diff(rec, stats);
      else if (t == "v") on_sv_from_update(rec);
      else if (t == "p") on_meta(rec);
      else if (t == "x") on_convert(rec, stats);
#endif
    } catch (const std::exception& e) {
      fail(std::string("exception: ") + e.what());
    }
    alarm(0);
  }

 private:
  std::unique_ptr<crdt::Doc> make_doc() const {
    crdt::DocOptions o;
    o.client_id = client_;
    o.gc = gc_;
    o.guid = "conformance";
    return std::make_unique<crdt::Doc>(std::move(o));
  }

  static void define_root(crdt::Doc& d, const std::string& rname, const std::string& kind) {
    if (kind == "array") d.get_array(rname);
    else if (kind == "map") d.get_map(rname);
#ifdef CORATES_CONFORMANCE_TEXT
    else if (kind == "text") d.get<crdt::Text>(rname);
#endif
#ifdef CORATES_CONFORMANCE_XML
    else if (kind == "xml") d.get<crdt::XmlFragment>(rname);
#endif
  }

  void fail(std::string what) {
    if (!failure_) failure_ = Failure{where_, std::move(what)};
  }

  static Bytes bytes_field(const json::object& rec, std::string_view key) {
    auto b = from_base64(rec.at(key).as_string());
    if (!b) throw std::runtime_error("bad base64 in field " + std::string(key));
    return std::move(*b);
  }

  // The input update of a Doc-less record: a log entry or inline bytes.
  Bytes input_of(const json::object& rec, int v) const {
    if (const auto* in = rec.if_contains("in")) {
      const auto& e = log_.at(in->to_number<std::size_t>());
      return v == 1 ? e.first : e.second;
    }
    return bytes_field(rec, "u");
  }

  static crdt::ByteView view(const Bytes& b) { return {b.data(), b.size()}; }

  void on_update(const json::object& rec) {
    Bytes u1 = bytes_field(rec, "u1");
    Bytes u2 = bytes_field(rec, "u2");
    int f = static_cast<int>(rec.at("f").to_number<std::int64_t>());
    auto r = f == 1 ? crdt::apply_update(*main_, view(u1)) : crdt::apply_update_v2(*main_, view(u2));
    if (!r) {
      fail("apply_update" + std::string(f == 2 ? "_v2" : "") + " rejected an update Yjs accepted: " +
           r.error().message + "\n    update base64: " + truncate(to_base64(f == 1 ? u1 : u2), 1500));
    }
    if (alt_) {
      auto ra = f == 1 ? crdt::apply_update_v2(*alt_, view(u2)) : crdt::apply_update(*alt_, view(u1));
      if (!ra) {
        fail("the same update in the other format (v" + std::to_string(3 - f) +
             ") was rejected: " + ra.error().message);
      }
    }
    log_.emplace_back(std::move(u1), std::move(u2));
  }

  void compare_json(const std::string& what, const json::value& expected, const crdt::lib0::Any& actual) {
    std::string text = crdt::lib0::to_json(actual);
    json::error_code ec;
    json::value parsed = json::parse(text, ec);
    if (ec) {
      fail(what + ": c++ printed invalid JSON (" + ec.message() + "): " + truncate(text, 500));
      return;
    }
    std::string d = json_diff(expected, parsed, "$");
    if (!d.empty()) {
      fail(what + " differs at " + d + "\n    yjs: " + truncate(show_json(expected)) +
           "\n    c++: " + truncate(text));
    }
  }

  void compare_bytes(const std::string& what, const Bytes& expected, const Bytes& actual) {
    std::string d = bytes_diff(expected, actual);
    if (!d.empty()) fail(what + " differs: " + d);
  }

  void check_doc(crdt::Doc& d, const json::object& rec, const std::string& which) {
    const auto& js = rec.at("json").as_object();
    for (const auto& [rname, kind] : roots_) {
      crdt::lib0::Any actual;
      if (kind == "array") actual = d.get_array(rname).to_json();
      else if (kind == "map") actual = d.get_map(rname).to_json();
#ifdef CORATES_CONFORMANCE_TEXT
      else if (kind == "text") actual = d.get<crdt::Text>(rname).to_json();
#endif
#ifdef CORATES_CONFORMANCE_XML
      else if (kind == "xml") actual = d.get<crdt::XmlFragment>(rname).to_json();
#endif
      compare_json(which + "root '" + rname + "' (" + kind + ") JSON", js.at(rname), actual);
      if (failure_) return;
#ifdef CORATES_CONFORMANCE_TEXT
      if (kind == "text") {
        compare_json(which + "root '" + rname + "' toDelta()", rec.at("delta").as_object().at(rname),
                     crdt::delta_to_json(d.get<crdt::Text>(rname).to_delta()));
        if (failure_) return;
      }
#endif
    }
    compare_bytes(which + "state vector", bytes_field(rec, "sv"), crdt::encode_state_vector(d));
    compare_bytes(which + "encodeStateAsUpdate (v1)", bytes_field(rec, "s1"), crdt::encode_state_as_update(d));
    compare_bytes(which + "encodeStateAsUpdateV2", bytes_field(rec, "s2"), crdt::encode_state_as_update_v2(d));
    if (failure_) return;
    for (const auto& dv : rec.at("diffs").as_array()) {
      const auto& diff = dv.as_object();
      Bytes sv = bytes_field(diff, "sv");
      std::string svs = " against state vector " + to_base64(sv);
      auto u1 = crdt::encode_state_as_update(d, view(sv));
      if (!u1) { fail(which + "encodeStateAsUpdate" + svs + " failed: " + u1.error().message); return; }
      compare_bytes(which + "encodeStateAsUpdate (v1)" + svs, bytes_field(diff, "u1"), *u1);
      auto u2 = crdt::encode_state_as_update_v2(d, view(sv));
      if (!u2) { fail(which + "encodeStateAsUpdateV2" + svs + " failed: " + u2.error().message); return; }
      compare_bytes(which + "encodeStateAsUpdateV2" + svs, bytes_field(diff, "u2"), *u2);
      if (failure_) return;
    }
  }

  void on_checkpoint(const json::object& rec) {
    check_doc(*main_, rec, "");
    if (alt_ && !failure_) check_doc(*alt_, rec, "[doc fed the other format] ");
  }

  // Y.snapshot(observer) now: ours must encode to the same bytes (v1, v2),
  // and Yjs's bytes must decode to a snapshot equal to ours.
  void on_snapshot(const json::object& rec) {
    const auto k = rec.at("k").to_number<std::size_t>();
    crdt::Snapshot s = crdt::snapshot(*main_);
    const Bytes s1 = bytes_field(rec, "s1");
    const Bytes s2 = bytes_field(rec, "s2");
    const std::string what = "snapshot " + std::to_string(k);
    compare_bytes(what + " encodeSnapshot", s1, crdt::encode_snapshot(s));
    compare_bytes(what + " encodeSnapshotV2", s2, crdt::encode_snapshot_v2(s));
    auto d1 = crdt::decode_snapshot(view(s1));
    auto d2 = crdt::decode_snapshot_v2(view(s2));
    if (!d1 || !d2) {
      fail(what + ": decoding Yjs's bytes failed: " + (d1 ? d2.error().message : d1.error().message));
      return;
    }
    if (!crdt::equal_snapshots(*d1, s) || !crdt::equal_snapshots(*d2, s)) fail(what + ": decoded != ours");
    if (snaps_.size() != k) {
      fail(what + ": out of order");
      return;
    }
    snaps_.push_back(std::move(s));
  }

  // Y.createDocFromSnapshot(observer, snapshot k): checked like a checkpoint.
  void on_restore(const json::object& rec) {
    const auto k = rec.at("k").to_number<std::size_t>();
    if (k >= snaps_.size()) {
      fail("restore of unknown snapshot " + std::to_string(k));
      return;
    }
    auto restored = crdt::create_doc_from_snapshot(*main_, snaps_[k]);
    if (!restored) {
      fail("createDocFromSnapshot " + std::to_string(k) + " failed: " + restored.error().message);
      return;
    }
    for (const auto& [rname, kind] : roots_) define_root(**restored, rname, kind);
    check_doc(**restored, rec, "[restored at snapshot " + std::to_string(k) + "] ");
  }

#ifdef CORATES_CONFORMANCE_UPDATES
  // The whole state (format v) of a fresh Doc after applying `update`.
  std::optional<Bytes> state_after(const Bytes& update, int v, std::string& err) const {
    auto d = make_doc();
    auto r = v == 1 ? crdt::apply_update(*d, view(update)) : crdt::apply_update_v2(*d, view(update));
    if (!r) {
      err = r.error().message;
      return std::nullopt;
    }
    return v == 1 ? crdt::encode_state_as_update(*d) : crdt::encode_state_as_update_v2(*d);
  }

  // Byte identity is counted; otherwise both outputs must give the same document.
  void judge(const std::string& what, Counter& c, const Bytes& yjs, const Bytes& ours, int v,
             const Bytes* expected_state) {
    ++c.total;
    if (yjs == ours) {
      ++c.identical;
      return;
    }
    std::string err;
    auto mine = state_after(ours, v, err);
    if (!mine) {
      fail(what + ": our output is rejected by our own apply_update: " + err + "\n    " +
           bytes_diff(yjs, ours));
      return;
    }
    Bytes expected;
    if (expected_state != nullptr) {
      expected = *expected_state;
    } else {
      auto theirs = state_after(yjs, v, err);
      if (!theirs) {
        fail(what + ": Yjs's output is rejected by apply_update: " + err);
        return;
      }
      expected = std::move(*theirs);
    }
    if (expected != *mine) {
      fail(what + ": output differs from Yjs's and applies to a different document\n    output: " +
           bytes_diff(yjs, ours) + "\n    state after applying: " + bytes_diff(expected, *mine));
      return;
    }
    ++c.equivalent;
    if (opts_.verbose) {
      std::cout << "  note: " << label() << " " << where_ << ": " << what
                << " not byte-identical (equivalent document)\n";
    }
  }

  void on_merge(const json::object& rec, Stats& stats) {
    int v = static_cast<int>(rec.at("v").to_number<std::int64_t>());
    std::vector<Bytes> inputs;
    for (const auto& i : rec.at("in").as_array()) {
      if (i.is_object()) {  // {u}: bytes not in the log (e.g. an earlier merge's output)
        inputs.push_back(bytes_field(i.as_object(), "u"));
        continue;
      }
      const auto& e = log_.at(i.to_number<std::size_t>());
      inputs.push_back(v == 1 ? e.first : e.second);
    }
    auto ours = v == 1 ? crdt::merge_updates(inputs) : crdt::merge_updates_v2(inputs);
    std::string what = "mergeUpdates" + std::string(v == 2 ? "V2" : "") + " of " +
                       std::to_string(inputs.size()) + " updates";
    if (!ours) { fail(what + " failed: " + ours.error().message); return; }
    Bytes state = bytes_field(rec, "state");
    Bytes yjs = bytes_field(rec, "out");
    // "exact" (bigmerge.mjs): byte identity is required, not only counted.
    const bool exact = rec.contains("exact") && rec.at("exact").as_bool();
    const char* counter = exact ? (v == 1 ? "bigmerge_v1" : "bigmerge_v2")
                                : (v == 1 ? "merge_v1" : "merge_v2");
    judge(what, stats.docless[counter], yjs, *ours, v, &state);
    if (exact && !failure_ && yjs != *ours) {
      fail(what + ": not byte-identical to Yjs's output (required here)\n    " + bytes_diff(yjs, *ours));
    }
  }

  void on_diff(const json::object& rec, Stats& stats) {
    int v = static_cast<int>(rec.at("v").to_number<std::int64_t>());
    Bytes in = input_of(rec, v);
    Bytes sv = bytes_field(rec, "sv");
    auto ours = v == 1 ? crdt::diff_update(view(in), view(sv)) : crdt::diff_update_v2(view(in), view(sv));
    std::string what = "diffUpdate" + std::string(v == 2 ? "V2" : "") + " against " + to_base64(sv);
    if (!ours) { fail(what + " failed: " + ours.error().message); return; }
    judge(what, stats.docless[v == 1 ? "diff_v1" : "diff_v2"], bytes_field(rec, "out"), *ours, v, nullptr);
  }

  void on_sv_from_update(const json::object& rec) {
    int v = static_cast<int>(rec.at("v").to_number<std::int64_t>());
    Bytes in = input_of(rec, v);
    auto ours = v == 1 ? crdt::encode_state_vector_from_update(view(in))
                       : crdt::encode_state_vector_from_update_v2(view(in));
    std::string what = "encodeStateVectorFromUpdate" + std::string(v == 2 ? "V2" : "");
    if (!ours) { fail(what + " failed: " + ours.error().message); return; }
    compare_bytes(what, bytes_field(rec, "out"), *ours);
  }

  void on_meta(const json::object& rec) {
    int v = static_cast<int>(rec.at("v").to_number<std::int64_t>());
    Bytes in = input_of(rec, v);
    auto ours = v == 1 ? crdt::parse_update_meta(view(in)) : crdt::parse_update_meta_v2(view(in));
    std::string what = "parseUpdateMeta" + std::string(v == 2 ? "V2" : "");
    if (!ours) { fail(what + " failed: " + ours.error().message); return; }
    auto to_map = [](const json::value& arr) {
      std::map<crdt::ClientID, crdt::Clock> m;
      for (const auto& e : arr.as_array()) {
        m[e.as_array().at(0).to_number<std::uint64_t>()] = e.as_array().at(1).to_number<std::uint64_t>();
      }
      return m;
    };
    auto show = [](const std::map<crdt::ClientID, crdt::Clock>& m) {
      std::string s = "{";
      for (const auto& [c, k] : m) s += " " + std::to_string(c) + ":" + std::to_string(k);
      return s + " }";
    };
    auto from = to_map(rec.at("from"));
    auto to = to_map(rec.at("to"));
    if (from != ours->from || to != ours->to) {
      fail(what + " differs\n    yjs: from " + show(from) + " to " + show(to) + "\n    c++: from " +
           show(ours->from) + " to " + show(ours->to));
    }
  }

  void on_convert(const json::object& rec, Stats& stats) {
    int v = static_cast<int>(rec.at("v").to_number<std::int64_t>());
    Bytes in = input_of(rec, v);
    auto ours = v == 1 ? crdt::convert_update_format_v1_to_v2(view(in))
                       : crdt::convert_update_format_v2_to_v1(view(in));
    std::string what = v == 1 ? "convertUpdateFormatV1ToV2" : "convertUpdateFormatV2ToV1";
    if (!ours) { fail(what + " failed: " + ours.error().message); return; }
    // The output is in the other format.
    judge(what, stats.docless[v == 1 ? "convert_v1_to_v2" : "convert_v2_to_v1"], bytes_field(rec, "out"), *ours,
          3 - v, nullptr);
  }
#endif

  const Options& opts_;
  std::string source_;
  std::int64_t seed_ = 0;
  std::string name_;
  std::string cmd_;
  bool gc_ = true;
  crdt::ClientID client_ = 0;
  std::vector<std::pair<std::string, std::string>> roots_;
  std::unique_ptr<crdt::Doc> main_;
  std::unique_ptr<crdt::Doc> alt_;  // fed the other format of every update
  std::vector<crdt::Snapshot> snaps_;  // "n" records, in order
  std::vector<std::pair<Bytes, Bytes>> log_;  // v1, v2 forms as delivered
  std::string where_;
  std::optional<Failure> failure_;
};

// ------------------------------------------------------------------ driver

void finish(Scenario& sc, Stats& stats, const Options& opts) {
  stats.deliveries += sc.deliveries();
  struct Sync {
    Stats& s;
    ~Sync() { g_passed = s.passed; g_failed = s.failed; g_skipped = s.skipped; }
  } sync{stats};
  if (const auto& f = sc.failure()) {
    ++stats.failed;
    if (stats.printed < opts.max_print) {
      ++stats.printed;
      std::cout << "FAIL " << sc.label() << " at " << f->where << ":\n  " << f->what
                << "\n  replay: " << sc.replay_command() << "\n";
    } else if (stats.printed == opts.max_print) {
      ++stats.printed;
      std::cout << "(further failures are counted, not printed; --max-print raises the limit)\n";
    }
  } else {
    ++stats.passed;
    if (opts.verbose) std::cout << "ok   " << sc.label() << " (" << sc.deliveries() << " deliveries)\n";
  }
}

void run_stream(std::istream& in, const std::string& source, const Options& opts, Stats& stats) {
  std::string line;
  std::size_t line_no = 0;
  std::unique_ptr<Scenario> sc;
  bool skipping = false;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty()) continue;
    json::error_code ec;
    json::value v = json::parse(line, ec);
    if (ec || !v.is_object() || !v.as_object().contains("t")) {
      std::cerr << source << ":" << line_no << ": not a scenario record (" << ec.message() << ")\n";
      ++stats.failed;
      continue;
    }
    const auto& rec = v.as_object();
    std::string_view t = rec.at("t").as_string();
    if (t == "s") {
      if (sc) {
        std::cerr << source << ":" << line_no << ": scenario " << sc->label() << " has no end record\n";
        ++stats.failed;
      }
      sc.reset();
      skipping = false;
      bool wanted = true;
      if (opts.seed && (!rec.contains("seed") || rec.at("seed").to_number<std::int64_t>() != *opts.seed ||
                        rec.contains("name"))) {
        wanted = false;
      }
      if (!opts.name.empty() && (!rec.contains("name") || rec.at("name").as_string() != opts.name)) wanted = false;
      if (!wanted) { skipping = true; continue; }
      sc = std::make_unique<Scenario>(rec, source, opts);
      if (!sc->supported()) {
        ++stats.skipped;
        if (opts.verbose) std::cout << "skip " << sc->label() << " (root kinds not supported yet)\n";
        sc.reset();
        skipping = true;
      }
      continue;
    }
    if (skipping) continue;
    if (!sc) {
      std::cerr << source << ":" << line_no << ": record outside a scenario\n";
      ++stats.failed;
      continue;
    }
    if (t == "e") {
      finish(*sc, stats, opts);
      sc.reset();
      continue;
    }
    sc->on_record(rec, line_no, stats);
  }
  if (sc) {
    std::cerr << source << ": input ended inside scenario " << sc->label() << "\n";
    ++stats.failed;
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options opts;
  if (argc > 0) opts.self = argv[0];
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "conformance_runner: " << a << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--seed") opts.seed = std::stoll(next());
    else if (a == "--name") opts.name = next();
    else if (a == "--verbose" || a == "-v") opts.verbose = true;
    else if (a == "--no-alt") opts.alt = false;
    else if (a == "--max-print") opts.max_print = std::stoi(next());
    else if (a == "--timeout") opts.timeout = static_cast<unsigned>(std::stoul(next()));
    else if (a == "--supported-types") { std::cout << supported_types() << "\n"; return 0; }
    else if (a == "--help" || a == "-h") {
      std::cout << "conformance_runner [FILE...|-] [--seed S] [--name N] [--verbose] [--no-alt] [--max-print K]"
                   " [--supported-types]\n";
      return 0;
    } else if (!a.empty() && a[0] == '-' && a != "-") {
      std::cerr << "conformance_runner: unknown option " << a << "\n";
      return 2;
    } else {
      opts.files.push_back(a);
    }
  }
  for (int sig : {SIGSEGV, SIGABRT, SIGFPE, SIGBUS, SIGILL}) std::signal(sig, on_crash);
  std::signal(SIGALRM, on_timeout);

  Stats stats;
  if (opts.files.empty()) opts.files.push_back("-");
  for (const auto& f : opts.files) {
    if (f == "-") {
      run_stream(std::cin, "<stdin>", opts, stats);
    } else {
      std::ifstream in(f);
      if (!in) {
        std::cerr << "conformance_runner: cannot open " << f << "\n";
        return 2;
      }
      run_stream(in, f, opts, stats);
    }
  }

  std::cout << "conformance: " << stats.passed << " passed, " << stats.failed << " failed, " << stats.skipped
            << " skipped (" << stats.deliveries << " deliveries, " << stats.checkpoints << " checkpoints)\n";
  for (const auto& [what, c] : stats.docless) {
    double pct = c.total ? 100.0 * static_cast<double>(c.identical) / static_cast<double>(c.total) : 0.0;
    std::printf("  %-16s byte-identical %llu/%llu (%.1f%%), equivalent otherwise %llu\n", what.c_str(),
                static_cast<unsigned long long>(c.identical), static_cast<unsigned long long>(c.total), pct,
                static_cast<unsigned long long>(c.equivalent));
  }
  std::fflush(stdout);
  return stats.failed == 0 ? 0 : 1;
}
