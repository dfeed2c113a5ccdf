#include "shell/shell_path.h"

#include <algorithm>
#include <cctype>

namespace wick::shell {
namespace {

constexpr char kMayBeEmpty = '\x04';

bool IsNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}

// The length of the expansion starting at `k` of `w` ($NAME, ${...}, $(...), $1), or 0.
size_t ExpansionAt(const Word& w, size_t k) {
  const std::string& t = w.text;
  if (k >= t.size() || t[k] != '$' || !w.Expands(k) || k + 1 >= t.size()) return 0;
  const char next = t[k + 1];
  if (next == '{' || next == '(') {
    const char close = next == '{' ? '}' : ')';
    int depth = 0;
    for (size_t j = k + 1; j < t.size(); ++j) {
      if (t[j] == next) ++depth;
      if (t[j] == close && --depth == 0) return j + 1 - k;
    }
    return t.size() - k;
  }
  if (std::isdigit(static_cast<unsigned char>(next)) ||
      std::string_view("@*#?$!-").find(next) != std::string_view::npos) {
    return 2;
  }
  size_t j = k + 1;
  while (j < t.size() && IsNameChar(t[j])) ++j;
  return j - k == 1 ? 0 : j - k;
}

// "HOME" for $HOME, ${HOME} and ${HOME:-x}; "pwd" for $(pwd); otherwise the text.
std::string ExpansionName(std::string_view e) {
  if (e.substr(0, 2) == "${") e.remove_prefix(2);
  if (e.substr(0, 2) == "$(") {
    std::string_view body = e.substr(2, e.size() >= 3 ? e.size() - 3 : 0);
    while (!body.empty() && body.front() == ' ') body.remove_prefix(1);
    while (!body.empty() && body.back() == ' ') body.remove_suffix(1);
    return body == "pwd" || body == "pwd -P" || body == "pwd -L" ? "pwd" : std::string(e);
  }
  if (!e.empty() && e.front() == '$') e.remove_prefix(1);
  size_t n = 0;
  while (n < e.size() && IsNameChar(e[n])) ++n;
  return std::string(e.substr(0, n));
}

bool IsGlobChar(char c) {
  return c == '*' || c == '?' || c == '[';
}

bool HasGlob(std::string_view comp) {
  return std::any_of(comp.begin(), comp.end(), IsGlobChar);
}

bool MayBeEmpty(std::string_view comp) {
  return !comp.empty() && comp.front() == kMayBeEmpty;
}

void Normalise(ShellPath& p, const std::vector<std::string>& raw) {
  std::vector<std::string> out;
  for (const std::string& comp : raw) {
    if (comp.empty() || comp == ".") continue;
    if (comp != "..") {
      out.push_back(comp);
    } else if (!out.empty() && out.back() != "..") {
      out.pop_back();
    } else if (p.base == ShellPath::Base::kHome) {
      // Above the home directory is where every home directory lives.
      p.base = ShellPath::Base::kAbsolute;
      out = {"home"};
    } else if (p.base != ShellPath::Base::kAbsolute) {
      out.push_back("..");
    }
  }
  p.parts = std::move(out);
}

bool IsOneOf(std::string_view s, std::initializer_list<std::string_view> names) {
  return std::find(names.begin(), names.end(), s) != names.end();
}

std::vector<std::string_view> Parts(const ShellPath& p, bool worst_case) {
  std::vector<std::string_view> out;
  for (const std::string& comp : p.parts) {
    if (worst_case && MayBeEmpty(comp)) continue;
    out.push_back(comp);
  }
  return out;
}

PathScope ScopeOf(const ShellPath& p, const std::vector<std::string_view>& parts) {
  using Base = ShellPath::Base;
  const bool absolute = p.base == Base::kAbsolute || (p.base == Base::kUnknown && p.unknown_rooted);
  if (p.base == Base::kUnknown && !p.unknown_rooted) return PathScope::kUnknown;
  if (absolute) {
    if (parts.empty() || HasGlob(parts[0])) return PathScope::kRoot;
    const std::string_view top = parts[0];
    if (IsOneOf(top, {"home", "Users"})) {
      if (parts.size() == 1 || (parts.size() == 2 && IsWildcard(parts[1]))) {
        return PathScope::kAllHomes;
      }
      return parts.size() == 2 ? PathScope::kUserHome : PathScope::kOther;
    }
    if (IsOneOf(top, {"bin",    "boot", "dev",  "etc",    "lib",     "lib32",        "lib64",
                      "libx32", "opt",  "proc", "root",   "sbin",    "srv",          "sys",
                      "usr",    "var",  "snap", "System", "Library", "Applications", "private"})) {
      // Scratch space inside system directories is anyone's to clean.
      const bool scratch =
          parts.size() >= 3 && IsOneOf(top, {"var", "private"}) && IsOneOf(parts[1], {"tmp"});
      return scratch ? PathScope::kOther : PathScope::kSystem;
    }
    return parts.size() == 1 ? PathScope::kTopLevel : PathScope::kOther;
  }
  const bool all_wild = std::all_of(parts.begin(), parts.end(), IsWildcard);
  if (p.base == Base::kHome) return all_wild ? PathScope::kUserHome : PathScope::kOther;
  const bool up_or_wild = std::all_of(
      parts.begin(), parts.end(), [](std::string_view c) { return c == ".." || IsWildcard(c); });
  return up_or_wild ? PathScope::kWorkingDir : PathScope::kOther;
}

}  // namespace

ShellPath ResolvePath(const Word& word, const ShellPath* dir) {
  using Base = ShellPath::Base;
  ShellPath p;
  const std::string& t = word.text;
  size_t i = 0;
  std::vector<std::string> raw;
  if (!t.empty() && t[0] == '~' && word.Bare(0)) {
    i = std::min(t.find('/'), t.size());
    const std::string user = t.substr(1, i - 1);
    p.base = user.empty() ? Base::kHome : Base::kAbsolute;
    if (user == "root") raw = {"root"};
    if (!user.empty() && user != "root") raw = {"home", user};
  } else if (const size_t n = ExpansionAt(word, 0); n > 0) {
    const std::string name = ExpansionName(std::string_view(t).substr(0, n));
    i = n;
    if (name == "HOME") {
      p.base = Base::kHome;
    } else if (name == "PWD" || name == "pwd") {
      p.base = Base::kRelative;
    } else {
      p.base = Base::kUnknown;
      p.unknown = t.substr(0, n);
      p.unknown_rooted = n < t.size() && t[n] == '/';
    }
  } else if (!t.empty() && t[0] == '/') {
    p.base = Base::kAbsolute;
  }

  while (i < t.size()) {
    size_t end = std::min(t.find('/', i), t.size());
    if (end > i) {
      std::string comp;
      const size_t n = ExpansionAt(word, i);
      if (n > 0 && i + n >= end) {
        end = std::max(end, i + n);  // an expansion like $(dirname "$x") may hold a '/'
        comp = kMayBeEmpty + t.substr(i, n);
        p.expands = true;
      } else {
        static constexpr char kQuoted[] = {'\x01', '\x02', '\x03'};
        for (size_t k = i; k < end; ++k) {
          char c = t[k];
          if (c == '$' && ExpansionAt(word, k) > 0) p.expands = true;
          if (IsGlobChar(c) && !word.Bare(k)) c = kQuoted[c == '*' ? 0 : c == '?' ? 1 : 2];
          comp.push_back(c);
        }
      }
      raw.push_back(std::move(comp));
    }
    i = end + 1;
  }

  if (dir != nullptr && p.base == Base::kRelative) {
    std::vector<std::string> combined = dir->parts;
    combined.insert(combined.end(), raw.begin(), raw.end());
    ShellPath out = *dir;
    out.expands = dir->expands || p.expands;
    Normalise(out, combined);
    return out;
  }
  Normalise(p, raw);
  return p;
}

std::string ShellPath::Display() const {
  std::string out;
  switch (base) {
    case Base::kAbsolute:
      out = "/";
      break;
    case Base::kHome:
      out = parts.empty() ? "~" : "~/";
      break;
    case Base::kUnknown:
      out = unknown + (unknown_rooted ? "/" : "");
      break;
    case Base::kRelative:
      if (parts.empty()) out = ".";
      break;
  }
  for (size_t k = 0; k < parts.size(); ++k) {
    if (k > 0) out.push_back('/');
    for (char c : parts[k]) {
      if (c == kMayBeEmpty) continue;
      out.push_back(c == '\x01' ? '*' : c == '\x02' ? '?' : c == '\x03' ? '[' : c);
    }
  }
  return out;
}

bool ShellPath::IsLiteral() const {
  return base != Base::kUnknown && !expands &&
         std::none_of(parts.begin(), parts.end(), [](const std::string& c) { return HasGlob(c); });
}

std::string_view ShellPath::Name() const {
  return parts.empty() ? std::string_view() : std::string_view(parts.back());
}

Word SubstituteVariables(const Word& word, const std::map<std::string, std::string>& vars) {
  Word out;
  out.quoted = word.quoted;
  out.command_substs = word.command_substs;
  out.process_substs = word.process_substs;
  const std::string& t = word.text;
  for (size_t k = 0; k < t.size();) {
    const size_t n = ExpansionAt(word, k);
    std::string_view e = std::string_view(t).substr(k, n);
    // Only plain $NAME and ${NAME}: ${NAME:-x} and friends are left alone.
    const bool plain =
        n > 1 && e[1] != '(' && (e[1] != '{' || ExpansionName(e).size() + 3 == e.size());
    const auto value = plain ? vars.find(ExpansionName(e)) : vars.end();
    if (value == vars.end()) {
      out.text.push_back(t[k]);
      out.quoting.push_back(word.quoting[k]);
      ++k;
      continue;
    }
    out.text += value->second;
    out.quoting.insert(out.quoting.end(), value->second.size(), word.quoting[k]);
    k += n;
  }
  return out;
}

PathClass Classify(const ShellPath& path) {
  const PathScope as_written = ScopeOf(path, Parts(path, false));
  const PathScope worst = ScopeOf(path, Parts(path, true));
  PathClass out{.scope = as_written, .empty_var = ""};
  // Only the outcomes nobody would accept are worth a warning about an empty variable.
  if (worst != as_written && (worst == PathScope::kRoot || worst == PathScope::kUserHome ||
                              worst == PathScope::kAllHomes)) {
    out.scope = worst;
    for (const std::string& comp : path.parts) {
      if (MayBeEmpty(comp)) {
        out.empty_var = comp.substr(1);
        break;
      }
    }
  }
  if (path.base == ShellPath::Base::kUnknown && path.unknown_rooted) {
    // "$DIR/lib" is /lib only if DIR is empty, and nobody writes that meaning /lib.
    if (out.scope != PathScope::kRoot) return {.scope = PathScope::kOther, .empty_var = ""};
    if (out.empty_var.empty()) out.empty_var = path.unknown;
  }
  return out;
}

bool IsWildcard(std::string_view component) {
  return component.find_first_of("*?") != std::string_view::npos &&
         component.find_first_not_of("*?.") == std::string_view::npos;
}

bool IsWide(PathScope scope) {
  return scope != PathScope::kOther && scope != PathScope::kUnknown;
}

std::string_view ScopeName(PathScope scope) {
  switch (scope) {
    case PathScope::kOther:
      return "a path";
    case PathScope::kUnknown:
      return "a path held in a variable";
    case PathScope::kRoot:
      return "the root directory";
    case PathScope::kTopLevel:
      return "a top-level directory";
    case PathScope::kSystem:
      return "a system directory";
    case PathScope::kAllHomes:
      return "every home directory";
    case PathScope::kUserHome:
      return "a home directory";
    case PathScope::kWorkingDir:
      return "the whole working directory";
  }
  return "a path";
}

bool IsDevice(const ShellPath& path) {
  return path.base == ShellPath::Base::kAbsolute && path.parts.size() >= 2 &&
         path.parts[0] == "dev";
}

bool IsHarmlessDevice(const ShellPath& path) {
  if (!IsDevice(path)) return false;
  const std::string_view name = path.parts[1];
  return (path.parts.size() == 2 && IsOneOf(name, {"null", "zero", "full", "random", "urandom",
                                                   "stdout", "stderr", "stdin", "tty"})) ||
         IsOneOf(name, {"fd", "pts"});
}

bool IsBlockDevice(const ShellPath& path) {
  if (!IsDevice(path)) return false;
  const std::string_view name = path.parts[1];
  if (IsOneOf(name, {"disk", "mapper"})) return true;
  for (std::string_view prefix :
       {"sd", "hd", "vd", "xvd", "nvme", "mmcblk", "disk", "rdisk", "md", "dm-", "nbd"}) {
    if (name.substr(0, prefix.size()) == prefix) return true;
  }
  return false;
}

bool IsCriticalFile(const ShellPath& path) {
  if (path.base != ShellPath::Base::kAbsolute || path.parts.empty()) return false;
  const std::vector<std::string>& p = path.parts;
  if (IsOneOf(p[0], {"boot", "efi"})) return true;
  if (p[0] != "etc" || p.size() < 2) return false;
  if (p.size() == 2) {
    return IsOneOf(p[1], {"passwd", "shadow", "group", "gshadow", "sudoers", "master.passwd",
                          "fstab", "crypttab"});
  }
  return IsOneOf(p[1], {"sudoers.d", "pam.d"}) || (p[1] == "default" && p[2] == "grub");
}

bool IsHistoryFile(const ShellPath& path) {
  if (path.base == ShellPath::Base::kUnknown && path.parts.empty()) {
    return ExpansionName(path.unknown) == "HISTFILE";
  }
  return IsOneOf(path.Name(), {".bash_history", ".zsh_history", ".zhistory", ".history",
                               ".sh_history", "fish_history"});
}

bool IsSystemPath(const ShellPath& path) {
  return path.base == ShellPath::Base::kAbsolute && Classify(path).scope == PathScope::kSystem;
}

bool IsKernelTrigger(const ShellPath& path) {
  return path.base == ShellPath::Base::kAbsolute && path.parts.size() == 2 &&
         path.parts[0] == "proc" && path.parts[1] == "sysrq-trigger";
}

std::optional<std::string> ConcretePath(const ShellPath& path, std::string_view cwd,
                                        std::string_view home) {
  if (!path.IsLiteral()) return std::nullopt;
  std::string out;
  if (path.base == ShellPath::Base::kRelative) out = cwd;
  if (path.base == ShellPath::Base::kHome) out = home;
  for (const std::string& comp : path.parts) {
    if (out.empty() || out.back() != '/') out.push_back('/');
    out += comp;
  }
  if (out.empty()) out = "/";
  return out;
}

bool IsOutside(const ShellPath& path, std::string_view cwd, std::string_view home) {
  using Base = ShellPath::Base;
  if (path.base == Base::kUnknown) return false;
  if (path.base == Base::kRelative) return !path.parts.empty() && path.parts[0] == "..";
  if (path.base == Base::kHome && home.empty()) return true;
  std::string full = path.base == Base::kHome ? std::string(home) : std::string();
  for (const std::string& comp : path.parts) full += "/" + comp;
  if (full.empty()) full = "/";
  if (cwd.empty()) return true;
  if (cwd == "/") return false;
  return !(full == cwd || (full.size() > cwd.size() && full.compare(0, cwd.size(), cwd) == 0 &&
                           full[cwd.size()] == '/'));
}

}  // namespace wick::shell
