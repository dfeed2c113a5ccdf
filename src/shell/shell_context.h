// What `wick cmd` tells the model about the user's shell and system, and how it runs the
// command the user accepts.
//
// The system prompt depends only on the shell and the OS, never on the working directory or
// the time: its KV state is cached to disk and reused across calls, so everything that
// changes per call (the working directory, the request) goes in the user message.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"

namespace wick::shell {

enum class ShellKind { kBash, kZsh, kFish, kSh };

// "bash", "zsh", "fish", "sh".
std::string_view ShellName(ShellKind shell);

// A shell's name or path: "bash", "/usr/bin/zsh", "-zsh" (a login shell), "fish", "sh";
// dash, ash, ksh, mksh and busybox count as sh.
Result<ShellKind> ParseShellKind(std::string_view name);

// The shell in $SHELL: bash when $SHELL is unset or empty, sh when it names a shell this
// does not know (tcsh, nu).
ShellKind DetectShell();

struct ShellContext {
  ShellKind shell = ShellKind::kBash;
  std::string shell_path;  // the shell's executable: $SHELL, or found on $PATH
  std::string os;          // "Linux (Debian GNU/Linux 12 (bookworm))", "macOS"
  std::string cwd;
};

// The shell (`override`, else DetectShell()), its executable, the OS and the working directory.
ShellContext CurrentShellContext(std::optional<ShellKind> override_shell = std::nullopt);

// The OS as the prompt names it, from uname's sysname and release and the text of
// /etc/os-release (empty when absent): "Linux (Ubuntu 24.04 LTS)", "macOS", "FreeBSD 14.0".
std::string DescribeOs(std::string_view sysname, std::string_view release,
                       std::string_view os_release);

// The fixed system prompt: answer with one JSON object {"cmd": ..., "explanation": ...}
// holding one command for `shell` on `os`, with a few examples.
std::string CommandSystemPrompt(ShellKind shell, std::string_view os);

// The per-call user message: the working directory and the request.
std::string CommandUserMessage(const ShellContext& context, std::string_view request);

// Runs `command` with `context.shell_path -c command` (or $SHELL, or /bin/sh), with this
// process' stdin, stdout and stderr, and waits for it. Returns its exit status, or 128 plus
// the signal that killed it; an error when the shell cannot be started.
Result<int> RunInShell(const ShellContext& context, std::string_view command);

}  // namespace wick::shell
