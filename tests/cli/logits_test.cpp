// `wick logits` and `wick perplexity` end to end against the reference numbers in
// ../shared/golden.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "test_support.h"

namespace wick {
namespace {

using nlohmann::json;
using testing::RunWick;

TEST(LogitsTest, MatchesTheGoldenFile) {
  WICK_REQUIRE_SHARED(shared);
  std::vector<uint8_t> raw = testing::ReadFileBytes(shared / "golden/stories260K/once.json");
  json ref = json::parse(std::string(raw.begin(), raw.end()));
  testing::CommandResult r =
      RunWick({"logits", "-m", (shared / "models/stories260K.gguf").string(), "-p",
               ref["prompt"].get<std::string>(), "--top", "10", "--greedy", "16"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json got = json::parse(r.out);
  EXPECT_EQ(got["prompt_tokens"], ref["prompt_tokens"]);
  EXPECT_EQ(got["n_vocab"], ref["n_vocab"]);
  std::vector<int> want_greedy = ref["greedy"].get<std::vector<int>>();
  want_greedy.resize(16);
  EXPECT_EQ(got["greedy"].get<std::vector<int>>(), want_greedy);
  ASSERT_EQ(got["positions"].size(), ref["positions"].size());
  for (size_t p = 0; p < ref["positions"].size(); ++p) {
    const json& want = ref["positions"][p]["top"];
    const json& have = got["positions"][p]["top"];
    EXPECT_EQ(have[0][0], want[0][0]) << "position " << p;
    for (size_t i = 0; i < want.size(); ++i) {
      EXPECT_NEAR(have[i][1].get<double>(), want[i][1].get<double>(), 0.10) << p << "," << i;
    }
  }
}

// Every row of the reference table in golden/perplexity.md, within 0.5 %.
TEST(PerplexityTest, AgreesWithTheReferenceTable) {
  WICK_REQUIRE_SHARED(shared);
  std::ifstream md(shared / "golden/perplexity.md");
  std::regex row(R"(^\|\s*(\S+\.gguf)\s*\|\s*(\S+)\s*\|\s*(\d+)\s*\|\s*([\d.]+)\s*\|)");
  std::string line;
  int rows = 0;
  while (std::getline(md, line)) {
    std::smatch m;
    if (!std::regex_search(line, m, row)) continue;
    ++rows;
    testing::CommandResult r = RunWick({"perplexity", "-m", (shared / m[1].str()).string(), "-f",
                                        (shared / m[2].str()).string(), "--ctx-size", m[3].str()},
                                       300);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::smatch value;
    ASSERT_TRUE(std::regex_search(r.out, value, std::regex(R"(perplexity: ([\d.]+))"))) << r.out;
    const double want = std::stod(m[4].str());
    EXPECT_NEAR(std::stod(value[1].str()), want, want * 0.005) << line;
  }
  EXPECT_GT(rows, 0);
}

TEST(PerplexityTest, TooShortTextIsAnError) {
  WICK_REQUIRE_SHARED(shared);
  testing::TempDir tmp;
  testing::WriteFileBytes(tmp.File("short.txt"), {'h', 'i'});
  testing::CommandResult r =
      RunWick({"perplexity", "-m", (shared / "models/stories260K.gguf").string(), "-f",
               tmp.File("short.txt").string(), "--ctx-size", "128"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("fewer than one window"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace wick
