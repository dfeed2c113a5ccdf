#include "shell/shell_context.h"

#include <fcntl.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>
#include <vector>

#include "core/ascii.h"

namespace wick::shell {
namespace {

std::string ErrnoText(int err) {
  return std::generic_category().message(err);
}

// A JSON string literal, for the examples in the prompt.
std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out + "\"";
}

// The value of `key` in os-release text: KEY=value, KEY="value" or KEY='value'.
std::string OsReleaseValue(std::string_view text, std::string_view key) {
  std::istringstream lines{std::string(text)};
  std::string line;
  while (std::getline(lines, line)) {
    const std::string_view l = TrimAscii(line);
    if (l.size() <= key.size() || l.substr(0, key.size()) != key || l[key.size()] != '=') {
      continue;
    }
    std::string_view v = l.substr(key.size() + 1);
    std::string out;
    if (!v.empty() && (v.front() == '"' || v.front() == '\'')) {
      const char quote = v.front();
      for (size_t k = 1; k < v.size() && v[k] != quote; ++k) {
        if (quote == '"' && v[k] == '\\' && k + 1 < v.size()) ++k;
        out.push_back(v[k]);
      }
    } else {
      out = std::string(v);
    }
    return out;
  }
  return "";
}

std::string ReadSmallFile(const char* path) {
  std::ifstream in(path);
  if (!in) return "";
  std::ostringstream text;
  text << in.rdbuf();
  return text.str().substr(0, 64 * 1024);
}

bool IsExecutable(const std::string& path) {
  return !path.empty() && access(path.c_str(), X_OK) == 0;
}

// `name` on $PATH, or "" when it is not there.
std::string FindOnPath(std::string_view name) {
  const char* path = std::getenv("PATH");
  std::string_view dirs = path != nullptr ? path : "/usr/bin:/bin";
  while (!dirs.empty()) {
    const size_t colon = std::min(dirs.find(':'), dirs.size());
    const std::string_view dir = dirs.substr(0, colon);
    if (!dir.empty()) {
      const std::string candidate = std::string(dir) + "/" + std::string(name);
      if (IsExecutable(candidate)) return candidate;
    }
    dirs.remove_prefix(colon == dirs.size() ? colon : colon + 1);
  }
  return "";
}

struct Example {
  std::string_view request;
  std::string_view posix_cmd;  // bash, zsh and sh
  std::string_view fish_cmd;
  std::string_view explanation;
};

constexpr Example kExamples[] = {
    {"find files over 100MB changed this week", "find . -type f -size +100M -mtime -7",
     "find . -type f -size +100M -mtime -7",
     "Lists regular files under the current directory larger than 100 MB and modified in the "
     "last 7 days."},
    {"what is listening on port 8080", "lsof -nP -iTCP:8080 -sTCP:LISTEN",
     "lsof -nP -iTCP:8080 -sTCP:LISTEN",
     "Shows the process listening on TCP port 8080, with numeric addresses and ports."},
    {"say which git branch I am on", "echo \"On branch $(git branch --show-current)\"",
     "echo \"On branch \"(git branch --show-current)",
     "Prints the name of the current git branch in a sentence."},
};

}  // namespace

std::string_view ShellName(ShellKind shell) {
  switch (shell) {
    case ShellKind::kBash:
      return "bash";
    case ShellKind::kZsh:
      return "zsh";
    case ShellKind::kFish:
      return "fish";
    case ShellKind::kSh:
      return "sh";
  }
  return "sh";
}

Result<ShellKind> ParseShellKind(std::string_view name) {
  std::string_view base = TrimAscii(name);
  const size_t slash = base.rfind('/');
  if (slash != std::string_view::npos) base = base.substr(slash + 1);
  if (!base.empty() && base.front() == '-') base.remove_prefix(1);  // a login shell: "-zsh"
  const std::string lower = AsciiLower(base);
  if (lower == "bash") return ShellKind::kBash;
  if (lower == "zsh") return ShellKind::kZsh;
  if (lower == "fish") return ShellKind::kFish;
  for (std::string_view sh : {"sh", "dash", "ash", "ksh", "mksh", "busybox", "posix"}) {
    if (lower == sh) return ShellKind::kSh;
  }
  return Error(ErrorCode::kInvalidArgument,
               "shell " + Quote(name) + " is not one of bash, zsh, fish, sh");
}

ShellKind DetectShell() {
  const char* shell = std::getenv("SHELL");
  if (shell == nullptr || *shell == '\0') return ShellKind::kBash;
  return ParseShellKind(shell).value_or(ShellKind::kSh);
}

std::string DescribeOs(std::string_view sysname, std::string_view release,
                       std::string_view os_release) {
  if (sysname == "Darwin") return "macOS";
  if (sysname == "Linux") {
    std::string distro = OsReleaseValue(os_release, "PRETTY_NAME");
    if (distro.empty()) distro = OsReleaseValue(os_release, "NAME");
    return distro.empty() ? "Linux" : "Linux (" + distro + ")";
  }
  if (release.empty()) return std::string(sysname);
  return std::string(sysname) + " " + std::string(release);
}

ShellContext CurrentShellContext(std::optional<ShellKind> override_shell) {
  ShellContext ctx;
  ctx.shell = override_shell.value_or(DetectShell());
  // $SHELL when it is the shell asked for, else that shell found on $PATH.
  if (const char* env_shell = std::getenv("SHELL"); env_shell != nullptr) {
    const Result<ShellKind> kind = ParseShellKind(env_shell);
    if (kind.ok() && *kind == ctx.shell && IsExecutable(env_shell)) ctx.shell_path = env_shell;
  }
  if (ctx.shell_path.empty()) ctx.shell_path = FindOnPath(ShellName(ctx.shell));
  if (ctx.shell_path.empty()) ctx.shell_path = "/bin/sh";

  utsname uts{};
  if (uname(&uts) == 0) {
    std::string os_release = ReadSmallFile("/etc/os-release");
    if (os_release.empty()) os_release = ReadSmallFile("/usr/lib/os-release");
    ctx.os = DescribeOs(uts.sysname, uts.release, os_release);
  } else {
    ctx.os = "Unix";
  }
  std::error_code ec;
  ctx.cwd = std::filesystem::current_path(ec).string();
  return ctx;
}

std::string CommandSystemPrompt(ShellKind shell, std::string_view os) {
  const std::string name(ShellName(shell));
  const bool mac = os.substr(0, 5) == "macOS";
  std::string p;
  p += "You turn a request into one shell command. The user runs " + name + " on " +
       std::string(os) + ".\n\n";
  p += "Answer with ONLY a JSON object, with no other text and no code fences:\n";
  p += "{\"cmd\": \"<one command>\", \"explanation\": \"<one or two sentences>\"}\n\n";
  p += "Rules:\n";
  p += "- \"cmd\" is exactly one command line in " + name +
       " syntax; pipes and && are fine, scripts and alternatives are not.\n";
  p += "- Prefer safe, read-only forms: list or count before deleting, never delete, move or "
       "overwrite anything the request did not ask for, and work in the current directory "
       "unless told otherwise.\n";
  p += mac ? "- Use the BSD tools that ship with macOS; prefer flags that GNU and BSD both "
             "accept.\n"
           : "- Use flags that work with the GNU tools on this system; prefer ones that GNU and "
             "BSD both accept.\n";
  p += "- Do not use sudo unless the task cannot be done without it.\n";
  p += "- \"explanation\" says in one or two sentences what the command does and anything to "
       "watch for.\n";
  p += "- If the request cannot be done with a command, answer with an empty \"cmd\" and say "
       "why in \"explanation\".\n\n";
  p += "Examples:\n";
  for (const Example& e : kExamples) {
    const std::string_view cmd = shell == ShellKind::kFish ? e.fish_cmd : e.posix_cmd;
    p += "Request: " + std::string(e.request) + "\n";
    p += "{\"cmd\": " + JsonString(cmd) + ", \"explanation\": " + JsonString(e.explanation) + "}\n";
  }
  return p;
}

std::string CommandUserMessage(const ShellContext& context, std::string_view request) {
  return "Working directory: " + context.cwd + "\nRequest: " + std::string(TrimAscii(request));
}

Result<int> RunInShell(const ShellContext& context, std::string_view command) {
  std::string shell = context.shell_path;
  if (shell.empty()) {
    const char* env = std::getenv("SHELL");
    shell = env != nullptr && *env != '\0' ? env : "/bin/sh";
  }
  // Everything the child needs is built before fork: after it only async-signal-safe calls.
  std::string dash_c = "-c";
  std::string text(command);
  std::vector<char*> argv = {shell.data(), dash_c.data(), text.data(), nullptr};

  // The child reports a failed exec through this pipe; a successful exec closes it.
  int report[2];
  if (pipe(report) != 0) return Error(ErrorCode::kIo, "pipe: " + ErrnoText(errno));
  fcntl(report[0], F_SETFD, FD_CLOEXEC);
  fcntl(report[1], F_SETFD, FD_CLOEXEC);

  // Like system(): Ctrl-C and Ctrl-\ go to the command, not to us while we wait for it.
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  sigemptyset(&ignore.sa_mask);
  struct sigaction old_int {};
  struct sigaction old_quit {};
  sigaction(SIGINT, &ignore, &old_int);
  sigaction(SIGQUIT, &ignore, &old_quit);
  auto restore = [&] {
    sigaction(SIGINT, &old_int, nullptr);
    sigaction(SIGQUIT, &old_quit, nullptr);
  };

  const pid_t pid = fork();
  if (pid < 0) {
    const int err = errno;
    restore();
    close(report[0]);
    close(report[1]);
    return Error(ErrorCode::kIo, "fork: " + ErrnoText(err));
  }
  if (pid == 0) {
    restore();
    close(report[0]);
    execvp(argv[0], argv.data());
    const int err = errno;
    ssize_t ignored = write(report[1], &err, sizeof(err));
    (void)ignored;
    _exit(127);
  }

  close(report[1]);
  int exec_errno = 0;
  ssize_t got = 0;
  do {
    got = read(report[0], &exec_errno, sizeof(exec_errno));
  } while (got < 0 && errno == EINTR);
  close(report[0]);

  int status = 0;
  pid_t waited = 0;
  do {
    waited = waitpid(pid, &status, 0);
  } while (waited < 0 && errno == EINTR);
  const int wait_errno = errno;
  restore();

  if (got == static_cast<ssize_t>(sizeof(exec_errno))) {
    return Error(exec_errno == ENOENT ? ErrorCode::kNotFound : ErrorCode::kIo,
                 "shell " + Quote(shell) + ": " + ErrnoText(exec_errno));
  }
  if (waited < 0) return Error(ErrorCode::kIo, "waitpid: " + ErrnoText(wait_errno));
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return Error(ErrorCode::kIo, "shell " + Quote(shell) + ": unexpected wait status");
}

}  // namespace wick::shell
