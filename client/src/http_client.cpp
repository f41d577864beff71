#include "corates/client/http_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <charconv>

namespace corates::client {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;

namespace {

constexpr std::uint64_t kMaxBody = 64u << 20;

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

std::string_view HttpResponse::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (iequals(k, name)) return v;
  }
  return {};
}

ApiError parse_api_error(const HttpResponse& response) {
  ApiError e;
  e.status = response.status;
  e.code = "HTTP_" + std::to_string(response.status);
  std::string_view ra = response.header("Retry-After");
  unsigned seconds = 0;
  if (!ra.empty() && std::from_chars(ra.data(), ra.data() + ra.size(), seconds).ec == std::errc{}) {
    e.retry_after = std::chrono::seconds(std::min(seconds, 3600u));
  }
  boost::system::error_code ec;
  json::value v = json::parse(response.body, ec);
  if (ec || !v.is_object()) return e;
  const json::value* err = v.as_object().if_contains("error");
  if (err == nullptr || !err->is_object()) return e;
  const json::object& o = err->as_object();
  if (auto* c = o.if_contains("code"); c && c->is_string()) e.code = std::string(c->as_string());
  if (auto* m = o.if_contains("message"); m && m->is_string()) e.message = std::string(m->as_string());
  if (auto* d = o.if_contains("details"); d && d->is_array()) e.details_json = json::serialize(*d);
  if (auto* m = o.if_contains("minSupportedClient"); m && m->is_string()) {
    e.min_supported_client = std::string(m->as_string());
  }
  return e;
}

struct HttpClient::Impl {
  asio::io_context ioc{1};
  beast::tcp_stream stream{ioc};
  bool connected = false;
  std::atomic<bool> cancelled{false};

  void drop() {
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream.close();
    connected = false;
    // Abandoned handlers (after stop()) complete with operation_aborted here.
    ioc.restart();
    ioc.run();
  }

  // Runs the queued operation until its handler set `done`, or until
  // cancel() stopped the context. Returns false when cancelled.
  bool run(const bool& done) {
    if (cancelled.load()) return false;
    ioc.restart();
    if (cancelled.load()) return false;
    ioc.run();
    return done;
  }
};

HttpClient::HttpClient(Endpoint endpoint) : endpoint_(std::move(endpoint)), impl_(std::make_unique<Impl>()) {}

HttpClient::~HttpClient() {
  if (impl_->connected) impl_->drop();
}

void HttpClient::cancel() {
  impl_->cancelled.store(true);
  impl_->ioc.stop();
}

void HttpClient::reset() {
  impl_->cancelled.store(false);
  if (impl_->connected) impl_->drop();
}

void HttpClient::close() {
  if (impl_->connected) impl_->drop();
}

Result<HttpResponse> HttpClient::request(std::string_view method, std::string_view target, std::string_view body,
                                         std::string_view content_type, std::chrono::milliseconds timeout) {
  Impl& im = *impl_;
  if (im.cancelled.load()) return fail(ErrorCode::kClosed, "HTTP client cancelled");
  if (timeout.count() <= 0) timeout = endpoint_.timeout;
  const http::verb verb = http::string_to_verb(method);
  if (verb == http::verb::unknown) return fail(ErrorCode::kInvalidArgument, "unknown HTTP method");

  http::request<http::string_body> req{verb, endpoint_.target(target), 11};
  req.set(http::field::host, endpoint_.host + ":" + std::to_string(endpoint_.port));
  req.set(http::field::user_agent, "corates-sdk/" + std::string(kSdkVersion));
  req.set("X-Client-Version", endpoint_.client_version);
  if (!endpoint_.token.empty()) req.set(http::field::authorization, "Bearer " + endpoint_.token);
  req.keep_alive(true);
  if (!body.empty() || verb == http::verb::post || verb == http::verb::put) {
    if (!content_type.empty()) req.set(http::field::content_type, content_type);
    req.body() = std::string(body);
    req.prepare_payload();
  }

  // A kept-alive connection may have been closed by the server meanwhile:
  // one more try on a fresh connection when nothing was received.
  for (int attempt = 0; attempt < 2; ++attempt) {
    const bool reused = im.connected;
    beast::error_code ec;
    bool done = false;
    if (!im.connected) {
      tcp::resolver resolver(im.ioc);
      tcp::resolver::results_type endpoints;
      resolver.async_resolve(endpoint_.host, std::to_string(endpoint_.port),
                             [&](beast::error_code e, tcp::resolver::results_type r) {
                               ec = e;
                               endpoints = std::move(r);
                               done = true;
                             });
      if (!im.run(done)) {
        im.drop();
        return fail(ErrorCode::kClosed, "HTTP client cancelled");
      }
      if (ec) return fail(ErrorCode::kIo, "cannot resolve " + endpoint_.host + ": " + ec.message());
      im.stream.expires_after(timeout);
      done = false;
      im.stream.async_connect(endpoints, [&](beast::error_code e, const tcp::endpoint&) {
        ec = e;
        done = true;
      });
      if (!im.run(done)) {
        im.drop();
        return fail(ErrorCode::kClosed, "HTTP client cancelled");
      }
      if (ec) {
        im.drop();
        return fail(ErrorCode::kIo, "cannot connect to " + endpoint_.url() + ": " +
                                        (ec == beast::error::timeout ? std::string("timed out") : ec.message()));
      }
      im.stream.socket().set_option(tcp::no_delay(true), ec);
      im.connected = true;
    }

    im.stream.expires_after(timeout);
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(kMaxBody);
    bool got_bytes = false;
    done = false;
    http::async_write(im.stream, req, [&](beast::error_code e, std::size_t) {
      ec = e;
      if (e) {
        done = true;
        return;
      }
      http::async_read(im.stream, buffer, parser, [&](beast::error_code e2, std::size_t n) {
        ec = e2;
        got_bytes = n > 0 || buffer.size() > 0;
        done = true;
      });
    });
    if (!im.run(done)) {
      im.drop();
      return fail(ErrorCode::kClosed, "HTTP client cancelled");
    }
    if (ec) {
      im.drop();
      if (reused && !got_bytes && ec != beast::error::timeout) continue;
      if (ec == http::error::body_limit) return fail(ErrorCode::kTooLarge, "HTTP response body too large");
      return fail(ErrorCode::kIo, std::string(method) + " " + std::string(target) + " at " + endpoint_.url() + ": " +
                                      (ec == beast::error::timeout ? std::string("timed out") : ec.message()));
    }
    auto res = parser.release();
    HttpResponse out;
    out.status = res.result_int();
    out.body = std::move(res.body());
    for (const auto& f : res) out.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    if (!res.keep_alive()) im.drop();
    return out;
  }
  return fail(ErrorCode::kIo, "connection to " + endpoint_.url() + " closed");
}

std::optional<std::uint64_t> parse_checkpoint_event(std::string_view sse) {
  std::optional<std::uint64_t> found;
  std::string event;
  std::optional<std::uint64_t> id;
  std::optional<std::uint64_t> data_cp;
  auto dispatch = [&] {
    if ((event.empty() || event == "checkpoint") && (data_cp || id)) found = data_cp ? data_cp : id;
    event.clear();
    id.reset();
    data_cp.reset();
  };
  while (!sse.empty()) {
    std::size_t nl = sse.find('\n');
    std::string_view line = sse.substr(0, nl);
    sse = nl == std::string_view::npos ? std::string_view{} : sse.substr(nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) {
      dispatch();
      continue;
    }
    if (line.front() == ':') continue;  // comment
    std::size_t colon = line.find(':');
    std::string_view field = line.substr(0, colon);
    std::string_view value = colon == std::string_view::npos ? std::string_view{} : line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    if (field == "event") {
      event = std::string(value);
    } else if (field == "id") {
      std::uint64_t v = 0;
      if (std::from_chars(value.data(), value.data() + value.size(), v).ec == std::errc{}) id = v;
    } else if (field == "data") {
      boost::system::error_code ec;
      json::value v = json::parse(value, ec);
      if (!ec && v.is_object()) {
        if (auto* c = v.as_object().if_contains("checkpoint"); c && c->is_int64() && c->as_int64() >= 0) {
          data_cp = static_cast<std::uint64_t>(c->as_int64());
        } else if (c && c->is_uint64()) {
          data_cp = c->as_uint64();
        }
      }
    }
  }
  dispatch();
  return found;
}

Result<std::optional<std::uint64_t>> wait_for_checkpoint(HttpClient& http, std::optional<std::uint64_t> since,
                                                         std::chrono::milliseconds hold) {
  std::string target = "/api/sync/events";
  if (since) target += "?since=" + std::to_string(*since);
  auto res = http.get(target, hold + http.endpoint().timeout);
  if (!res) return res.error();
  if (res->status != 200) {
    ApiError e = parse_api_error(*res);
    return fail(e.status == 426 ? ErrorCode::kInvalidArgument : ErrorCode::kBusy,
                "GET /api/sync/events: " + std::to_string(e.status) + " " + e.code + ": " + e.message);
  }
  return parse_checkpoint_event(res->body);
}

}  // namespace corates::client
