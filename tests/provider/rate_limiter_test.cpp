#include "provider/rate_limiter.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <latch>
#include <thread>
#include <vector>

namespace wick::provider {
namespace {

using std::chrono::milliseconds;
using namespace std::chrono_literals;

ManualClock MakeClock() {
  return ManualClock(std::chrono::sys_days{std::chrono::year{2026} / 1 / 1});
}

TEST(TokenBucket, StartsFullAndEmpties) {
  ManualClock clock = MakeClock();
  TokenBucket bucket(3, 60, clock);
  EXPECT_TRUE(bucket.TryTake(1));
  EXPECT_TRUE(bucket.TryTake(1));
  EXPECT_TRUE(bucket.TryTake(1));
  EXPECT_FALSE(bucket.TryTake(1));
  EXPECT_DOUBLE_EQ(bucket.available(), 0);
}

TEST(TokenBucket, RefillsOverTime) {
  ManualClock clock = MakeClock();
  TokenBucket bucket(3, 60, clock);  // one token a second
  ASSERT_TRUE(bucket.TryTake(3));
  EXPECT_EQ(bucket.WaitFor(1), milliseconds(1000));
  EXPECT_EQ(bucket.WaitFor(2), milliseconds(2000));
  clock.Advance(999ms);
  EXPECT_FALSE(bucket.TryTake(1));
  EXPECT_EQ(bucket.WaitFor(1), milliseconds(1));
  clock.Advance(1ms);
  EXPECT_EQ(bucket.WaitFor(1), milliseconds(0));
  EXPECT_TRUE(bucket.TryTake(1));
  // Never above capacity however long it waits.
  clock.Advance(1h);
  EXPECT_DOUBLE_EQ(bucket.available(), 3);
}

TEST(TokenBucket, WaitingExactlyWaitForIsEnough) {
  ManualClock clock = MakeClock();
  TokenBucket bucket(7, 7, clock);  // a rate that does not divide a millisecond evenly
  ASSERT_TRUE(bucket.TryTake(7));
  for (int i = 0; i < 20; ++i) {
    const milliseconds wait = bucket.WaitFor(1);
    ASSERT_GT(wait.count(), 0);
    clock.Advance(wait);
    ASSERT_TRUE(bucket.TryTake(1)) << i;
  }
}

TEST(TokenBucket, ZeroCapacityIsUnlimited) {
  ManualClock clock = MakeClock();
  TokenBucket bucket(0, 0, clock);
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(bucket.TryTake(1e6));
  EXPECT_EQ(bucket.WaitFor(1e9), milliseconds(0));
}

TEST(TokenBucket, RequestBiggerThanCapacityRunsWhenFull) {
  ManualClock clock = MakeClock();
  TokenBucket bucket(100, 100, clock);
  EXPECT_TRUE(bucket.TryTake(250));
  EXPECT_DOUBLE_EQ(bucket.available(), -150);
  // It has to refill the debt and then a whole bucket before the next big one.
  EXPECT_EQ(bucket.WaitFor(250), milliseconds(150'000));
  clock.Advance(150'000ms);
  EXPECT_TRUE(bucket.TryTake(250));
}

TEST(TokenBucket, AdjustChargesAndRefunds) {
  ManualClock clock = MakeClock();
  TokenBucket bucket(60, 60, clock);
  bucket.Adjust(-90);
  EXPECT_DOUBLE_EQ(bucket.available(), -30);
  EXPECT_EQ(bucket.WaitFor(1), milliseconds(31'000));
  bucket.Adjust(1000);
  EXPECT_DOUBLE_EQ(bucket.available(), 60);
}

TEST(RateLimiter, UnknownSubjectIsUnlimited) {
  ManualClock clock = MakeClock();
  RateLimiter limiter(clock);
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(limiter.Admit("anyone", 1e6).ok);
  EXPECT_EQ(limiter.TokensAvailable("anyone"), -1);
}

TEST(RateLimiter, RequestsPerMinuteWithRetryAfter) {
  ManualClock clock = MakeClock();
  RateLimiter limiter(clock);
  limiter.SetLimits("hf", 2, 0);
  EXPECT_TRUE(limiter.Admit("hf", 10).ok);
  EXPECT_TRUE(limiter.Admit("hf", 10).ok);
  RateLimiter::Decision d = limiter.Admit("hf", 10);
  EXPECT_FALSE(d.ok);
  EXPECT_EQ(d.retry_after, milliseconds(30'000));
  EXPECT_EQ(d.reason, "rate limit of 2 requests/min for hf");
  clock.Advance(29'999ms);
  d = limiter.Admit("hf", 10);
  EXPECT_FALSE(d.ok);
  EXPECT_EQ(d.retry_after, milliseconds(1));
  clock.Advance(1ms);
  EXPECT_TRUE(limiter.Admit("hf", 10).ok);
  // Other subjects are untouched.
  EXPECT_TRUE(limiter.Admit("local", 10).ok);
}

TEST(RateLimiter, TokensPerMinute) {
  ManualClock clock = MakeClock();
  RateLimiter limiter(clock);
  limiter.SetLimits("team-a", 0, 1000);
  EXPECT_TRUE(limiter.Admit("team-a", 600).ok);
  RateLimiter::Decision d = limiter.Admit("team-a", 600);
  EXPECT_FALSE(d.ok);
  EXPECT_EQ(d.reason, "rate limit of 1000 tokens/min for team-a");
  EXPECT_EQ(d.retry_after, milliseconds(12'000));  // 200 tokens at 1000/min
  EXPECT_TRUE(limiter.Admit("team-a", 400).ok);
}

TEST(RateLimiter, TakesBothBucketsOrNeither) {
  ManualClock clock = MakeClock();
  RateLimiter limiter(clock);
  limiter.SetLimits("hf", 2, 1000);
  // Refused on tokens: the request bucket keeps its token.
  ASSERT_TRUE(limiter.Admit("hf", 900).ok);
  EXPECT_FALSE(limiter.Admit("hf", 900).ok);
  EXPECT_TRUE(limiter.Admit("hf", 100).ok);  // the second request still fits
  // Refused on requests: the token bucket keeps its tokens.
  clock.Advance(60s);  // both full again
  ASSERT_TRUE(limiter.Admit("hf", 1).ok);
  ASSERT_TRUE(limiter.Admit("hf", 1).ok);
  RateLimiter::Decision d = limiter.Admit("hf", 1);
  EXPECT_FALSE(d.ok);
  EXPECT_EQ(d.reason, "rate limit of 2 requests/min for hf");
  EXPECT_DOUBLE_EQ(limiter.TokensAvailable("hf"), 998);
}

TEST(RateLimiter, RetryAfterWaitsForTheSlowerBucket) {
  ManualClock clock = MakeClock();
  RateLimiter limiter(clock);
  limiter.SetLimits("hf", 1, 60);
  ASSERT_TRUE(limiter.Admit("hf", 60).ok);
  RateLimiter::Decision d = limiter.Admit("hf", 30);
  EXPECT_FALSE(d.ok);
  EXPECT_EQ(d.retry_after, milliseconds(60'000));  // requests: 60 s; tokens: 30 s
}

TEST(RateLimiter, ChargeAfterTheFactMakesLaterRequestsWait) {
  ManualClock clock = MakeClock();
  RateLimiter limiter(clock);
  limiter.SetLimits("team-a", 0, 600);  // 10 tokens a second
  ASSERT_TRUE(limiter.Admit("team-a", 100).ok);
  // It used 900 tokens, not 100.
  limiter.Charge("team-a", 800);
  EXPECT_DOUBLE_EQ(limiter.TokensAvailable("team-a"), -300);
  RateLimiter::Decision d = limiter.Admit("team-a", 50);
  EXPECT_FALSE(d.ok);
  EXPECT_EQ(d.retry_after, milliseconds(35'000));
  clock.Advance(d.retry_after);
  EXPECT_TRUE(limiter.Admit("team-a", 50).ok);
}

TEST(RateLimiter, RefundGivesBackUnusedTokens) {
  ManualClock clock = MakeClock();
  RateLimiter limiter(clock);
  limiter.SetLimits("hf", 0, 1000);
  ASSERT_TRUE(limiter.Admit("hf", 800).ok);
  EXPECT_FALSE(limiter.Admit("hf", 800).ok);
  limiter.Refund("hf", 700);  // it used 100
  EXPECT_DOUBLE_EQ(limiter.TokensAvailable("hf"), 900);
  EXPECT_TRUE(limiter.Admit("hf", 800).ok);
  limiter.Charge("hf", -5000);  // a negative charge is a refund, capped at capacity
  EXPECT_DOUBLE_EQ(limiter.TokensAvailable("hf"), 1000);
}

TEST(RateLimiter, SetLimitsKeepsStateAndZeroMeansUnlimited) {
  ManualClock clock = MakeClock();
  RateLimiter limiter(clock);
  limiter.SetLimits("hf", 0, 1000);
  ASSERT_TRUE(limiter.Admit("hf", 900).ok);
  limiter.SetLimits("hf", 0, 1000);  // reloading the same limits is no free refill
  EXPECT_DOUBLE_EQ(limiter.TokensAvailable("hf"), 100);
  limiter.SetLimits("hf", 0, 50);  // capped at the smaller capacity
  EXPECT_DOUBLE_EQ(limiter.TokensAvailable("hf"), 50);
  limiter.SetLimits("hf", 0, 0);
  EXPECT_EQ(limiter.TokensAvailable("hf"), -1);
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(limiter.Admit("hf", 1e6).ok);
}

TEST(RateLimiter, ConcurrentAdmitsNeverExceedTheLimit) {
  ManualClock clock = MakeClock();
  RateLimiter limiter(clock);
  limiter.SetLimits("hf", 500, 100'000);
  constexpr int kThreads = 16;
  std::atomic<int> admitted{0};
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      start.arrive_and_wait();
      for (int i = 0; i < 100; ++i) {
        if (limiter.Admit("hf", 100).ok) admitted.fetch_add(1);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(admitted.load(), 500);
  EXPECT_NEAR(limiter.TokensAvailable("hf"), 50'000, 1e-6);
}

}  // namespace
}  // namespace wick::provider
