#include "provider/budget.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <variant>
#include <vector>

namespace wick::provider {

namespace {

using std::chrono::system_clock;

// Sums of doubles drift by a few ulps; a request that exactly uses up the budget fits.
constexpr double kSlack = 1e-9;

int64_t QuarterRoundedUp(int64_t bytes) {
  return (bytes + 3) / 4;
}

struct Period {
  system_clock::time_point day_start, next_day, month_start, next_month;
};

Period PeriodOf(system_clock::time_point now) {
  using namespace std::chrono;
  const sys_days day = floor<days>(now);
  const year_month_day ymd{day};
  const year_month first = ymd.year() / ymd.month();
  const year_month next = first + months{1};
  return {day, day + days{1}, sys_days{first / 1}, sys_days{next / 1}};
}

}  // namespace

int64_t EstimatePromptTokens(const api::CompletionRequest& request) {
  if (request.endpoint == api::Endpoint::kChat) {
    int64_t bytes = 0;
    int64_t messages = 0;
    for (const auto& message : request.messages) {
      ++messages;
      if (!message.is_object()) continue;
      auto content = message.find("content");
      if (content != message.end() && content->is_string()) {
        bytes += static_cast<int64_t>(content->get_ref<const std::string&>().size());
      }
    }
    return QuarterRoundedUp(bytes) + 4 * messages;
  }
  int64_t tokens = 0;
  for (const auto& prompt : request.prompts) {
    if (const auto* text = std::get_if<std::string>(&prompt)) {
      tokens += QuarterRoundedUp(static_cast<int64_t>(text->size()));
    } else {
      tokens += static_cast<int64_t>(std::get<std::vector<int32_t>>(prompt).size());
    }
  }
  return tokens;
}

double EstimateCost(const Price& price, int64_t prompt_tokens, int64_t max_tokens,
                    int64_t choices) {
  const int64_t completion = max_tokens < 0 ? kDefaultEstimatedCompletionTokens : max_tokens;
  const double out =
      static_cast<double>(completion) * static_cast<double>(std::max<int64_t>(choices, 1));
  return (static_cast<double>(prompt_tokens) * price.input + out * price.output) / 1e6;
}

std::string FormatUsd(double usd) {
  const double cents = usd * 100;
  if (std::fabs(usd) >= 1 || std::fabs(cents - std::round(cents)) < 1e-6) {
    return fmt::format("${:.2f}", usd);
  }
  std::string text = fmt::format("{:.6f}", usd);
  // Keep at least two decimals: "0.003100" -> "0.0031".
  const size_t dot = text.find('.');
  while (text.size() > dot + 3 && text.back() == '0') text.pop_back();
  return "$" + text;
}

BudgetTracker::BudgetTracker(const Clock& clock, BudgetLimits global) : clock_(clock) {
  global_.limits = global;
  const Period period = PeriodOf(clock_.Now());
  day_start_ = period.day_start;
  next_day_ = period.next_day;
  month_start_ = period.month_start;
  next_month_ = period.next_month;
}

void BudgetTracker::SetGlobalLimits(const BudgetLimits& limits) {
  std::lock_guard lock(mu_);
  global_.limits = limits;
}

void BudgetTracker::SetKeyLimits(std::string_view key, const BudgetLimits& limits) {
  std::lock_guard lock(mu_);
  auto it = keys_.find(key);
  if (it == keys_.end()) it = keys_.emplace(std::string(key), Spend{}).first;
  it->second.limits = limits;
}

void BudgetTracker::Roll(system_clock::time_point now) {
  // A wall clock stepped back keeps the current period rather than reopening a closed one.
  if (now < next_day_) return;
  const Period period = PeriodOf(now);
  const bool new_month = period.month_start != month_start_;
  global_.today = 0;
  if (new_month) global_.this_month = 0;
  for (auto& [name, spend] : keys_) {
    spend.today = 0;
    if (new_month) spend.this_month = 0;
  }
  day_start_ = period.day_start;
  next_day_ = period.next_day;
  month_start_ = period.month_start;
  next_month_ = period.next_month;
}

void BudgetTracker::Seed(const SpendSource& spend) {
  std::vector<std::string> keys;
  system_clock::time_point day_start, month_start;
  {
    const auto now = clock_.Now();
    std::lock_guard lock(mu_);
    Roll(now);
    day_start = day_start_;
    month_start = month_start_;
    keys.reserve(keys_.size());
    for (const auto& [name, unused] : keys_) keys.push_back(name);
  }
  // The ledger may be a database across the network: ask it without holding the lock.
  const double global_today = spend(nullptr, day_start);
  const double global_month = spend(nullptr, month_start);
  std::vector<std::pair<double, double>> per_key;
  per_key.reserve(keys.size());
  for (const auto& key : keys) {
    const double today = spend(&key, day_start);
    per_key.emplace_back(today, spend(&key, month_start));
  }

  const auto now = clock_.Now();
  std::lock_guard lock(mu_);
  Roll(now);
  // A day that ended while the ledger answered has nothing of that spend in it.
  if (day_start != day_start_) return;
  const bool same_month = month_start == month_start_;
  global_.today = global_today;
  if (same_month) global_.this_month = global_month;
  for (size_t i = 0; i < keys.size(); ++i) {
    Spend& s = keys_[keys[i]];
    s.today = per_key[i].first;
    if (same_month) s.this_month = per_key[i].second;
  }
}

std::optional<BudgetTracker::Decision> BudgetTracker::CheckScope(const Spend& spend,
                                                                 std::string_view key,
                                                                 double estimated_cost,
                                                                 Limit limit) {
  const BudgetLimits& limits = spend.limits;
  // Built only for a refusal: the passing path allocates nothing.
  auto whose = [key] { return key.empty() ? std::string() : fmt::format(" for key {}", key); };
  auto reject = [&](std::string reason) {
    return Decision{false, std::move(reason), limit, !key.empty()};
  };
  switch (limit) {
    case Limit::kPerRequest:
      if (limits.per_request && estimated_cost > *limits.per_request + kSlack) {
        return reject(fmt::format("request estimated at {} exceeds the per-request limit of {}{}",
                                  FormatUsd(estimated_cost), FormatUsd(*limits.per_request),
                                  whose()));
      }
      break;
    case Limit::kDaily:
      if (limits.daily && spend.today + estimated_cost > *limits.daily + kSlack) {
        return reject(fmt::format("daily budget of {}{}: {} spent", FormatUsd(*limits.daily),
                                  whose(), FormatUsd(spend.today)));
      }
      break;
    case Limit::kMonthly:
      if (limits.monthly && spend.this_month + estimated_cost > *limits.monthly + kSlack) {
        return reject(fmt::format("monthly budget of {}{}: {} spent", FormatUsd(*limits.monthly),
                                  whose(), FormatUsd(spend.this_month)));
      }
      break;
    case Limit::kNone:
      break;
  }
  return std::nullopt;
}

BudgetTracker::Decision BudgetTracker::Check(std::string_view key, double estimated_cost) {
  if (estimated_cost <= 0) return {};
  const auto now = clock_.Now();
  std::lock_guard lock(mu_);
  Roll(now);
  const Spend* own = nullptr;
  if (!key.empty()) {
    auto it = keys_.find(key);
    if (it != keys_.end()) own = &it->second;
  }
  // The narrowest limit first, and the key's own before the global one, so the reason names
  // what the caller can most directly do something about.
  for (Limit limit : {Limit::kPerRequest, Limit::kDaily, Limit::kMonthly}) {
    if (own != nullptr) {
      if (auto decision = CheckScope(*own, key, estimated_cost, limit)) return *decision;
    }
    if (auto decision = CheckScope(global_, {}, estimated_cost, limit)) return *decision;
  }
  return {};
}

void BudgetTracker::Charge(std::string_view key, double cost) {
  if (cost == 0) return;
  const auto now = clock_.Now();
  std::lock_guard lock(mu_);
  Roll(now);
  global_.today += cost;
  global_.this_month += cost;
  if (key.empty()) return;
  auto it = keys_.find(key);
  if (it == keys_.end()) it = keys_.emplace(std::string(key), Spend{}).first;
  it->second.today += cost;
  it->second.this_month += cost;
}

BudgetTracker::Left BudgetTracker::Remaining(std::string_view key) {
  const auto now = clock_.Now();
  std::lock_guard lock(mu_);
  Roll(now);
  const Spend* spend = &global_;
  if (!key.empty()) {
    auto it = keys_.find(key);
    if (it == keys_.end()) return {};
    spend = &it->second;
  }
  Left left;
  left.spent_today = spend->today;
  left.spent_this_month = spend->this_month;
  if (spend->limits.daily) left.daily = *spend->limits.daily - spend->today;
  if (spend->limits.monthly) left.monthly = *spend->limits.monthly - spend->this_month;
  return left;
}

}  // namespace wick::provider
