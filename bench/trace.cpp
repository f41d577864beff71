// The one translation unit that compiles Boost.JSON (header-only mode).
#include "trace.hpp"

#include <boost/json/src.hpp>
#include <zlib.h>

#include <algorithm>
#include <stdexcept>

namespace corates::bench {
namespace {

std::string gunzip_file(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (f == nullptr) throw std::runtime_error(path + ": cannot open");
  std::string out;
  char buf[1 << 16];
  int n = 0;
  while ((n = gzread(f, buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  const bool failed = n < 0;
  gzclose(f);
  if (failed) throw std::runtime_error(path + ": gzip error");
  return out;
}

// Lead byte of a UTF-8 sequence starts a code point; 4-byte ones are astral
// (two UTF-16 units).
bool is_lead(unsigned char c) { return (c & 0xC0) != 0x80; }
bool is_astral_lead(unsigned char c) { return c >= 0xF0; }

// Tracks the code-point positions of astral characters in the document, so
// that positions convert in O(#astral) per patch (traces have few or none).
class AstralIndex {
 public:
  std::uint64_t units_before(std::uint64_t cp) const {
    std::uint64_t n = cp;
    for (std::uint64_t a : astral_) n += a < cp ? 1 : 0;
    return n;
  }
  void erase(std::uint64_t pos, std::uint64_t len) {
    std::vector<std::uint64_t> keep;
    for (std::uint64_t a : astral_) {
      if (a < pos) keep.push_back(a);
      else if (a >= pos + len) keep.push_back(a - len);
    }
    astral_ = std::move(keep);
  }
  void insert(std::uint64_t pos, const std::string& text) {
    std::uint64_t n = 0;
    std::vector<std::uint64_t> fresh;
    for (unsigned char c : text) {
      if (!is_lead(c)) continue;
      if (is_astral_lead(c)) fresh.push_back(pos + n);
      ++n;
    }
    for (std::uint64_t& a : astral_) a += a >= pos ? n : 0;
    if (!fresh.empty()) {
      astral_.insert(astral_.end(), fresh.begin(), fresh.end());
      std::sort(astral_.begin(), astral_.end());
    }
  }

 private:
  std::vector<std::uint64_t> astral_;
};

std::string str(const boost::json::value& v) {
  const auto& s = v.as_string();
  return std::string(s.data(), s.size());
}

}  // namespace

Trace load_trace(const std::string& path) {
  const std::string text = gunzip_file(path);
  boost::json::value root = boost::json::parse(text);
  const auto& obj = root.as_object();
  Trace t;
  std::string base = path.substr(path.find_last_of('/') + 1);
  t.name = base.substr(0, base.find(".json"));
  if (const auto* s = obj.if_contains("startContent")) t.start_content = str(*s);
  t.end_content = str(obj.at("endContent"));
  AstralIndex astral;
  astral.insert(0, t.start_content);
  for (const auto& txn : obj.at("txns").as_array()) {
    std::vector<Patch> patches;
    for (const auto& p : txn.as_object().at("patches").as_array()) {
      const auto& a = p.as_array();
      const auto pos = static_cast<std::uint64_t>(a.at(0).to_number<double>());
      const auto del = static_cast<std::uint64_t>(a.at(1).to_number<double>());
      Patch out;
      out.ins = str(a.at(2));
      out.pos = astral.units_before(pos);
      out.del = del > 0 ? astral.units_before(pos + del) - out.pos : 0;
      if (del > 0) astral.erase(pos, del);
      if (!out.ins.empty()) astral.insert(pos, out.ins);
      patches.push_back(std::move(out));
      ++t.edits;
    }
    t.txns.push_back(std::move(patches));
  }
  return t;
}

}  // namespace corates::bench
