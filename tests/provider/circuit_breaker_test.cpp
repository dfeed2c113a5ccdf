#include "provider/circuit_breaker.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <latch>
#include <thread>
#include <vector>

#include "provider/config.h"

namespace wick::provider {
namespace {

using std::chrono::milliseconds;
using namespace std::chrono_literals;
using State = CircuitBreaker::State;

ManualClock MakeClock() {
  return ManualClock(std::chrono::sys_days{std::chrono::year{2026} / 1 / 1});
}

void Fail(CircuitBreaker& breaker, int times) {
  for (int i = 0; i < times; ++i) breaker.OnFailure();
}

TEST(CircuitBreaker, OpensAfterKConsecutiveFailures) {
  ManualClock clock = MakeClock();
  CircuitBreaker breaker(3, 10s, clock);
  EXPECT_EQ(breaker.state(), State::kClosed);
  EXPECT_EQ(breaker.StateName(), "closed");
  Fail(breaker, 2);
  EXPECT_TRUE(breaker.Allow());
  EXPECT_EQ(breaker.consecutive_failures(), 2);
  breaker.OnFailure();
  EXPECT_EQ(breaker.state(), State::kOpen);
  EXPECT_EQ(breaker.StateName(), "open");
  EXPECT_FALSE(breaker.Allow());
  EXPECT_EQ(breaker.RemainingCooldown(), milliseconds(10'000));
  clock.Advance(4'000ms);
  EXPECT_FALSE(breaker.Allow());
  EXPECT_EQ(breaker.RemainingCooldown(), milliseconds(6'000));
}

TEST(CircuitBreaker, SuccessResetsTheCount) {
  ManualClock clock = MakeClock();
  CircuitBreaker breaker(3, 10s, clock);
  Fail(breaker, 2);
  breaker.OnSuccess();
  EXPECT_EQ(breaker.consecutive_failures(), 0);
  Fail(breaker, 2);
  EXPECT_EQ(breaker.state(), State::kClosed);
}

TEST(CircuitBreaker, HalfOpenAllowsOneTrialThatClosesOnSuccess) {
  ManualClock clock = MakeClock();
  CircuitBreaker breaker(1, 10s, clock);
  breaker.OnFailure();
  clock.Advance(10s);
  EXPECT_EQ(breaker.state(), State::kHalfOpen);
  EXPECT_EQ(breaker.StateName(), "half_open");
  EXPECT_EQ(breaker.RemainingCooldown(), milliseconds(0));
  EXPECT_TRUE(breaker.Allow());
  EXPECT_FALSE(breaker.Allow());
  EXPECT_FALSE(breaker.Allow());
  breaker.OnSuccess();
  EXPECT_EQ(breaker.state(), State::kClosed);
  EXPECT_TRUE(breaker.Allow());
  EXPECT_TRUE(breaker.Allow());
}

TEST(CircuitBreaker, FailedTrialReopensForAnotherCooldown) {
  ManualClock clock = MakeClock();
  CircuitBreaker breaker(2, 10s, clock);
  Fail(breaker, 2);
  clock.Advance(10s);
  ASSERT_TRUE(breaker.Allow());
  breaker.OnFailure();
  EXPECT_EQ(breaker.state(), State::kOpen);
  EXPECT_FALSE(breaker.Allow());
  EXPECT_EQ(breaker.RemainingCooldown(), milliseconds(10'000));
  clock.Advance(9'999ms);
  EXPECT_FALSE(breaker.Allow());
  clock.Advance(1ms);
  EXPECT_TRUE(breaker.Allow());
}

TEST(CircuitBreaker, LateResultsWhileOpenChangeNothing) {
  ManualClock clock = MakeClock();
  CircuitBreaker breaker(1, 10s, clock);
  breaker.OnFailure();
  clock.Advance(5s);
  // Requests sent before it opened come back now.
  breaker.OnSuccess();
  EXPECT_EQ(breaker.state(), State::kOpen);
  breaker.OnFailure();
  EXPECT_EQ(breaker.RemainingCooldown(), milliseconds(5'000));  // not extended
}

TEST(CircuitBreaker, AbandonedTrialFreesTheSlot) {
  ManualClock clock = MakeClock();
  CircuitBreaker breaker(1, 10s, clock);
  breaker.OnFailure();
  clock.Advance(10s);
  ASSERT_TRUE(breaker.Allow());
  EXPECT_FALSE(breaker.Allow());
  breaker.OnAbandon();  // the client cancelled the trial
  EXPECT_EQ(breaker.state(), State::kHalfOpen);
  EXPECT_TRUE(breaker.Allow());
  EXPECT_FALSE(breaker.Allow());
}

TEST(CircuitBreaker, LostTrialIsReplacedAfterACooldown) {
  ManualClock clock = MakeClock();
  CircuitBreaker breaker(1, 10s, clock);
  breaker.OnFailure();
  clock.Advance(10s);
  ASSERT_TRUE(breaker.Allow());  // never reports back
  clock.Advance(9s);
  EXPECT_FALSE(breaker.Allow());
  clock.Advance(1s);
  EXPECT_TRUE(breaker.Allow());
  EXPECT_FALSE(breaker.Allow());
}

TEST(CircuitBreaker, ZeroFailuresNeverOpens) {
  ManualClock clock = MakeClock();
  CircuitBreaker breaker(0, 10s, clock);
  Fail(breaker, 100);
  EXPECT_EQ(breaker.state(), State::kClosed);
  EXPECT_TRUE(breaker.Allow());
}

TEST(CircuitBreaker, TakesItsSettingsFromConfig) {
  ManualClock clock = MakeClock();
  FallbackConfig config;
  config.circuit_failures = 2;
  config.circuit_cooldown = 30s;
  CircuitBreaker breaker(config, clock);
  Fail(breaker, 1);
  EXPECT_EQ(breaker.state(), State::kClosed);
  Fail(breaker, 1);
  EXPECT_EQ(breaker.state(), State::kOpen);
  EXPECT_EQ(breaker.RemainingCooldown(), milliseconds(30'000));
}

TEST(CircuitBreaker, OnlyOneOfManyConcurrentCallersGetsTheTrial) {
  constexpr int kThreads = 16;
  for (int round = 0; round < 50; ++round) {
    ManualClock clock = MakeClock();
    CircuitBreaker breaker(1, 1s, clock);
    breaker.OnFailure();
    clock.Advance(1s);
    std::atomic<int> allowed{0};
    std::latch start(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&] {
        start.arrive_and_wait();
        for (int i = 0; i < 10; ++i) {
          if (breaker.Allow()) allowed.fetch_add(1);
        }
      });
    }
    for (auto& thread : threads) thread.join();
    ASSERT_EQ(allowed.load(), 1) << "round " << round;
    breaker.OnSuccess();
    EXPECT_EQ(breaker.state(), State::kClosed);
  }
}

TEST(CircuitBreaker, ConcurrentFailuresOpenItOnce) {
  ManualClock clock = MakeClock();
  CircuitBreaker breaker(5, 10s, clock);
  std::latch start(16);
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&] {
      start.arrive_and_wait();
      if (breaker.Allow()) breaker.OnFailure();
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(breaker.state(), State::kOpen);
  EXPECT_EQ(breaker.RemainingCooldown(), milliseconds(10'000));
}

}  // namespace
}  // namespace wick::provider
