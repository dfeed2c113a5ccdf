#include "provider/budget.h"

#include <gtest/gtest.h>

#include <chrono>
#include <latch>
#include <map>
#include <string>
#include <thread>
#include <vector>

namespace wick::provider {
namespace {

using namespace std::chrono;
using namespace std::chrono_literals;
using Limit = BudgetTracker::Limit;

system_clock::time_point At(year_month_day day, hours h, minutes m) {
  return sys_days{day} + h + m;
}

api::CompletionRequest Chat(const std::vector<std::string>& contents) {
  api::CompletionRequest request;
  for (const auto& content : contents) {
    request.messages.push_back({{"role", "user"}, {"content", content}});
  }
  return request;
}

TEST(BudgetEstimate, ChatPromptTokens) {
  // 5 + 8 = 13 bytes -> 4 tokens, plus 4 per message.
  EXPECT_EQ(EstimatePromptTokens(Chat({"hello", "abcdefgh"})), 4 + 8);
  EXPECT_EQ(EstimatePromptTokens(Chat({""})), 4);
  EXPECT_EQ(EstimatePromptTokens(Chat({"abcd"})), 1 + 4);
  EXPECT_EQ(EstimatePromptTokens(Chat({"abcde"})), 2 + 4);
  // An assistant turn without content counts its framing only.
  api::CompletionRequest request = Chat({"abcd"});
  request.messages.push_back({{"role", "assistant"}, {"content", nullptr}});
  EXPECT_EQ(EstimatePromptTokens(request), 1 + 8);
}

TEST(BudgetEstimate, CompletionPromptTokens) {
  api::CompletionRequest request;
  request.endpoint = api::Endpoint::kCompletion;
  request.prompts = {std::string("123456789"), std::vector<int32_t>{1, 2, 3}};
  EXPECT_EQ(EstimatePromptTokens(request), 3 + 3);  // 9 bytes -> 3, three ids exactly
}

TEST(BudgetEstimate, Cost) {
  const Price price{1.0, 2.0};  // USD per million
  EXPECT_DOUBLE_EQ(EstimateCost(price, 1000, 500), (1000 * 1.0 + 500 * 2.0) / 1e6);
  EXPECT_DOUBLE_EQ(EstimateCost(price, 1000, -1), (1000 * 1.0 + 256 * 2.0) / 1e6);
  EXPECT_DOUBLE_EQ(EstimateCost(price, 1000, 100, 3), (1000 * 1.0 + 300 * 2.0) / 1e6);
  EXPECT_DOUBLE_EQ(EstimateCost(Price{}, 1'000'000, 1'000'000), 0);
}

TEST(BudgetEstimate, FormatUsd) {
  EXPECT_EQ(FormatUsd(10), "$10.00");
  EXPECT_EQ(FormatUsd(9.95), "$9.95");
  EXPECT_EQ(FormatUsd(0.01), "$0.01");
  EXPECT_EQ(FormatUsd(0), "$0.00");
  EXPECT_EQ(FormatUsd(0.0031), "$0.0031");
  EXPECT_EQ(FormatUsd(0.000001), "$0.000001");
  EXPECT_EQ(FormatUsd(1234.567), "$1234.57");
}

TEST(BudgetTracker, KeyDailyBudget) {
  ManualClock clock(At(2026y / 3 / 10, 12h, 0min));
  BudgetTracker budget(clock);
  budget.SetKeyLimits("team-a", {.daily = 10.0});
  budget.Charge("team-a", 9.95);
  EXPECT_TRUE(budget.Check("team-a", 0.05).ok);  // exactly uses it up
  BudgetTracker::Decision d = budget.Check("team-a", 0.10);
  EXPECT_FALSE(d.ok);
  EXPECT_EQ(d.reason, "daily budget of $10.00 for key team-a: $9.95 spent");
  EXPECT_EQ(d.which, Limit::kDaily);
  EXPECT_TRUE(d.per_key);
  // Other keys and no key have no such budget.
  EXPECT_TRUE(budget.Check("team-b", 100).ok);
  EXPECT_TRUE(budget.Check("", 100).ok);
}

TEST(BudgetTracker, FreeRequestsAlwaysFit) {
  ManualClock clock(At(2026y / 3 / 10, 12h, 0min));
  BudgetTracker budget(clock, {.daily = 1.0, .monthly = 1.0});
  budget.Charge("", 5.0);  // over, e.g. a long stream charged after the fact
  EXPECT_FALSE(budget.Check("", 0.001).ok);
  EXPECT_TRUE(budget.Check("", 0).ok);  // the local tier still serves
}

TEST(BudgetTracker, GlobalBudgetsSumEveryKey) {
  ManualClock clock(At(2026y / 3 / 10, 12h, 0min));
  BudgetTracker budget(clock, {.daily = 1.0, .monthly = 20.0});
  budget.Charge("team-a", 0.5);
  budget.Charge("team-b", 0.25);
  budget.Charge("", 0.2);
  BudgetTracker::Decision d = budget.Check("team-c", 0.1);
  EXPECT_FALSE(d.ok);
  EXPECT_EQ(d.reason, "daily budget of $1.00: $0.95 spent");
  EXPECT_EQ(d.which, Limit::kDaily);
  EXPECT_FALSE(d.per_key);
  EXPECT_TRUE(budget.Check("team-c", 0.05).ok);
  BudgetTracker::Left left = budget.Remaining("");
  ASSERT_TRUE(left.daily && left.monthly);
  EXPECT_NEAR(*left.daily, 0.05, 1e-12);
  EXPECT_NEAR(*left.monthly, 19.05, 1e-12);
  EXPECT_NEAR(left.spent_today, 0.95, 1e-12);
  left = budget.Remaining("team-a");
  EXPECT_FALSE(left.daily.has_value());
  EXPECT_NEAR(left.spent_this_month, 0.5, 1e-12);
  EXPECT_EQ(budget.Remaining("nobody").spent_today, 0);
}

TEST(BudgetTracker, PerRequestLimits) {
  ManualClock clock(At(2026y / 3 / 10, 12h, 0min));
  BudgetTracker budget(clock, {.per_request = 0.01});
  budget.SetKeyLimits("team-a", {.per_request = 0.005});
  BudgetTracker::Decision d = budget.Check("team-a", 0.0075);
  EXPECT_FALSE(d.ok);
  EXPECT_EQ(d.which, Limit::kPerRequest);
  EXPECT_TRUE(d.per_key);
  EXPECT_EQ(d.reason,
            "request estimated at $0.0075 exceeds the per-request limit of $0.005 for key team-a");
  EXPECT_TRUE(budget.Check("team-b", 0.0075).ok);
  d = budget.Check("team-b", 0.03);
  EXPECT_FALSE(d.ok);
  EXPECT_FALSE(d.per_key);
  EXPECT_EQ(d.reason, "request estimated at $0.03 exceeds the per-request limit of $0.01");
}

TEST(BudgetTracker, KeyLimitIsReportedBeforeTheGlobalOne) {
  ManualClock clock(At(2026y / 3 / 10, 12h, 0min));
  BudgetTracker budget(clock, {.daily = 5.0, .monthly = 5.0});
  budget.SetKeyLimits("team-a", {.daily = 5.0, .monthly = 5.0});
  budget.Charge("team-a", 5.0);
  BudgetTracker::Decision d = budget.Check("team-a", 1.0);
  EXPECT_EQ(d.which, Limit::kDaily);
  EXPECT_TRUE(d.per_key);
}

TEST(BudgetTracker, MonthlyBudget) {
  ManualClock clock(At(2026y / 3 / 10, 12h, 0min));
  BudgetTracker budget(clock, {.monthly = 100.0});
  budget.Charge("", 60);
  clock.Advance(24h);
  budget.Charge("", 39.99);
  BudgetTracker::Decision d = budget.Check("", 0.02);
  EXPECT_FALSE(d.ok);
  EXPECT_EQ(d.which, Limit::kMonthly);
  EXPECT_EQ(d.reason, "monthly budget of $100.00: $99.99 spent");
}

TEST(BudgetTracker, DayEndsAtMidnightUtc) {
  ManualClock clock(At(2026y / 3 / 10, 23h, 59min));
  BudgetTracker budget(clock, {.daily = 1.0, .monthly = 10.0});
  budget.Charge("", 1.0);
  EXPECT_FALSE(budget.Check("", 0.01).ok);
  clock.Advance(59s);  // 23:59:59
  EXPECT_FALSE(budget.Check("", 0.01).ok);
  clock.Advance(1s);  // 00:00:00 the next day
  EXPECT_TRUE(budget.Check("", 0.01).ok);
  BudgetTracker::Left left = budget.Remaining("");
  EXPECT_EQ(left.spent_today, 0);
  EXPECT_DOUBLE_EQ(left.spent_this_month, 1.0);  // same month
}

TEST(BudgetTracker, MonthEndsOnTheFirstUtc) {
  ManualClock clock(At(2026y / 1 / 31, 23h, 59min));
  BudgetTracker budget(clock, {.daily = 5.0, .monthly = 5.0});
  budget.SetKeyLimits("team-a", {.daily = 2.0, .monthly = 2.0});
  budget.Charge("team-a", 2.0);
  budget.Charge("", 3.0);
  EXPECT_FALSE(budget.Check("team-a", 0.01).ok);
  EXPECT_FALSE(budget.Check("", 0.01).ok);
  clock.Advance(1min);  // Feb 1, 00:00 UTC
  EXPECT_TRUE(budget.Check("team-a", 2.0).ok);
  EXPECT_TRUE(budget.Check("", 5.0).ok);
  EXPECT_EQ(budget.Remaining("").spent_this_month, 0);
  EXPECT_EQ(budget.Remaining("team-a").spent_this_month, 0);
  EXPECT_EQ(budget.Remaining("team-a").spent_today, 0);
}

TEST(BudgetTracker, LeapDayIsNotANewMonth) {
  ManualClock clock(At(2028y / 2 / 28, 23h, 0min));
  BudgetTracker budget(clock, {.monthly = 5.0});
  budget.Charge("", 4.0);
  clock.Advance(2h);  // Feb 29
  EXPECT_DOUBLE_EQ(budget.Remaining("").spent_this_month, 4.0);
  EXPECT_EQ(budget.Remaining("").spent_today, 0);
  clock.Advance(24h);  // Mar 1
  EXPECT_EQ(budget.Remaining("").spent_this_month, 0);
}

TEST(BudgetTracker, LongJumpResetsEverything) {
  ManualClock clock(At(2026y / 1 / 15, 10h, 0min));
  BudgetTracker budget(clock, {.daily = 1.0, .monthly = 1.0});
  budget.Charge("", 1.0);
  clock.Advance(24h * 60);  // mid-March
  EXPECT_TRUE(budget.Check("", 1.0).ok);
}

TEST(BudgetTracker, SeedsTodayAndThisMonthFromTheLedger) {
  ManualClock clock(At(2026y / 2 / 14, 15h, 30min));
  BudgetTracker budget(clock, {.daily = 10.0, .monthly = 100.0});
  budget.SetKeyLimits("team-a", {.daily = 10.0});
  const system_clock::time_point day = sys_days{2026y / 2 / 14};
  const system_clock::time_point month = sys_days{2026y / 2 / 1};
  std::vector<std::pair<std::string, system_clock::time_point>> asked;
  budget.Seed([&](const std::string* key, system_clock::time_point since) {
    asked.emplace_back(key ? *key : "*", since);
    if (since == day) return key ? 9.95 : 9.5;
    if (since == month) return key ? 20.0 : 95.0;
    ADD_FAILURE() << "unexpected since";
    return 0.0;
  });
  std::vector<std::pair<std::string, system_clock::time_point>> expected = {
      {"*", day}, {"*", month}, {"team-a", day}, {"team-a", month}};
  EXPECT_EQ(asked, expected);
  BudgetTracker::Decision d = budget.Check("team-a", 0.1);
  EXPECT_FALSE(d.ok);
  EXPECT_EQ(d.reason, "daily budget of $10.00 for key team-a: $9.95 spent");
  EXPECT_DOUBLE_EQ(budget.Remaining("").spent_this_month, 95.0);
  EXPECT_DOUBLE_EQ(budget.Remaining("").spent_today, 9.5);
  // Charges add to the seeded spend.
  budget.Charge("", 0.5);
  EXPECT_FALSE(budget.Check("", 0.01).ok);
}

TEST(BudgetTracker, ConcurrentChargesAllCount) {
  ManualClock clock(At(2026y / 2 / 14, 15h, 30min));
  BudgetTracker budget(clock, {.daily = 1e9});
  budget.SetKeyLimits("team-a", {.daily = 1e9});
  constexpr int kThreads = 16;
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      for (int i = 0; i < 1000; ++i) {
        EXPECT_TRUE(budget.Check(t % 2 ? "team-a" : "", 0.25).ok);
        budget.Charge(t % 2 ? "team-a" : "", 0.25);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_DOUBLE_EQ(budget.Remaining("").spent_today, 16 * 1000 * 0.25);
  EXPECT_DOUBLE_EQ(budget.Remaining("team-a").spent_today, 8 * 1000 * 0.25);
}

}  // namespace
}  // namespace wick::provider
