#include "corates/client/sync_util.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <ctime>
#include <vector>

namespace corates::client {

std::string new_uuid() {
  std::uint8_t b[16];
  if (RAND_bytes(b, sizeof b) != 1) {
    // The OS random source failing is not an expected condition; a seeded
    // fallback keeps ids unique enough rather than crashing the app.
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    for (auto& x : b) x = static_cast<std::uint8_t>(rng());
  }
  b[6] = static_cast<std::uint8_t>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<std::uint8_t>((b[8] & 0x3f) | 0x80);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[b[i] >> 4]);
    out.push_back(kHex[b[i] & 15]);
  }
  return out;
}

std::string HlcTimestamp::to_string() const {
  const std::time_t secs = static_cast<std::time_t>(wall_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ-%04x", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(wall_ms % 1000),
                static_cast<unsigned>(counter & 0xffff));
  return buf;
}

std::optional<HlcTimestamp> HlcTimestamp::parse(std::string_view t) {
  // 2026-11-26T16:39:01.123Z-0000
  if (t.size() != 29 || t[4] != '-' || t[7] != '-' || t[10] != 'T' || t[13] != ':' || t[16] != ':' || t[19] != '.' ||
      t[23] != 'Z' || t[24] != '-') {
    return std::nullopt;
  }
  auto num = [&](std::size_t pos, std::size_t len, int base = 10) -> std::optional<unsigned> {
    unsigned v = 0;
    auto [p, ec] = std::from_chars(t.data() + pos, t.data() + pos + len, v, base);
    if (ec != std::errc{} || p != t.data() + pos + len) return std::nullopt;
    return v;
  };
  auto y = num(0, 4), mo = num(5, 2), d = num(8, 2), h = num(11, 2), mi = num(14, 2), s = num(17, 2), ms = num(20, 3),
       c = num(25, 4, 16);
  if (!y || !mo || !d || !h || !mi || !s || !ms || !c || *mo < 1 || *mo > 12 || *d < 1 || *d > 31 || *h > 23 ||
      *mi > 59 || *s > 60) {
    return std::nullopt;
  }
  std::tm tm{};
  tm.tm_year = static_cast<int>(*y) - 1900;
  tm.tm_mon = static_cast<int>(*mo) - 1;
  tm.tm_mday = static_cast<int>(*d);
  tm.tm_hour = static_cast<int>(*h);
  tm.tm_min = static_cast<int>(*mi);
  tm.tm_sec = static_cast<int>(*s);
  const std::time_t secs = timegm(&tm);
  return HlcTimestamp{static_cast<std::int64_t>(secs) * 1000 + *ms, *c};
}

HlcTimestamp hlc_tick(HlcTimestamp last, std::int64_t now_ms) {
  if (now_ms > last.wall_ms) return {now_ms, 0};
  if (last.counter >= 0xffff) return {last.wall_ms + 1, 0};
  return {last.wall_ms, last.counter + 1};
}

HlcTimestamp hlc_observe(HlcTimestamp last, HlcTimestamp remote) {
  HlcTimestamp m = std::max(last, remote);
  if (m.counter >= 0xffff) return {m.wall_ms + 1, 0};
  return {m.wall_ms, m.counter + 1};
}

namespace {

struct SemVer {
  std::uint64_t major = 0, minor = 0, patch = 0;
  std::vector<std::string_view> pre;
};

bool numeric(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::optional<std::uint64_t> core_number(std::string_view s) {
  if (!numeric(s) || (s.size() > 1 && s[0] == '0')) return std::nullopt;
  std::uint64_t v = 0;
  if (std::from_chars(s.data(), s.data() + s.size(), v).ec != std::errc{}) return std::nullopt;
  return v;
}

std::optional<SemVer> parse_semver(std::string_view v) {
  if (auto plus = v.find('+'); plus != std::string_view::npos) {
    if (plus + 1 == v.size()) return std::nullopt;
    v = v.substr(0, plus);
  }
  std::string_view pre;
  if (auto dash = v.find('-'); dash != std::string_view::npos) {
    pre = v.substr(dash + 1);
    v = v.substr(0, dash);
    if (pre.empty()) return std::nullopt;
  }
  SemVer out;
  std::uint64_t* parts[3] = {&out.major, &out.minor, &out.patch};
  for (int i = 0; i < 3; ++i) {
    std::size_t dot = v.find('.');
    if ((i < 2) == (dot == std::string_view::npos)) return std::nullopt;
    auto n = core_number(v.substr(0, dot));
    if (!n) return std::nullopt;
    *parts[i] = *n;
    v = dot == std::string_view::npos ? std::string_view{} : v.substr(dot + 1);
  }
  while (!pre.empty()) {
    std::size_t dot = pre.find('.');
    std::string_view id = pre.substr(0, dot);
    if (id.empty() || (numeric(id) && id.size() > 1 && id[0] == '0')) return std::nullopt;
    out.pre.push_back(id);
    if (dot == std::string_view::npos) break;
    pre = pre.substr(dot + 1);
    if (pre.empty()) return std::nullopt;
  }
  return out;
}

}  // namespace

std::optional<int> compare_semver(std::string_view a, std::string_view b) {
  auto x = parse_semver(a);
  auto y = parse_semver(b);
  if (!x || !y) return std::nullopt;
  auto cmp = [](auto p, auto q) { return p < q ? -1 : (p > q ? 1 : 0); };
  if (int c = cmp(x->major, y->major)) return c;
  if (int c = cmp(x->minor, y->minor)) return c;
  if (int c = cmp(x->patch, y->patch)) return c;
  if (x->pre.empty() || y->pre.empty()) return cmp(y->pre.size(), x->pre.size()) == 0 ? 0 : (x->pre.empty() ? 1 : -1);
  for (std::size_t i = 0; i < std::min(x->pre.size(), y->pre.size()); ++i) {
    std::string_view p = x->pre[i], q = y->pre[i];
    const bool pn = numeric(p), qn = numeric(q);
    if (pn && qn) {
      if (p.size() != q.size()) return p.size() < q.size() ? -1 : 1;
      if (int c = p.compare(q)) return c < 0 ? -1 : 1;
    } else if (pn != qn) {
      return pn ? -1 : 1;  // numeric identifiers sort before alphanumeric ones
    } else if (int c = p.compare(q)) {
      return c < 0 ? -1 : 1;
    }
  }
  return cmp(x->pre.size(), y->pre.size());
}

std::chrono::milliseconds Backoff::ceiling(unsigned attempt) const {
  const auto b = std::max<std::int64_t>(1, base.count());
  const auto m = std::max<std::int64_t>(b, max.count());
  std::int64_t d = b;
  for (unsigned i = 0; i < attempt && d < m; ++i) d *= 2;
  return std::chrono::milliseconds(std::min(d, m));
}

std::chrono::milliseconds Backoff::delay(unsigned attempt, std::mt19937_64& rng) const {
  const std::int64_t d = ceiling(attempt).count();
  std::uniform_int_distribution<std::int64_t> dist(std::max<std::int64_t>(1, d / 2), d);
  return std::chrono::milliseconds(dist(rng));
}

std::string base64url_encode(std::span<const std::uint8_t> bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t v = (std::uint32_t{bytes[i]} << 16) | (std::uint32_t{bytes[i + 1]} << 8) | bytes[i + 2];
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
    out.push_back(kAlphabet[v & 63]);
  }
  if (bytes.size() - i == 1) {
    const std::uint32_t v = std::uint32_t{bytes[i]} << 16;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
  } else if (bytes.size() - i == 2) {
    const std::uint32_t v = (std::uint32_t{bytes[i]} << 16) | (std::uint32_t{bytes[i + 1]} << 8);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
  }
  return out;
}

std::int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace corates::client
