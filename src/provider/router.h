// The router: one request in, the right provider out. Candidates come from the request's
// `model` ("auto" or empty: every tier; a provider name: that provider; "provider/model": that
// model there; a model id: the providers serving it), ordered by the strategy (local_first:
// the configured tiers; cost_optimized: cheapest estimate first; performance_first: fastest
// observed first token first). Each candidate must pass its context length, circuit breaker,
// rate limits and the budgets; a failure before any text reached the client falls through to
// the next one, a failure after it ends the answer with an error (never two answers spliced).
// Deterministic requests are answered from the response cache when they can be. Every request
// is charged (actual usage, also for cancelled and broken streams) and written to the ledger.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "provider/budget.h"
#include "provider/circuit_breaker.h"
#include "provider/clock.h"
#include "provider/config.h"
#include "provider/deadline_watch.h"
#include "provider/ledger.h"
#include "provider/provider.h"
#include "provider/rate_limiter.h"
#include "provider/response_cache.h"

namespace wick::provider {

// How a routed request went, for the response headers, /metrics and the ledger.
struct RouteInfo {
  std::string provider;  // who answered ("" when nobody did)
  std::string model;
  std::vector<std::string> path;  // the providers tried, in order
  bool cache_hit = false;
  api::Usage usage;
  double cost = 0;  // USD
};

struct RouteError {
  api::ApiError error;
  RouteInfo info;
  bool after_first_token = false;  // the client already has text: end its stream with this
  std::chrono::milliseconds retry_after{0};
};

struct ModelEntry {
  std::string id;  // "provider/model"
  std::string provider;
  std::string model;
  int64_t context_length = 0;
  Price price;
};

class Router {
 public:
  // Takes the providers (named as in `config`); `ledger` may be null. Starts the health probe.
  Router(const Config& config, std::vector<std::unique_ptr<Provider>> providers, Ledger* ledger,
         const Clock& clock);
  ~Router();
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  // Called with a provider's name before the router tries it (or answers from the cache for
  // it): whoever produces the first token is the one that answers.
  using AttemptHook = std::function<void(const std::string& provider)>;

  // Routes one request for the API key named `key` ("" without keys).
  std::variant<RouteInfo, RouteError> Stream(const api::CompletionRequest& request,
                                             const std::string& key, const DeltaSink& sink,
                                             const CancelToken& cancel,
                                             const AttemptHook& on_attempt = {});

  // The key's name for a bearer token; nullopt when no configured key matches.
  std::optional<std::string> KeyForToken(std::string_view token) const;
  bool has_keys() const { return !config_.keys.empty(); }

  std::vector<ModelEntry> Models() const;
  // Per-provider Prometheus lines: requests, failures, fallbacks, tokens, cost, circuit state,
  // budget left.
  std::string Metrics() const;

 private:
  struct Slot;  // a provider and its breaker, limits and counters

  std::vector<Slot*> Candidates(const api::CompletionRequest& request, std::string* model,
                                api::ApiError* error);
  void Order(std::vector<Slot*>& slots, const api::CompletionRequest& request,
             int64_t prompt_tokens) const;
  void Finish(const std::string& key, RouteInfo& info, int status,
              std::chrono::steady_clock::time_point start);
  void ProbeLoop();
  // Whether spend is read back from a shared (PostgreSQL) ledger every sync_interval.
  bool SyncsSpend() const;
  BudgetTracker::SpendSource SpendFromLedger() const;

  const Config config_;
  const Clock& clock_;
  Ledger* ledger_;
  std::vector<std::unique_ptr<Slot>> slots_;
  RateLimiter provider_limits_;
  RateLimiter key_limits_;
  mutable BudgetTracker budgets_;  // Remaining() for /metrics rolls the day over
  std::optional<ResponseCache> cache_;
  std::optional<DeadlineWatch> deadlines_;  // with a response_timeout

  std::mutex probe_mu_;
  std::condition_variable probe_cv_;
  bool stopping_ = false;
  std::thread prober_;
};

}  // namespace wick::provider
