// crdt_bench: the C++ side of the trace benchmarks (issue 2, section 5). Whole
// traces are timed, so this has its own main rather than Google Benchmark's.
//
//   crdt_bench [--trace NAME]... [--quick] [--traces DIR] [--dump DIR]
//              [--merge-prefix NAME=N]... [--only B,...] [--min-ms MS] > corates.json
//
// Per trace: B1 replay into a Text (checked against endContent), B2 encode
// v1/v2 and sizes (and whether the bytes equal Yjs's), B3 load the encoded
// document into a fresh Doc, B4 apply one update per transaction, B5 merge
// those updates without a Doc (whole trace, and the prefix Yjs managed), and
// the heap taken by the loaded Doc (malloc's in-use bytes before and after).
// With --dump DIR (written by bench/node/yjs_bench.mjs --dump) B3-B5 use the
// very bytes Yjs produced; without it, our own per-transaction updates.
// Prints one JSON object on stdout, progress on stderr. bench/run.sh runs both
// sides and prints the comparison.
// For profiling: --only b1,b2,b3v1,b3v2,mem,b4,b5 runs just those benchmarks
// (the edited document is still built once), --min-ms MS repeats each one for
// at least MS (up to 1000 runs).
#include "trace.hpp"

#include "corates/crdt/doc.hpp"
#include "corates/crdt/encoding.hpp"
#include "corates/crdt/updates.hpp"

#if __has_include("corates/crdt/text.hpp")
#include "corates/crdt/text.hpp"
#define CORATES_BENCH_HAS_TEXT 1
#else
#define CORATES_BENCH_HAS_TEXT 0
#endif

#include <boost/json.hpp>
#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace {

namespace crdt = corates::crdt;
namespace json = boost::json;
using corates::bench::Trace;
using Bytes = std::vector<std::uint8_t>;

struct Options {
  std::vector<std::string> traces;
  bool quick = false;
  std::string dir = "../shared/traces/sequential_traces";
  std::string dump;
  std::map<std::string, std::size_t> merge_prefix;
  std::vector<std::string> only;  // empty: all
  double min_ms = -1;             // < 0: each benchmark's default

  bool runs(const char* name) const {
    return only.empty() || std::find(only.begin(), only.end(), name) != only.end();
  }
};

// The repetition rule of `opt` for a benchmark whose defaults are given.
struct Reps {
  double min_ms;
  int max_runs;
};
Reps reps(const Options& opt, double min_ms, int max_runs) {
  if (opt.min_ms >= 0) return {opt.min_ms, 1000};
  return {min_ms, max_runs};
}

double now_ms() {
  using namespace std::chrono;
  return duration<double, std::milli>(steady_clock::now().time_since_epoch()).count();
}

// Runs fn at least once and repeats it (up to max_runs) while the total stays
// under min_ms; returns the median time of one run in ms. Same rule as the
// Node side, so both report comparable figures.
template <class F>
double timeit(F&& fn, double min_ms = 300, int max_runs = 15) {
  std::vector<double> times;
  double total = 0;
  do {
    const double t0 = now_ms();
    fn();
    const double dt = now_ms() - t0;
    times.push_back(dt);
    total += dt;
  } while (static_cast<int>(times.size()) < max_runs && total < min_ms);
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

// Bytes handed out by malloc and still in use (arena + mmapped chunks),
// including malloc's own per-chunk overhead: what the process really pays.
std::int64_t heap_in_use() {
  malloc_trim(0);
  const struct mallinfo2 m = mallinfo2();
  return static_cast<std::int64_t>(m.uordblks + m.hblkhd);
}

Bytes read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error(path + ": cannot open");
  return Bytes(std::istreambuf_iterator<char>(f), {});
}

// NAME.updates from yjs_bench.mjs: each update prefixed by its length (uint32 LE).
std::vector<Bytes> read_updates(const std::string& path) {
  const Bytes all = read_file(path);
  std::vector<Bytes> out;
  std::size_t p = 0;
  while (p + 4 <= all.size()) {
    const std::uint32_t n = all[p] | (all[p + 1] << 8) | (all[p + 2] << 16) |
                            (static_cast<std::uint32_t>(all[p + 3]) << 24);
    p += 4;
    if (p + n > all.size()) throw std::runtime_error(path + ": truncated");
    out.emplace_back(all.begin() + static_cast<std::ptrdiff_t>(p),
                     all.begin() + static_cast<std::ptrdiff_t>(p + n));
    p += n;
  }
  return out;
}

std::unique_ptr<crdt::Doc> new_doc(crdt::ClientID id) {
  crdt::DocOptions o;
  o.client_id = id;
  return std::make_unique<crdt::Doc>(o);
}

void check(const corates::Result<void>& r, const char* what) {
  if (!r) throw std::runtime_error(std::string(what) + ": " + r.error().message);
}

#if CORATES_BENCH_HAS_TEXT
// B1's edit loop: one transaction per trace transaction.
void replay(crdt::Doc& doc, const Trace& t) {
  crdt::Text& text = doc.get<crdt::Text>("text");
  if (!t.start_content.empty()) {
    doc.transact([&](crdt::Transaction& tr) { text.insert(tr, 0, t.start_content); });
  }
  for (const auto& patches : t.txns) {
    doc.transact([&](crdt::Transaction& tr) {
      for (const auto& p : patches) {
        if (p.del > 0) text.remove(tr, p.pos, p.del);
        if (!p.ins.empty()) text.insert(tr, p.pos, p.ins);
      }
    });
  }
}
#endif

std::string text_of(crdt::Doc& doc) {
#if CORATES_BENCH_HAS_TEXT
  return doc.get<crdt::Text>("text").to_string();
#else
  (void)doc;
  return {};
#endif
}

json::object bench_trace(const std::string& file, const Options& opt) {
  const Trace t = corates::bench::load_trace(file);
  json::object r;
  r["trace"] = t.name;
  r["txns"] = t.txns.size();
  r["edits"] = t.edits;
  std::cerr << "[corates] " << t.name << ": " << t.txns.size() << " transactions, " << t.edits
            << " edits\n";

  std::vector<Bytes> updates;
  Bytes yjs_v1, yjs_v2;
  if (!opt.dump.empty()) {
    updates = read_updates(opt.dump + "/" + t.name + ".updates");
    yjs_v1 = read_file(opt.dump + "/" + t.name + ".state.v1");
    yjs_v2 = read_file(opt.dump + "/" + t.name + ".state.v2");
  }

  // B1 (and our own per-transaction updates when Yjs's are not given).
  std::unique_ptr<crdt::Doc> edited;
#if CORATES_BENCH_HAS_TEXT
  {
    if (opt.runs("b1")) {
      std::string final_text;
      const Reps rp = reps(opt, opt.quick ? 0 : 1500, 3);
      r["b1_ms"] = timeit(
          [&] {
            auto doc = new_doc(1);
            replay(*doc, t);
            final_text = doc->get<crdt::Text>("text").to_string();
          },
          rp.min_ms, rp.max_runs);
      r["b1_ok"] = final_text == t.end_content;
      if (final_text != t.end_content) std::cerr << "  B1: final text differs from endContent\n";
    }
    edited = new_doc(1);
    if (updates.empty()) {
      edited->on_update([&](std::span<const std::uint8_t> u, const crdt::Origin&, crdt::Transaction&) {
        updates.emplace_back(u.begin(), u.end());
      });
    }
    const std::int64_t before = heap_in_use();
    replay(*edited, t);
    r["mem_edited_bytes"] = heap_in_use() - before;
  }
#endif
  if (updates.empty()) {
    throw std::runtime_error("no per-transaction updates: build with Text or pass --dump DIR");
  }
  r["updates"] = updates.size();

  // B2: encode the edited document, or else the one loaded from Yjs's bytes.
  if (!edited) {
    edited = new_doc(1);
    check(crdt::apply_update(*edited, yjs_v1), "load Yjs state");
  }
  Bytes v1, v2;
  if (opt.runs("b2")) {
    const Reps rp = reps(opt, 300, 15);
    r["b2_v1_ms"] = timeit([&] { v1 = crdt::encode_state_as_update(*edited); }, rp.min_ms, rp.max_runs);
    r["b2_v2_ms"] = timeit([&] { v2 = crdt::encode_state_as_update_v2(*edited); }, rp.min_ms, rp.max_runs);
  } else {
    v1 = crdt::encode_state_as_update(*edited);
    v2 = crdt::encode_state_as_update_v2(*edited);
  }
  r["v1_bytes"] = v1.size();
  r["v2_bytes"] = v2.size();
  if (!yjs_v1.empty()) {
    r["v1_same_as_yjs"] = v1 == yjs_v1;
    r["v2_same_as_yjs"] = v2 == yjs_v2;
  }
  const Bytes& load_v1 = yjs_v1.empty() ? v1 : yjs_v1;
  const Bytes& load_v2 = yjs_v2.empty() ? v2 : yjs_v2;
  const std::string expected_text = text_of(*edited);

  // B3
  {
    const Reps rp = reps(opt, 300, 15);
    if (opt.runs("b3v1")) {
      r["b3_v1_ms"] = timeit(
          [&] {
            auto d = new_doc(2);
            check(crdt::apply_update(*d, load_v1), "B3 v1");
          },
          rp.min_ms, rp.max_runs);
    }
    if (opt.runs("b3v2")) {
      r["b3_v2_ms"] = timeit(
          [&] {
            auto d = new_doc(2);
            check(crdt::apply_update_v2(*d, load_v2), "B3 v2");
          },
          rp.min_ms, rp.max_runs);
    }
  }

  // Memory of the loaded document.
  if (opt.runs("mem")) {
    const std::int64_t before = heap_in_use();
    auto d = new_doc(2);
    check(crdt::apply_update(*d, load_v1), "memory load");
    const std::int64_t used = heap_in_use() - before;
    r["mem_loaded_bytes"] = used;
    r["mem_ratio"] = static_cast<double>(used) / static_cast<double>(load_v1.size());
    r["b3_ok"] = crdt::encode_state_as_update(*d) == load_v1;
  }

  // B4
  if (opt.runs("b4")) {
    bool ok = true;
    const Reps rp = reps(opt, opt.quick ? 0 : 1500, 3);
    r["b4_ms"] = timeit(
        [&] {
          auto d = new_doc(2);
          for (const Bytes& u : updates) check(crdt::apply_update(*d, u), "B4");
          ok = crdt::encode_state_as_update(*d) == load_v1 && text_of(*d) == expected_text;
        },
        rp.min_ms, rp.max_runs);
    r["b4_ok"] = ok;
    if (!ok) std::cerr << "  B4: the document differs from the encoded one\n";
  }

  // B5
  if (opt.runs("b5")) {
    std::vector<std::span<const std::uint8_t>> spans(updates.begin(), updates.end());
    crdt::UpdateBytes merged;
    const Reps rp = reps(opt, opt.quick ? 0 : 1000, 5);
    const Reps rp_prefix = reps(opt, 300, 15);
    r["b5_whole_ms"] = timeit(
        [&] {
          auto m = crdt::merge_updates(spans);
          if (!m) throw std::runtime_error("B5: " + m.error().message);
          merged = std::move(*m);
        },
        rp.min_ms, rp.max_runs);
    r["b5_whole_bytes"] = merged.size();
    if (auto it = opt.merge_prefix.find(t.name); it != opt.merge_prefix.end()) {
      const std::size_t n = std::min(it->second, spans.size());
      std::span<const std::span<const std::uint8_t>> prefix(spans.data(), n);
      r["b5_prefix"] = n;
      r["b5_prefix_ms"] = timeit(
          [&] {
            auto m = crdt::merge_updates(prefix);
            if (!m) throw std::runtime_error("B5: " + m.error().message);
            merged = std::move(*m);
          },
          rp_prefix.min_ms, rp_prefix.max_runs);
      r["b5_prefix_bytes"] = merged.size();
    }
  }
  std::cerr << " ";
  for (const char* k : {"b1_ms", "b3_v1_ms", "b3_v2_ms", "b4_ms", "b5_whole_ms", "mem_ratio"}) {
    if (const auto* v = r.if_contains(k)) std::cerr << " " << k << " " << v->as_double();
  }
  std::cerr << "\n";
  return r;
}

int usage(const char* msg) {
  std::cerr << "crdt_bench: " << msg
            << "\nusage: crdt_bench [--trace NAME]... [--quick] [--traces DIR] [--dump DIR] "
               "[--merge-prefix NAME=N]... [--only b1,b2,b3v1,b3v2,mem,b4,b5] [--min-ms MS]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  if (const char* d = std::getenv("CORATES_TRACES")) opt.dir = d;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--trace") {
      opt.traces.push_back(next());
    } else if (a == "--quick") {
      opt.quick = true;
    } else if (a == "--traces") {
      opt.dir = next();
    } else if (a == "--dump") {
      opt.dump = next();
    } else if (a == "--merge-prefix") {
      const std::string v = next();
      const auto eq = v.rfind('=');
      if (eq == std::string::npos) return usage("--merge-prefix wants NAME=N");
      opt.merge_prefix[v.substr(0, eq)] = std::stoull(v.substr(eq + 1));
    } else if (a == "--only") {
      std::string v = next();
      for (std::size_t p = 0; p <= v.size();) {
        const std::size_t q = std::min(v.find(',', p), v.size());
        if (q > p) opt.only.push_back(v.substr(p, q - p));
        p = q + 1;
      }
    } else if (a == "--min-ms") {
      opt.min_ms = std::stod(next());
    } else {
      return usage(("unknown argument " + a).c_str());
    }
  }
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(opt.dir)) {
    const std::string name = e.path().filename().string();
    if (name.size() < 8 || name.substr(name.size() - 8) != ".json.gz") continue;
    const std::string stem = name.substr(0, name.size() - 8);
    if (!opt.traces.empty() &&
        std::find(opt.traces.begin(), opt.traces.end(), stem) == opt.traces.end()) {
      continue;
    }
    files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  if (files.empty()) return usage("no matching trace");
  json::array results;
  try {
    for (const std::string& f : files) results.push_back(bench_trace(f, opt));
  } catch (const std::exception& e) {
    std::cerr << "crdt_bench: " << e.what() << "\n";
    return 1;
  }
  json::object out;
  out["quick"] = opt.quick;
  out["text"] = CORATES_BENCH_HAS_TEXT != 0;
  out["results"] = std::move(results);
  std::cout << json::serialize(out) << "\n";
  return 0;
}
