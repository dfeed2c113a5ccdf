// The router over scripted providers and a manual clock: tier order per strategy, fallback
// rules (before and after the first token), model routes, context lengths, the circuit
// breaker, rate limits, budgets (daily, per key, crossing midnight), the response cache and
// the ledger rows.
#include "provider/router.h"

#include <gtest/gtest.h>

#include <deque>

#include "test_support.h"

namespace wick::provider {
namespace {

using namespace std::chrono_literals;

// A provider that answers from a script: each call pops the next behaviour (the last one
// repeats).
class ScriptedProvider : public Provider {
 public:
  struct Step {
    std::optional<FailureKind> fail;  // fail with this kind…
    int tokens_before_failure = 0;    // …after streaming this many tokens
    int tokens = 3;                   // or answer with this many
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
  int calls() const { return calls_; }
  const std::string& last_model() const { return last_model_; }

  std::variant<Outcome, Failure> Stream(const api::CompletionRequest& request,
                                        const DeltaSink& sink, const CancelToken&) override {
    ++calls_;
    last_model_ = request.model;
    const Step step = script_.size() > 1 ? Pop() : script_.front();
    const int n = step.fail ? step.tokens_before_failure : step.tokens;
    for (int i = 0; i < n; ++i) {
      Delta d;
      d.text = info_.name + std::to_string(i) + " ";
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
  std::deque<Step> script_;
  int calls_ = 0;
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

}  // namespace
}  // namespace wick::provider
