// What the router keeps in the ledger's database: the response cache's table (SQLite and
// PostgreSQL: answers outlive a restart, expire by wall clock, stay within their limits) and
// PostgreSQL's shared rate-limit buckets (several instances draw from the same ones). Plus the
// encoding cached answers are stored in.
#include <gtest/gtest.h>

#include <thread>

#include "provider/ledger.h"
#include "provider/postgres_fixture.h"
#include "provider/rate_limiter.h"
#include "provider/response_cache.h"
#include "test_support.h"

namespace wick::provider {
namespace {

using namespace std::chrono_literals;

constexpr int64_t kNowMs = 1'780'000'000'000;  // 2026-05-28

Completion Answer(const std::string& text) {
  Completion c;
  api::ChoiceResult choice;
  choice.text = text;
  choice.finish_reason = "stop";
  c.choices.push_back(choice);
  c.outcome.usage = {.prompt_tokens = 5, .completion_tokens = 3, .cached_tokens = 1};
  c.outcome.model = "m";
  return c;
}

TEST(CachedAnswerEncodingTest, RoundTripsEveryFieldAndAnyBytes) {
  Completion c = Answer("caf\xc3\xa9 and half a character: \xe2\x82");
  c.choices[0].has_logprobs = true;
  c.choices[0].logprobs.push_back(
      {.token = "\xe2\x82", .logprob = -0.25f, .top = {{"\xe2\x82", -0.25f}, {"x", -2.5f}}});
  api::ChoiceResult second;
  second.index = 1;
  second.text = std::string("nul\0inside", 10);
  second.finish_reason = "length";
  c.choices.push_back(second);
  c.outcome.model = "org/model:Q4_K_M";

  const std::string text = ResponseCache::Encode(c);
  EXPECT_EQ(text.find_first_not_of("0123456789abcdef"), std::string::npos);  // fits a TEXT column
  std::optional<Completion> back = ResponseCache::Decode(text);
  ASSERT_TRUE(back.has_value());
  ASSERT_EQ(back->choices.size(), 2u);
  EXPECT_EQ(back->choices[0].text, c.choices[0].text);
  EXPECT_EQ(back->choices[0].finish_reason, "stop");
  EXPECT_TRUE(back->choices[0].has_logprobs);
  ASSERT_EQ(back->choices[0].logprobs.size(), 1u);
  EXPECT_EQ(back->choices[0].logprobs[0].token, "\xe2\x82");
  EXPECT_EQ(back->choices[0].logprobs[0].logprob, -0.25f);
  EXPECT_EQ(back->choices[0].logprobs[0].top, c.choices[0].logprobs[0].top);
  EXPECT_EQ(back->choices[1].index, 1);
  EXPECT_EQ(back->choices[1].text, second.text);
  EXPECT_EQ(back->choices[1].finish_reason, "length");
  EXPECT_EQ(back->outcome.usage.prompt_tokens, 5);
  EXPECT_EQ(back->outcome.usage.completion_tokens, 3);
  EXPECT_EQ(back->outcome.usage.cached_tokens, 1);
  EXPECT_EQ(back->outcome.model, "org/model:Q4_K_M");
}

TEST(CachedAnswerEncodingTest, AnythingElseIsAMissNotACrash) {
  const std::string good = ResponseCache::Encode(Answer("x"));
  for (const std::string& bad :
       {std::string(), std::string("zz"), std::string("abc"), good.substr(0, good.size() / 2),
        std::string("a0"),  // a CBOR map of nothing
        good + "00"}) {
    EXPECT_FALSE(ResponseCache::Decode(bad).has_value()) << bad;
  }
}

// The cache table on both backends.
class CacheStoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "sqlite") {
      config_.path = (dir_.path() / "usage.db").string();
    } else {
      WICK_REQUIRE_POSTGRES(server);
      std::string error;
      config_.path.clear();
      config_.url = server->NewDatabase(error);
      ASSERT_FALSE(config_.url.empty()) << error;
    }
    ledger_ = Open();
    ASSERT_NE(ledger_, nullptr);
    store_ = ledger_->cache_store();
    ASSERT_NE(store_, nullptr);
  }

  std::unique_ptr<Ledger> Open() {
    Result<std::unique_ptr<Ledger>> opened = OpenLedger(config_);
    EXPECT_TRUE(opened.ok()) << opened.error().message();
    return opened.ok() ? std::move(*opened) : nullptr;
  }

  std::optional<std::string> Load(const std::string& key, int64_t now_ms) {
    Result<std::optional<CachedValue>> loaded = store_->Load(key, now_ms);
    EXPECT_TRUE(loaded.ok()) << loaded.error().message();
    if (!loaded.ok() || !loaded->has_value()) return std::nullopt;
    return (*loaded)->value;
  }

  void Save(const std::string& key, const std::string& value, int64_t now_ms, int64_t expires_ms,
            uint64_t bytes) {
    Status saved = store_->Save(key, value, now_ms, expires_ms, bytes);
    ASSERT_TRUE(saved.ok()) << saved.error().message();
  }

  testing::TempDir dir_;
  LedgerConfig config_;
  std::unique_ptr<Ledger> ledger_;
  CacheStore* store_ = nullptr;
};

TEST_P(CacheStoreTest, SavesReplacesExpiresAndSurvivesReopening) {
  Save("a", "one", kNowMs, kNowMs + 1000, 10);
  Save("b", "forever", kNowMs, 0, 10);
  Save("a", "two", kNowMs, kNowMs + 1000, 10);
  EXPECT_EQ(Load("a", kNowMs + 999), "two");
  EXPECT_EQ(Load("a", kNowMs + 1000), std::nullopt);  // expired at its instant
  EXPECT_EQ(Load("missing", kNowMs), std::nullopt);
  ledger_ = Open();
  store_ = ledger_->cache_store();
  EXPECT_EQ(Load("b", kNowMs + 10'000'000), "forever");
}

TEST_P(CacheStoreTest, PruneDropsExpiredThenLeastRecentlyUsedBeyondTheLimits) {
  Save("old", "v", kNowMs, 0, 100);
  Save("mid", "v", kNowMs + 1, 0, 100);
  Save("new", "v", kNowMs + 2, 0, 100);
  Save("gone", "v", kNowMs, kNowMs + 5, 1);
  ASSERT_TRUE(Load("old", kNowMs + 10).has_value());  // used last now
  ASSERT_TRUE(store_->Prune(kNowMs + 20, /*max_entries=*/2, /*max_bytes=*/0).ok());
  EXPECT_TRUE(Load("old", kNowMs + 21).has_value());
  EXPECT_TRUE(Load("new", kNowMs + 22).has_value());
  EXPECT_FALSE(Load("mid", kNowMs + 23).has_value());
  EXPECT_FALSE(Load("gone", kNowMs + 1).has_value());  // pruned, not merely expired
  // By size: 150 bytes keep only the most recently used of two 100-byte entries.
  ASSERT_TRUE(store_->Prune(kNowMs + 30, 0, 150).ok());
  EXPECT_TRUE(Load("new", kNowMs + 31).has_value());
  EXPECT_FALSE(Load("old", kNowMs + 32).has_value());
}

TEST_P(CacheStoreTest, ResponseCacheAnswersAfterARestartUntilItsTimeToLive) {
  ManualClock clock{std::chrono::system_clock::time_point(std::chrono::milliseconds(kNowMs))};
  const ResponseCacheOptions options{
      .ttl = 60'000ms, .max_entries = 100, .max_bytes = 1 << 20, .store = store_};
  {
    ResponseCache before(clock, options);
    before.Put("key", Answer("remembered"));
  }
  clock.Advance(30'000ms);
  ResponseCache after(clock, options);
  std::optional<Completion> hit = after.Get("key");
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(hit->choices[0].text, "remembered");
  EXPECT_EQ(after.stats().hits, 1u);
  EXPECT_EQ(after.stats().entries, 1u);  // and in memory from now on
  // It keeps the time to live it was given, in memory and in the table.
  clock.Advance(30'001ms);
  EXPECT_FALSE(after.Get("key").has_value());
  ResponseCache third(clock, options);
  EXPECT_FALSE(third.Get("key").has_value());
  EXPECT_EQ(third.stats().misses, 1u);
}

INSTANTIATE_TEST_SUITE_P(Backends, CacheStoreTest, ::testing::Values("sqlite", "postgres"),
                         [](const auto& param) { return param.param; });

TEST(SqliteLedgerTest, HasNoSharedBuckets) {
  testing::TempDir dir;
  LedgerConfig config;
  config.path = (dir.path() / "usage.db").string();
  Result<std::unique_ptr<Ledger>> ledger = OpenLedger(config);
  ASSERT_TRUE(ledger.ok()) << ledger.error().message();
  EXPECT_EQ((*ledger)->shared_buckets(), nullptr);  // one machine: memory is enough
}

// Two wick instances on one PostgreSQL database: one bucket between them.
class SharedBucketsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WICK_REQUIRE_POSTGRES(server);
    std::string error;
    config_.path.clear();
    config_.url = server->NewDatabase(error);
    ASSERT_FALSE(config_.url.empty()) << error;
    for (auto& ledger : ledgers_) {
      Result<std::unique_ptr<Ledger>> opened = OpenLedger(config_);
      ASSERT_TRUE(opened.ok()) << opened.error().message();
      ledger = std::move(*opened);
      ASSERT_NE(ledger->shared_buckets(), nullptr);
    }
  }

  LedgerConfig config_;
  std::unique_ptr<Ledger> ledgers_[2];
  SystemClock clock_;
};

TEST_F(SharedBucketsTest, RequestsPerMinuteAreSharedByInstances) {
  RateLimiter a(clock_), b(clock_);
  a.ShareThrough(ledgers_[0]->shared_buckets(), "key:");
  b.ShareThrough(ledgers_[1]->shared_buckets(), "key:");
  for (RateLimiter* limiter : {&a, &b}) limiter->SetLimits("team", 3, 0);
  EXPECT_TRUE(a.Admit("team", 10).ok);
  EXPECT_TRUE(b.Admit("team", 10).ok);
  EXPECT_TRUE(a.Admit("team", 10).ok);
  RateLimiter::Decision refused = b.Admit("team", 10);
  EXPECT_FALSE(refused.ok);
  // 3 per minute: a request's worth comes back in 20 s, less what has passed since.
  EXPECT_GT(refused.retry_after, 15'000ms);
  EXPECT_LE(refused.retry_after, 20'000ms);
  EXPECT_NE(refused.reason.find("3 requests/min"), std::string::npos) << refused.reason;
  EXPECT_FALSE(a.Admit("team", 10).ok);
  // Another subject, or another prefix (a provider named like the key), is another bucket.
  a.SetLimits("other", 3, 0);
  EXPECT_TRUE(a.Admit("other", 10).ok);
  RateLimiter providers(clock_);
  providers.ShareThrough(ledgers_[0]->shared_buckets(), "provider:");
  providers.SetLimits("team", 3, 0);
  EXPECT_TRUE(providers.Admit("team", 10).ok);
}

TEST_F(SharedBucketsTest, TokensChargedByOneInstanceHoldBackTheOther) {
  RateLimiter a(clock_), b(clock_);
  a.ShareThrough(ledgers_[0]->shared_buckets(), "p:");
  b.ShareThrough(ledgers_[1]->shared_buckets(), "p:");
  for (RateLimiter* limiter : {&a, &b}) limiter->SetLimits("hf", 0, 1000);
  EXPECT_TRUE(a.Admit("hf", 400).ok);
  a.Charge("hf", 500);  // it used 900 in the end
  RateLimiter::Decision refused = b.Admit("hf", 200);
  EXPECT_FALSE(refused.ok);
  EXPECT_NE(refused.reason.find("1000 tokens/min"), std::string::npos) << refused.reason;
  EXPECT_TRUE(b.Admit("hf", 50).ok);
  b.Refund("hf", 500);
  EXPECT_TRUE(a.Admit("hf", 200).ok);
}

TEST_F(SharedBucketsTest, ConcurrentInstancesNeverOverAdmit) {
  RateLimiter a(clock_), b(clock_);
  a.ShareThrough(ledgers_[0]->shared_buckets(), "k:");
  b.ShareThrough(ledgers_[1]->shared_buckets(), "k:");
  for (RateLimiter* limiter : {&a, &b}) limiter->SetLimits("burst", 20, 0);
  std::atomic<int> admitted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      RateLimiter& limiter = t % 2 == 0 ? a : b;
      for (int i = 0; i < 10; ++i) admitted += limiter.Admit("burst", 1).ok ? 1 : 0;
    });
  }
  for (std::thread& thread : threads) thread.join();
  // 40 tries in well under the 3 s a 21st request would need to refill.
  EXPECT_EQ(admitted.load(), 20);
}

}  // namespace
}  // namespace wick::provider
