#include "provider/router.h"

#include <fmt/format.h>

#include <algorithm>
#include <random>

#include "core/constant_time.h"
#include "core/random.h"

namespace wick::provider {

namespace {

using Ms = std::chrono::milliseconds;

api::ApiError MakeError(int status, std::string message, std::string type, std::string code = {},
                        std::string param = {}) {
  api::ApiError e;
  e.status = status;
  e.message = std::move(message);
  e.type = std::move(type);
  e.code = std::move(code);
  e.param = std::move(param);
  return e;
}

std::string NewRequestId() {
  return fmt::format("req-{:016x}", RandomU64());
}

// Failures another provider may not repeat: fall through to the next tier.
bool FallsThrough(FailureKind kind) {
  return kind != FailureKind::kBadRequest && kind != FailureKind::kCancelled;
}

// The client's status for a provider's failure, when no tier is left.
int StatusOf(const Failure& f) {
  switch (f.kind) {
    case FailureKind::kRateLimited:
      return 429;
    case FailureKind::kUnavailable:
      return 503;
    case FailureKind::kTimeout:
      return 504;
    case FailureKind::kContextLength:
    case FailureKind::kBadRequest:
      return 400;
    case FailureKind::kCancelled:
      return 499;
    default:
      return 502;
  }
}

// The configured price of `model` there ([prices] "provider/model"), else the provider's own.
Price PriceFor(const Config& config, const ProviderInfo& info, const std::string& model) {
  if (auto it = config.prices.find(info.name + "/" + model); it != config.prices.end()) {
    return it->second;
  }
  return info.price;
}

}  // namespace

struct Router::Slot {
  Slot(std::unique_ptr<Provider> p, const FallbackConfig& fallback, const Clock& clock)
      : provider(std::move(p)), breaker(fallback, clock) {}

  std::unique_ptr<Provider> provider;
  CircuitBreaker breaker;
  std::atomic<bool> healthy{true};
  // Exponential average of the time to the first token, for performance_first (0: none yet).
  std::atomic<double> first_token_ms{0};
  std::atomic<uint64_t> requests{0}, failures{0}, fallbacks{0}, prompt_tokens{0},
      completion_tokens{0};
  std::atomic<double> cost{0};
  // Calls under way, against max_concurrent (0: no limit; [local] max_concurrent_requests).
  std::atomic<int> in_flight{0};
  int max_concurrent = 0;

  const std::string& name() const { return provider->info().name; }
};

namespace {

// Passes a delta on in pieces of at most `chunk` bytes of text (stream_chunk_size), cut at
// UTF-8 character boundaries, the finish reason on the last. A delta with log-probabilities
// or tool calls stays whole: they belong to its tokens.
bool SendInChunks(const Delta& delta, size_t chunk, const DeltaSink& sink) {
  if (chunk == 0 || delta.text.size() <= chunk || !delta.logprobs.empty() ||
      !delta.tool_calls.empty()) {
    return sink(delta);
  }
  std::string_view text = delta.text;
  while (!text.empty()) {
    size_t n = std::min(chunk, text.size());
    // Back up over continuation bytes (10xxxxxx) so a character is never split; a run longer
    // than a character (invalid UTF-8) is cut where it must be.
    size_t cut = n;
    while (cut > 0 && cut < text.size() && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80 &&
           n - cut < 3) {
      --cut;
    }
    if (cut > 0) n = cut;
    Delta piece;
    piece.index = delta.index;
    piece.text = std::string(text.substr(0, n));
    text.remove_prefix(n);
    if (text.empty()) piece.finish_reason = delta.finish_reason;
    if (!sink(piece)) return false;
  }
  return true;
}

}  // namespace

Router::Router(const Config& config, std::vector<std::unique_ptr<Provider>> providers,
               Ledger* ledger, const Clock& clock)
    : config_(config),
      clock_(clock),
      ledger_(ledger),
      provider_limits_(clock),
      key_limits_(clock),
      budgets_(clock, BudgetLimits{.daily = config.fallback.daily_budget,
                                   .monthly = config.fallback.monthly_budget,
                                   .per_request = config.fallback.cost_threshold}) {
  for (auto& p : providers) {
    slots_.push_back(std::make_unique<Slot>(std::move(p), config_.fallback, clock_));
    if (slots_.back()->name() == config_.local.name && slots_.back()->provider->info().local) {
      slots_.back()->max_concurrent = config_.local.max_concurrent_requests;
    }
  }
  // On PostgreSQL, rate limits are shared by every instance on the database.
  if (ledger_ != nullptr && ledger_->shared_buckets() != nullptr) {
    provider_limits_.ShareThrough(ledger_->shared_buckets(), "provider:");
    key_limits_.ShareThrough(ledger_->shared_buckets(), "key:");
  }
  for (const RemoteConfig& r : config_.remotes) {
    provider_limits_.SetLimits(r.name, r.rate_limit, r.token_rate_limit);
  }
  for (const KeyConfig& k : config_.keys) {
    key_limits_.SetLimits(k.name, k.rate_limit, k.token_rate_limit);
    budgets_.SetKeyLimits(k.name, {.daily = k.daily_budget,
                                   .monthly = k.monthly_budget,
                                   .per_request = k.max_cost_per_request});
  }
  // Today's and this month's spend survive a restart.
  if (ledger_ != nullptr) budgets_.Seed(SpendFromLedger());
  if (config_.performance.cache_enabled) {
    CacheStore* store =
        config_.performance.cache_persist && ledger_ != nullptr ? ledger_->cache_store() : nullptr;
    cache_.emplace(clock_,
                   ResponseCacheOptions{.ttl = config_.performance.cache_ttl,
                                        .max_entries = config_.performance.cache_max_entries,
                                        .max_bytes = config_.performance.cache_max_size,
                                        .store = store});
  }
  if (config_.performance.response_timeout.count() > 0) deadlines_.emplace();
  if (config_.fallback.health_interval.count() > 0 || SyncsSpend()) {
    prober_ = std::thread([this] { ProbeLoop(); });
  }
}

BudgetTracker::SpendSource Router::SpendFromLedger() const {
  return [this](const std::string* key, std::chrono::system_clock::time_point since) {
    Result<double> spent = ledger_->Spend(key, since);
    return spent.ok() ? *spent : 0.0;
  };
}

Router::~Router() {
  {
    std::lock_guard lock(probe_mu_);
    stopping_ = true;
  }
  probe_cv_.notify_all();
  if (prober_.joinable()) prober_.join();
}

bool Router::SyncsSpend() const {
  return ledger_ != nullptr && !config_.ledger.url.empty() &&
         config_.ledger.sync_interval.count() > 0;
}

void Router::ProbeLoop() {
  // Real time: probes pace themselves against the network, not the injected clock.
  using Steady = std::chrono::steady_clock;
  const Ms probe_every = config_.fallback.health_interval;
  const Ms sync_every = config_.ledger.sync_interval;
  auto next_probe =
      probe_every.count() > 0 ? Steady::now() + probe_every : Steady::time_point::max();
  auto next_sync = SyncsSpend() ? Steady::now() + sync_every : Steady::time_point::max();
  std::unique_lock lock(probe_mu_);
  while (!stopping_) {
    probe_cv_.wait_until(lock, std::min(next_probe, next_sync), [&] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    const auto now = Steady::now();
    if (now >= next_probe) {
      for (auto& slot : slots_) {
        const bool ok = slot->provider->Probe() == Health::kHealthy;
        slot->healthy.store(ok);
        if (!ok) slot->breaker.OnFailure();
      }
      next_probe = Steady::now() + probe_every;
    }
    // A PostgreSQL ledger is shared by every instance behind a load balancer: what the others
    // spent counts against the same budgets, so read it back every sync_interval.
    if (now >= next_sync) {
      budgets_.Seed(SpendFromLedger());
      next_sync = Steady::now() + sync_every;
    }
    lock.lock();
  }
}

std::optional<std::string> Router::KeyForToken(std::string_view token) const {
  for (const KeyConfig& k : config_.keys) {
    if (k.key.set && ConstantTimeEquals(k.key.value, token)) return k.name;
  }
  return std::nullopt;
}

std::vector<ModelEntry> Router::Models() const {
  std::vector<ModelEntry> out;
  for (const auto& slot : slots_) {
    const ProviderInfo& info = slot->provider->info();
    for (const std::string& m : info.models) {
      out.push_back({.id = info.name + "/" + m,
                     .provider = info.name,
                     .model = m,
                     .context_length = info.context_length,
                     .price = PriceFor(config_, info, m)});
    }
  }
  return out;
}

std::vector<Router::Slot*> Router::Candidates(const api::CompletionRequest& request,
                                              std::string* model, api::ApiError* error) {
  auto by_name = [&](std::string_view name) -> Slot* {
    for (auto& s : slots_) {
      if (s->name() == name) return s.get();
    }
    return nullptr;
  };
  std::vector<Slot*> out;
  const std::string& m = request.model;
  if (m.empty() || m == "auto") {
    for (const std::string& tier : config_.fallback.tiers) {
      if (Slot* s = by_name(tier)) out.push_back(s);
    }
    return out;
  }
  if (Slot* s = by_name(m)) return {s};  // a provider: its default model
  if (const size_t slash = m.find('/'); slash != std::string::npos) {
    if (Slot* s = by_name(std::string_view(m).substr(0, slash))) {
      *model = m.substr(slash + 1);
      return {s};
    }
  }
  for (const std::string& tier : config_.fallback.tiers) {
    Slot* s = by_name(tier);
    if (s == nullptr) continue;
    const auto& models = s->provider->info().models;
    if (std::find(models.begin(), models.end(), m) != models.end()) out.push_back(s);
  }
  if (out.empty()) {
    *error = MakeError(404,
                       fmt::format("the model '{}' does not exist: use 'auto', a provider name or "
                                   "'provider/model' (GET /v1/models lists them)",
                                   m),
                       "invalid_request_error", "model_not_found", "model");
  }
  return out;
}

void Router::Order(std::vector<Slot*>& slots, const api::CompletionRequest& request,
                   int64_t prompt_tokens) const {
  if (config_.fallback.strategy == Strategy::kCostOptimized) {
    std::stable_sort(slots.begin(), slots.end(), [&](Slot* a, Slot* b) {
      const auto cost = [&](Slot* s) {
        const ProviderInfo& info = s->provider->info();
        const std::string model = info.models.empty() ? "" : info.models.front();
        return EstimateCost(PriceFor(config_, info, model), prompt_tokens, request.max_tokens,
                            request.n);
      };
      return cost(a) < cost(b);
    });
  } else if (config_.fallback.strategy == Strategy::kPerformanceFirst) {
    // Unmeasured providers keep their tier order after the measured ones.
    std::stable_sort(slots.begin(), slots.end(), [](Slot* a, Slot* b) {
      const double ta = a->first_token_ms.load(), tb = b->first_token_ms.load();
      if ((ta > 0) != (tb > 0)) return ta > 0;
      return ta > 0 && ta < tb;
    });
  }
}

std::variant<RouteInfo, RouteError> Router::Stream(const api::CompletionRequest& request,
                                                   const std::string& key, const DeltaSink& sink,
                                                   const CancelToken& cancel,
                                                   const AttemptHook& on_attempt) {
  const auto start = clock_.Monotonic();
  RouteInfo info;
  auto fail = [&](api::ApiError error, Ms retry_after = Ms(0), bool after_first = false) {
    Finish(key, info, error.status, start);
    return RouteError{.error = std::move(error),
                      .info = info,
                      .after_first_token = after_first,
                      .retry_after = retry_after};
  };

  const int64_t prompt_tokens = EstimatePromptTokens(request);
  if (!key.empty()) {
    RateLimiter::Decision d = key_limits_.Admit(key, static_cast<double>(prompt_tokens));
    if (!d.ok) {
      return fail(MakeError(429, fmt::format("rate limit for key {}: {}", key, d.reason),
                            "rate_limit_error", "rate_limit_exceeded"),
                  d.retry_after);
    }
  }

  std::string model_override;
  api::ApiError route_error;
  std::vector<Slot*> candidates = Candidates(request, &model_override, &route_error);
  if (candidates.empty()) {
    if (route_error.status == 400) {
      route_error = MakeError(503, "no provider is configured", "unavailable_error");
    }
    return fail(route_error);
  }
  Order(candidates, request, prompt_tokens);

  const size_t chunk = static_cast<size_t>(config_.performance.stream_chunk_size);
  // Deterministic requests: a candidate's cached answer (first in order), replayed.
  const bool cacheable = cache_ && ResponseCache::Cacheable(request);
  auto model_of = [&](const ProviderInfo& p) {
    return !model_override.empty() ? model_override
           : p.models.empty()      ? std::string()
                                   : p.models.front();
  };
  // Each candidate's key, computed once: looked up now, stored under after its answer.
  std::vector<std::string> cache_keys;
  if (cacheable) {
    for (Slot* slot : candidates) {
      const ProviderInfo& p = slot->provider->info();
      cache_keys.push_back(ResponseCache::Key(p.name + "/" + model_of(p), request));
      std::optional<Completion> hit = cache_->Get(cache_keys.back());
      if (!hit) continue;
      if (on_attempt) on_attempt(p.name);
      for (const api::ChoiceResult& c : hit->choices) {
        Delta d;
        d.index = c.index;
        d.text = c.text;
        d.logprobs = c.logprobs;
        d.finish_reason = c.finish_reason;
        d.tool_calls = ToolCallDeltas(c.tool_calls);
        if (!SendInChunks(d, chunk, sink)) break;
      }
      info.provider = p.name;
      info.model = hit->outcome.model;
      info.cache_hit = true;
      info.usage = hit->outcome.usage;
      info.path = {p.name};
      Finish(key, info, 200, start);
      return info;
    }
  }

  RouteError last;
  last.error = MakeError(503, "no provider could take the request", "unavailable_error");
  for (size_t ci = 0; ci < candidates.size(); ++ci) {
    Slot* slot = candidates[ci];
    const ProviderInfo& pinfo = slot->provider->info();
    const std::string model = model_of(pinfo);
    if (pinfo.context_length > 0 && prompt_tokens >= pinfo.context_length) {
      last.error = MakeError(400,
                             fmt::format("the prompt (about {} tokens) does not fit {}'s context "
                                         "of {}",
                                         prompt_tokens, pinfo.name, pinfo.context_length),
                             "invalid_request_error", "context_length_exceeded", "messages");
      continue;
    }
    const Price price = PriceFor(config_, pinfo, model);
    const double estimate = EstimateCost(price, prompt_tokens, request.max_tokens, request.n);
    BudgetTracker::Decision budget = budgets_.Check(key, estimate);
    if (!budget.ok) {
      last.error =
          MakeError(429, "over budget: " + budget.reason, "insufficient_quota", "budget_exceeded");
      continue;
    }
    if (!slot->breaker.Allow()) {
      last.error = MakeError(503, fmt::format("{} is failing: its circuit is open", pinfo.name),
                             "unavailable_error");
      last.retry_after = slot->breaker.RemainingCooldown();
      continue;
    }
    // A provider at its concurrency limit passes the request on while a later tier remains;
    // the last one takes it anyway (the engine queues it).
    if (slot->max_concurrent > 0 && slot->in_flight.load() >= slot->max_concurrent &&
        ci + 1 < candidates.size()) {
      slot->breaker.OnAbandon();
      last.error = MakeError(
          503, fmt::format("{} is busy: {} requests under way", pinfo.name, slot->max_concurrent),
          "unavailable_error");
      continue;
    }
    RateLimiter::Decision admit =
        provider_limits_.Admit(pinfo.name, static_cast<double>(prompt_tokens));
    if (!admit.ok) {
      slot->breaker.OnAbandon();
      last.error = MakeError(429, fmt::format("rate limit of {}: {}", pinfo.name, admit.reason),
                             "rate_limit_error", "rate_limit_exceeded");
      last.retry_after = admit.retry_after;
      continue;
    }

    if (!info.path.empty()) ++candidates.front()->fallbacks;
    info.path.push_back(pinfo.name);
    if (on_attempt) on_attempt(pinfo.name);
    ++slot->requests;
    api::CompletionRequest sent = request;
    sent.model = model;
    bool first_token = false;
    Completion collected;
    const auto attempt_start = clock_.Monotonic();
    // The attempt's own token, so that a missed response_timeout stops this provider only.
    CancelToken attempt_cancel(&cancel);
    DeadlineWatch::Watched watched(
        std::chrono::steady_clock::now() + config_.performance.response_timeout, &attempt_cancel);
    if (deadlines_) deadlines_->Add(&watched);
    ++slot->in_flight;
    std::variant<Outcome, Failure> result = slot->provider->Stream(
        sent,
        [&](const Delta& d) {
          if (!first_token && (!d.text.empty() || !d.tool_calls.empty())) {
            if (!watched.Disarm()) return false;  // too late: the next tier answers instead
            first_token = true;
            const double ms =
                std::chrono::duration<double, std::milli>(clock_.Monotonic() - attempt_start)
                    .count();
            const double old = slot->first_token_ms.load();
            slot->first_token_ms.store(old == 0 ? ms : 0.8 * old + 0.2 * ms);
          }
          if (cacheable) AppendDelta(collected.choices, d, request.logprobs);
          return SendInChunks(d, chunk, sink);
        },
        attempt_cancel);
    --slot->in_flight;
    if (deadlines_) deadlines_->Remove(&watched);
    if (watched.fired() && !first_token) {
      if (auto* f = std::get_if<Failure>(&result); f != nullptr && !cancel.cancelled()) {
        f->kind = FailureKind::kTimeout;
        f->message = fmt::format("{} gave no first token within the response_timeout of {}",
                                 pinfo.name, FormatDuration(config_.performance.response_timeout));
      }
    }

    if (auto* outcome = std::get_if<Outcome>(&result)) {
      slot->breaker.OnSuccess();
      info.provider = pinfo.name;
      info.model = outcome->model.empty() ? model : outcome->model;
      info.usage = outcome->usage;
      info.cost = price.Cost(outcome->usage.prompt_tokens, outcome->usage.completion_tokens);
      provider_limits_.Charge(
          pinfo.name, static_cast<double>(outcome->usage.prompt_tokens +
                                          outcome->usage.completion_tokens - prompt_tokens));
      if (cacheable) {
        collected.outcome = *outcome;
        cache_->Put(cache_keys[ci], std::move(collected));
      }
      Finish(key, info, 200, start);
      return info;
    }
    Failure& f = std::get<Failure>(result);
    // What was generated is charged, whoever gets the blame.
    info.provider = pinfo.name;
    info.model = model;
    // A provider that sent text had read the prompt; without its usage, the estimate stands in.
    const int64_t prompt_charged = f.partial_usage.prompt_tokens > 0 ? f.partial_usage.prompt_tokens
                                   : first_token                     ? prompt_tokens
                                                                     : 0;
    info.usage.prompt_tokens += prompt_charged;
    info.usage.completion_tokens += f.partial_usage.completion_tokens;
    info.cost += price.Cost(prompt_charged, f.partial_usage.completion_tokens);
    if (f.kind == FailureKind::kCancelled || f.kind == FailureKind::kBadRequest) {
      slot->breaker.OnAbandon();
    } else {
      slot->breaker.OnFailure();
      ++slot->failures;
    }
    const int status = StatusOf(f);
    api::ApiError error =
        MakeError(status, f.message,
                  status == 429   ? "rate_limit_error"
                  : status == 400 ? "invalid_request_error"
                  : status == 503 ? "unavailable_error"
                                  : "server_error",
                  f.kind == FailureKind::kContextLength ? "context_length_exceeded" : "");
    if (f.after_first_token || !FallsThrough(f.kind) || first_token) {
      return fail(std::move(error), f.retry_after, f.after_first_token || first_token);
    }
    last.error = std::move(error);
    last.retry_after = f.retry_after;
  }
  return fail(std::move(last.error), last.retry_after);
}

void Router::Finish(const std::string& key, RouteInfo& info, int status,
                    std::chrono::steady_clock::time_point start) {
  if (!info.provider.empty() && !info.cache_hit) {
    budgets_.Charge(key, info.cost);
    for (auto& slot : slots_) {
      if (slot->name() != info.provider) continue;
      slot->prompt_tokens += static_cast<uint64_t>(info.usage.prompt_tokens);
      slot->completion_tokens += static_cast<uint64_t>(info.usage.completion_tokens);
      slot->cost.store(slot->cost.load() + info.cost);
    }
  }
  if (!key.empty()) {
    key_limits_.Charge(key, static_cast<double>(info.usage.completion_tokens));
  }
  if (ledger_ == nullptr) return;
  std::string path;
  for (const std::string& p : info.path) path += (path.empty() ? "" : ">") + p;
  UsageRecord r;
  r.time = clock_.Now();
  r.request_id = NewRequestId();
  r.key = key;
  r.provider = info.provider;
  r.model = info.model;
  r.prompt_tokens = info.usage.prompt_tokens;
  r.completion_tokens = info.usage.completion_tokens;
  r.cost = info.cache_hit ? 0.0 : info.cost;
  r.latency_ms = std::chrono::duration<double, std::milli>(clock_.Monotonic() - start).count();
  r.status = status;
  r.cache_hit = info.cache_hit;
  r.fallback_path = path;
  (void)ledger_->Record(r);  // a ledger that cannot write must not fail the answer
}

std::string Router::Metrics() const {
  std::string out;
  auto family = [&](const char* name, const char* type, const char* help) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  };
  family("wick_provider_requests_total", "counter", "Requests sent to each provider.");
  for (const auto& s : slots_) {
    out += fmt::format("wick_provider_requests_total{{provider=\"{}\"}} {}\n", s->name(),
                       s->requests.load());
  }
  family("wick_provider_failures_total", "counter", "Provider calls that failed.");
  for (const auto& s : slots_) {
    out += fmt::format("wick_provider_failures_total{{provider=\"{}\"}} {}\n", s->name(),
                       s->failures.load());
  }
  family("wick_provider_fallbacks_total", "counter",
         "Requests that fell through from this first choice to a later tier.");
  for (const auto& s : slots_) {
    out += fmt::format("wick_provider_fallbacks_total{{provider=\"{}\"}} {}\n", s->name(),
                       s->fallbacks.load());
  }
  family("wick_provider_tokens_total", "counter", "Tokens charged per provider and direction.");
  for (const auto& s : slots_) {
    out += fmt::format("wick_provider_tokens_total{{provider=\"{}\",direction=\"in\"}} {}\n",
                       s->name(), s->prompt_tokens.load());
    out += fmt::format("wick_provider_tokens_total{{provider=\"{}\",direction=\"out\"}} {}\n",
                       s->name(), s->completion_tokens.load());
  }
  family("wick_provider_cost_usd_total", "counter", "USD charged per provider.");
  for (const auto& s : slots_) {
    out += fmt::format("wick_provider_cost_usd_total{{provider=\"{}\"}} {}\n", s->name(),
                       s->cost.load());
  }
  family("wick_provider_circuit_open", "gauge", "1 while the provider's circuit is not closed.");
  for (const auto& s : slots_) {
    out += fmt::format("wick_provider_circuit_open{{provider=\"{}\",state=\"{}\"}} {}\n", s->name(),
                       s->breaker.StateName(),
                       s->breaker.state() == CircuitBreaker::State::kClosed ? 0 : 1);
  }
  family("wick_provider_healthy", "gauge", "1 when the last health probe passed.");
  for (const auto& s : slots_) {
    out += fmt::format("wick_provider_healthy{{provider=\"{}\"}} {}\n", s->name(),
                       s->healthy.load() ? 1 : 0);
  }
  BudgetTracker::Left left = budgets_.Remaining("");
  family("wick_budget_left_usd", "gauge", "USD left in the global budgets (absent: no budget).");
  if (left.daily) out += fmt::format("wick_budget_left_usd{{period=\"day\"}} {}\n", *left.daily);
  if (left.monthly) {
    out += fmt::format("wick_budget_left_usd{{period=\"month\"}} {}\n", *left.monthly);
  }
  if (cache_) {
    const ResponseCache::Stats st = cache_->stats();
    family("wick_cache_hits_total", "counter", "Requests answered from the response cache.");
    out += fmt::format("wick_cache_hits_total {}\n", st.hits);
    family("wick_cache_misses_total", "counter", "Cacheable requests not in the cache.");
    out += fmt::format("wick_cache_misses_total {}\n", st.misses);
  }
  return out;
}

}  // namespace wick::provider
