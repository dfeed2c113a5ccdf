// What a shell word names as a path, worked out without running or expanding anything, for
// the rules of shell/command_risk.h: `~`, `$HOME` and `"${HOME}"` are the home directory,
// `/usr/../` is `/`, `*` is every name in a directory while `'*'` is a file called "*", and
// `cd / && rm -rf *` deletes `/*`.
//
// Unknown expansions are kept: a path that starts with one (`"$DIR"/*`) becomes everything
// under `/` when the variable is empty, and a component that is only an expansion
// (`~/$NAME`) may vanish the same way; Classify reports such worst cases as `if_empty`.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shell/shell_parser.h"

namespace wick::shell {

struct ShellPath {
  enum class Base {
    kRelative,  // to the working directory
    kAbsolute,
    kHome,     // ~, $HOME
    kUnknown,  // starts with an unknown expansion: "$DIR", "$(mktemp -d)"
  };
  Base base = Base::kRelative;
  // Normalised components (no "." and no ".." that could be folded). A glob byte that was
  // quoted is stored as \x01 (*), \x02 (?) or \x03 ([); a component that is nothing but an
  // expansion, and so may be empty, starts with \x04.
  std::vector<std::string> parts;
  std::string unknown;          // kUnknown: the expansion it starts with, as written
  bool unknown_rooted = false;  // kUnknown followed by '/': "$DIR/x" is "/x" if DIR is empty
  bool expands = false;         // some component holds an expansion ("log-$DATE")

  // For messages: "/usr/lib", "~/.cache", "./build", "$DIR/x".
  std::string Display() const;
  // No globs and no expansions: it names exactly one file.
  bool IsLiteral() const;
  // The final component, or "" for "/", "~" and ".".
  std::string_view Name() const;
};

// `word` as a path; relative words are resolved against `dir` (where an earlier `cd` on the
// same line went) when it is given.
ShellPath ResolvePath(const Word& word, const ShellPath* dir = nullptr);

// `word` with $NAME and ${NAME} replaced by the values in `vars` (variables assigned earlier on
// the line). The inserted bytes are quoted as the expansion was: `$X` with X='*' globs,
// `"$X"` does not.
Word SubstituteVariables(const Word& word, const std::map<std::string, std::string>& vars);

// How much a path covers, from a deletion's point of view.
enum class PathScope {
  kOther,       // something specific: ./build, /tmp/x, ~/project
  kUnknown,     // an expansion whose value is unknown: "$DIR"
  kRoot,        // /, /*, or a glob at the top of / (/u*)
  kTopLevel,    // a directory right under /: /mnt, /data
  kSystem,      // a system directory or anything in it: /usr, /etc/ssh, /var/lib
  kAllHomes,    // /home, /home/*, /Users
  kUserHome,    // ~, ~/*, $HOME, /home/alice
  kWorkingDir,  // ., .., *, ./*, .*, ../..: the whole working directory or its parent
};

struct PathClass {
  PathScope scope = PathScope::kOther;
  std::string empty_var;  // set when `scope` is the worst case of this expansion being empty
};

PathClass Classify(const ShellPath& path);

// `*`, `.*`, `*.*`: a component that matches (nearly) every name in a directory.
bool IsWildcard(std::string_view component);

// A scope that no recursive operation should touch without a clear confirmation.
bool IsWide(PathScope scope);
// "the root directory", "a system directory", ...
std::string_view ScopeName(PathScope scope);

bool IsDevice(const ShellPath& path);          // anything under /dev
bool IsHarmlessDevice(const ShellPath& path);  // /dev/null, /dev/stdout, /dev/tty ...
bool IsBlockDevice(const ShellPath& path);     // /dev/sda, /dev/nvme0n1, /dev/disk2 ...
bool IsCriticalFile(const ShellPath& path);    // /etc/passwd, /etc/sudoers, /boot/...
bool IsHistoryFile(const ShellPath& path);     // ~/.bash_history, $HISTFILE ...
bool IsSystemPath(const ShellPath& path);      // under /usr, /etc, ... (kSystem)
bool IsKernelTrigger(const ShellPath& path);   // /proc/sysrq-trigger

// The file a literal path names, with `~` from `home`; nullopt for globs and expansions.
std::optional<std::string> ConcretePath(const ShellPath& path, std::string_view cwd,
                                        std::string_view home);
// Outside `cwd`: absolute or home paths elsewhere, or a relative path starting with "..".
bool IsOutside(const ShellPath& path, std::string_view cwd, std::string_view home);

}  // namespace wick::shell
