#pragma once
// One HTTP connection (keep-alive), on its own strand: reads a request with
// size limits and a timeout, routes it, writes the answer; hands a WebSocket
// upgrade for /ws/<doc-name> over to a WsSession.

#include "server_context.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <memory>
#include <optional>

namespace corates::server {

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(ServerContext& ctx, boost::asio::ip::tcp::socket&& socket);
  void run();

 private:
  void do_read();
  void on_read(boost::beast::error_code ec, std::size_t n);
  void upgrade(boost::beast::http::request<boost::beast::http::string_body> req, const std::string& rid);
  void write(boost::beast::http::response<boost::beast::http::string_body> res);
  void on_write(bool keep_alive, boost::beast::error_code ec, std::size_t n);
  void do_shutdown();
  std::string remote_ip() const;

  ServerContext& ctx_;
  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  std::shared_ptr<boost::beast::http::response<boost::beast::http::string_body>> res_;
};

}  // namespace corates::server
