// The router over scripted providers and a manual clock: tier order per strategy, fallback
// rules (before and after the first token), model routes, context lengths, the circuit
// breaker, rate limits, budgets (daily, per key, crossing midnight), the response cache and
// the ledger rows.
#include "provider/router.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <deque>
#include <mutex>
#include <thread>

#include "provider/postgres_fixture.h"
#include "test_support.h"

namespace wick::provider {
namespace {

using namespace std::chrono_literals;

// A provider that answers from a script: each call pops the next behaviour (the last one
// repeats).
class ScriptedProvider : public Provider {
 public:
  struct Step {
    std::optional<FailureKind> fail = std::nullopt;  // fail with this kind…
    int tokens_before_failure = 0;                   // …after streaming this many tokens
    int tokens = 3;                                  // or answer with this many
    std::chrono::milliseconds delay{0};  // before the first token (a cancel ends the wait)
    std::string text = {};               // each token's text instead of "NAMEi "
  };

  ScriptedProvider(std::string name, std::vector<std::string> models, int64_t context, Price price,
                   std::vector<Step> script)
      : script_(script.begin(), script.end()) {
    info_.name = std::move(name);
    info_.models = std::move(models);
    info_.context_length = context;
    info_.price = price;
  }

  const ProviderInfo& info() const override { return info_; }
  Health Probe() override { return Health::kHealthy; }
  int calls() const { return calls_.load(); }
  const std::string& last_model() const { return last_model_; }
  void set_local(bool local) { info_.local = local; }

  std::variant<Outcome, Failure> Stream(const api::CompletionRequest& request,
                                        const DeltaSink& sink, const CancelToken& cancel) override {
    Step step;
    {
      std::lock_guard lock(mu_);
      ++calls_;
      last_model_ = request.model;
      step = script_.size() > 1 ? Pop() : script_.front();
    }
    const auto until = std::chrono::steady_clock::now() + step.delay;
    while (std::chrono::steady_clock::now() < until) {
      if (cancel.cancelled()) {
        Failure f;
        f.kind = FailureKind::kCancelled;
        f.message = "cancelled";
        return f;
      }
      std::this_thread::sleep_for(1ms);
    }
    const int n = step.fail ? step.tokens_before_failure : step.tokens;
    for (int i = 0; i < n; ++i) {
      Delta d;
      d.text = step.text.empty() ? info_.name + std::to_string(i) + " " : step.text;
      d.finish_reason = !step.fail && i + 1 == n ? "stop" : "";
      if (!sink(d)) {
        Failure f;
        f.kind = FailureKind::kCancelled;
        f.after_first_token = true;
        return f;
      }
    }
    if (step.fail) {
      Failure f;
      f.kind = *step.fail;
      f.message = info_.name + " failed";
      f.after_first_token = n > 0;
      f.partial_usage = {.prompt_tokens = 10, .completion_tokens = n, .cached_tokens = 0};
      return f;
    }
    return Outcome{.usage = {.prompt_tokens = 10, .completion_tokens = n, .cached_tokens = 0},
                   .model = info_.models.front()};
  }

 private:
  Step Pop() {
    Step s = script_.front();
    script_.pop_front();
    return s;
  }
  ProviderInfo info_;
  std::mutex mu_;
  std::deque<Step> script_;
  std::atomic<int> calls_{0};
  std::string last_model_;
};

class RouterTest : public ::testing::Test {
 protected:
  // 2026-03-31 23:00 UTC: an hour before both a day and a month end.
  ManualClock clock_{std::chrono::system_clock::time_point(std::chrono::seconds(1'775'084'400))};

  Config BaseConfig() {
    Config c;
    c.fallback.tiers = {"local", "cheap", "pricey"};
    c.fallback.health_interval = 0ms;
    c.fallback.circuit_failures = 2;
    c.fallback.circuit_cooldown = 60'000ms;
    c.performance.cache_enabled = false;
    return c;
  }

  std::unique_ptr<Router> Make(const Config& config,
                               std::vector<std::vector<ScriptedProvider::Step>> scripts,
                               Ledger* ledger = nullptr) {
    std::vector<std::unique_ptr<Provider>> providers;
    const std::vector<std::string> names = {"local", "cheap", "pricey"};
    const std::vector<Price> prices = {{0, 0}, {1, 2}, {10, 20}};
    const std::vector<int64_t> contexts = {64, 0, 100'000};
    for (size_t i = 0; i < scripts.size(); ++i) {
      auto p = std::make_unique<ScriptedProvider>(
          names[i], std::vector<std::string>{names[i] + "-m"}, contexts[i], prices[i], scripts[i]);
      p->set_local(i == 0 && config.local.enabled);
      fakes_.push_back(p.get());
      providers.push_back(std::move(p));
    }
    return std::make_unique<Router>(config, std::move(providers), ledger, clock_);
  }

  static api::CompletionRequest Request(const std::string& text = "hello there",
                                        const std::string& model = "auto") {
    api::CompletionRequest r;
    r.endpoint = api::Endpoint::kCompletion;
    r.prompts = {text};
    r.model = model;
    r.max_tokens = 16;
    r.sampling.temperature = 0;
    return r;
  }

  struct Run {
    std::variant<RouteInfo, RouteError> result;
    std::string text;
  };
  Run Go(Router& router, const api::CompletionRequest& r, const std::string& key = "") {
    Run run;
    CancelToken cancel;
    run.result = router.Stream(
        r, key,
        [&](const Delta& d) {
          run.text += d.text;
          return true;
        },
        cancel);
    return run;
  }

  std::vector<ScriptedProvider*> fakes_;
};

using Step = ScriptedProvider::Step;
const Step kOk{};
const Step kDown{.fail = FailureKind::kConnect};

TEST_F(RouterTest, LocalFirstFallsThroughInTierOrderBeforeTheFirstToken) {
  auto router = Make(BaseConfig(), {{kDown}, {{.fail = FailureKind::kServerError}}, {kOk}});
  Run run = Go(*router, Request());
  ASSERT_TRUE(std::holds_alternative<RouteInfo>(run.result));
  const RouteInfo& info = std::get<RouteInfo>(run.result);
  EXPECT_EQ(info.provider, "pricey");
  EXPECT_EQ(info.path, (std::vector<std::string>{"local", "cheap", "pricey"}));
  EXPECT_EQ(run.text, "pricey0 pricey1 pricey2 ");
  EXPECT_DOUBLE_EQ(info.cost, (10 * 10 + 3 * 20) / 1e6);
}

TEST_F(RouterTest, AFailureAfterTheFirstTokenEndsTheAnswerAndIsCharged) {
  auto router = Make(BaseConfig(),
                     {{{.fail = FailureKind::kServerError, .tokens_before_failure = 2}}, {kOk}});
  Run run = Go(*router, Request());
  ASSERT_TRUE(std::holds_alternative<RouteError>(run.result));
  const RouteError& e = std::get<RouteError>(run.result);
  EXPECT_TRUE(e.after_first_token);
  EXPECT_EQ(run.text, "local0 local1 ");  // never followed by another provider's text
  EXPECT_EQ(fakes_[1]->calls(), 0);
  EXPECT_EQ(e.info.usage.completion_tokens, 2);
}

TEST_F(RouterTest, BadRequestsDoNotFallBack) {
  auto router = Make(BaseConfig(), {{{.fail = FailureKind::kBadRequest}}, {kOk}});
  Run run = Go(*router, Request());
  ASSERT_TRUE(std::holds_alternative<RouteError>(run.result));
  EXPECT_EQ(std::get<RouteError>(run.result).error.status, 400);
  EXPECT_EQ(fakes_[1]->calls(), 0);
}

TEST_F(RouterTest, ModelRoutes) {
  auto router = Make(BaseConfig(), {{kOk}, {kOk}, {kOk}});
  EXPECT_EQ(std::get<RouteInfo>(Go(*router, Request("x", "cheap")).result).provider, "cheap");
  Run named = Go(*router, Request("x", "pricey/some/model"));
  EXPECT_EQ(std::get<RouteInfo>(named.result).provider, "pricey");
  EXPECT_EQ(fakes_[2]->last_model(), "some/model");
  EXPECT_EQ(std::get<RouteInfo>(Go(*router, Request("x", "cheap-m")).result).provider, "cheap");
  Run unknown = Go(*router, Request("x", "gpt-nope"));
  ASSERT_TRUE(std::holds_alternative<RouteError>(unknown.result));
  EXPECT_EQ(std::get<RouteError>(unknown.result).error.code, "model_not_found");
  EXPECT_EQ(router->Models().size(), 3u);
  EXPECT_EQ(router->Models()[1].id, "cheap/cheap-m");
}

TEST_F(RouterTest, LongPromptsSkipSmallContexts) {
  auto router = Make(BaseConfig(), {{kOk}, {kOk}, {kOk}});
  std::string text(400, 'a');  // ~100 tokens: over local's 64
  Run run = Go(*router, Request(text));
  EXPECT_EQ(std::get<RouteInfo>(run.result).provider, "cheap");
  EXPECT_EQ(fakes_[0]->calls(), 0);
}

TEST_F(RouterTest, CostOptimizedPicksTheCheapestFirst) {
  Config c = BaseConfig();
  c.fallback.strategy = Strategy::kCostOptimized;
  c.fallback.tiers = {"pricey", "cheap", "local"};
  auto router = Make(c, {{kOk}, {kOk}, {kOk}});
  EXPECT_EQ(std::get<RouteInfo>(Go(*router, Request()).result).provider, "local");
}

TEST_F(RouterTest, CircuitOpensAfterFailuresAndRecoversAfterTheCooldown) {
  auto router = Make(BaseConfig(), {{kDown, kDown, kOk}, {kOk}});
  Go(*router, Request());
  Go(*router, Request());
  EXPECT_EQ(fakes_[0]->calls(), 2);
  Run skipped = Go(*router, Request());  // open: straight to the next tier
  EXPECT_EQ(fakes_[0]->calls(), 2);
  EXPECT_EQ(std::get<RouteInfo>(skipped.result).provider, "cheap");
  EXPECT_NE(
      router->Metrics().find("wick_provider_circuit_open{provider=\"local\",state=\"open\"} 1"),
      std::string::npos);
  clock_.Advance(61'000ms);
  Run trial = Go(*router, Request());  // half-open: one trial, which succeeds
  EXPECT_EQ(std::get<RouteInfo>(trial.result).provider, "local");
  EXPECT_EQ(fakes_[0]->calls(), 3);
}

TEST_F(RouterTest, ProviderRateLimitFallsThroughThenAllLimitedIs429) {
  Config c = BaseConfig();
  c.fallback.tiers = {"local", "cheap"};
  RemoteConfig cheap;
  cheap.name = "cheap";
  cheap.rate_limit = 1;
  c.remotes = {cheap};
  c.fallback.tiers = {"cheap"};
  auto router = Make(c, {{kOk}, {kOk}});
  EXPECT_TRUE(std::holds_alternative<RouteInfo>(Go(*router, Request()).result));
  Run limited = Go(*router, Request());
  ASSERT_TRUE(std::holds_alternative<RouteError>(limited.result));
  const RouteError& e = std::get<RouteError>(limited.result);
  EXPECT_EQ(e.error.status, 429);
  EXPECT_GT(e.retry_after.count(), 0);
}

TEST_F(RouterTest, BudgetsSendWorkToTheFreeTierOr429AndResetAtMidnight) {
  Config c = BaseConfig();
  c.fallback.tiers = {"pricey"};
  // An estimate is about 0.0004 (16 tokens out at $20/M), a charge 0.00016: one fits, then
  // 0.00016 spent + 0.0004 estimated passes the 0.0005 limit.
  c.fallback.daily_budget = 0.0005;
  KeyConfig team;
  team.name = "team";
  c.keys = {team};
  auto router = Make(c, {{kOk}, {kOk}, {kOk}});
  EXPECT_TRUE(std::holds_alternative<RouteInfo>(Go(*router, Request(), "team").result));
  Run over = Go(*router, Request(), "team");
  ASSERT_TRUE(std::holds_alternative<RouteError>(over.result));
  EXPECT_EQ(std::get<RouteError>(over.result).error.status, 429);
  EXPECT_EQ(std::get<RouteError>(over.result).error.code, "budget_exceeded");
  // The free local tier still answers over budget.
  EXPECT_EQ(std::get<RouteInfo>(Go(*router, Request("x", "local"), "team").result).provider,
            "local");
  clock_.Advance(3'600'000ms);  // past midnight UTC: a new day's budget
  EXPECT_TRUE(std::holds_alternative<RouteInfo>(Go(*router, Request(), "team").result));
}

TEST_F(RouterTest, DeterministicRequestsAreCached) {
  Config c = BaseConfig();
  c.performance.cache_enabled = true;
  auto router = Make(c, {{kOk}});
  Run first = Go(*router, Request());
  Run second = Go(*router, Request());
  EXPECT_FALSE(std::get<RouteInfo>(first.result).cache_hit);
  EXPECT_TRUE(std::get<RouteInfo>(second.result).cache_hit);
  EXPECT_EQ(second.text, first.text);
  EXPECT_EQ(fakes_[0]->calls(), 1);
  api::CompletionRequest sampled = Request();
  sampled.sampling.temperature = 0.8f;
  Go(*router, sampled);
  Go(*router, sampled);
  EXPECT_EQ(fakes_[0]->calls(), 3);  // random sampling is never cached
}

TEST_F(RouterTest, ACachedAnswerBelongsToTheProviderThatGaveIt) {
  Config c = BaseConfig();
  c.performance.cache_enabled = true;
  auto router = Make(c, {{kDown}, {kOk}});
  EXPECT_EQ(std::get<RouteInfo>(Go(*router, Request()).result).provider, "cheap");
  Run again = Go(*router, Request());
  EXPECT_TRUE(std::get<RouteInfo>(again.result).cache_hit);
  EXPECT_EQ(std::get<RouteInfo>(again.result).provider, "cheap");
  EXPECT_EQ(fakes_[0]->calls(), 1);  // the failing tier is not asked again
  EXPECT_EQ(fakes_[1]->calls(), 1);
}

TEST_F(RouterTest, EveryRequestIsARowInTheLedger) {
  testing::TempDir dir;
  LedgerConfig lc;
  lc.path = dir.File("usage.db").string();
  Result<std::unique_ptr<Ledger>> ledger = OpenLedger(lc);
  ASSERT_TRUE(ledger.ok()) << ledger.error().message();
  auto router = Make(BaseConfig(),
                     {{kDown}, {{.fail = FailureKind::kServerError, .tokens_before_failure = 1}}},
                     ledger->get());
  Go(*router, Request());
  Result<std::vector<UsageRow>> rows =
      (*ledger)->Report(clock_.Now() - std::chrono::hours(1), GroupBy::kProvider);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].group, "cheap");
  EXPECT_EQ((*rows)[0].completion_tokens, 1);  // charged what it generated before failing
  EXPECT_EQ((*rows)[0].errors, 1);
  EXPECT_GT((*rows)[0].cost, 0);
}

TEST_F(RouterTest, AProviderSilentPastTheResponseTimeoutIsLeftForTheNextTier) {
  Config c = BaseConfig();
  c.performance.response_timeout = 100ms;
  auto router = Make(c, {{{.delay = 10'000ms}}, {kOk}});
  const auto start = std::chrono::steady_clock::now();
  Run run = Go(*router, Request());
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);  // not the provider's 10 s
  ASSERT_TRUE(std::holds_alternative<RouteInfo>(run.result));
  EXPECT_EQ(std::get<RouteInfo>(run.result).provider, "cheap");
  EXPECT_EQ(std::get<RouteInfo>(run.result).path, (std::vector<std::string>{"local", "cheap"}));
  EXPECT_EQ(run.text, "cheap0 cheap1 cheap2 ");
  EXPECT_NE(router->Metrics().find("wick_provider_failures_total{provider=\"local\"} 1"),
            std::string::npos);

  // With no tier left: 504, naming the timeout.
  auto alone = Make(c, {{{.delay = 10'000ms}}});
  Run timed_out = Go(*alone, Request());
  ASSERT_TRUE(std::holds_alternative<RouteError>(timed_out.result));
  const RouteError& e = std::get<RouteError>(timed_out.result);
  EXPECT_EQ(e.error.status, 504);
  EXPECT_NE(e.error.message.find("response_timeout of 100ms"), std::string::npos)
      << e.error.message;

  // The deadline is for the first token only: a slow but started answer is not cut.
  Config slow = BaseConfig();
  slow.performance.response_timeout = 300ms;
  auto started = Make(slow, {{{.delay = 50ms}}});
  EXPECT_TRUE(std::holds_alternative<RouteInfo>(Go(*started, Request()).result));
}

TEST_F(RouterTest, TheClientsCancelStillReachesTheProvider) {
  Config c = BaseConfig();
  c.performance.response_timeout = 60'000ms;
  auto router = Make(c, {{{.delay = 10'000ms}}, {kOk}});
  CancelToken cancel;
  std::thread canceller([&] {
    std::this_thread::sleep_for(50ms);
    cancel.Cancel();
  });
  auto result = router->Stream(
      Request(), "", [](const Delta&) { return true; }, cancel);
  canceller.join();
  ASSERT_TRUE(std::holds_alternative<RouteError>(result));
  EXPECT_EQ(std::get<RouteError>(result).error.status, 499);
  EXPECT_EQ(fakes_[1]->calls(), 0);  // a client who left gets no fallback
}

TEST_F(RouterTest, ABusyLocalProviderPassesRequestsToTheNextTier) {
  Config c = BaseConfig();
  c.local.enabled = true;
  c.local.max_concurrent_requests = 1;
  auto router = Make(c, {{{.delay = 500ms}}, {kOk}});
  Run busy_run;
  std::thread busy([&] { busy_run = Go(*router, Request("first")); });
  while (fakes_[0]->calls() == 0) std::this_thread::sleep_for(1ms);
  Run overflow = Go(*router, Request("second"));
  busy.join();
  EXPECT_EQ(std::get<RouteInfo>(busy_run.result).provider, "local");
  EXPECT_EQ(std::get<RouteInfo>(overflow.result).provider, "cheap");
  EXPECT_EQ(fakes_[0]->calls(), 1);
  // As the last tier it queues rather than refusing.
  auto only = Make(c, {{{.delay = 200ms}}});
  Run first_run;
  std::thread first([&] { first_run = Go(*only, Request("a")); });
  while (fakes_.back()->calls() == 0) std::this_thread::sleep_for(1ms);
  Run queued = Go(*only, Request("b"));
  first.join();
  EXPECT_EQ(std::get<RouteInfo>(queued.result).provider, "local");
}

TEST_F(RouterTest, StreamChunkSizeSplitsTextAtCharacterBoundaries) {
  Config c = BaseConfig();
  c.performance.cache_enabled = true;
  c.performance.stream_chunk_size = 4;
  const std::string word = "h\xc3\xa9llo w\xc3\xb6rld \xe2\x82\xac\xe2\x82\xac ";  // é ö €€
  auto router = Make(c, {{{.tokens = 2, .text = word}}});
  for (int pass = 0; pass < 2; ++pass) {  // from the provider, then replayed from the cache
    std::vector<std::string> pieces;
    std::string finish;
    CancelToken cancel;
    auto result = router->Stream(
        Request(), "",
        [&](const Delta& d) {
          pieces.push_back(d.text);
          if (!d.finish_reason.empty()) finish = d.finish_reason;
          return true;
        },
        cancel);
    ASSERT_TRUE(std::holds_alternative<RouteInfo>(result));
    EXPECT_EQ(std::get<RouteInfo>(result).cache_hit, pass == 1);
    std::string joined;
    for (const std::string& p : pieces) {
      EXPECT_LE(p.size(), 4u);
      ASSERT_FALSE(p.empty());
      EXPECT_NE(static_cast<unsigned char>(p[0]) & 0xC0, 0x80) << "a piece starts mid-character";
      joined += p;
    }
    EXPECT_EQ(joined, word + word);
    EXPECT_EQ(finish, "stop");
  }
}

TEST_F(RouterTest, PersistedCacheAnswersAfterARestart) {
  testing::TempDir dir;
  LedgerConfig lc;
  lc.path = dir.File("usage.db").string();
  Config c = BaseConfig();
  c.performance.cache_enabled = true;
  c.performance.cache_persist = true;
  Result<std::unique_ptr<Ledger>> ledger = OpenLedger(lc);
  ASSERT_TRUE(ledger.ok()) << ledger.error().message();
  auto before = Make(c, {{kOk}}, ledger->get());
  const std::string text = Go(*before, Request()).text;
  before.reset();
  ledger->reset();

  ledger = OpenLedger(lc);
  ASSERT_TRUE(ledger.ok()) << ledger.error().message();
  auto after = Make(c, {{kOk}}, ledger->get());
  Run again = Go(*after, Request());
  EXPECT_TRUE(std::get<RouteInfo>(again.result).cache_hit);
  EXPECT_EQ(again.text, text);
  EXPECT_EQ(fakes_.back()->calls(), 0);
}

// Two instances behind a load balancer on one PostgreSQL ledger: what one spends counts
// against the other's budget, and a key's rate limit is one limit between them.
TEST_F(RouterTest, InstancesOnOnePostgresLedgerShareBudgetsAndRateLimits) {
  WICK_REQUIRE_POSTGRES(server);
  std::string error;
  Config c = BaseConfig();
  c.ledger.path.clear();
  c.ledger.url = server->NewDatabase(error);
  ASSERT_FALSE(c.ledger.url.empty()) << error;
  c.ledger.sync_interval = 20ms;
  c.fallback.tiers = {"pricey"};
  c.fallback.daily_budget = 0.0005;  // one request's charge (0.00016) leaves room for one more
  KeyConfig team;
  team.name = "team";
  team.rate_limit = 3;
  c.keys = {team};
  std::unique_ptr<Ledger> ledgers[2];
  for (auto& l : ledgers) {
    Result<std::unique_ptr<Ledger>> opened = OpenLedger(c.ledger);
    ASSERT_TRUE(opened.ok()) << opened.error().message();
    l = std::move(*opened);
  }
  auto a = Make(c, {{kOk}, {kOk}, {kOk}}, ledgers[0].get());
  auto b = Make(c, {{kOk}, {kOk}, {kOk}}, ledgers[1].get());
  EXPECT_TRUE(std::holds_alternative<RouteInfo>(Go(*a, Request("one"), "team").result));
  EXPECT_TRUE(std::holds_alternative<RouteInfo>(Go(*a, Request("two"), "team").result));
  // b has spent nothing itself, but sees a's 0.00032 within a sync or two.
  auto day_left = [](const std::string& metrics) {
    const std::string label = "wick_budget_left_usd{period=\"day\"} ";
    const size_t at = metrics.find(label);
    return at == std::string::npos ? -1.0 : std::stod(metrics.substr(at + label.size()));
  };
  std::optional<Run> refused;
  for (int i = 0; i < 200 && !refused; ++i) {
    std::this_thread::sleep_for(10ms);
    if (std::abs(day_left(b->Metrics()) - 0.00018) < 1e-9) {
      refused = Go(*b, Request("three"), "team");
    }
  }
  ASSERT_TRUE(refused.has_value()) << b->Metrics();
  ASSERT_TRUE(std::holds_alternative<RouteError>(refused->result));
  EXPECT_EQ(std::get<RouteError>(refused->result).error.code, "budget_exceeded");
  // That was the key's third request of the minute (a two, b one): the fourth is over.
  Run limited = Go(*a, Request("x", "local"), "team");
  ASSERT_TRUE(std::holds_alternative<RouteError>(limited.result));
  EXPECT_EQ(std::get<RouteError>(limited.result).error.status, 429);
  EXPECT_EQ(std::get<RouteError>(limited.result).error.code, "rate_limit_exceeded");
}

}  // namespace
}  // namespace wick::provider
