// `wick usage`: totals from a ledger named by a config file, --since as a date or a duration,
// --by, the markdown table, and a ledger that does not exist yet.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "provider/ledger.h"
#include "test_support.h"

namespace wick {
namespace {

using std::chrono::hours;
using std::chrono::system_clock;
using testing::RunWick;

class UsageCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = dir_.File("ledger") / "usage.db";
    config_ = dir_.File("wick.toml");
    std::ofstream(config_) << "[ledger]\npath = \"" << db_.string() << "\"\n";
  }

  void Record(system_clock::time_point time, const std::string& provider, const std::string& key,
              int64_t prompt, int64_t completion, double cost, int status = 200,
              bool cache_hit = false) {
    provider::LedgerConfig config;
    config.path = db_.string();
    Result<std::unique_ptr<provider::Ledger>> ledger = provider::OpenLedger(config);
    ASSERT_TRUE(ledger.ok()) << ledger.error().message();
    provider::UsageRecord r;
    r.time = time;
    r.provider = provider;
    r.key = key;
    r.model = "m";
    r.prompt_tokens = prompt;
    r.completion_tokens = completion;
    r.cost = cost;
    r.status = status;
    r.cache_hit = cache_hit;
    ASSERT_TRUE((*ledger)->Record(r).ok());
  }

  nlohmann::json Json(std::vector<std::string> args) {
    args.insert(args.begin(), {"usage", "--config", config_.string(), "--json"});
    testing::CommandResult r = RunWick(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return nlohmann::json::parse(r.out, nullptr, /*allow_exceptions=*/false);
  }

  testing::TempDir dir_;
  std::filesystem::path db_;
  std::filesystem::path config_;
};

TEST_F(UsageCommandTest, TotalsByProviderAsJson) {
  system_clock::time_point now = system_clock::now();
  Record(now - hours(1), "hf", "alice", 100, 10, 0.5);
  Record(now - hours(2), "hf", "bob", 200, 20, 0.25, 502);
  Record(now - hours(3), "local", "alice", 300, 30, 0.0, 200, true);

  nlohmann::json out = Json({"--by", "provider"});
  ASSERT_TRUE(out.is_object());
  EXPECT_EQ(out["by"], "provider");
  ASSERT_EQ(out["rows"].size(), 2u) << out.dump();
  EXPECT_EQ(out["rows"][0]["group"], "hf");
  EXPECT_EQ(out["rows"][0]["requests"], 2);
  EXPECT_EQ(out["rows"][0]["cost"], 0.75);
  EXPECT_EQ(out["rows"][0]["errors"], 1);
  EXPECT_EQ(out["rows"][1]["group"], "local");
  EXPECT_EQ(out["rows"][1]["cache_hits"], 1);
  nlohmann::json total = out["total"];
  EXPECT_EQ(total["requests"], 3);
  EXPECT_EQ(total["prompt_tokens"], 600);
  EXPECT_EQ(total["completion_tokens"], 60);
  EXPECT_EQ(total["cost"], 0.75);
  EXPECT_EQ(total["cache_hits"], 1);
  EXPECT_EQ(total["errors"], 1);

  out = Json({"--by", "key"});
  ASSERT_EQ(out["rows"].size(), 2u) << out.dump();
  EXPECT_EQ(out["rows"][0]["group"], "alice");
  EXPECT_EQ(out["rows"][0]["requests"], 2);
}

TEST_F(UsageCommandTest, SinceFilters) {
  system_clock::time_point now = system_clock::now();
  Record(now - hours(1), "hf", "", 1, 1, 0.5);
  Record(now - hours(24 * 10), "hf", "", 1, 1, 0.25);
  Record(now - hours(24 * 40), "hf", "", 1, 1, 0.125);

  EXPECT_EQ(Json({})["total"]["cost"], 0.75);  // the last 30 days by default
  EXPECT_EQ(Json({"--since", "7d"})["total"]["cost"], 0.5);
  EXPECT_EQ(Json({"--since", "2000-01-01"})["total"]["cost"], 0.875);
  nlohmann::json out = Json({"--since", "2000-01-01"});
  EXPECT_EQ(out["since"], "2000-01-01T00:00:00Z");
  EXPECT_EQ(Json({"--since", "2200-01-01"})["total"]["requests"], 0);
  EXPECT_EQ(Json({"--since", "1000000d"})["total"]["requests"], 3);

  testing::CommandResult r = RunWick({"usage", "--config", config_.string(), "--since", "lately"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--since"), std::string::npos) << r.err;
  r = RunWick({"usage", "--config", config_.string(), "--since", "2024-02-30"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no such date"), std::string::npos) << r.err;
  r = RunWick({"usage", "--config", config_.string(), "--since", "2999-01-01"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("1970 to 2200"), std::string::npos) << r.err;
}

TEST_F(UsageCommandTest, MarkdownTableWithTotal) {
  system_clock::time_point now = system_clock::now();
  Record(now - hours(1), "hf", "", 1000, 100, 0.123456);
  Record(now - hours(30), "local", "", 10, 1, 0.0, 500);
  testing::CommandResult r = RunWick({"usage", "--config", config_.string(), "--by", "model"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("| model | requests | prompt tokens | completion tokens | cost USD | "
                       "cache hits | errors |\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("| m | 2 | 1010 | 101 | 0.1235 | 0 | 1 |\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("| **total** | 2 | 1010 | 101 | 0.1235 | 0 | 1 |\n"), std::string::npos)
      << r.out;
}

TEST_F(UsageCommandTest, MissingLedgerIsEmptyAndNotCreated) {
  testing::CommandResult r = RunWick({"usage", "--config", config_.string(), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json out = nlohmann::json::parse(r.out, nullptr, false);
  EXPECT_EQ(out["total"]["requests"], 0);
  EXPECT_TRUE(out["rows"].empty());
  EXPECT_NE(r.err.find("no usage recorded yet"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(db_.parent_path()));
}

TEST_F(UsageCommandTest, BadGroupIsAUsageError) {
  testing::CommandResult r = RunWick({"usage", "--config", config_.string(), "--by", "colour"});
  EXPECT_EQ(r.exit_code, 2);
}

}  // namespace
}  // namespace wick
