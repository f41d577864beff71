#pragma once
// Input and output for the command-line tools: whole files or stdin ("-") in,
// a file (-o) or stdout out. Failures are thrown as CliFailure and turned into
// "corates-sync: <what>: <reason>" plus the exit status by run_selected(), so a
// subcommand reads top to bottom; nothing here crosses a library boundary.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace corates::app {

// Exit statuses (DESIGN.md): 2 for bad input, 1 for every other failure.
inline constexpr int kExitBadInput = 2;
inline constexpr int kExitFailure = 1;

struct CliFailure {
  int status = kExitFailure;
  std::string message;  // one line, without the "corates-sync: " prefix
};

// Throws CliFailure{kExitBadInput, "<what>: <reason>"}.
[[noreturn]] void bad_input(std::string_view what, std::string_view reason);
// Throws CliFailure{kExitFailure, message}.
[[noreturn]] void failure(std::string message);
// For subcommands that report failures by return value: prints
// "corates-sync: <command>: <what>" on stderr and returns `status`.
int report_failure(std::string_view command, int status, std::string_view what);

// Reads a whole file, or stdin for "-". A missing or unreadable input is bad
// input (status 2), as the user named it.
std::vector<std::uint8_t> read_input(const std::string& path);

// Many small inputs read into one buffer, so that hundreds of thousands of
// updates cost one allocation pattern and no per-update copies.
class InputSet {
 public:
  // Appends the bytes of `path` (see read_input).
  void add(const std::string& path);
  // Adds every path listed in `list_path` (one per line; empty lines and a
  // trailing "\r" are ignored). Paths are streamed, never all held at once;
  // only a bad entry's name is kept for its error message.
  void add_list(const std::string& list_path);

  std::size_t size() const noexcept { return offsets_.size(); }
  std::span<const std::uint8_t> at(std::size_t i) const noexcept;
  std::vector<std::span<const std::uint8_t>> spans() const;
  // Name for error messages: the path for files given directly, or
  // "<list>:<line> (<path>)" for entries of a list (re-read lazily).
  std::string name(std::size_t i) const;

 private:
  struct Entry {
    std::size_t begin = 0;
    std::size_t end = 0;
    std::uint32_t source = 0;  // index into sources_
    std::uint64_t line = 0;    // 0 for a direct path, else line in the list
  };
  // Returns 0, or the errno that prevented reading `path`.
  int append_file(const std::string& path, std::uint32_t source, std::uint64_t line);
  std::vector<std::uint8_t> bytes_;
  std::vector<Entry> offsets_;
  std::vector<std::string> sources_;  // direct paths and list files
};

// Where results go: stdout for "-" (the default) or a file.
class Output {
 public:
  explicit Output(std::string path) : path_(std::move(path)) {}
  void write(std::span<const std::uint8_t> bytes) const;
  void write(std::string_view text) const;

 private:
  std::string path_;
};

}  // namespace corates::app
