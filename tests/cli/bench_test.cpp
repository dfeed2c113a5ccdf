// `wick synth` and `wick bench` end to end on the tiny preset.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "test_support.h"

namespace wick {
namespace {

using testing::RunWick;

class BenchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::CommandResult r =
        RunWick({"synth", "--preset", "tiny", "--type", "q4_0", "-o", model_.string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("preset tiny, Q4_0 weights"), std::string::npos) << r.out;
  }

  testing::TempDir dir_;
  std::filesystem::path model_ = dir_.File("tiny.gguf");
};

TEST_F(BenchTest, InspectReadsTheSyntheticModel) {
  testing::CommandResult r = RunWick({"inspect", model_.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("llama.embedding_length                      256"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("tokenizer       llama, 32000 tokens"), std::string::npos) << r.out;
}

TEST_F(BenchTest, MarkdownTableHasBothTestsAndTheBandwidth) {
  testing::CommandResult r =
      RunWick({"bench", "-m", model_.string(), "-p", "32", "-n", "8", "-r", "2", "-t", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("| model "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("| llama 20M Q4_0"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("19.53 M"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("pp32"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("tg8"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" ± "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("GB of weights per token"), std::string::npos) << r.out;
}

TEST_F(BenchTest, JsonUsesLlamaBenchFieldNames) {
  testing::CommandResult r = RunWick({"bench", "-m", model_.string(), "-p", "16", "-n", "4", "-r",
                                      "3", "-t", "1", "--json", "--device", "cpu"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  ASSERT_TRUE(j.is_array());
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[0]["n_prompt"], 16);
  EXPECT_EQ(j[0]["n_gen"], 0);
  EXPECT_EQ(j[1]["n_prompt"], 0);
  EXPECT_EQ(j[1]["n_gen"], 4);
  for (const auto& test : j) {
    EXPECT_EQ(test["model_filename"], model_.string());
    EXPECT_EQ(test["model_n_params"], 19532032);
    EXPECT_GT(test["model_size"].get<uint64_t>(), 10'000'000u);
    EXPECT_EQ(test["backend"], "CPU");
    EXPECT_EQ(test["n_threads"], 1);
    EXPECT_EQ(test["samples_ts"].size(), 3u);
    EXPECT_GT(test["avg_ts"].get<double>(), 0.0);
    EXPECT_GE(test["stddev_ts"].get<double>(), 0.0);
  }
  EXPECT_GT(j[1]["weight_gbps"].get<double>(), 0.0);
}

TEST_F(BenchTest, DepthsRunEveryTestAfterThatManyCachedTokens) {
  // 700 tokens fill the cache in two batches before each timed run.
  testing::CommandResult r = RunWick({"bench", "-m", model_.string(), "-p", "16", "-n", "4", "-d",
                                      "0,700", "-r", "1", "-t", "2", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j.size(), 4u);
  const int depths[] = {0, 0, 700, 700};
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(j[i]["n_depth"], depths[i]);
    EXPECT_EQ(j[i]["n_prompt"], i % 2 == 0 ? 16 : 0);
    EXPECT_GT(j[i]["avg_ts"].get<double>(), 0.0);
  }
  r = RunWick({"bench", "-m", model_.string(), "-p", "8", "-n", "2", "-d", "40", "-r", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("pp8 @ d40"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("tg2 @ d40"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("| pp8 |"), std::string::npos) << r.out;
}

TEST_F(BenchTest, BadInputIsAOneLineError) {
  testing::CommandResult r = RunWick({"bench", "-m", dir_.File("missing.gguf").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;
  // No machine has a 100th GPU; a CPU-only build says it has no CUDA at all.
  r = RunWick({"bench", "-m", model_.string(), "--device", "cuda:99"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("cuda"), std::string::npos) << r.err;
  r = RunWick({"synth", "--preset", "huge", "--type", "q4_0", "-o", dir_.File("x").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("presets: tiny"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace wick
