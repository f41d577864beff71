#pragma once
// The `corates-sync update ...` subcommands, one function each, over the crdt
// library. They throw CliFailure (cli_io.hpp) for bad input or I/O errors.

#include "corates/common/result.hpp"

#include <string>
#include <utility>
#include <vector>

namespace corates::crdt {
class Doc;
}

namespace corates::app {

// Options of every update subcommand; each reads the fields it documents.
struct UpdateArgs {
  std::vector<std::string> files;
  std::string output = "-";
  bool v2 = false;        // inputs are format v2
  bool out_v2 = false;    // encode: write format v2
  bool no_gc = false;     // encode / to-json: load with gc off
  std::string list;       // merge: file listing input paths
  std::string state_vector;  // diff
  std::string to;         // convert: "v1" or "v2"
  std::vector<std::string> types;  // to-json: NAME=text|array|map|xml
  bool delta = false;     // to-json: text as delta
  bool json = false;      // inspect: JSON instead of text
};

// Shared by the subcommands that load a Doc.
std::string describe(const Error& e);
// Applies each file in order (v1, or v2 if `v2`); a malformed one is bad input.
void load_doc(crdt::Doc& doc, const std::vector<std::string>& files, bool v2);

void run_encode(const UpdateArgs& a);
void run_merge(const UpdateArgs& a);
void run_diff(const UpdateArgs& a);
void run_state_vector(const UpdateArgs& a);
void run_convert(const UpdateArgs& a);
void run_to_json(const UpdateArgs& a);
void run_inspect(const UpdateArgs& a);

}  // namespace corates::app
