// What the router adds to a request: an in-process mock provider that answers at once, called
// directly and through the Router with everything on (a key with budgets and rate limits,
// global budgets, circuit breakers, the SQLite ledger), plus cache hits. Prints p50/p99 per
// call and the router's overhead; not a test (timings vary by machine).
//
//   build/release/bench/wick_router_overhead [calls]
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <vector>

#include "provider/clock.h"
#include "provider/router.h"

namespace {

using namespace wick;
using Clock = std::chrono::steady_clock;

// Answers every request with a few deltas and usage, no I/O.
class MockProvider : public provider::Provider {
 public:
  MockProvider() {
    info_.name = "mock";
    info_.models = {"mock-model"};
    info_.context_length = 8192;
    info_.price = {.input = 0.5, .output = 1.5};
  }
  const provider::ProviderInfo& info() const override { return info_; }
  provider::Health Probe() override { return provider::Health::kHealthy; }
  std::variant<provider::Outcome, provider::Failure> Stream(const api::CompletionRequest&,
                                                            const provider::DeltaSink& sink,
                                                            const provider::CancelToken&) override {
    for (int i = 0; i < 8; ++i) {
      provider::Delta d;
      d.text = " token";
      d.finish_reason = i == 7 ? "stop" : "";
      if (!sink(d)) break;
    }
    return provider::Outcome{
        .usage = {.prompt_tokens = 20, .completion_tokens = 8, .cached_tokens = 0},
        .model = "mock-model"};
  }

 private:
  provider::ProviderInfo info_;
};

api::CompletionRequest Request(int i, float temperature) {
  api::CompletionRequest r;
  r.endpoint = api::Endpoint::kChat;
  r.messages = nlohmann::ordered_json::array(
      {{{"role", "user"}, {"content", fmt::format("question number {} about the weather", i)}}});
  r.max_tokens = 16;
  r.sampling.temperature = temperature;
  return r;
}

struct Stats {
  double p50, p99, mean;
};

template <typename F>
Stats Time(int calls, F&& call) {
  std::vector<double> us;
  us.reserve(static_cast<size_t>(calls));
  for (int i = 0; i < calls; ++i) {
    const auto t0 = Clock::now();
    call(i);
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  std::vector<double> sorted = us;
  std::sort(sorted.begin(), sorted.end());
  double sum = 0;
  for (double v : us) sum += v;
  return {sorted[sorted.size() / 2], sorted[sorted.size() * 99 / 100], sum / calls};
}

}  // namespace

int main(int argc, char** argv) {
  const int calls = argc > 1 ? std::atoi(argv[1]) : 20000;
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / fmt::format("wick-router-bench-{}", getpid());
  std::filesystem::create_directories(dir);

  provider::Config config;
  config.fallback.tiers = {"mock"};
  config.fallback.daily_budget = 1e9;
  config.fallback.monthly_budget = 1e9;
  config.fallback.cost_threshold = 1.0;
  config.performance.cache_enabled = true;
  config.ledger.path = (dir / "usage.db").string();
  provider::KeyConfig key;
  key.name = "bench";
  key.daily_budget = 1e9;
  key.rate_limit = 1'000'000'000;
  key.token_rate_limit = 1'000'000'000;
  config.keys = {key};
  provider::RemoteConfig limits;  // rate limits for the provider, by its name
  limits.name = "mock";
  limits.rate_limit = 1'000'000'000;
  limits.token_rate_limit = 1'000'000'000;
  config.remotes = {limits};

  auto ledger = provider::OpenLedger(config.ledger);
  if (!ledger.ok()) {
    fmt::print(stderr, "{}\n", ledger.error().message());
    return 1;
  }
  MockProvider direct;
  std::vector<std::unique_ptr<provider::Provider>> providers;
  providers.push_back(std::make_unique<MockProvider>());
  const provider::SystemClock clock;
  provider::Router router(config, std::move(providers), ledger->get(), clock);
  provider::CancelToken cancel;
  size_t bytes = 0;
  auto sink = [&](const provider::Delta& d) {
    bytes += d.text.size();
    return true;
  };

  const Stats base = Time(calls, [&](int i) { direct.Stream(Request(i, 0.7f), sink, cancel); });
  const Stats routed =
      Time(calls, [&](int i) { router.Stream(Request(i, 0.7f), "bench", sink, cancel); });
  router.Stream(Request(-1, 0.0f), "bench", sink, cancel);  // fills the cache
  const Stats hit =
      Time(calls, [&](int) { router.Stream(Request(-1, 0.0f), "bench", sink, cancel); });

  fmt::print("calls {} each (request building included in every figure)\n", calls);
  fmt::print("| path | p50 µs | p99 µs | mean µs |\n| --- | ---: | ---: | ---: |\n");
  fmt::print("| provider directly | {:.1f} | {:.1f} | {:.1f} |\n", base.p50, base.p99, base.mean);
  fmt::print(
      "| through the router (key, budgets, limits, breaker, ledger) | {:.1f} | {:.1f} | "
      "{:.1f} |\n",
      routed.p50, routed.p99, routed.mean);
  fmt::print("| cache hit through the router | {:.1f} | {:.1f} | {:.1f} |\n", hit.p50, hit.p99,
             hit.mean);
  fmt::print("router overhead: p50 {:.1f} µs, p99 {:.1f} µs\n", routed.p50 - base.p50,
             routed.p99 - base.p99);
  std::filesystem::remove_all(dir);
  return bytes > 0 ? 0 : 1;
}
