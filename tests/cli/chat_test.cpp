// `wick chat` driven through standard input: answers stream, later turns reuse the cache,
// commands work, and the saved conversation holds every message.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "test_support.h"

namespace wick {
namespace {

TEST(ChatTest, TurnsReuseTheCacheAndTheConversationSaves) {
  WICK_REQUIRE_SHARED(shared);
  testing::TempDir dir;
  const std::string saved = dir.File("chat.json").string();
  testing::CommandResult r =
      testing::RunWickWithInput({"chat", "-m", (shared / "models/stories260K.gguf").string(),
                                 "--temp", "0", "-n", "12", "-c", "512", "--timings"},
                                "Once upon a time\nThe dog ran\n/save " + saved + "\n/exit\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("no chat template; using ChatML"), std::string::npos) << r.err;
  // Two answers; the second turn found the first turn (and the answer) in the cache.
  EXPECT_NE(r.err.find("(0 reused)"), std::string::npos) << r.err;
  const size_t second = r.err.find("wick: prompt", r.err.find("(0 reused)"));
  ASSERT_NE(second, std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("(0 reused)", second), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("(saved 4 messages"), std::string::npos) << r.out;

  std::ifstream in(saved);
  nlohmann::json messages = nlohmann::json::parse(in);
  ASSERT_EQ(messages.size(), 4u);
  EXPECT_EQ(messages[0]["role"], "user");
  EXPECT_EQ(messages[0]["content"], "Once upon a time");
  EXPECT_EQ(messages[1]["role"], "assistant");
  EXPECT_FALSE(messages[1]["content"].get<std::string>().empty());
  // The answer printed is the one recorded.
  EXPECT_NE(r.out.find(messages[1]["content"].get<std::string>()), std::string::npos);
}

TEST(ChatTest, ResetAndSystemStartOver) {
  WICK_REQUIRE_SHARED(shared);
  testing::TempDir dir;
  const std::string saved = dir.File("chat.json").string();
  testing::CommandResult r = testing::RunWickWithInput(
      {"chat", "-m", (shared / "models/stories260K.gguf").string(), "--temp", "0", "-n", "4"},
      "Hello\n/reset\n/system Be brief.\nHi\n/save " + saved + "\n/help\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("(conversation cleared)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("commands: /reset"), std::string::npos) << r.out;
  std::ifstream in(saved);
  nlohmann::json messages = nlohmann::json::parse(in);
  ASSERT_EQ(messages.size(), 3u);
  EXPECT_EQ(messages[0]["role"], "system");
  EXPECT_EQ(messages[0]["content"], "Be brief.");
  EXPECT_EQ(messages[1]["content"], "Hi");
}

TEST(ChatTest, MissingModelIsAOneLineError) {
  testing::CommandResult r = testing::RunWickWithInput({"chat", "-m", "/nonexistent.gguf"}, "");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;
}

}  // namespace
}  // namespace wick
