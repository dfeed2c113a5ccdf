#include "shell/command_risk.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <system_error>

#include "shell/risk_rater.h"

namespace wick::shell {
namespace {

// Deeper than this, `bash -c "bash -c '...'"` is more likely an attack on the analysis than
// a command anyone meant.
constexpr int kMaxDepth = 8;

bool IsDownloader(std::string_view name) {
  return IsOneOf(name,
                 {"curl", "wget", "fetch", "aria2c", "http", "https", "xh", "lwp-request", "GET"});
}

bool IsShellName(std::string_view name) {
  return IsOneOf(name, {"sh", "bash", "zsh", "dash", "ksh", "mksh", "ash", "fish", "csh", "tcsh"});
}

bool IsInterpreterName(std::string_view name) {
  return IsOneOf(name, {"python", "python2", "python3", "perl", "ruby", "node", "php", "lua"});
}

// NAME=value, with an unquoted '=' after a valid name.
bool IsAssignment(const Word& w) {
  const size_t eq = w.text.find('=');
  if (eq == std::string::npos || eq == 0 || !w.Bare(eq)) return false;
  if (std::isdigit(static_cast<unsigned char>(w.text[0]))) return false;
  return std::all_of(w.text.begin(), w.text.begin() + static_cast<std::ptrdiff_t>(eq), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

}  // namespace

std::string_view RiskName(Risk risk) {
  switch (risk) {
    case Risk::kSafe:
      return "safe";
    case Risk::kCaution:
      return "caution";
    case Risk::kDangerous:
      return "dangerous";
  }
  return "dangerous";
}

RiskReport RateCommand(std::string_view command) {
  std::error_code ec;
  std::string cwd = std::filesystem::current_path(ec).string();
  const char* home = std::getenv("HOME");
  Rater rater(std::move(cwd), home != nullptr ? home : "");
  rater.Line(command);
  return rater.Report();
}

// ---- Argument helpers ----

bool IsOption(const Word& w) {
  return w.text.size() > 1 && w.text[0] == '-' && w.text != "--";
}

bool HasShortFlag(std::string_view arg, char c) {
  return arg.size() > 1 && arg[0] == '-' && arg[1] != '-' && arg.find(c, 1) != arg.npos;
}

std::string Basename(std::string_view path) {
  const size_t slash = path.rfind('/');
  return std::string(slash == path.npos ? path : path.substr(slash + 1));
}

std::string JoinWords(Args words) {
  std::string out;
  for (const Word& w : words) {
    if (!out.empty()) out.push_back(' ');
    out += w.text;
  }
  return out;
}

Word MakeWord(std::string_view text) {
  Word w;
  w.text = std::string(text);
  w.quoting.assign(text.size(), Quoting::kBare);
  return w;
}

Word SubWord(const Word& w, size_t from) {
  Word out;
  if (from >= w.text.size()) return out;
  out.text = w.text.substr(from);
  out.quoting.assign(w.quoting.begin() + static_cast<std::ptrdiff_t>(from), w.quoting.end());
  out.quoted = w.quoted;
  out.command_substs = w.command_substs;
  out.process_substs = w.process_substs;
  return out;
}

namespace {

// How many words the option at the front of `args` takes (1, or 2 with a separate value).
size_t OptionLength(Args args, const OptionSpec& spec) {
  const std::string& t = args[0].text;
  if (t.substr(0, 2) == "--") {
    const bool takes = t.find('=') == std::string::npos &&
                       std::find(spec.long_with_value.begin(), spec.long_with_value.end(), t) !=
                           spec.long_with_value.end();
    return takes && args.size() > 1 ? 2 : 1;
  }
  for (size_t k = 1; k < t.size(); ++k) {
    if (spec.short_with_value.find(t[k]) != std::string_view::npos) {
      return k + 1 == t.size() && args.size() > 1 ? 2 : 1;  // -uUSER holds its value
    }
  }
  return 1;
}

}  // namespace

Args ArgsAfterOptions(Args args, const OptionSpec& spec) {
  while (!args.empty() && IsOption(args[0])) args = args.subspan(OptionLength(args, spec));
  if (!args.empty() && args[0].text == "--") args = args.subspan(1);
  return args;
}

std::vector<const Word*> Operands(Args args, const OptionSpec& spec) {
  std::vector<const Word*> out;
  while (!args.empty()) {
    if (args[0].text == "--" && !args[0].quoted) {
      for (const Word& w : args.subspan(1)) out.push_back(&w);
      break;
    }
    if (IsOption(args[0])) {
      args = args.subspan(OptionLength(args, spec));
      continue;
    }
    out.push_back(&args[0]);
    args = args.subspan(1);
  }
  return out;
}

std::optional<Word> OptionValue(Args args, char short_name, std::string_view long_name) {
  for (size_t k = 0; k < args.size(); ++k) {
    const std::string& t = args[k].text;
    if (t == "--") break;
    const bool next = k + 1 < args.size();
    if (!long_name.empty() && t == long_name && next) return args[k + 1];
    if (!long_name.empty() && t.size() > long_name.size() &&
        t.substr(0, long_name.size()) == long_name && t[long_name.size()] == '=') {
      return SubWord(args[k], long_name.size() + 1);
    }
    if (short_name != 0 && t.size() >= 2 && t[0] == '-' && t[1] == short_name) {
      if (t.size() > 2) return SubWord(args[k], 2);
      if (next) return args[k + 1];
    }
  }
  return std::nullopt;
}

// ---- The rater ----

void Rater::Add(Risk risk, std::string reason) {
  for (const auto& [r, text] : findings_) {
    if (text == reason) return;
  }
  findings_.emplace_back(risk, std::move(reason));
}

RiskReport Rater::Report() const {
  RiskReport report;
  for (Risk level : {Risk::kDangerous, Risk::kCaution}) {
    for (const auto& [risk, reason] : findings_) {
      if (risk != level) continue;
      if (report.reasons.empty()) report.risk = risk;
      report.reasons.push_back(reason);
    }
  }
  return report;
}

bool Rater::Line(std::string_view line) {
  const ParsedLine parsed = ParseCommandLine(line);
  if (parsed.incomplete) {
    Add(Risk::kCaution,
        "the line is incomplete (an unterminated quote, substitution or "
        "here-document), so it may not do what it seems");
  }
  for (const FunctionDef& f : parsed.functions) {
    if (f.forks_itself) {
      Add(Risk::kDangerous,
          "fork bomb: function '" + f.name + "' calls itself in a pipe or in the background");
    }
  }
  bool downloads = false;
  for (const shell::Pipeline& p : parsed.pipelines) downloads = Pipeline(p) || downloads;
  return downloads;
}

bool Rater::Nested(std::string_view line) {
  if (depth_ >= kMaxDepth) {
    Add(Risk::kCaution, "commands nested too deeply to check");
    return false;
  }
  // A subshell's `cd` and assignments do not reach the commands after it.
  const std::optional<ShellPath> saved_dir = dir_;
  const std::map<std::string, std::string> saved_vars = vars_;
  ++depth_;
  const bool downloads = Line(line);
  --depth_;
  dir_ = saved_dir;
  vars_ = saved_vars;
  return downloads;
}

bool Rater::Pipeline(const shell::Pipeline& pipeline) {
  StageInput in;
  bool downloads = false;
  for (const SimpleCommand& cmd : pipeline.commands) {
    const StageOutput out = Command(cmd, in);
    in.after_download = in.after_download || out.downloads;
    in.after_wide_find = in.after_wide_find || out.wide_find;
    in.after_decode = in.after_decode || out.decodes;
    in.piped = true;
    in.piped_script = out.prints;
    downloads = downloads || out.downloads;
  }
  return downloads;
}

StageOutput Rater::Command(const SimpleCommand& cmd, const StageInput& in) {
  CommandContext ctx;
  ctx.in = in;
  bool substitution_downloads = false;
  for (const Word& w : cmd.words) {
    for (const std::string& body : w.command_substs) {
      substitution_downloads = Nested(body) || substitution_downloads;
    }
    for (const std::string& body : w.process_substs) Nested(body);
  }
  for (const Redirect& r : cmd.redirects) {
    for (const std::string& body : r.target.command_substs) Nested(body);
    if (r.op == "<<" || r.op == "<<-") ctx.stdin_script = r.heredoc;
    if (r.op == "<<<") ctx.stdin_script = r.target.text;
  }
  if (!ctx.stdin_script) ctx.stdin_script = in.piped_script;

  Args words = Unwrap(cmd.words, ctx, true);
  const bool truncates_only = words.empty() || words[0].IsBare(":") || words[0].IsBare("true");
  for (const Redirect& r : cmd.redirects) {
    if (r.Writes()) CheckWrite(r.target, r.Appends(), truncates_only);
  }
  if (words.empty()) {
    for (const Word& w : cmd.words) {
      if (IsAssignment(w)) RecordAssignment(w);
    }
    return ctx.out;
  }
  if (WordDownloads(words[0])) {
    Add(Risk::kDangerous, "runs what a download prints as a command");
  }
  if (words[0].text.find('/') != std::string::npos) CheckDownloadedRun(words[0]);
  ctx.name = Basename(words[0].text);
  ctx.out.downloads = substitution_downloads && IsOneOf(ctx.name, {"echo", "printf", "cat"});
  Dispatch(words.subspan(1), ctx);

  const Args args = words.subspan(1);
  auto has = [&](std::initializer_list<std::string_view> flags) {
    return std::any_of(args.begin(), args.end(),
                       [&](const Word& w) { return IsOneOf(w.text, flags); });
  };
  ctx.out.decodes = (ctx.name == "base64" && has({"-d", "-D", "--decode"})) ||
                    (ctx.name == "xxd" && has({"-r", "-revert"})) ||
                    (ctx.name == "openssl" && has({"-d", "-base64"})) || ctx.name == "uudecode";
  if (ctx.out.downloads) {
    for (const Redirect& r : cmd.redirects) {
      if (r.Writes()) downloaded_.push_back(Resolve(r.target).Display());
    }
  }
  return ctx.out;
}

Args Rater::Unwrap(Args w, CommandContext& ctx, bool record) {
  auto add = [&](Risk risk, std::string reason) {
    if (record) Add(risk, std::move(reason));
  };
  while (!w.empty()) {
    if (IsAssignment(w[0]) || IsReservedWord(w[0])) {
      if (record && IsAssignment(w[0])) CheckAssignment(w[0]);
      w = w.subspan(1);
      continue;
    }
    const std::string name = Basename(w[0].text);
    Args rest = w.subspan(1);
    if (IsOneOf(name, {"sudo", "doas", "pkexec", "run0"})) {
      add(Risk::kCaution, "runs as root (" + name + ")");
      w = ArgsAfterOptions(
          rest, {.short_with_value = name == "doas" ? "uC" : "CDghpRrTtUu",
                 .long_with_value = {"--user", "--group", "--host", "--prompt", "--chdir", "--role",
                                     "--type", "--close-from", "--other-user"}});
    } else if (name == "su") {
      add(Risk::kCaution, "runs as root (su)");
      if (const auto command = OptionValue(rest, 'c', "--command"); command && record) {
        Nested(command->text);
      }
      return {};
    } else if (name == "env") {
      if (const auto split = OptionValue(rest, 'S', "--split-string")) {
        if (record) Nested(split->text);
        return {};
      }
      w = ArgsAfterOptions(rest,
                           {.short_with_value = "uC", .long_with_value = {"--unset", "--chdir"}});
    } else if (IsOneOf(name, {"nohup", "builtin", "unbuffer", "caffeinate", "busybox"})) {
      w = rest;
    } else if (IsOneOf(name, {"exec", "setsid"})) {
      w = ArgsAfterOptions(rest, {.short_with_value = "a"});
    } else if (name == "command") {
      for (const Word& a : rest) {
        if (a.text == "-v" || a.text == "-V") return {};  // looks the name up, runs nothing
      }
      w = ArgsAfterOptions(rest, {});
    } else if (name == "time") {
      w = ArgsAfterOptions(rest,
                           {.short_with_value = "fo", .long_with_value = {"--format", "--output"}});
    } else if (name == "nice") {
      w = ArgsAfterOptions(rest, {.short_with_value = "n", .long_with_value = {"--adjustment"}});
    } else if (name == "ionice") {
      w = ArgsAfterOptions(rest, {.short_with_value = "cnpPu"});
    } else if (name == "stdbuf") {
      w = ArgsAfterOptions(rest, {.short_with_value = "ioe"});
    } else if (name == "timeout") {
      w = ArgsAfterOptions(
          rest, {.short_with_value = "sk", .long_with_value = {"--signal", "--kill-after"}});
      if (!w.empty()) w = w.subspan(1);  // the duration
    } else if (name == "chroot") {
      w = ArgsAfterOptions(rest, {});
      if (!w.empty()) w = w.subspan(1);  // the new root
    } else if (name == "xargs") {
      ctx.via_xargs = true;
      w = ArgsAfterOptions(
          rest, {.short_with_value = "aEdILnPs",
                 .long_with_value = {"--arg-file", "--delimiter", "--max-args", "--max-procs",
                                     "--max-chars", "--max-lines", "--process-slot-var"}});
    } else if (name == "watch") {
      Args command = ArgsAfterOptions(
          rest, {.short_with_value = "nq", .long_with_value = {"--interval", "--equexit"}});
      if (record && !command.empty()) Nested(JoinWords(command));
      return {};
    } else if (name == "ssh") {
      Args remote = ArgsAfterOptions(rest, {.short_with_value = "BbcDEeFIiJLlmOoPpQRSWw"});
      if (record && remote.size() > 1) Nested(JoinWords(remote.subspan(1)));
      return {};
    } else {
      break;
    }
  }
  return w;
}

Rater::Rule Rater::FindRule(std::string_view name) {
  struct Entry {
    std::initializer_list<std::string_view> names;
    Rule rule;
  };
  static const Entry kRules[] = {
      {{"rm", "unlink", "shred", "srm"}, &Rater::Rm},
      {{"find"}, &Rater::Find},
      {{"dd"}, &Rater::Dd},
      {{"mkfs", "mke2fs", "mkswap", "newfs", "wipefs", "blkdiscard", "fdisk", "sfdisk", "parted",
        "gdisk", "sgdisk", "cfdisk", "diskutil"},
       &Rater::Disk},
      {{"chmod", "chown", "chgrp"}, &Rater::Chmod},
      {{"shutdown", "reboot", "halt", "poweroff", "init", "telinit"}, &Rater::Power},
      {{"systemctl"}, &Rater::Systemctl},
      {{"git"}, &Rater::Git},
      {{"history", "unset", "export", "declare", "typeset", "local", "readonly", "set"},
       &Rater::History},
      {{"kill"}, &Rater::Kill},
      {{"pkill", "killall", "killall5"}, &Rater::Pkill},
      {{"mv"}, &Rater::Move},
      {{"cp", "install", "ln"}, &Rater::Copy},
      {{"tee"}, &Rater::Tee},
      {{"truncate"}, &Rater::Truncate},
      {{"crontab"}, &Rater::Crontab},
      {{"iptables", "ip6tables", "iptables-legacy", "iptables-nft", "nft", "ufw"},
       &Rater::Firewall},
      {{"curl", "wget", "fetch", "aria2c", "http", "https", "xh", "lwp-request", "GET"},
       &Rater::Download},
      {{"apt", "apt-get", "aptitude", "dnf", "yum", "pacman", "zypper", "brew", "pip", "pip3",
        "npm", "snap", "flatpak", "docker", "podman", "kubectl"},
       &Rater::Packages},
      {{"echo", "printf"}, &Rater::Echo},
      {{"cd", "pushd", "popd"}, &Rater::Cd},
      {{"eval"}, &Rater::Eval},
      {{"source", "."}, &Rater::Source},
  };
  for (const Entry& e : kRules) {
    if (std::find(e.names.begin(), e.names.end(), name) != e.names.end()) return e.rule;
  }
  if (name.substr(0, 5) == "mkfs.") return &Rater::Disk;
  if (IsShellName(name)) return &Rater::Shell;
  if (IsInterpreterName(name)) return &Rater::Interpreter;
  return nullptr;
}

void Rater::Dispatch(Args args, CommandContext& ctx) {
  if (const Rule rule = FindRule(ctx.name)) (this->*rule)(args, ctx);
}

bool Rater::Downloads(std::string_view line, int depth) {
  if (depth > 4) return false;
  const ParsedLine parsed = ParseCommandLine(line);
  for (const shell::Pipeline& p : parsed.pipelines) {
    for (const SimpleCommand& cmd : p.commands) {
      CommandContext ctx;
      const Args words = Unwrap(cmd.words, ctx, false);
      if (!words.empty() && IsDownloader(Basename(words[0].text))) return true;
      for (const Word& w : cmd.words) {
        if (WordDownloads(w, depth + 1)) return true;
      }
    }
  }
  return false;
}

bool Rater::WordDownloads(const Word& word, int depth) {
  for (const auto* bodies : {&word.command_substs, &word.process_substs}) {
    for (const std::string& body : *bodies) {
      if (Downloads(body, depth + 1)) return true;
    }
  }
  return false;
}

void Rater::CheckWrite(const Word& target, bool append, bool truncates_only) {
  const ShellPath p = Resolve(target);
  if (IsHarmlessDevice(p)) return;
  const std::string shown = p.Display();
  if (IsBlockDevice(p)) {
    Add(Risk::kDangerous, "writes straight to the disk device " + shown + ", destroying its data");
  } else if (IsKernelTrigger(p)) {
    Add(Risk::kDangerous, "writes to " + shown + ", which can crash or reboot the machine");
  } else if (IsDevice(p)) {
    Add(Risk::kCaution, "writes to the device " + shown);
  } else if (IsCriticalFile(p)) {
    Add(Risk::kDangerous, (append ? "appends to " : "overwrites ") + shown +
                              ", which the system needs to boot or log in");
  } else if (IsHistoryFile(p) && !append) {
    Add(Risk::kDangerous, "wipes the shell history (" + shown + ")");
  } else if (IsSystemPath(p)) {
    Add(Risk::kCaution, "writes into the system path " + shown);
  } else if (IsOutside(p, cwd_, home_)) {
    Add(Risk::kCaution, "writes outside the working directory: " + shown);
  }
  if (append || IsDevice(p) || IsCriticalFile(p) || IsHistoryFile(p)) return;
  if (truncates_only) {
    Add(Risk::kCaution, "truncates " + shown);
    return;
  }
  if (const auto file = ConcretePath(p, cwd_, home_)) {
    std::error_code ec;
    if (std::filesystem::is_regular_file(*file, ec)) {
      Add(Risk::kCaution, "overwrites the existing file " + shown);
    }
  }
}

void Rater::RecordAssignment(const Word& word) {
  const size_t eq = word.text.find('=');
  std::string value = word.text.substr(eq + 1);
  // The shell expands a leading ~ when it assigns, so the value is the home directory.
  if (!value.empty() && value[0] == '~' && word.Bare(eq + 1) &&
      (value.size() == 1 || value[1] == '/')) {
    value.replace(0, 1, "$HOME");
  }
  vars_[word.text.substr(0, eq)] = std::move(value);
}

void Rater::CheckDownloadedRun(const Word& script) {
  const std::string shown = Resolve(script).Display();
  if (std::find(downloaded_.begin(), downloaded_.end(), shown) != downloaded_.end()) {
    Add(Risk::kDangerous, "runs " + shown + ", which it has just downloaded");
  }
}

void Rater::CheckAssignment(const Word& word) {
  const size_t eq = word.text.find('=');
  const std::string name = word.text.substr(0, eq);
  const std::string value = word.text.substr(eq + 1);
  if (IsOneOf(name, {"HISTSIZE", "HISTFILESIZE", "SAVEHIST"}) && value == "0") {
    Add(Risk::kDangerous, name + "=0 turns off the shell history");
  } else if (name == "HISTFILE" && (value.empty() || value == "/dev/null")) {
    Add(Risk::kDangerous, "HISTFILE=" + value + " stops the shell saving its history");
  }
}

// ---- Rules that run other code ----

void Rater::Shell(Args args, CommandContext& ctx) {
  bool has_command = false;
  bool from_stdin = false;
  while (!args.empty()) {
    const std::string& t = args[0].text;
    if (t == "--") {
      args = args.subspan(1);
      break;
    }
    if (t.size() < 2 || (t[0] != '-' && t[0] != '+')) break;
    const bool takes_value = IsOneOf(t, {"-o", "+o", "-O", "+O", "--rcfile", "--init-file"});
    if (t[1] != '-' && t.find('c', 1) != std::string::npos) has_command = true;
    if (t[1] != '-' && t.find('s', 1) != std::string::npos) from_stdin = true;
    args = args.subspan(takes_value && args.size() > 1 ? 2 : 1);
  }
  if (has_command) {
    if (!args.empty()) Nested(args[0].text);
    return;
  }
  if (!args.empty() && args[0].text != "-" && !from_stdin) {
    if (WordDownloads(args[0]))
      Add(Risk::kDangerous, "runs a downloaded script (" + ctx.name + ")");
    CheckDownloadedRun(args[0]);
    return;
  }
  if (ctx.in.after_download) {
    Add(Risk::kDangerous, "pipes a download into a shell (" + ctx.name + ")");
  } else if (ctx.stdin_script) {
    Nested(*ctx.stdin_script);
  } else if (ctx.in.after_decode) {
    Add(Risk::kDangerous, "runs commands decoded from hidden text (" + ctx.name + ")");
  } else if (ctx.in.piped) {
    Add(Risk::kCaution, "runs whatever the pipe feeds it as commands (" + ctx.name + ")");
  }
}

void Rater::Interpreter(Args args, CommandContext& ctx) {
  const char code_flag = ctx.name == "php" ? 'r' : ctx.name.substr(0, 6) == "python" ? 'c' : 'e';
  for (size_t k = 0; k < args.size(); ++k) {
    const std::string& t = args[k].text;
    if (t == "-m" || t == "-" || !IsOption(args[k])) {
      // A module or a script file; `-` is stdin.
      if (t == "-" && ctx.in.after_download) break;
      if (WordDownloads(args[k])) Add(Risk::kDangerous, "runs downloaded code (" + ctx.name + ")");
      CheckDownloadedRun(args[k]);
      return;
    }
    if (HasShortFlag(t, code_flag) || t == "--eval") {
      if (k + 1 < args.size() && WordDownloads(args[k + 1])) {
        Add(Risk::kDangerous, "runs downloaded code (" + ctx.name + ")");
      }
      return;
    }
  }
  if (ctx.in.after_download) {
    Add(Risk::kDangerous, "pipes a download into an interpreter (" + ctx.name + ")");
  }
}

void Rater::Eval(Args args, CommandContext&) {
  Nested(JoinWords(args));
}

void Rater::Source(Args args, CommandContext& ctx) {
  if (args.empty()) return;
  const bool reads_stdin = args[0].text == "/dev/stdin" || args[0].text == "-";
  if (WordDownloads(args[0]) || (reads_stdin && ctx.in.after_download)) {
    Add(Risk::kDangerous, "sources a downloaded script");
  }
  CheckDownloadedRun(args[0]);
}

void Rater::Tee(Args args, CommandContext&) {
  const bool append = std::any_of(args.begin(), args.end(), [](const Word& w) {
    return HasShortFlag(w.text, 'a') || w.text == "--append";
  });
  for (const Word* file : Operands(args, {})) CheckWrite(*file, append, false);
}

}  // namespace wick::shell
