// The usage ledger, the same cases against SQLite (a temp file) and PostgreSQL (a private
// server for this process, see postgres_fixture.h): recording, concurrent recording, spend
// since a time, every grouping of the report with exact totals, persistence, and errors that
// name the file or URL.
#include "provider/ledger.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include "provider/ledger_backends.h"
#include "provider/postgres_fixture.h"
#include "test_support.h"

namespace wick::provider {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::system_clock;

// 2024-03-10T12:00:00Z.
const system_clock::time_point kNoon =
    system_clock::time_point(std::chrono::sys_days(std::chrono::year{2024} / 3 / 10)) + hours(12);

UsageRecord Row(system_clock::time_point time, std::string key, std::string provider,
                std::string model, int64_t prompt, int64_t completion, double cost,
                int status = 200, bool cache_hit = false) {
  UsageRecord r;
  r.time = time;
  r.request_id = "req-" + std::to_string(prompt) + "-" + std::to_string(completion);
  r.key = std::move(key);
  r.provider = std::move(provider);
  r.model = std::move(model);
  r.prompt_tokens = prompt;
  r.completion_tokens = completion;
  r.cost = cost;
  r.latency_ms = 12.5;
  r.status = status;
  r.cache_hit = cache_hit;
  r.fallback_path = r.provider;
  return r;
}

void ExpectRow(const UsageRow& row, const std::string& group, int64_t requests, int64_t prompt,
               int64_t completion, double cost, int64_t cache_hits, int64_t errors) {
  EXPECT_EQ(row.group, group);
  EXPECT_EQ(row.requests, requests) << group;
  EXPECT_EQ(row.prompt_tokens, prompt) << group;
  EXPECT_EQ(row.completion_tokens, completion) << group;
  // Costs are sums of binary fractions, so exact in both databases.
  EXPECT_EQ(row.cost, cost) << group;
  EXPECT_EQ(row.cache_hits, cache_hits) << group;
  EXPECT_EQ(row.errors, errors) << group;
}

class LedgerTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "sqlite") {
      config_.path = (dir_.path() / "sub" / "dir" / "usage.db").string();
    } else {
      WICK_REQUIRE_POSTGRES(server);
      std::string error;
      config_.path.clear();
      config_.url = server->NewDatabase(error);
      ASSERT_FALSE(config_.url.empty()) << error;
    }
    Reopen();
  }

  void Reopen() {
    ledger_.reset();
    Result<std::unique_ptr<Ledger>> opened = OpenLedger(config_);
    ASSERT_TRUE(opened.ok()) << opened.error().message();
    ledger_ = std::move(*opened);
  }

  void Record(const UsageRecord& r) {
    Status s = ledger_->Record(r);
    ASSERT_TRUE(s.ok()) << s.error().message();
  }

  double Spend(const std::string* key, system_clock::time_point since) {
    Result<double> spend = ledger_->Spend(key, since);
    EXPECT_TRUE(spend.ok()) << spend.error().message();
    return spend.value_or(-1);
  }

  std::vector<UsageRow> Report(system_clock::time_point since, GroupBy group) {
    Result<std::vector<UsageRow>> rows = ledger_->Report(since, group);
    EXPECT_TRUE(rows.ok()) << rows.error().message();
    return rows.value_or({});
  }

  // Six requests over two days, two keys, two providers and three models.
  void RecordSample() {
    Record(Row(kNoon, "alice", "local", "llama", 100, 10, 0.0));
    Record(Row(kNoon + hours(1), "alice", "hf", "llama-70b", 200, 20, 0.5));
    Record(Row(kNoon + hours(2), "bob", "hf", "llama-70b", 300, 30, 0.25, 200, true));
    Record(Row(kNoon + hours(3), "bob", "hf", "mistral", 400, 0, 0.125, 502));
    Record(Row(kNoon + hours(13), "", "local", "llama", 500, 50, 0.0, 429));  // next day
    Record(Row(kNoon + hours(14), "alice", "hf", "mistral", 600, 60, 1.0));   // next day
  }

  testing::TempDir dir_;
  LedgerConfig config_;
  std::unique_ptr<Ledger> ledger_;
};

TEST_P(LedgerTest, EmptyLedgerSpendsNothing) {
  std::string key = "alice";
  EXPECT_EQ(Spend(&key, kNoon), 0.0);
  EXPECT_EQ(Spend(nullptr, kNoon), 0.0);
  EXPECT_TRUE(Report(kNoon, GroupBy::kProvider).empty());
}

TEST_P(LedgerTest, ReportsByProvider) {
  RecordSample();
  std::vector<UsageRow> rows = Report(kNoon, GroupBy::kProvider);
  ASSERT_EQ(rows.size(), 2u);
  ExpectRow(rows[0], "hf", 4, 1500, 110, 1.875, 1, 1);
  ExpectRow(rows[1], "local", 2, 600, 60, 0.0, 0, 1);
}

TEST_P(LedgerTest, ReportsByModel) {
  RecordSample();
  std::vector<UsageRow> rows = Report(kNoon, GroupBy::kModel);
  ASSERT_EQ(rows.size(), 3u);
  ExpectRow(rows[0], "mistral", 2, 1000, 60, 1.125, 0, 1);
  ExpectRow(rows[1], "llama-70b", 2, 500, 50, 0.75, 1, 0);
  ExpectRow(rows[2], "llama", 2, 600, 60, 0.0, 0, 1);
}

TEST_P(LedgerTest, ReportsByKey) {
  RecordSample();
  std::vector<UsageRow> rows = Report(kNoon, GroupBy::kKey);
  ASSERT_EQ(rows.size(), 3u);
  ExpectRow(rows[0], "alice", 3, 900, 90, 1.5, 0, 0);
  ExpectRow(rows[1], "bob", 2, 700, 30, 0.375, 1, 1);
  ExpectRow(rows[2], "", 1, 500, 50, 0.0, 0, 1);
}

TEST_P(LedgerTest, ReportsByUtcDay) {
  RecordSample();
  // A row one millisecond before midnight UTC belongs to the earlier day.
  Record(Row(kNoon + hours(12) - milliseconds(1), "carol", "hf", "x", 1, 1, 0.0625));
  std::vector<UsageRow> rows = Report(kNoon, GroupBy::kDay);
  ASSERT_EQ(rows.size(), 2u);
  ExpectRow(rows[0], "2024-03-11", 2, 1100, 110, 1.0, 0, 1);
  ExpectRow(rows[1], "2024-03-10", 5, 1001, 61, 0.9375, 1, 1);
}

TEST_P(LedgerTest, SpendCountsFromSinceInclusive) {
  RecordSample();
  std::string alice = "alice", bob = "bob", nobody = "nobody";
  EXPECT_EQ(Spend(nullptr, kNoon), 1.875);
  EXPECT_EQ(Spend(&alice, kNoon), 1.5);
  EXPECT_EQ(Spend(&bob, kNoon), 0.375);
  EXPECT_EQ(Spend(&nobody, kNoon), 0.0);
  // since = the second row's time exactly: it counts, the first (free anyway) does not.
  EXPECT_EQ(Spend(&alice, kNoon + hours(1)), 1.5);
  EXPECT_EQ(Spend(&alice, kNoon + hours(1) + milliseconds(1)), 1.0);
  EXPECT_EQ(Spend(nullptr, kNoon + hours(3)), 1.125);
  EXPECT_EQ(Spend(nullptr, kNoon + hours(15)), 0.0);
  // Report applies the same bound.
  std::vector<UsageRow> rows = Report(kNoon + hours(2), GroupBy::kKey);
  ASSERT_EQ(rows.size(), 3u);
  ExpectRow(rows[0], "alice", 1, 600, 60, 1.0, 0, 0);
  ExpectRow(rows[1], "bob", 2, 700, 30, 0.375, 1, 1);
  ExpectRow(rows[2], "", 1, 500, 50, 0.0, 0, 1);
}

TEST_P(LedgerTest, ConcurrentRecordsAreAllKept) {
  constexpr int kThreads = 8, kRows = 50;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRows; ++i) {
        UsageRecord r = Row(kNoon + milliseconds(i), "key" + std::to_string(t % 2), "hf", "m", 10,
                            1, 0.25, i % 10 == 0 ? 500 : 200, i % 5 == 0);
        if (!ledger_->Record(r).ok()) ++failures;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  std::vector<UsageRow> rows = Report(kNoon, GroupBy::kProvider);
  ASSERT_EQ(rows.size(), 1u);
  ExpectRow(rows[0], "hf", 400, 4000, 400, 100.0, 80, 40);
  std::string key0 = "key0";
  EXPECT_EQ(Spend(&key0, kNoon), 50.0);
}

TEST_P(LedgerTest, RowsPersistAcrossReopening) {
  RecordSample();
  Reopen();
  EXPECT_EQ(Spend(nullptr, kNoon), 1.875);
  Record(Row(kNoon, "alice", "hf", "m", 1, 1, 0.5));
  EXPECT_EQ(Spend(nullptr, kNoon), 2.375);
}

TEST_P(LedgerTest, TextIsStoredVerbatim) {
  // Quotes, SQL and non-ASCII travel as parameters, never as SQL text.
  std::string key = "o'brien\"; DROP TABLE usage; --", model = "modèle/ünï|cödé";
  Record(Row(kNoon, key, "hf", model, 1, 1, 0.5));
  EXPECT_EQ(Spend(&key, kNoon), 0.5);
  std::vector<UsageRow> rows = Report(kNoon, GroupBy::kModel);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].group, model);
}

INSTANTIATE_TEST_SUITE_P(Backends, LedgerTest, ::testing::Values("sqlite", "postgres"),
                         [](const ::testing::TestParamInfo<std::string>& param) {
                           return param.param;
                         });

TEST(SqliteLedgerTest, UsesWalAndCreatesFolders) {
  testing::TempDir dir;
  LedgerConfig config;
  config.path = (dir.path() / "a" / "b" / "usage.db").string();
  Result<std::unique_ptr<Ledger>> ledger = OpenLedger(config);
  ASSERT_TRUE(ledger.ok()) << ledger.error().message();
  ASSERT_TRUE((*ledger)->Record(Row(kNoon, "k", "p", "m", 1, 1, 0.5)).ok());
  EXPECT_TRUE(std::filesystem::exists(config.path + "-wal"));
}

TEST(SqliteLedgerTest, UnwritablePathNamesTheFile) {
  testing::TempDir dir;
  std::ofstream(dir.File("plain-file")) << "x";
  LedgerConfig config;
  config.path = (dir.File("plain-file") / "usage.db").string();
  Result<std::unique_ptr<Ledger>> ledger = OpenLedger(config);
  ASSERT_FALSE(ledger.ok());
  EXPECT_NE(ledger.error().message().find(config.path), std::string::npos)
      << ledger.error().message();
}

TEST(SqliteLedgerTest, NotADatabaseIsCorrupt) {
  testing::TempDir dir;
  std::ofstream(dir.File("usage.db")) << std::string(4096, 'x');
  LedgerConfig config;
  config.path = dir.File("usage.db").string();
  Result<std::unique_ptr<Ledger>> ledger = OpenLedger(config);
  ASSERT_FALSE(ledger.ok());
  EXPECT_EQ(ledger.error().code(), ErrorCode::kCorrupt);
  EXPECT_NE(ledger.error().message().find(config.path), std::string::npos);
  EXPECT_NE(ledger.error().message().find("not a database"), std::string::npos)
      << ledger.error().message();
}

TEST(PostgresLedgerTest, UnreachableServerNamesTheUrlButNoPassword) {
  testing::TempDir dir;
  LedgerConfig config;
  config.path.clear();
  config.url = "postgresql://wick:hunter2@/postgres?host=" + dir.path().string() + "&port=1";
  Result<std::unique_ptr<Ledger>> ledger = OpenLedger(config);
  ASSERT_FALSE(ledger.ok());
  const std::string& message = ledger.error().message();
  EXPECT_EQ(message.find("hunter2"), std::string::npos) << message;
  EXPECT_NE(message.find("usage ledger postgresql://wick:***@/postgres?host="), std::string::npos)
      << message;
  EXPECT_NE(message.find("connecting: "), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
}

TEST(PostgresLedgerTest, ReconnectsWhenTheServerDropsTheConnection) {
  WICK_REQUIRE_POSTGRES(server);
  std::string error;
  LedgerConfig config;
  config.path.clear();
  config.url = server->NewDatabase(error);
  ASSERT_FALSE(config.url.empty()) << error;
  Result<std::unique_ptr<Ledger>> ledger = OpenLedger(config);
  ASSERT_TRUE(ledger.ok()) << ledger.error().message();
  ASSERT_TRUE((*ledger)->Record(Row(kNoon, "k", "p", "m", 1, 1, 0.5)).ok());
  std::string database = config.url.substr(config.url.rfind('/') + 1);
  database = database.substr(0, database.find('?'));
  ASSERT_TRUE(server->DropConnections(database, error)) << error;
  Status recorded = (*ledger)->Record(Row(kNoon, "k", "p", "m", 1, 1, 0.25));
  EXPECT_TRUE(recorded.ok()) << recorded.error().message();
  Result<double> spend = (*ledger)->Spend(nullptr, kNoon);
  ASSERT_TRUE(spend.ok()) << spend.error().message();
  EXPECT_EQ(*spend, 0.75);
}

TEST(PostgresLedgerTest, InstancesShareOneTable) {
  // Several wick instances open the same database at once (the schema is created under a
  // lock) and each sees what the others spent.
  WICK_REQUIRE_POSTGRES(server);
  std::string error;
  LedgerConfig config;
  config.path.clear();
  config.url = server->NewDatabase(error);
  ASSERT_FALSE(config.url.empty()) << error;
  constexpr int kInstances = 4;
  std::vector<std::unique_ptr<Ledger>> ledgers(kInstances);
  std::vector<std::string> errors(kInstances);
  std::vector<std::thread> threads;
  for (int i = 0; i < kInstances; ++i) {
    threads.emplace_back([&, i] {
      Result<std::unique_ptr<Ledger>> opened = OpenLedger(config);
      if (opened.ok()) {
        ledgers[i] = std::move(*opened);
      } else {
        errors[i] = opened.error().message();
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int i = 0; i < kInstances; ++i) ASSERT_NE(ledgers[i], nullptr) << errors[i];
  for (int i = 0; i < kInstances; ++i) {
    ASSERT_TRUE(ledgers[i]->Record(Row(kNoon, "shared", "p", "m", 1, 1, 0.25)).ok());
  }
  std::string key = "shared";
  // Rows are written in the background: a read waits for its own instance's rows only, so
  // one read on each first, then every instance sees all four.
  for (int i = 0; i < kInstances; ++i) ASSERT_TRUE(ledgers[i]->Spend(&key, kNoon).ok());
  for (int i = 0; i < kInstances; ++i) {
    Result<double> spend = ledgers[i]->Spend(&key, kNoon);
    ASSERT_TRUE(spend.ok()) << spend.error().message();
    EXPECT_EQ(*spend, 1.0);
  }
}

TEST(LedgerConfigTest, DisabledLedgerRecordsNothing) {
  LedgerConfig config;
  config.enabled = false;
  config.path = "/nonexistent/never/created.db";
  Result<std::unique_ptr<Ledger>> ledger = OpenLedger(config);
  ASSERT_TRUE(ledger.ok()) << ledger.error().message();
  EXPECT_TRUE((*ledger)->Record(Row(kNoon, "k", "p", "m", 1, 1, 0.5)).ok());
  Result<double> spend = (*ledger)->Spend(nullptr, kNoon);
  ASSERT_TRUE(spend.ok());
  EXPECT_EQ(*spend, 0.0);
  Result<std::vector<UsageRow>> rows = (*ledger)->Report(kNoon, GroupBy::kDay);
  ASSERT_TRUE(rows.ok());
  EXPECT_TRUE(rows->empty());
  EXPECT_FALSE(std::filesystem::exists("/nonexistent/never"));
}

TEST(LedgerConfigTest, RedactsPasswordsInUrls) {
  using ledger_internal::RedactUrl;
  EXPECT_EQ(RedactUrl("postgresql://u:secret@db:5432/x"), "postgresql://u:***@db:5432/x");
  EXPECT_EQ(RedactUrl("postgresql://u@db/x?password=secret&sslmode=require"),
            "postgresql://u@db/x?password=***&sslmode=require");
  EXPECT_EQ(RedactUrl("postgresql://db:5432/x"), "postgresql://db:5432/x");
  EXPECT_EQ(RedactUrl("postgresql://u@/x?host=/tmp/a:b"), "postgresql://u@/x?host=/tmp/a:b");
}

TEST(LedgerConfigTest, DayNamesAreUtcDates) {
  using ledger_internal::DayName;
  EXPECT_EQ(DayName(0), "1970-01-01");
  EXPECT_EQ(DayName(19792), "2024-03-10");
  EXPECT_EQ(DayName(-1), "1969-12-31");
}

}  // namespace
}  // namespace wick::provider
