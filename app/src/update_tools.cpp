// The binary `update` subcommands over the crdt library: encode, merge, diff,
// state-vector, convert. Each reads its inputs, calls one library function and
// writes the bytes; decoding errors become exit status 2 naming the input.
#include "cli_io.hpp"
#include "update_tools.hpp"

#include "corates/crdt/doc.hpp"
#include "corates/crdt/encoding.hpp"
#include "corates/crdt/updates.hpp"

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace corates::app {

std::string describe(const Error& e) {
  if (e.message.empty()) return std::string(to_string(e.code));
  return e.message;
}

template <class T>
T need(Result<T> r, const std::string& what) {
  if (!r) bad_input(what, describe(r.error()));
  return std::move(*r);
}

void load_doc(crdt::Doc& doc, const std::vector<std::string>& files, bool v2) {
  // One input at a time: only the current update is held besides the Doc.
  for (const std::string& f : files) {
    const std::vector<std::uint8_t> bytes = read_input(f);
    Result<void> r = v2 ? crdt::apply_update_v2(doc, bytes) : crdt::apply_update(doc, bytes);
    if (!r) bad_input(f, describe(r.error()));
  }
}

namespace {

// Finds which input a failed merge came from, by decoding each one alone
// (only on the error path, so the common case reads every update once).
[[noreturn]] void blame_merge(const InputSet& in, bool v2, const Error& e) {
  for (std::size_t i = 0; i < in.size(); ++i) {
    auto r = v2 ? crdt::inspect_update_v2(in.at(i)) : crdt::inspect_update(in.at(i));
    if (!r) bad_input(in.name(i), describe(r.error()));
  }
  bad_input("merge of " + std::to_string(in.size()) + " updates", describe(e));
}

}  // namespace

void run_encode(const UpdateArgs& a) {
  crdt::DocOptions opts;
  opts.gc = !a.no_gc;
  crdt::Doc doc(opts);
  load_doc(doc, a.files, a.v2);
  Output(a.output).write(a.out_v2 ? crdt::encode_state_as_update_v2(doc)
                                  : crdt::encode_state_as_update(doc));
}

void run_merge(const UpdateArgs& a) {
  if (a.files.empty() && a.list.empty()) {
    bad_input("update merge", "no input (give FILE... or --list LIST_FILE)");
  }
  InputSet in;
  for (const std::string& f : a.files) in.add(f);
  if (!a.list.empty()) in.add_list(a.list);
  const std::vector<std::span<const std::uint8_t>> spans = in.spans();
  Result<crdt::UpdateBytes> merged =
      a.v2 ? crdt::merge_updates_v2(spans) : crdt::merge_updates(spans);
  if (!merged) blame_merge(in, a.v2, merged.error());
  Output(a.output).write(*merged);
}

void run_diff(const UpdateArgs& a) {
  const std::vector<std::uint8_t> sv = read_input(a.state_vector);
  // Checked on its own so that a bad state vector is reported as such.
  need(crdt::decode_state_vector(sv), a.state_vector);
  const std::vector<std::uint8_t> update = read_input(a.files.front());
  Output(a.output).write(need(a.v2 ? crdt::diff_update_v2(update, sv)
                                   : crdt::diff_update(update, sv),
                              a.files.front()));
}

void run_state_vector(const UpdateArgs& a) {
  const std::vector<std::uint8_t> update = read_input(a.files.front());
  Output(a.output).write(need(a.v2 ? crdt::encode_state_vector_from_update_v2(update)
                                   : crdt::encode_state_vector_from_update(update),
                              a.files.front()));
}

void run_convert(const UpdateArgs& a) {
  const std::vector<std::uint8_t> update = read_input(a.files.front());
  Output(a.output).write(need(a.to == "v2" ? crdt::convert_update_format_v1_to_v2(update)
                                           : crdt::convert_update_format_v2_to_v1(update),
                              a.files.front()));
}

}  // namespace corates::app
