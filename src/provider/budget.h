// Cost budgets: a maximum per request, and daily and monthly budgets, for everyone together and
// per API key. The router checks a request's estimated cost before dispatch (an over-budget
// request goes to a cheaper tier, or gets a 429 budget_exceeded) and charges what it actually
// cost afterwards, cancelled and failed-mid-stream requests included.
//
// Spend is kept in memory per UTC day and UTC month and restarts at zero when the clock crosses
// midnight UTC or the 1st of a month. At start it is seeded from the usage ledger, so that a
// restart does not hand out today's budget a second time.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "api/openai_protocol.h"
#include "provider/clock.h"
#include "provider/provider.h"

namespace wick::provider {

// USD; unset: no limit. Globally from [fallback] (daily_budget, monthly_budget,
// cost_threshold), per key from [[keys]] (daily_budget, monthly_budget, max_cost_per_request).
struct BudgetLimits {
  std::optional<double> daily = std::nullopt;
  std::optional<double> monthly = std::nullopt;
  std::optional<double> per_request = std::nullopt;
};

// What a completion is assumed to generate when max_tokens is unlimited.
inline constexpr int64_t kDefaultEstimatedCompletionTokens = 256;

// The prompt's size in tokens when its tokenizer is unknown: the bytes of every message content
// (or text prompt) / 4, rounded up, plus 4 per message for the chat template's framing; token-id
// prompts count exactly. Bytes rather than code points: for text outside Latin scripts a code
// point is often a whole token, so counting bytes errs on the side of the budget.
int64_t EstimatePromptTokens(const api::CompletionRequest& request);

// USD for `prompt_tokens` in and `max_tokens` out per choice (negative max_tokens: unlimited,
// counted as kDefaultEstimatedCompletionTokens).
double EstimateCost(const Price& price, int64_t prompt_tokens, int64_t max_tokens,
                    int64_t choices = 1);

// "$10.00", "$0.0031": cents where that is exact or the amount is large, else up to six
// decimals so that small per-request costs do not read as $0.00.
std::string FormatUsd(double usd);

class BudgetTracker {
 public:
  enum class Limit { kNone, kPerRequest, kDaily, kMonthly };

  struct Decision {
    bool ok = true;
    // When not ok: "daily budget of $10.00 for key team-a: $9.95 spent".
    std::string reason;
    Limit which = Limit::kNone;
    bool per_key = false;  // the key's own limit rather than the global one
  };

  // What is left of a budget (nullopt: no such budget), and what was spent, in this UTC day and
  // month.
  struct Left {
    std::optional<double> daily;
    std::optional<double> monthly;
    double spent_today = 0;
    double spent_this_month = 0;
  };

  // The ledger's Spend: USD spent since `since`, by one key or by everyone (nullptr).
  using SpendSource =
      std::function<double(const std::string* key, std::chrono::system_clock::time_point since)>;

  explicit BudgetTracker(const Clock& clock, BudgetLimits global = {});

  void SetGlobalLimits(const BudgetLimits& limits);
  void SetKeyLimits(std::string_view key, const BudgetLimits& limits);

  // Replaces the spend of this UTC day and month, globally and for every key given limits so
  // far, with the ledger's. Called at start; may be called again to resync with a ledger that
  // other wick instances write too.
  void Seed(const SpendSource& spend);

  // Whether a request estimated at `estimated_cost` fits every limit of `key` ("" without API
  // keys: only the global ones) and the global ones. A free request always fits, so that the
  // local tier still serves once the budget is spent.
  Decision Check(std::string_view key, double estimated_cost);
  // Adds what a request actually cost.
  void Charge(std::string_view key, double cost);

  // For `key`'s own budgets, or the global ones with "".
  Left Remaining(std::string_view key);

 private:
  struct Spend {
    BudgetLimits limits;
    double today = 0;
    double this_month = 0;
  };

  // Restarts the day's and the month's spend when `now` has crossed into a new one.
  void Roll(std::chrono::system_clock::time_point now);
  static std::optional<Decision> CheckScope(const Spend& spend, std::string_view key,
                                            double estimated_cost, Limit limit);

  const Clock& clock_;
  std::mutex mu_;
  Spend global_;
  std::map<std::string, Spend, std::less<>> keys_;
  std::chrono::system_clock::time_point day_start_{};
  std::chrono::system_clock::time_point next_day_{};
  std::chrono::system_clock::time_point month_start_{};
  std::chrono::system_clock::time_point next_month_{};
};

}  // namespace wick::provider
