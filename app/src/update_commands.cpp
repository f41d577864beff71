// `corates-sync update ...`: command-line registration and dispatch. The work
// itself is in update_tools.cpp (binary updates) and to_json.cpp / inspect.cpp.
#include "cli_io.hpp"
#include "commands.hpp"
#include "update_tools.hpp"

#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace corates::app {
namespace {

struct Registered {
  CLI::App* command = nullptr;
  std::function<void(const UpdateArgs&)> run;
};

// Filled once at start-up by register_update_commands; read by run_selected.
struct State {
  UpdateArgs args;
  std::vector<Registered> commands;
};
State& state() {
  static State s;
  return s;
}

constexpr const char* kSynopsis = R"(
Offline tools for Yjs binary updates (details: corates-sync update COMMAND --help):
  update encode [--v2] [--out-v2] [--no-gc] [-o FILE] FILE...
      apply FILEs in order to a fresh Doc, write its state (Y.encodeStateAsUpdate)
  update merge [--v2] [-o FILE] FILE... | --list LIST_FILE
      merge updates without a Doc (Y.mergeUpdates); --list reads paths, one a line
  update diff [--v2] --state-vector SV_FILE [-o FILE] FILE
      what FILE holds beyond a state vector (Y.diffUpdate)
  update state-vector [--v2] [-o FILE] FILE
      the state vector of an update (Y.encodeStateVectorFromUpdate)
  update convert --to v1|v2 [-o FILE] FILE
      convert between update formats v1 and v2
  update to-json [--v2] [--no-gc] [--type NAME=text|array|map|xml]... [--delta] [-o FILE] FILE...
      apply FILEs to a fresh Doc and print its root types as one JSON object
  update inspect [--v2] [--json] [-o FILE] FILE
      list structs per client (ids, origins, content kinds, lengths) and the delete set
)";

constexpr const char* kConventions = R"(
Conventions:
  Each input FILE holds one binary Yjs update; "-" reads stdin. Inputs are
  format v1 unless --v2 is given. Results go to stdout, or to FILE with -o FILE.
  Exit status: 0 on success, 2 for bad input (missing or unreadable file,
  malformed update; one line "corates-sync: <file>: <reason>" on stderr),
  1 for any other failure.

Examples:
  corates-sync update merge a.bin b.bin -o merged.bin
  corates-sync update merge --list paths.txt -o merged.bin
  corates-sync update state-vector merged.bin | corates-sync update diff --state-vector - merged.bin
  corates-sync update to-json --type body=xml doc.bin
  corates-sync update inspect --json doc.bin)";


constexpr const char* kToJsonFooter = R"(
Output: one JSON object, one key per root type in the order the document
first met them; roots that no struct ever used do not exist. Values follow
Yjs's toJSON(): text as its string (with --delta as toDelta()), xml as
toString(), map as an object, array as an array, nested shared types likewise,
a Uint8Array as {"$bytes":"<base64>"}.
Root types: a root named with --type NAME=KIND is read as KIND. Otherwise its
kind is inferred from its raw content, as Yjs cannot know it either:
  only map entries                                  -> map
  a sequence of strings, formats and embeds only    -> text
  a sequence of XML elements and XML text           -> xml
  any other sequence                                -> array
  a sequence whose content is all deleted           -> text
A root that holds no integrated item (only named by structs still waiting
for their dependencies) is left out, as JSON.stringify(doc.toJSON()) does.)";

constexpr const char* kInspectFooter = R"(
Lists, per client, every struct of the update: its id (client:clock) and
length, and for items the origin (left), right origin, parent (a root name or
an item id), map key, and content kind (string, json, any, binary, embed,
format, type, deleted, doc); GC and Skip ranges; then the delete set as
client: [clock, clock+len) ranges. --json prints the same as one JSON object.)";

CLI::App* add(CLI::App* parent, const char* name, const char* about,
              std::function<void(const UpdateArgs&)> run) {
  auto* cmd = parent->add_subcommand(name, about);
  cmd->add_option("-o,--output", state().args.output, "Write the result to FILE (\"-\": stdout)")
      ->type_name("FILE");
  state().commands.push_back({cmd, std::move(run)});
  return cmd;
}

void add_v2(CLI::App* cmd) {
  cmd->add_flag("--v2", state().args.v2, "Inputs are Yjs update format v2");
}

}  // namespace

void register_update_commands(CLI::App& app) {
  UpdateArgs& a = state().args;
  auto* update = app.add_subcommand(
      "update", "Work on Yjs binary updates offline (merge, diff, state vectors, JSON, ...)");
  update->require_subcommand(1);
  update->footer(std::string(kSynopsis) + kConventions);
  app.footer(std::string(kSynopsis) + kConventions);

  auto* encode = add(update, "encode",
                     "Apply FILEs in order to a fresh Doc and write its whole state as one update "
                     "(Y.encodeStateAsUpdate)",
                     run_encode);
  add_v2(encode);
  encode->add_flag("--out-v2", a.out_v2, "Write format v2 (Y.encodeStateAsUpdateV2)");
  encode->add_flag("--no-gc", a.no_gc, "Load with garbage collection off (keep deleted content)");
  encode->add_option("FILE", a.files, "Updates to apply, in order")->required();

  auto* merge = add(update, "merge",
                    "Merge updates into one without loading a Doc (Y.mergeUpdates / "
                    "Y.mergeUpdatesV2); output in the input format",
                    run_merge);
  add_v2(merge);
  merge->add_option("--list", a.list,
                    "Read input paths from LIST_FILE, one per line (for more updates than a "
                    "command line takes)")
      ->type_name("LIST_FILE");
  merge->add_option("FILE", a.files, "Updates to merge");

  auto* diff = add(update, "diff",
                   "What FILE holds beyond a state vector (Y.diffUpdate / Y.diffUpdateV2); "
                   "output in the input format",
                   run_diff);
  add_v2(diff);
  diff->add_option("--state-vector", a.state_vector,
                   "Encoded state vector (as from `update state-vector` or Y.encodeStateVector)")
      ->type_name("SV_FILE")
      ->required();
  diff->add_option("FILE", a.files, "The update")->required()->expected(1);

  auto* sv = add(update, "state-vector",
                 "The state vector of an update (Y.encodeStateVectorFromUpdate / ...V2)",
                 run_state_vector);
  add_v2(sv);
  sv->add_option("FILE", a.files, "The update")->required()->expected(1);

  auto* convert = add(update, "convert",
                      "Convert between formats (Y.convertUpdateFormatV1ToV2 / V2ToV1); the input "
                      "is in the other format",
                      run_convert);
  convert->add_option("--to", a.to, "Output format")
      ->required()
      ->check(CLI::IsMember({"v1", "v2"}))
      ->type_name("v1|v2");
  convert->add_option("FILE", a.files, "The update")->required()->expected(1);

  auto* to_json = add(update, "to-json",
                      "Apply FILEs in order to a fresh Doc and print its content as JSON",
                      run_to_json);
  add_v2(to_json);
  to_json->add_flag("--no-gc", a.no_gc, "Load with garbage collection off");
  to_json->add_option("--type", a.types, "Read root NAME as KIND (repeatable)")
      ->type_name("NAME=text|array|map|xml");
  to_json->add_flag("--delta", a.delta, "Print text roots as deltas (toDelta()) instead of strings");
  to_json->add_option("FILE", a.files, "Updates to apply, in order")->required();
  to_json->footer(kToJsonFooter);

  auto* inspect = add(update, "inspect",
                      "List the structs (per client: ids, origins, content kinds, lengths) and "
                      "the delete set of an update",
                      run_inspect);
  add_v2(inspect);
  inspect->add_flag("--json", a.json, "Print JSON instead of text");
  inspect->add_option("FILE", a.files, "The update")->required()->expected(1);
  inspect->footer(kInspectFooter);
}

int run_selected(CLI::App& app) {
  (void)app;
  for (const Registered& r : state().commands) {
    if (!r.command->parsed()) continue;
    try {
      r.run(state().args);
      return 0;
    } catch (const CliFailure& f) {
      std::string line = f.message;
      for (char& c : line) {
        if (c == '\n' || c == '\r') c = ' ';
      }
      std::fprintf(stderr, "corates-sync: %s\n", line.c_str());
      return f.status;
    }
  }
  std::fprintf(stderr, "corates-sync: no command given (see --help)\n");
  return kExitBadInput;
}

}  // namespace corates::app
