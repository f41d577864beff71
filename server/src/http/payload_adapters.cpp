#include "http/payload_adapters.hpp"
#include "metrics/metrics.hpp"

#include <fmt/format.h>

#include <iterator>
#include <stdexcept>

namespace corates::server {

void throw_exception_from_error(const PayloadError& e, const boost::source_location& /*loc*/) {
  throw std::runtime_error(e.code + ": " + e.message);
}

void throw_exception_from_error(const PayloadShapeError& e, const boost::source_location& /*loc*/) {
  throw std::runtime_error(e.message);
}

PayloadAdapterRegistry::PayloadAdapterRegistry(Now now) : now_(std::move(now)) {}

bool PayloadAdapterRegistry::set_canonical(std::string_view op_type, int version) {
  if (version < 1) return false;
  std::lock_guard lock(mutex_);
  for (const auto& [key, step] : steps_) {
    if (key.type == op_type && step.to_version > version) return false;
  }
  canonical_[std::string(op_type)] = version;
  return true;
}

int PayloadAdapterRegistry::canonical(std::string_view op_type) const {
  std::lock_guard lock(mutex_);
  auto it = canonical_.find(op_type);
  return it == canonical_.end() ? 1 : it->second;
}

bool PayloadAdapterRegistry::add(PayloadAdapter adapter) {
  if (adapter.from_version < 1 || adapter.to_version <= adapter.from_version || !adapter.fn) return false;
  std::lock_guard lock(mutex_);
  auto c = canonical_.find(adapter.op_type);
  const int canon = c == canonical_.end() ? 1 : c->second;
  if (adapter.to_version > canon) return false;
  Key key{adapter.op_type, adapter.from_version};
  if (steps_.count(key) != 0) return false;
  steps_.emplace(std::move(key), std::move(adapter));
  return true;
}

PayloadResult<boost::json::value> PayloadAdapterRegistry::adapt(std::string_view op_type, int payload_version,
                                                                boost::json::value payload) {
  const std::string type(op_type);
  auto failure = [&](std::string_view code, std::string message) {
    return PayloadError{std::string(code), std::move(message), type, payload_version};
  };
  std::vector<PayloadAdapter> chain;
  {
    std::lock_guard lock(mutex_);
    auto c = canonical_.find(op_type);
    const int canon = c == canonical_.end() ? 1 : c->second;
    if (payload_version == 0 || payload_version == canon) return payload;
    if (payload_version < 0 || payload_version > canon) {
      return failure(kPayloadVersionUnsupported,
                     fmt::format("payloadVersion {} of '{}' is not supported (current version {})", payload_version,
                                 type, canon));
    }
    const auto today = std::chrono::floor<std::chrono::days>(now_ ? now_() : std::chrono::system_clock::now());
    int v = payload_version;
    while (v < canon) {
      auto it = steps_.find(Key{type, v});
      if (it == steps_.end()) {
        return failure(kPayloadVersionUnsupported,
                       fmt::format("payloadVersion {} of '{}' is not supported (current version {}; no adapter from {})",
                                   payload_version, type, canon, v));
      }
      if (today >= it->second.sunset) {
        use_[Key{type, payload_version}].refused++;
        const std::chrono::year_month_day ymd{it->second.sunset};
        return failure(kPayloadVersionRetired,
                       fmt::format("payloadVersion {} of '{}' was retired on {:04}-{:02}-{:02}; update the client "
                                   "(current version {})",
                                   payload_version, type, static_cast<int>(ymd.year()),
                                   static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()), canon));
      }
      chain.push_back(it->second);
      v = it->second.to_version;
    }
  }
  // Adapter functions run unlocked: they may be slow and must not deadlock
  // on a registry they happen to call.
  for (const PayloadAdapter& step : chain) {
    auto next = step.fn(std::move(payload));
    if (!next) {
      return failure(kPayloadAdapterFailed, fmt::format("payload of '{}' does not match payloadVersion {}: {}", type,
                                                        step.from_version, next.error().message));
    }
    payload = std::move(*next);
  }
  {
    std::lock_guard lock(mutex_);
    AdapterUse& u = use_[Key{type, payload_version}];
    u.adapted++;
  }
  return payload;
}

std::vector<AdapterUse> PayloadAdapterRegistry::usage() const {
  std::lock_guard lock(mutex_);
  std::vector<AdapterUse> out;
  out.reserve(use_.size());
  for (const auto& [key, u] : use_) {
    AdapterUse copy = u;
    copy.op_type = key.type;
    copy.payload_version = key.from;
    out.push_back(std::move(copy));
  }
  return out;
}

std::string PayloadAdapterRegistry::render_prometheus() const {
  const auto uses = usage();
  std::string out;
  out += "# HELP corates_payload_adapted_total Op payloads translated from an older payloadVersion.\n"
         "# TYPE corates_payload_adapted_total counter\n";
  for (const AdapterUse& u : uses) {
    fmt::format_to(std::back_inserter(out), "corates_payload_adapted_total{{type=\"{}\",version=\"{}\"}} {}\n",
                   prometheus_label(u.op_type), u.payload_version, u.adapted);
  }
  out += "# HELP corates_payload_retired_total Op payloads refused because their payloadVersion is past its sunset.\n"
         "# TYPE corates_payload_retired_total counter\n";
  for (const AdapterUse& u : uses) {
    fmt::format_to(std::back_inserter(out), "corates_payload_retired_total{{type=\"{}\",version=\"{}\"}} {}\n",
                   prometheus_label(u.op_type), u.payload_version, u.refused);
  }
  return out;
}

void PayloadAdapterRegistry::clear() {
  std::lock_guard lock(mutex_);
  canonical_.clear();
  steps_.clear();
  use_.clear();
}

PayloadAdapterRegistry& payload_adapters() {
  static PayloadAdapterRegistry registry;
  return registry;
}

PayloadResult<boost::json::value> adapt(std::string_view op_type, int payload_version, boost::json::value payload) {
  return payload_adapters().adapt(op_type, payload_version, std::move(payload));
}

}  // namespace corates::server
