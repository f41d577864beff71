#include "cli_io.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

namespace corates::app {

void bad_input(std::string_view what, std::string_view reason) {
  throw CliFailure{kExitBadInput, std::string(what) + ": " + std::string(reason)};
}

void failure(std::string message) { throw CliFailure{kExitFailure, std::move(message)}; }

int report_failure(std::string_view command, int status, std::string_view what) {
  std::fprintf(stderr, "corates-sync: %.*s: %.*s\n", static_cast<int>(command.size()), command.data(),
               static_cast<int>(what.size()), what.data());
  return status;
}

namespace {

// Grows geometrically even when the caller knows the exact size, so that an
// arena filled file by file is not copied once per file.
void reserve_for(std::vector<std::uint8_t>& out, std::size_t need) {
  if (need > out.capacity()) out.reserve(std::max(need, out.capacity() * 2));
}

// An endless source (a device, a runaway pipe) must not eat all memory.
constexpr std::size_t kMaxInputBytes = std::size_t{4} << 30;

// Appends the whole content of fd to out; returns errno on failure, 0 on success.
int read_all(int fd, std::vector<std::uint8_t>& out) {
  const std::size_t start = out.size();
  struct stat st {};
  if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
    // Known size: read straight into the buffer, no intermediate copy.
    const auto expect = static_cast<std::size_t>(st.st_size);
    const std::size_t old = out.size();
    reserve_for(out, old + expect);
    out.resize(old + expect);
    std::size_t got = 0;
    while (got < expect) {
      const ssize_t n = ::read(fd, out.data() + old + got, expect - got);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        const int err = errno;
        out.resize(old + got);
        return err;
      }
      if (n == 0) break;
      got += static_cast<std::size_t>(n);
    }
    out.resize(old + got);
    if (got < expect) return 0;
  }
  // A pipe, or a file that grew while we read it.
  std::uint8_t chunk[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    if (n == 0) return 0;
    if (out.size() - start + static_cast<std::size_t>(n) > kMaxInputBytes) return EFBIG;
    reserve_for(out, out.size() + static_cast<std::size_t>(n));
    out.insert(out.end(), chunk, chunk + n);
  }
}

std::string errno_text(int err) { return std::strerror(err); }

}  // namespace

std::vector<std::uint8_t> read_input(const std::string& path) {
  std::vector<std::uint8_t> out;
  if (path == "-") {
    if (int err = read_all(STDIN_FILENO, out)) bad_input("-", errno_text(err));
    return out;
  }
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) bad_input(path, errno_text(errno));
  const int err = read_all(fd, out);
  ::close(fd);
  if (err) bad_input(path, errno_text(err));
  return out;
}

int InputSet::append_file(const std::string& path, std::uint32_t source, std::uint64_t line) {
  const std::size_t begin = bytes_.size();
  int err = 0;
  if (path == "-") {
    err = read_all(STDIN_FILENO, bytes_);
  } else {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      err = errno;
    } else {
      err = read_all(fd, bytes_);
      ::close(fd);
    }
  }
  if (err) return err;
  offsets_.push_back(Entry{begin, bytes_.size(), source, line});
  return 0;
}

void InputSet::add(const std::string& path) {
  sources_.push_back(path);
  if (int err = append_file(path, static_cast<std::uint32_t>(sources_.size() - 1), 0)) {
    bad_input(path, errno_text(err));
  }
}

void InputSet::add_list(const std::string& list_path) {
  sources_.push_back(list_path);
  const auto source = static_cast<std::uint32_t>(sources_.size() - 1);
  std::FILE* f = list_path == "-" ? stdin : std::fopen(list_path.c_str(), "rb");
  if (!f) bad_input(list_path, errno_text(errno));
  std::string line;
  std::uint64_t line_no = 0;
  char* buf = nullptr;
  std::size_t cap = 0;
  ssize_t n = 0;
  while ((n = ::getline(&buf, &cap, f)) >= 0) {
    ++line_no;
    line.assign(buf, static_cast<std::size_t>(n));
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
    if (line.empty()) continue;
    if (int err = append_file(line, source, line_no)) {
      std::free(buf);
      if (f != stdin) std::fclose(f);
      bad_input(list_path + ":" + std::to_string(line_no) + " (" + line + ")", errno_text(err));
    }
  }
  const bool read_error = std::ferror(f) != 0;
  std::free(buf);
  if (f != stdin) std::fclose(f);
  if (read_error) bad_input(list_path, "read error");
}

std::span<const std::uint8_t> InputSet::at(std::size_t i) const noexcept {
  const Entry& e = offsets_[i];
  return {bytes_.data() + e.begin, e.end - e.begin};
}

std::vector<std::span<const std::uint8_t>> InputSet::spans() const {
  std::vector<std::span<const std::uint8_t>> out;
  out.reserve(offsets_.size());
  for (std::size_t i = 0; i < offsets_.size(); ++i) out.push_back(at(i));
  return out;
}

std::string InputSet::name(std::size_t i) const {
  const Entry& e = offsets_[i];
  const std::string& src = sources_[e.source];
  if (e.line == 0) return src;
  // Find the path again in the list file rather than keeping every path in memory.
  std::string shown = src + ":" + std::to_string(e.line);
  if (src == "-") return shown;
  std::ifstream list(src);
  std::string line;
  for (std::uint64_t n = 0; n < e.line && std::getline(list, line); ++n) {
  }
  while (!line.empty() && line.back() == '\r') line.pop_back();
  return shown + " (" + line + ")";
}

void Output::write(std::span<const std::uint8_t> bytes) const {
  const bool to_stdout = path_ == "-";
  std::FILE* f = to_stdout ? stdout : std::fopen(path_.c_str(), "wb");
  if (!f) failure(path_ + ": " + errno_text(errno));
  const std::size_t n = bytes.empty() ? 0 : std::fwrite(bytes.data(), 1, bytes.size(), f);
  const bool ok = n == bytes.size() && std::fflush(f) == 0;
  const int err = errno;
  if (!to_stdout && std::fclose(f) != 0 && ok) failure(path_ + ": " + errno_text(errno));
  if (!ok) failure((to_stdout ? std::string("stdout") : path_) + ": " + errno_text(err));
}

void Output::write(std::string_view text) const {
  write(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(text.data()),
                                      text.size()));
}

}  // namespace corates::app
