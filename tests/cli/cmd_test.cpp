// `wick cmd` end to end: a shared random-weight model answers with JSON of the constrained
// shape, the command is risk-rated, nothing runs with --dry-run, the system prompt's state is
// saved and then restored; the same through a remote provider (another wick server).
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "server/serve_process.h"
#include "test_support.h"

namespace wick::testing {
namespace {

std::string Tiny(const std::filesystem::path& shared) {
  return (shared / "models" / "synthetic" / "tiny2-q4_k_m.gguf").string();
}

// Sampling with a fixed seed: random weights write noise, and this seed closes both strings
// well within the limit on this model, for the prompt that ScopedCwd fixes.
const std::vector<std::string> kSampling = {"--temp", "1", "--seed", "2", "-n", "900"};

// The prompt names the working directory, so a clone elsewhere would give the random model
// another prompt, and other noise; every run here starts in "/".
class ScopedCwd {
 public:
  explicit ScopedCwd(const std::filesystem::path& dir) : old_(std::filesystem::current_path()) {
    std::filesystem::current_path(dir);
  }
  ~ScopedCwd() { std::filesystem::current_path(old_); }
  ScopedCwd(const ScopedCwd&) = delete;
  ScopedCwd& operator=(const ScopedCwd&) = delete;

 private:
  std::filesystem::path old_;
};

nlohmann::json ParseAnswer(const CommandResult& r) {
  const auto json = nlohmann::json::parse(r.out, nullptr, false);
  EXPECT_FALSE(json.is_discarded()) << r.out << r.err;
  return json;
}

TEST(CmdTest, LocalModelAnswersWithARatedCommandAndReusesTheSystemPrompt) {
  WICK_REQUIRE_SHARED(shared);
  TempDir cache;
  ScopedEnv cache_dir("WICK_CACHE_DIR", cache.path().c_str());
  ScopedCwd cwd("/");
  std::vector<std::string> args = {"cmd", "-m", Tiny(shared), "--dry-run", "--json", "--run"};
  args.insert(args.end(), kSampling.begin(), kSampling.end());
  args.push_back("list the files in this folder");

  const CommandResult first = RunWick(args);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  const nlohmann::json a = ParseAnswer(first);
  ASSERT_TRUE(a.is_object());
  EXPECT_TRUE(a["cmd"].is_string() && !a["cmd"].get<std::string>().empty()) << first.out;
  EXPECT_TRUE(a["explanation"].is_string()) << first.out;
  const std::string risk = a["risk"].get<std::string>();
  EXPECT_TRUE(risk == "safe" || risk == "caution" || risk == "dangerous") << risk;
  EXPECT_FALSE(a["timings"]["state_restored"].get<bool>());
  EXPECT_GT(a["timings"]["generated_tokens"].get<int>(), 0);
  // The state file is there now, and the second call restores instead of evaluating.
  ASSERT_TRUE(std::filesystem::exists(cache.path() / "prompt-state"));
  const CommandResult second = RunWick(args);
  ASSERT_EQ(second.exit_code, 0) << second.err;
  const nlohmann::json b = ParseAnswer(second);
  EXPECT_TRUE(b["timings"]["state_restored"].get<bool>()) << second.out;
  EXPECT_GT(b["timings"]["cached_tokens"].get<int>(), 100);
  EXPECT_EQ(b["cmd"], a["cmd"]);  // same seed, same restored state: same answer
}

TEST(CmdTest, HumanReadableOutputAndStdinRequest) {
  WICK_REQUIRE_SHARED(shared);
  TempDir cache;
  ScopedEnv cache_dir("WICK_CACHE_DIR", cache.path().c_str());
  ScopedCwd cwd("/");
  std::vector<std::string> args = {"cmd",       "-m",      Tiny(shared), "--no-cache",
                                   "--timings", "--shell", "fish"};
  args.insert(args.end(), kSampling.begin(), kSampling.end());
  const CommandResult r = RunWickWithInput(args, "list the files in this folder\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("risk: "), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("wick: load "), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(cache.path() / "prompt-state"));  // --no-cache
}

TEST(CmdTest, BadInputIsAOneLineError) {
  WICK_REQUIRE_SHARED(shared);
  const CommandResult empty = RunWickWithInput({"cmd", "-m", Tiny(shared)}, "  \n");
  EXPECT_EQ(empty.exit_code, 1);
  EXPECT_NE(empty.err.find("say what the command should do"), std::string::npos) << empty.err;
  const CommandResult shell = RunWick({"cmd", "-m", Tiny(shared), "--shell", "cmd.exe", "ls"});
  EXPECT_EQ(shell.exit_code, 1);
  EXPECT_NE(shell.err.find("cmd.exe"), std::string::npos) << shell.err;
  const CommandResult missing = RunWick({"cmd", "-m", "/nonexistent/model.gguf", "ls"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("/nonexistent/model.gguf"), std::string::npos) << missing.err;
}

// The request goes to another wick server as an OpenAI-compatible remote, with
// response_format json_schema: the remote's grammar makes the answer valid.
TEST(CmdTest, RemoteProviderAnswersThroughResponseFormat) {
  WICK_REQUIRE_SHARED(shared);
  ServeProcess server({"-m", Tiny(shared), "--alias", "tiny", "--ctx-size", "2048"});
  ASSERT_TRUE(server.ready()) << server.Log();
  TempDir dir;
  const auto config = dir.File("providers.toml");
  std::ofstream(config) << "[[remote]]\nname = \"box\"\nprovider = \"wick\"\n"
                        << "api_endpoint = \"http://127.0.0.1:" << server.port() << "/v1\"\n"
                        << "models = [\"tiny\"]\ncontext_length = 2048\n";
  ScopedCwd cwd("/");
  std::vector<std::string> args = {"cmd", "--config", config.string(), "--dry-run", "--json"};
  args.insert(args.end(), kSampling.begin(), kSampling.end());
  args.push_back("list the files in this folder");
  const CommandResult r = RunWick(args);
  ASSERT_EQ(r.exit_code, 0) << r.err << server.Log();
  const nlohmann::json a = ParseAnswer(r);
  EXPECT_TRUE(a["cmd"].is_string() && !a["cmd"].get<std::string>().empty()) << r.out;
  EXPECT_NE(a["model"].get<std::string>().find("box"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace wick::testing
