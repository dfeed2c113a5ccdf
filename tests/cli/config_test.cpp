// `wick config check|show`: the summary line, errors with the key and line, a missing default
// file, and secrets masked in `show`.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <iterator>

#include "test_support.h"

namespace wick {
namespace {

using testing::RunWick;

constexpr const char* kGood = R"toml([local]
model_path = "/models/x.gguf"

[[remote]]
name = "hf"
provider = "huggingface"
api_key_env = "WICK_CLI_TEST_HF_TOKEN"

[fallback]
strategy = "cost_optimized"
)toml";

void Write(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path) << text;
}

TEST(ConfigCommandTest, CheckAcceptsAGoodFile) {
  testing::TempDir dir;
  Write(dir.File("wick.toml"), kGood);
  testing::CommandResult r = RunWick({"config", "check", "--config", dir.File("wick.toml")});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, dir.File("wick.toml").string() +
                       ": ok (2 providers: local, hf; strategy cost_optimized)\n");
}

TEST(ConfigCommandTest, CheckNamesTheUnknownKeyAndLine) {
  testing::TempDir dir;
  Write(dir.File("wick.toml"), std::string(kGood) + "\n[performance]\ncache_tl = \"1h\"\n");
  testing::CommandResult r = RunWick({"config", "check", "--config", dir.File("wick.toml")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err.rfind("wick: error: " + dir.File("wick.toml").string() + ":13:1: ", 0), 0u)
      << r.err;
  EXPECT_NE(r.err.find("performance.cache_tl: unknown key"), std::string::npos) << r.err;
}

TEST(ConfigCommandTest, MissingDefaultFileIsAnError) {
  testing::TempDir dir;
  setenv("XDG_CONFIG_HOME", dir.path().c_str(), 1);
  testing::CommandResult r = RunWick({"config", "check"});
  unsetenv("XDG_CONFIG_HOME");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find((dir.path() / "wick" / "config.toml").string()), std::string::npos) << r.err;
}

TEST(ConfigCommandTest, ShowMasksSecrets) {
  testing::TempDir dir;
  Write(dir.File("wick.toml"), kGood);
  setenv("WICK_CLI_TEST_HF_TOKEN", "hf_topsecret", 1);
  testing::CommandResult r = RunWick({"config", "show", "--config", dir.File("wick.toml")});
  unsetenv("WICK_CLI_TEST_HF_TOKEN");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find("hf_topsecret"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("api_key_env = \"WICK_CLI_TEST_HF_TOKEN\"  # *** (set)"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("api_endpoint = \"https://router.huggingface.co/v1\""), std::string::npos)
      << r.out;

  // What `show` prints is itself a valid config.
  Write(dir.File("shown.toml"), r.out);
  r = RunWick({"config", "check", "--config", dir.File("shown.toml")});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

// The worked example in docs/providers.md is a valid config (its paths and keys need not exist).
TEST(ConfigCommandTest, TheDocumentedExampleChecks) {
  std::ifstream in(std::filesystem::path(WICK_SOURCE_DIR) / "docs/providers.md");
  const std::string doc((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t begin = doc.find("```toml\n");
  ASSERT_NE(begin, std::string::npos);
  const size_t end = doc.find("```", begin + 8);
  ASSERT_NE(end, std::string::npos);
  testing::TempDir dir;
  Write(dir.File("example.toml"), doc.substr(begin + 8, end - begin - 8));
  testing::CommandResult r = RunWick({"config", "check", "--config", dir.File("example.toml")});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("3 providers: local, gpu-box, hf"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace wick
