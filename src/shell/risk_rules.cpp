// The rules for single commands behind RateCommand: deletes, disks, permissions, power,
// git, history, signals, moves and copies, services and packages. The rule list itself is in
// shell/command_risk.h; the machinery is in shell/risk_rater.h.
#include <algorithm>
#include <cctype>

#include "shell/risk_rater.h"

namespace wick::shell {
namespace {

constexpr Risk kCaution = Risk::kCaution;
constexpr Risk kDangerous = Risk::kDangerous;

bool AnyArg(Args args, std::initializer_list<std::string_view> names) {
  return std::any_of(args.begin(), args.end(),
                     [&](const Word& w) { return IsOneOf(w.text, names); });
}

bool AnyShortFlag(Args args, char c) {
  return std::any_of(args.begin(), args.end(),
                     [&](const Word& w) { return HasShortFlag(w.text, c); });
}

std::string Described(const ShellPath& p, const PathClass& c) {
  std::string out = p.Display() + " (" + std::string(ScopeName(c.scope));
  if (!c.empty_var.empty()) out += " if " + c.empty_var + " is empty";
  return out + ")";
}

// find's start paths that make -delete or -exec rm a disaster; "." is left out because the
// tests after it (-name, -size) are what choose the files.
bool IsWideStart(PathScope scope) {
  return scope == PathScope::kRoot || scope == PathScope::kSystem ||
         scope == PathScope::kUserHome || scope == PathScope::kAllHomes;
}

// A chmod mode that lets every user write: 777, 666, o+w, a=rwx, +w.
bool WorldWritable(std::string_view mode) {
  if (!mode.empty() && mode.find_first_not_of("01234567") == std::string_view::npos) {
    const char other = mode.back();
    return other == '2' || other == '3' || other == '6' || other == '7';
  }
  size_t start = 0;
  while (start <= mode.size()) {
    size_t end = std::min(mode.find(',', start), mode.size());
    std::string_view clause = mode.substr(start, end - start);
    const size_t op = clause.find_first_of("+=");
    if (op != std::string_view::npos) {
      const std::string_view who = clause.substr(0, op);
      const bool everyone = who.empty() || who.find_first_of("oa") != std::string_view::npos;
      if (everyone && clause.find('w', op) != std::string_view::npos) return true;
    }
    start = end + 1;
  }
  return false;
}

// A pattern pkill or killall -r would match against every process name.
bool MatchesEverything(std::string_view pattern) {
  return IsOneOf(pattern, {"", ".", ".*", ".+", "^", "$", "^.", "^.*", "^.*$", "^.+", "^.+$"});
}

}  // namespace

void Rater::RateDelete(const Word& operand, bool recursive) {
  const ShellPath p = Resolve(operand);
  const PathClass c = Classify(p);
  const std::string shown = p.Display();
  if (IsCriticalFile(p)) {
    Add(kDangerous, "deletes " + shown + ", which the system needs to boot or log in");
  } else if (IsHistoryFile(p)) {
    Add(kDangerous, "deletes the shell history (" + shown + ")");
  } else if (recursive) {
    if (IsWide(c.scope)) {
      Add(kDangerous, "recursive delete of " + Described(p, c));
    } else {
      Add(kCaution, "recursive delete of " + shown);
    }
  } else if (c.scope == PathScope::kRoot ||
             (c.scope == PathScope::kSystem && (p.parts.size() == 1 || IsWildcard(p.Name())))) {
    // On merged-/usr systems /bin, /lib and /sbin are links that plain rm removes.
    Add(kDangerous, "deletes " + Described(p, c));
  } else {
    Add(kCaution, "deletes " + shown);
  }
}

void Rater::Rm(Args args, CommandContext& ctx) {
  if (ctx.name == "shred" || ctx.name == "srm") {
    for (const Word* w : Operands(
             args, {.short_with_value = "ns", .long_with_value = {"--iterations", "--size"}})) {
      const ShellPath p = Resolve(*w);
      if (IsBlockDevice(p)) {
        Add(kDangerous, ctx.name + " overwrites the disk device " + p.Display());
      } else {
        RateDelete(*w, false);
      }
    }
    return;
  }
  bool recursive = false;
  bool no_preserve_root = false;
  bool options_done = false;
  std::vector<const Word*> operands;
  for (const Word& w : args) {
    const std::string& t = w.text;
    if (!options_done && t == "--") {
      options_done = true;
    } else if (!options_done && IsOption(w) && ctx.name == "rm") {
      recursive = recursive || t == "--recursive" ||
                  (t[1] != '-' && t.find_first_of("rR") != std::string::npos);
      no_preserve_root = no_preserve_root || t == "--no-preserve-root";
    } else {
      operands.push_back(&w);
    }
  }
  if (no_preserve_root) Add(kDangerous, "rm --no-preserve-root lets rm delete /");
  if (ctx.via_xargs) {
    if (ctx.in.after_wide_find) {
      Add(kDangerous, "deletes what find lists under a system-wide path");
    } else {
      Add(kCaution, recursive ? "recursive delete of every path xargs reads"
                              : "deletes every file xargs reads");
    }
  }
  for (const Word* w : operands) RateDelete(*w, recursive);
}

void Rater::Find(Args args, CommandContext& ctx) {
  size_t i = 0;
  while (i < args.size()) {
    const std::string& t = args[i].text;
    if (t == "-D") {
      i += 2;
    } else if (IsOneOf(t, {"-H", "-L", "-P"}) || t.substr(0, 2) == "-O") {
      ++i;
    } else {
      break;
    }
  }
  std::vector<ShellPath> starts;
  for (; i < args.size(); ++i) {
    const std::string& t = args[i].text;
    if (IsOption(args[i]) || IsOneOf(t, {"(", ")", "!", ","})) break;
    starts.push_back(Resolve(args[i]));
  }
  if (starts.empty()) starts.push_back(Resolve(MakeWord(".")));
  std::optional<std::string> wide;
  for (const ShellPath& s : starts) {
    const PathClass c = Classify(s);
    if (!wide && IsWideStart(c.scope)) wide = Described(s, c);
  }
  ctx.out.wide_find = wide.has_value();

  bool deletes = false;
  bool changes_owner = false;
  for (size_t j = i; j < args.size(); ++j) {
    const std::string& t = args[j].text;
    if (t == "-delete") {
      deletes = true;
    } else if (IsOneOf(t, {"-exec", "-execdir", "-ok", "-okdir"})) {
      size_t end = j + 1;
      while (end < args.size() && args[end].text != ";" && args[end].text != "+") ++end;
      const Args inner = args.subspan(j + 1, end - j - 1);
      CommandContext inner_ctx;
      const Args run = Unwrap(inner, inner_ctx, false);
      const std::string name = run.empty() ? "" : Basename(run[0].text);
      if (IsOneOf(name, {"rm", "unlink", "shred", "rmdir"})) {
        deletes = true;
      } else if (IsOneOf(name, {"chmod", "chown", "chgrp"})) {
        changes_owner = true;
      } else if (!inner.empty()) {
        SimpleCommand cmd;
        cmd.words.assign(inner.begin(), inner.end());
        Command(cmd, StageInput());
      }
      j = end;
    } else if (IsOneOf(t, {"-fprint", "-fprint0", "-fls", "-fprintf"}) && j + 1 < args.size()) {
      CheckWrite(args[++j], false, false);
    }
  }
  if (deletes) {
    if (wide) {
      Add(kDangerous, "find deletes files under " + *wide);
    } else {
      Add(kCaution, "find deletes the files it matches");
    }
  }
  if (changes_owner) {
    if (wide) {
      Add(kDangerous, "find changes permissions or owners under " + *wide);
    } else {
      Add(kCaution, "find changes permissions or owners of the files it matches");
    }
  }
}

void Rater::Dd(Args args, CommandContext&) {
  for (const Word& w : args) {
    if (w.text.substr(0, 3) == "of=") CheckWrite(SubWord(w, 3), false, false);
  }
}

void Rater::Disk(Args args, CommandContext& ctx) {
  const std::string& name = ctx.name;
  std::string target = "a disk";
  for (const Word& w : args) {
    if (!IsOption(w) && target.substr(0, 5) != "/dev/") target = w.text;
  }
  if (name.substr(0, 4) == "mkfs" || IsOneOf(name, {"mke2fs", "mkswap", "newfs"})) {
    Add(kDangerous, name + " formats " + target + ", erasing everything on it");
    return;
  }
  if (name == "wipefs") {
    if (!AnyArg(args, {"-n", "--no-act"})) {
      Add(kDangerous, "wipefs erases the filesystem signatures of " + target);
    }
    return;
  }
  if (name == "blkdiscard") {
    Add(kDangerous, "blkdiscard discards every block of " + target);
    return;
  }
  if (name == "diskutil") {
    for (const Word& w : args) {
      const std::string& verb = w.text;
      if (verb.substr(0, 5) == "erase" ||
          IsOneOf(verb, {"partitionDisk", "zeroDisk", "randomDisk", "secureErase", "reformat"})) {
        Add(kDangerous, "diskutil " + verb + " erases " + target);
        return;
      }
    }
    return;
  }
  bool lists_only = false;
  if (name == "fdisk" || name == "gdisk") {
    lists_only =
        AnyArg(args, {"-l", "--list", "-x", "--list-details", "-h", "--help", "-V", "--version"});
  } else if (name == "sfdisk") {
    lists_only = AnyArg(args, {"-l", "--list", "-d", "--dump", "-J", "--json", "-s", "--show-size",
                               "-g", "--show-geometry", "-V", "--verify", "-n", "--no-act", "-F",
                               "--list-free", "-h", "--help"});
  } else if (name == "parted") {
    const bool changes =
        AnyArg(args, {"mklabel", "mktable", "mkpart", "rm", "resizepart", "name", "set", "toggle",
                      "rescue", "disk_set", "disk_toggle", "type"});
    lists_only =
        AnyArg(args, {"-l", "--list", "print", "-h", "--help", "-v", "--version"}) && !changes;
  } else if (name == "sgdisk") {
    lists_only = std::all_of(args.begin(), args.end(), [](const Word& w) {
      if (!IsOption(w)) return true;
      for (std::string_view ok : {"-p", "--print", "-v", "--verify", "-i", "--info", "-L",
                                  "--list-types", "-O", "--print-mbr", "-V", "--version"}) {
        if (w.text.substr(0, ok.size()) == ok) return true;
      }
      return false;
    });
  }
  if (!lists_only) Add(kDangerous, name + " can rewrite the partition table of " + target);
}

void Rater::Chmod(Args args, CommandContext& ctx) {
  const std::string& name = ctx.name;
  bool recursive = false;
  bool options_done = false;
  std::optional<std::string> mode;
  std::vector<const Word*> targets;
  for (const Word& w : args) {
    const std::string& t = w.text;
    if (!options_done && t == "--") {
      options_done = true;
    } else if (!options_done && t.substr(0, 2) == "--") {
      recursive = recursive || t == "--recursive";
      if (t.substr(0, 11) == "--reference") mode = "";  // no mode or owner operand then
    } else if (!options_done && IsOption(w) &&
               !(name == "chmod" && !mode &&
                 t.find_first_not_of("rwxXstugoa,+-=01234567", 1) == std::string::npos)) {
      recursive = recursive || t.find('R', 1) != std::string::npos;
    } else if (!mode) {
      mode = t;  // chmod's mode (-x is one) or chown's owner
    } else {
      targets.push_back(&w);
    }
  }
  const bool world_writable = name == "chmod" && mode && WorldWritable(*mode);
  for (const Word* w : targets) {
    const ShellPath p = Resolve(*w);
    const PathClass c = Classify(p);
    if (recursive) {
      const bool wide = c.scope == PathScope::kRoot || c.scope == PathScope::kTopLevel ||
                        c.scope == PathScope::kSystem || c.scope == PathScope::kAllHomes ||
                        (world_writable && c.scope == PathScope::kUserHome);
      Add(wide ? kDangerous : kCaution,
          name + " -R changes " + (wide ? Described(p, c) : p.Display()) + " and everything in it");
    } else if (c.scope == PathScope::kRoot) {
      Add(kDangerous, name + " changes " + Described(p, c));
    } else if (IsCriticalFile(p)) {
      Add(name != "chmod" || world_writable ? kDangerous : kCaution,
          name + " changes " + p.Display() + ", which the system needs to boot or log in");
    } else if (c.scope == PathScope::kSystem) {
      Add(world_writable ? kDangerous : kCaution, name + " changes the system path " + p.Display());
    }
  }
}

void Rater::Power(Args args, CommandContext& ctx) {
  const std::string& name = ctx.name;
  if (AnyArg(args, {"--help", "-h"}) && name != "shutdown") return;
  if (name == "shutdown") {
    if (!AnyArg(args, {"-c", "--help", "-k"})) {
      Add(kDangerous, "shutdown powers off or reboots the machine");
    }
    return;
  }
  if (name == "init" || name == "telinit") {
    const std::string level = args.empty() ? "" : args[0].text;
    if (level == "0" || level == "6") {
      Add(kDangerous,
          name + " " + level + (level == "0" ? " powers off" : " reboots") + " the machine");
    } else if (IsOneOf(level, {"1", "s", "S", "single"})) {
      Add(kCaution, name + " " + level + " switches to single-user mode, stopping services");
    }
    return;
  }
  Add(kDangerous, name + " stops the machine");
}

void Rater::Systemctl(Args args, CommandContext&) {
  const std::vector<const Word*> operands = Operands(
      args, {.short_with_value = "HMtpPnosT",
             .long_with_value = {"--host", "--machine", "--type", "--property", "--lines",
                                 "--output", "--signal", "--kill-whom", "--root", "--state",
                                 "--job-mode", "--what", "--message", "--when"}});
  if (operands.empty()) return;
  const std::string& verb = operands[0]->text;
  if (IsOneOf(verb, {"poweroff", "reboot", "halt", "kexec", "soft-reboot"})) {
    Add(kDangerous, "systemctl " + verb + " stops the machine");
  } else if (IsOneOf(verb,
                     {"suspend", "hibernate", "hybrid-sleep", "suspend-then-hibernate", "sleep"})) {
    Add(kCaution, "systemctl " + verb + " suspends the machine");
  } else if (IsOneOf(verb, {"stop", "restart", "disable", "mask", "kill", "isolate", "set-default",
                            "emergency", "rescue", "try-restart", "reload-or-restart",
                            "daemon-reexec"})) {
    Add(kCaution, "systemctl " + verb + " changes running services");
  }
}

void Rater::Git(Args args, CommandContext&) {
  size_t i = 0;
  while (i < args.size() && IsOption(args[i])) {
    const bool takes_value = IsOneOf(
        args[i].text, {"-C", "-c", "--git-dir", "--work-tree", "--namespace", "--config-env"});
    i += takes_value ? 2 : 1;
  }
  if (i >= args.size()) return;
  const std::string& sub = args[i].text;
  const Args rest = args.subspan(i + 1);
  if (sub == "push") {
    bool force = false;
    bool lease = false;
    bool deletes = false;
    for (const Word& w : rest) {
      const std::string& t = w.text;
      force = force || t == "--force" || HasShortFlag(t, 'f') || (t.size() > 1 && t[0] == '+');
      lease = lease || t.substr(0, 18) == "--force-with-lease";
      deletes = deletes || t == "--delete" || HasShortFlag(t, 'd') || t == "--mirror" ||
                (t.size() > 1 && t[0] == ':');
    }
    if (force) {
      Add(kDangerous, "git push --force overwrites the remote's history");
    } else if (lease) {
      Add(kCaution, "git push --force-with-lease rewrites the remote's history");
    }
    if (deletes) Add(kCaution, "git push deletes branches on the remote");
  } else if (sub == "reset" && AnyArg(rest, {"--hard"})) {
    Add(kCaution, "git reset --hard discards uncommitted changes");
  } else if (sub == "clean" && (AnyShortFlag(rest, 'f') || AnyArg(rest, {"--force"})) &&
             !AnyShortFlag(rest, 'n') && !AnyArg(rest, {"--dry-run"})) {
    Add(kCaution, "git clean deletes untracked files");
  } else if ((sub == "checkout" || sub == "restore") &&
             (AnyArg(rest, {".", ":/", "-f", "--force"}))) {
    Add(kCaution, "git " + sub + " discards uncommitted changes");
  } else if (sub == "branch" && (AnyArg(rest, {"-D"}) || (AnyArg(rest, {"-d", "--delete"}) &&
                                                          AnyArg(rest, {"-f", "--force"})))) {
    Add(kCaution, "git branch -D deletes a branch that may not be merged");
  } else if (sub == "stash" && AnyArg(rest, {"drop", "clear"})) {
    Add(kCaution, "git stash " + rest[0].text + " deletes stashed changes");
  } else if (sub == "filter-branch" || sub == "filter-repo") {
    Add(kCaution, "git " + sub + " rewrites the repository's history");
  } else if (sub == "rm") {
    Add(kCaution, "git rm deletes files");
  }
}

void Rater::History(Args args, CommandContext& ctx) {
  const std::string& name = ctx.name;
  if (name == "history") {
    if (AnyShortFlag(args, 'c')) {
      Add(kDangerous, "history -c clears the shell history");
    } else if (AnyShortFlag(args, 'd')) {
      Add(kCaution, "history -d deletes history entries");
    }
  } else if (name == "unset") {
    if (AnyArg(args, {"HISTFILE"})) {
      Add(kDangerous, "unset HISTFILE stops the shell saving its history");
    }
  } else if (name == "set") {
    for (size_t k = 0; k + 1 < args.size(); ++k) {
      if (args[k].text == "+o" && args[k + 1].text == "history") {
        Add(kDangerous, "set +o history turns off the shell history");
      }
    }
  } else {
    for (const Word& w : args) {
      if (w.text.find('=') == std::string::npos || IsOption(w)) continue;
      CheckAssignment(w);
      RecordAssignment(w);
    }
  }
}

void Rater::Kill(Args args, CommandContext&) {
  bool signal_seen = false;
  bool options_done = false;
  bool any_pid = false;
  for (size_t k = 0; k < args.size(); ++k) {
    const std::string& t = args[k].text;
    if (!options_done && t == "--") {
      options_done = true;
    } else if (!options_done && IsOneOf(t, {"-l", "-L", "--list", "--table"})) {
      return;  // lists signal names
    } else if (!options_done && !signal_seen && t.size() > 1 && t[0] == '-') {
      signal_seen = true;  // -9, -KILL, or -s/-n/--signal with a value
      if (IsOneOf(t, {"-s", "-n", "--signal"})) ++k;
    } else if (t == "-1") {
      Add(kDangerous, "kill -1 signals every process you can reach");
      return;
    } else {
      any_pid = true;
    }
  }
  if (any_pid) Add(kCaution, "kill stops processes");
}

void Rater::Pkill(Args args, CommandContext& ctx) {
  const std::string& name = ctx.name;
  if (name == "killall5") {
    Add(kDangerous, "killall5 signals every process");
    return;
  }
  // Signal options (-9, -KILL, -SIGTERM) would read as clusters of other options.
  std::vector<Word> rest;
  for (const Word& w : args) {
    const bool signal = w.text.size() > 1 && w.text[0] == '-' &&
                        std::all_of(w.text.begin() + 1, w.text.end(), [](char c) {
                          return std::isupper(static_cast<unsigned char>(c)) ||
                                 std::isdigit(static_cast<unsigned char>(c));
                        });
    if (!signal) rest.push_back(w);
  }
  const OptionSpec spec =
      name == "pkill"
          ? OptionSpec{.short_with_value = "sugGPtF",
                       .long_with_value = {"--signal", "--session", "--euid", "--uid", "--pgroup",
                                           "--group", "--parent", "--terminal", "--pidfile", "--ns",
                                           "--nslist"}}
          : OptionSpec{.short_with_value = "suoyn",
                       .long_with_value = {"--signal", "--user", "--older-than", "--younger-than",
                                           "--ns", "--context"}};
  const std::vector<const Word*> patterns = Operands(rest, spec);
  const bool by_user = std::any_of(rest.begin(), rest.end(), [](const Word& w) {
    return w.text.substr(0, 2) == "-u" || w.text.substr(0, 2) == "-U" ||
           w.text.substr(0, 5) == "--uid" || w.text.substr(0, 6) == "--euid" ||
           w.text.substr(0, 6) == "--user";
  });
  const bool regex = name == "pkill" || AnyArg(rest, {"-r", "--regexp"});
  for (const Word* p : patterns) {
    if (regex && MatchesEverything(p->text)) {
      Add(kDangerous, name + " '" + p->text + "' matches every process");
      return;
    }
  }
  if (patterns.empty() && by_user) {
    Add(kDangerous, name + " -u kills every process of a user");
  } else if (!patterns.empty() || by_user) {
    Add(kCaution, name + " stops the processes it matches");
  }
}

void Rater::Move(Args args, CommandContext&) {
  const OptionSpec spec{.short_with_value = "tS",
                        .long_with_value = {"--target-directory", "--suffix"}};
  std::vector<const Word*> sources = Operands(args, spec);
  std::optional<Word> dest = OptionValue(args, 't', "--target-directory");
  if (!dest) {
    if (sources.size() < 2) return;
    dest = *sources.back();
    sources.pop_back();
  }
  const ShellPath d = Resolve(*dest);
  if (IsHarmlessDevice(d) && d.Name() == "null") {
    Add(kDangerous, "mv onto /dev/null destroys what it moves");
  } else if (IsBlockDevice(d)) {
    Add(kDangerous, "mv onto the disk device " + d.Display());
  } else if (IsCriticalFile(d)) {
    Add(kDangerous, "mv replaces " + d.Display() + ", which the system needs to boot or log in");
  } else if (IsSystemPath(d)) {
    Add(kCaution, "moves files into the system path " + d.Display());
  }
  for (const Word* w : sources) {
    const ShellPath p = Resolve(*w);
    const PathClass c = Classify(p);
    if (IsCriticalFile(p)) {
      Add(kDangerous, "moves " + p.Display() + " away, which the system needs to boot or log in");
    } else if (c.scope == PathScope::kRoot || c.scope == PathScope::kTopLevel ||
               c.scope == PathScope::kAllHomes || c.scope == PathScope::kUserHome ||
               (c.scope == PathScope::kSystem && p.parts.size() == 1)) {
      Add(kDangerous, "moves " + Described(p, c));
    } else if (c.scope == PathScope::kSystem) {
      Add(kCaution, "moves the system path " + p.Display());
    }
  }
}

void Rater::Copy(Args args, CommandContext& ctx) {
  if (ctx.name == "ln" && !AnyShortFlag(args, 'f') && !AnyArg(args, {"--force"})) return;
  const OptionSpec spec{
      .short_with_value = ctx.name == "install" ? "tSmgo" : "tS",
      .long_with_value = {"--target-directory", "--suffix", "--mode", "--group", "--owner"}};
  if (const std::optional<Word> dir = OptionValue(args, 't', "--target-directory")) {
    CheckWrite(*dir, false, false);
    return;
  }
  const std::vector<const Word*> operands = Operands(args, spec);
  if (operands.size() >= 2) CheckWrite(*operands.back(), false, false);
}

void Rater::Truncate(Args args, CommandContext&) {
  const OptionSpec spec{.short_with_value = "sr", .long_with_value = {"--size", "--reference"}};
  for (const Word* w : Operands(args, spec)) CheckWrite(*w, false, true);
}

void Rater::Crontab(Args args, CommandContext&) {
  if (AnyShortFlag(args, 'r')) {
    Add(kDangerous, "crontab -r deletes all your cron jobs");
    return;
  }
  const std::vector<const Word*> files = Operands(args, {.short_with_value = "uTs"});
  if (!files.empty()) Add(kCaution, "replaces your crontab with " + files[0]->text);
}

void Rater::Firewall(Args args, CommandContext& ctx) {
  const std::string& name = ctx.name;
  if (name == "nft") {
    if (AnyArg(args, {"flush", "delete"})) Add(kCaution, "nft removes firewall rules");
  } else if (name == "ufw") {
    if (AnyArg(args, {"disable", "reset"})) Add(kCaution, "ufw turns the firewall off");
  } else if (AnyArg(args, {"-F", "--flush", "-X", "--delete-chain", "-P", "--policy"})) {
    Add(kCaution, name + " flushes or changes firewall rules");
  }
}

void Rater::Download(Args args, CommandContext& ctx) {
  ctx.out.downloads = true;
  std::optional<Word> file;
  if (ctx.name == "curl") file = OptionValue(args, 'o', "--output");
  if (ctx.name == "wget") file = OptionValue(args, 'O', "--output-document");
  if (file && file->text != "-") {
    CheckWrite(*file, false, false);
    downloaded_.push_back(Resolve(*file).Display());
  }
  // curl -O and plain wget name the file after the URL.
  const bool remote_name =
      ctx.name == "wget" ? !file : AnyShortFlag(args, 'O') || AnyArg(args, {"--remote-name"});
  if (remote_name) {
    for (const Word& w : args) {
      if (IsOption(w) || w.text.find("://") == std::string::npos) continue;
      std::string url = w.text.substr(0, w.text.find_first_of("?#"));
      if (!url.empty() && url.back() != '/') downloaded_.push_back(Basename(url));
    }
  }
}

void Rater::Packages(Args args, CommandContext& ctx) {
  const std::string& name = ctx.name;
  const std::vector<const Word*> operands = Operands(args, {});
  const std::string sub = operands.empty() ? "" : operands[0]->text;
  bool removes = false;
  if (IsOneOf(name, {"apt", "apt-get", "aptitude"})) {
    removes = IsOneOf(sub, {"remove", "purge", "autoremove"});
  } else if (IsOneOf(name, {"dnf", "yum"})) {
    removes = IsOneOf(sub, {"remove", "erase", "autoremove"});
  } else if (name == "pacman") {
    removes = std::any_of(args.begin(), args.end(),
                          [](const Word& w) { return w.text.substr(0, 2) == "-R"; });
  } else if (IsOneOf(name, {"zypper", "brew", "snap", "flatpak"})) {
    removes = IsOneOf(sub, {"remove", "rm", "uninstall"});
  } else if (IsOneOf(name, {"pip", "pip3", "npm"})) {
    removes = IsOneOf(sub, {"uninstall", "remove", "rm", "un"});
  } else if (IsOneOf(name, {"docker", "podman"})) {
    if (AnyArg(args, {"rm", "rmi", "prune"})) {
      Add(kCaution, name + " deletes containers, images or volumes");
    }
    return;
  } else if (name == "kubectl") {
    if (sub == "delete") Add(kCaution, "kubectl delete removes cluster resources");
    return;
  }
  if (removes) Add(kCaution, name + " " + sub + " removes packages");
}

void Rater::Echo(Args args, CommandContext& ctx) {
  bool escapes = ctx.name == "printf";
  if (ctx.name == "echo") {
    while (!args.empty() && IsOneOf(args[0].text, {"-n", "-e", "-E", "-ne", "-en"})) {
      escapes = escapes || args[0].text.find('e') != std::string::npos;
      args = args.subspan(1);
    }
  }
  std::string text = JoinWords(args);
  if (escapes) {
    for (size_t k = text.find("\\n"); k != std::string::npos; k = text.find("\\n", k)) {
      text.replace(k, 2, "\n");
    }
  }
  ctx.out.prints = std::move(text);
}

void Rater::Cd(Args args, CommandContext& ctx) {
  const std::vector<const Word*> operands = Operands(args, {});
  ShellPath unknown;
  unknown.base = ShellPath::Base::kUnknown;
  unknown.unknown = "$OLDPWD";
  ShellPath home;
  home.base = ShellPath::Base::kHome;
  if (ctx.name == "popd") {
    dir_ = unknown;
  } else if (operands.empty() || operands[0]->IsBare("~")) {
    dir_ = home;
  } else if (operands[0]->text == "-" || operands[0]->text[0] == '+') {
    dir_ = unknown;
  } else {
    dir_ = Resolve(*operands[0]);
  }
}

}  // namespace wick::shell
