// The shell context of `wick cmd`: naming shells, describing the OS, the prompts (the system
// prompt must not change from call to call), and running a command in the user's shell.
#include "shell/shell_context.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "test_support.h"

namespace wick::shell {
namespace {

TEST(ShellContextTest, ParsesShellNames) {
  EXPECT_EQ(*ParseShellKind("bash"), ShellKind::kBash);
  EXPECT_EQ(*ParseShellKind("/usr/bin/zsh"), ShellKind::kZsh);
  EXPECT_EQ(*ParseShellKind("-zsh"), ShellKind::kZsh);
  EXPECT_EQ(*ParseShellKind("/opt/homebrew/bin/fish"), ShellKind::kFish);
  EXPECT_EQ(*ParseShellKind("sh"), ShellKind::kSh);
  EXPECT_EQ(*ParseShellKind("/bin/dash"), ShellKind::kSh);
  EXPECT_EQ(*ParseShellKind("ksh"), ShellKind::kSh);
  EXPECT_EQ(*ParseShellKind("BASH"), ShellKind::kBash);
  const Result<ShellKind> bad = ParseShellKind("/bin/tcsh");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(bad.error().message().find("tcsh"), std::string::npos);
  EXPECT_FALSE(ParseShellKind("").ok());
  for (ShellKind k : {ShellKind::kBash, ShellKind::kZsh, ShellKind::kFish, ShellKind::kSh}) {
    EXPECT_EQ(*ParseShellKind(ShellName(k)), k);
  }
}

TEST(ShellContextTest, DetectsTheShellFromTheEnvironment) {
  {
    testing::ScopedEnv shell("SHELL", "/usr/bin/zsh");
    EXPECT_EQ(DetectShell(), ShellKind::kZsh);
  }
  {
    testing::ScopedEnv shell("SHELL", "/usr/local/bin/fish");
    EXPECT_EQ(DetectShell(), ShellKind::kFish);
  }
  {
    testing::ScopedEnv shell("SHELL", nullptr);
    EXPECT_EQ(DetectShell(), ShellKind::kBash);
  }
  {
    testing::ScopedEnv shell("SHELL", "");
    EXPECT_EQ(DetectShell(), ShellKind::kBash);
  }
  {
    testing::ScopedEnv shell("SHELL", "/usr/bin/nu");
    EXPECT_EQ(DetectShell(), ShellKind::kSh);
  }
}

TEST(ShellContextTest, DescribesTheOs) {
  const char* debian =
      "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nID=debian\n";
  EXPECT_EQ(DescribeOs("Linux", "6.1.0", debian), "Linux (Debian GNU/Linux 12 (bookworm))");
  EXPECT_EQ(DescribeOs("Linux", "6.1.0", "NAME=Alpine\n"), "Linux (Alpine)");
  EXPECT_EQ(DescribeOs("Linux", "6.1.0", "PRETTY_NAME='Arch Linux'\n"), "Linux (Arch Linux)");
  EXPECT_EQ(DescribeOs("Linux", "6.1.0", ""), "Linux");
  EXPECT_EQ(DescribeOs("Darwin", "23.1.0", ""), "macOS");
  EXPECT_EQ(DescribeOs("FreeBSD", "14.0-RELEASE", ""), "FreeBSD 14.0-RELEASE");
}

TEST(ShellContextTest, DescribesThisMachine) {
  const ShellContext ctx = CurrentShellContext(ShellKind::kSh);
  EXPECT_EQ(ctx.shell, ShellKind::kSh);
  EXPECT_EQ(access(ctx.shell_path.c_str(), X_OK), 0) << ctx.shell_path;
  EXPECT_EQ(ctx.cwd, std::filesystem::current_path().string());
  EXPECT_FALSE(ctx.os.empty());
#ifdef __linux__
  EXPECT_EQ(ctx.os.substr(0, 5), "Linux");
#endif
  {
    testing::ScopedEnv shell("SHELL", "/bin/sh");
    const ShellContext from_env = CurrentShellContext();
    EXPECT_EQ(from_env.shell, ShellKind::kSh);
    EXPECT_EQ(from_env.shell_path, "/bin/sh");
  }
}

TEST(ShellContextTest, SystemPromptIsFixedAndAsksForJson) {
  const std::string os = "Linux (Debian GNU/Linux 12 (bookworm))";
  const std::string bash = CommandSystemPrompt(ShellKind::kBash, os);
  EXPECT_EQ(bash, CommandSystemPrompt(ShellKind::kBash, os));  // cacheable
  EXPECT_NE(bash.find("ONLY a JSON object"), std::string::npos);
  EXPECT_NE(bash.find("{\"cmd\": "), std::string::npos);
  EXPECT_NE(bash.find("\"explanation\""), std::string::npos);
  EXPECT_NE(bash.find("bash"), std::string::npos);
  EXPECT_NE(bash.find(os), std::string::npos);
  EXPECT_NE(bash.find("sudo"), std::string::npos);
  EXPECT_NE(bash.find("read-only"), std::string::npos);
  EXPECT_EQ(bash.find(std::filesystem::current_path().string()), std::string::npos);
  size_t examples = 0;
  for (size_t k = bash.find("Request:"); k != std::string::npos; k = bash.find("Request:", k + 1)) {
    ++examples;
  }
  EXPECT_GE(examples, 2u);
  EXPECT_LE(examples, 3u);
  // The examples are written in the shell's own syntax.
  EXPECT_NE(bash.find("$(git branch --show-current)"), std::string::npos);
  const std::string fish = CommandSystemPrompt(ShellKind::kFish, os);
  EXPECT_NE(fish.find("fish"), std::string::npos);
  EXPECT_EQ(fish.find("$(git"), std::string::npos);
  EXPECT_NE(fish.find("(git branch --show-current)"), std::string::npos);
  EXPECT_NE(CommandSystemPrompt(ShellKind::kZsh, "macOS").find("BSD"), std::string::npos);
}

TEST(ShellContextTest, UserMessageCarriesTheWorkingDirectory) {
  ShellContext ctx;
  ctx.cwd = "/home/me/project";
  const std::string message = CommandUserMessage(ctx, "  find big files\n");
  EXPECT_NE(message.find("/home/me/project"), std::string::npos);
  EXPECT_NE(message.find("find big files"), std::string::npos);
  EXPECT_EQ(CommandSystemPrompt(ShellKind::kBash, "Linux").find("/home/me/project"),
            std::string::npos);
}

ShellContext ShContext() {
  ShellContext ctx;
  ctx.shell = ShellKind::kSh;
  ctx.shell_path = "/bin/sh";
  return ctx;
}

TEST(RunInShellTest, ReturnsTheExitStatus) {
  const Result<int> three = RunInShell(ShContext(), "exit 3");
  ASSERT_TRUE(three.ok()) << three.error().message();
  EXPECT_EQ(*three, 3);
  EXPECT_EQ(*RunInShell(ShContext(), "true"), 0);
  EXPECT_EQ(*RunInShell(ShContext(), "false && true"), 1);
}

TEST(RunInShellTest, ReportsTheSignalThatKilledIt) {
  const Result<int> killed = RunInShell(ShContext(), "kill -9 $$");
  ASSERT_TRUE(killed.ok()) << killed.error().message();
  EXPECT_EQ(*killed, 128 + 9);
}

TEST(RunInShellTest, WritesWhereTheCommandSays) {
  testing::TempDir dir;
  const std::string file = dir.File("out.txt").string();
  const Result<int> status =
      RunInShell(ShContext(), "printf 'hello %s\\n' \"$(echo world)\" > '" + file + "'");
  ASSERT_TRUE(status.ok()) << status.error().message();
  EXPECT_EQ(*status, 0);
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), "hello world\n");
}

TEST(RunInShellTest, InheritsStandardOutput) {
  // The child writes to our stdout, which is pointed at a file for the length of the run.
  testing::TempDir dir;
  const std::string file = dir.File("stdout.txt").string();
  fflush(stdout);
  const int saved = dup(STDOUT_FILENO);
  ASSERT_GE(saved, 0);
  FILE* out = fopen(file.c_str(), "w");
  ASSERT_NE(out, nullptr);
  dup2(fileno(out), STDOUT_FILENO);
  const Result<int> status = RunInShell(ShContext(), "echo inherited");
  fflush(stdout);
  dup2(saved, STDOUT_FILENO);
  close(saved);
  fclose(out);
  ASSERT_TRUE(status.ok());
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), "inherited\n");
}

TEST(RunInShellTest, FallsBackToShellVariable) {
  testing::ScopedEnv shell("SHELL", "/bin/sh");
  ShellContext ctx;  // no shell_path
  EXPECT_EQ(*RunInShell(ctx, "exit 7"), 7);
}

TEST(RunInShellTest, FailsWhenTheShellIsMissing) {
  ShellContext ctx = ShContext();
  ctx.shell_path = "/nonexistent/wick-shell";
  const Result<int> status = RunInShell(ctx, "exit 0");
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(status.error().message().find("/nonexistent/wick-shell"), std::string::npos);
}

}  // namespace
}  // namespace wick::shell
