// The machinery behind RateCommand (shell/command_risk.h), shared by command_risk.cpp (lines,
// pipelines, prefixes, shells, writes) and risk_rules.cpp (the rules for single commands).
// Internal to the shell layer.
#pragma once

#include <initializer_list>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "shell/command_risk.h"
#include "shell/shell_parser.h"
#include "shell/shell_path.h"

namespace wick::shell {

using Args = std::span<const Word>;

// What one command of a pipeline tells the commands after it.
struct StageInput {
  bool after_download = false;              // an earlier stage downloads (curl ... |)
  bool after_wide_find = false;             // an earlier stage is find over / or ~ or /usr...
  bool after_decode = false;                // an earlier stage decodes hidden text (base64 -d)
  bool piped = false;                       // stdin is a pipe from an earlier stage
  std::optional<std::string> piped_script;  // what the stage just before prints (echo ... |)
};

// What rating one command found out about it, for the pipeline.
struct StageOutput {
  bool downloads = false;
  bool wide_find = false;
  bool decodes = false;
  std::optional<std::string> prints;
};

// Everything a rule knows about the command it rates, besides its arguments.
struct CommandContext {
  std::string name;  // the command's name without its directory: "rm"
  StageInput in;
  bool via_xargs = false;                   // its arguments come from xargs' input
  std::optional<std::string> stdin_script;  // a here-document or here-string on its stdin
  StageOutput out;
};

class Rater {
 public:
  Rater(std::string cwd, std::string home) : cwd_(std::move(cwd)), home_(std::move(home)) {}

  // Rates a whole command line; returns whether it downloads something.
  bool Line(std::string_view line);
  RiskReport Report() const;

 private:
  void Add(Risk risk, std::string reason);
  // Rates a line nested in this one ($(...), bash -c); returns whether it downloads.
  bool Nested(std::string_view line);
  bool Pipeline(const shell::Pipeline& pipeline);
  StageOutput Command(const SimpleCommand& cmd, const StageInput& in);
  // Looks through assignments, reserved words and prefixes (sudo, env, xargs ...) to the
  // command that runs. With `record` off it only looks: nothing is added or rated.
  Args Unwrap(Args words, CommandContext& ctx, bool record);
  void Dispatch(Args args, CommandContext& ctx);

  // Whether running `line` downloads something (curl, wget ...); adds nothing.
  bool Downloads(std::string_view line, int depth = 0);
  bool WordDownloads(const Word& word, int depth = 0);

  ShellPath Resolve(const Word& word) const {
    const ShellPath* dir = dir_ ? &*dir_ : nullptr;
    return vars_.empty() ? ResolvePath(word, dir)
                         : ResolvePath(SubstituteVariables(word, vars_), dir);
  }
  // NAME=value on its own (or after export, local ...): later words see the value.
  void RecordAssignment(const Word& word);
  // `script` is a file a download earlier on the line wrote.
  void CheckDownloadedRun(const Word& script);
  // A write to `target` by `via` (a redirection, tee, cp ...). `truncates_only`: the command
  // does nothing but empty the file (`> f`, `: > f`, `truncate -s 0 f`).
  void CheckWrite(const Word& target, bool append, bool truncates_only);
  void CheckAssignment(const Word& word);
  void RateDelete(const Word& operand, bool recursive);

  // Rules, in command_risk.cpp:
  void Shell(Args args, CommandContext& ctx);
  void Interpreter(Args args, CommandContext& ctx);
  void Eval(Args args, CommandContext& ctx);
  void Source(Args args, CommandContext& ctx);
  void Tee(Args args, CommandContext& ctx);
  // and in risk_rules.cpp:
  void Rm(Args args, CommandContext& ctx);
  void Find(Args args, CommandContext& ctx);
  void Dd(Args args, CommandContext& ctx);
  void Disk(Args args, CommandContext& ctx);
  void Chmod(Args args, CommandContext& ctx);
  void Power(Args args, CommandContext& ctx);
  void Systemctl(Args args, CommandContext& ctx);
  void Git(Args args, CommandContext& ctx);
  void History(Args args, CommandContext& ctx);
  void Kill(Args args, CommandContext& ctx);
  void Pkill(Args args, CommandContext& ctx);
  void Move(Args args, CommandContext& ctx);
  void Copy(Args args, CommandContext& ctx);
  void Truncate(Args args, CommandContext& ctx);
  void Crontab(Args args, CommandContext& ctx);
  void Firewall(Args args, CommandContext& ctx);
  void Download(Args args, CommandContext& ctx);
  void Packages(Args args, CommandContext& ctx);
  void Echo(Args args, CommandContext& ctx);
  void Cd(Args args, CommandContext& ctx);

  using Rule = void (Rater::*)(Args, CommandContext&);
  static Rule FindRule(std::string_view name);

  std::string cwd_;
  std::string home_;
  int depth_ = 0;
  std::optional<ShellPath> dir_;             // where a `cd` earlier on the line went
  std::map<std::string, std::string> vars_;  // variables assigned earlier on the line
  std::vector<std::string> downloaded_;      // files written by downloads, as displayed
  std::vector<std::pair<Risk, std::string>> findings_;
};

// Argument helpers for the rules.

inline bool IsOneOf(std::string_view s, std::initializer_list<std::string_view> names) {
  for (std::string_view n : names) {
    if (s == n) return true;
  }
  return false;
}

// "-x", "--long", but not "-" (stdin) or "--".
bool IsOption(const Word& w);
// A cluster of short options ("-rf") holding `c`.
bool HasShortFlag(std::string_view arg, char c);
std::string Basename(std::string_view path);
std::string JoinWords(Args words);
Word MakeWord(std::string_view text);
// The bytes of `w` from `from` on, with their quoting: "of=/dev/sda" -> "/dev/sda".
Word SubWord(const Word& w, size_t from);

// Options that take a value, for ArgsAfterOptions and Operands.
struct OptionSpec {
  std::string_view short_with_value;                // "ugp": -u USER, -uUSER
  std::vector<std::string_view> long_with_value{};  // {"--user"}: --user USER (--user=USER too)
};
// The arguments after the leading options (and a "--"): what a prefix like sudo runs.
Args ArgsAfterOptions(Args args, const OptionSpec& spec);
// The non-option arguments anywhere (GNU order), all of them after a "--".
std::vector<const Word*> Operands(Args args, const OptionSpec& spec);
// The value of an option (-o FILE, -oFILE, --output FILE, --output=FILE), or nullptr.
std::optional<Word> OptionValue(Args args, char short_name, std::string_view long_name);

}  // namespace wick::shell
