// The model pool with a fake loader: single-flight loads, LRU eviction under the budget, leased
// models never unloaded, sizes that cannot fit, load failures, and a stress run checking that
// the memory of live models never exceeds the budget. Loads sleep to make races likely.
#include "server/model_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <thread>

namespace wick::server {
namespace {

using namespace std::chrono_literals;

// What the fake loader and its models record, shared by every thread of a test.
struct Ledger {
  std::mutex mu;
  std::map<std::string, int> loads;  // loader calls, by id
  std::map<std::string, uint64_t> sizes;
  std::set<std::string> fail_next;  // the next load of these fails
  std::chrono::milliseconds load_time{20};
  std::atomic<uint64_t> live_bytes{0};
  std::atomic<uint64_t> max_live_bytes{0};
  std::atomic<int> unloaded_while_used{0};
  std::map<std::string, std::atomic<int>> users;  // threads using each model now

  int Loads(const std::string& id) {
    std::lock_guard lock(mu);
    return loads[id];
  }
};

class FakeModel : public PooledModel {
 public:
  FakeModel(Ledger& ledger, const std::string& id, uint64_t bytes)
      : ledger_(ledger), bytes_(bytes) {
    served_.id = id;
    const uint64_t live = ledger_.live_bytes += bytes_;
    uint64_t max = ledger_.max_live_bytes.load();
    while (live > max && !ledger_.max_live_bytes.compare_exchange_weak(max, live)) {
    }
  }
  ~FakeModel() override {
    const auto users = ledger_.users.find(served_.id);
    if (users != ledger_.users.end() && users->second.load() != 0) ++ledger_.unloaded_while_used;
    ledger_.live_bytes -= bytes_;
  }
  const ServedModel& served() const override { return served_; }
  uint64_t memory_bytes() const override { return bytes_; }

 private:
  Ledger& ledger_;
  uint64_t bytes_;
  ServedModel served_;
};

ModelLoader FakeLoader(Ledger& ledger) {
  return [&ledger](const PoolEntry& e) -> Result<std::unique_ptr<PooledModel>> {
    std::chrono::milliseconds sleep;
    bool fail = false;
    uint64_t bytes = e.estimated_bytes;
    {
      std::lock_guard lock(ledger.mu);
      ++ledger.loads[e.id];
      sleep = ledger.load_time;
      fail = ledger.fail_next.erase(e.id) > 0;
      if (ledger.sizes.count(e.id) > 0) bytes = ledger.sizes[e.id];
    }
    std::this_thread::sleep_for(sleep);
    if (fail) return Error(ErrorCode::kCorrupt, e.source + ": bad tensor");
    return std::unique_ptr<PooledModel>(std::make_unique<FakeModel>(ledger, e.id, bytes));
  };
}

std::vector<PoolEntry> Entries(std::initializer_list<std::pair<const char*, uint64_t>> models) {
  std::vector<PoolEntry> out;
  for (const auto& [id, bytes] : models) {
    out.push_back({.id = id, .source = std::string(id) + ".gguf", .estimated_bytes = bytes});
  }
  return out;
}

std::map<std::string, ModelState> States(const ModelPool& pool) {
  std::map<std::string, ModelState> out;
  for (const ModelStatus& s : pool.Models()) out[s.id] = s.state;
  return out;
}

// Acquires and releases at once: the model is loaded and becomes the most recently used.
void Touch(ModelPool& pool, const std::string& id) {
  Result<ModelLease> lease = pool.Acquire(id);
  ASSERT_TRUE(lease.ok()) << lease.error().message();
  EXPECT_EQ(lease->model().id, id);
}

TEST(ModelPoolTest, ConcurrentAcquiresOfOneModelLoadItOnce) {
  Ledger ledger;
  ledger.load_time = 100ms;
  ModelPool pool(Entries({{"a", 100}}), FakeLoader(ledger), {.budget_bytes = 1000});
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&] {
      Result<ModelLease> lease = pool.Acquire("a");
      if (lease.ok() && lease->model().id == "a") ++ok;
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(ok, 16);
  EXPECT_EQ(ledger.Loads("a"), 1);
  const std::vector<ModelStatus> models = pool.Models();
  EXPECT_EQ(models[0].state, ModelState::kLoaded);
  EXPECT_EQ(models[0].leases, 0);
  EXPECT_TRUE(models[0].last_used.has_value());
}

TEST(ModelPoolTest, EvictsLeastRecentlyUsedIdleModels) {
  Ledger ledger;
  ledger.load_time = 1ms;
  std::vector<LoadEvent> events;
  ModelPool pool(Entries({{"a", 100}, {"b", 100}, {"c", 100}, {"d", 200}}), FakeLoader(ledger),
                 {.budget_bytes = 250, .wait_for_memory = 1s, .on_load = [&](const LoadEvent& e) {
                    events.push_back(e);
                  }});
  Touch(pool, "a");
  Touch(pool, "b");
  std::this_thread::sleep_for(2ms);
  Touch(pool, "a");  // b is now the least recently used
  Touch(pool, "c");
  EXPECT_EQ(States(pool), (std::map<std::string, ModelState>{{"a", ModelState::kLoaded},
                                                             {"b", ModelState::kUnloaded},
                                                             {"c", ModelState::kLoaded},
                                                             {"d", ModelState::kUnloaded}}));
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[2].id, "c");
  EXPECT_EQ(events[2].unloaded, std::vector<std::string>{"b"});
  // d needs 200 of 250: both a and c go, a (older) first.
  Touch(pool, "d");
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[3].unloaded, (std::vector<std::string>{"a", "c"}));
  EXPECT_EQ(States(pool)["d"], ModelState::kLoaded);
  EXPECT_EQ(ledger.live_bytes, 200u);
  // A loaded model is served again without a load.
  Touch(pool, "d");
  EXPECT_EQ(ledger.Loads("d"), 1);
  std::string metrics;
  pool.RenderMetrics(metrics);
  EXPECT_NE(metrics.find("wick_model_loads_total 4\n"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("wick_model_unloads_total 3\n"), std::string::npos);
  EXPECT_NE(metrics.find("wick_model_swap_seconds_count 2\n"), std::string::npos);
  EXPECT_NE(metrics.find("wick_model_memory_used_bytes 200\n"), std::string::npos);
  EXPECT_NE(metrics.find("wick_model_memory_budget_bytes 250\n"), std::string::npos);
}

TEST(ModelPoolTest, LeasedModelIsNeverEvictedTheRequestWaitsForIt) {
  Ledger ledger;
  ModelPool pool(Entries({{"a", 100}, {"b", 100}}), FakeLoader(ledger),
                 {.budget_bytes = 150, .wait_for_memory = 10s});
  std::optional<ModelLease> held;
  {
    Result<ModelLease> a = pool.Acquire("a");
    ASSERT_TRUE(a.ok());
    held.emplace(std::move(*a));
  }
  std::atomic<bool> got_b{false};
  std::thread waiter([&] {
    Result<ModelLease> b = pool.Acquire("b");
    EXPECT_TRUE(b.ok()) << b.error().message();
    got_b = true;
  });
  std::this_thread::sleep_for(200ms);
  EXPECT_FALSE(got_b);
  EXPECT_EQ(States(pool)["a"], ModelState::kLoaded);
  EXPECT_EQ(States(pool)["b"], ModelState::kUnloaded);
  EXPECT_EQ(ledger.Loads("b"), 0);
  held.reset();  // the request on a ends: b may now take its place
  waiter.join();
  EXPECT_TRUE(got_b);
  EXPECT_EQ(States(pool)["a"], ModelState::kUnloaded);
  EXPECT_EQ(States(pool)["b"], ModelState::kLoaded);
}

// Without this, a steady stream of requests for a loaded model would starve every other model.
TEST(ModelPoolTest, RequestWaitingForMemoryGoesBeforeNewRequestsForTheBusyModel) {
  Ledger ledger;
  ModelPool pool(Entries({{"a", 100}, {"b", 100}}), FakeLoader(ledger),
                 {.budget_bytes = 150, .wait_for_memory = 10s});
  std::optional<ModelLease> held;
  {
    Result<ModelLease> a = pool.Acquire("a");
    ASSERT_TRUE(a.ok());
    held.emplace(std::move(*a));
  }
  std::mutex mu;
  std::vector<std::string> order;
  auto request = [&](const std::string& id) {
    Result<ModelLease> lease = pool.Acquire(id);
    ASSERT_TRUE(lease.ok()) << lease.error().message();
    std::lock_guard lock(mu);
    order.push_back(id);
  };
  std::thread b(request, "b");
  std::this_thread::sleep_for(100ms);  // b waits for a's memory
  std::thread a_again(request, "a");   // a is loaded, but b came first
  std::this_thread::sleep_for(100ms);
  {
    std::lock_guard lock(mu);
    EXPECT_TRUE(order.empty());
  }
  held.reset();
  b.join();
  a_again.join();
  EXPECT_EQ(order, (std::vector<std::string>{"b", "a"}));
  EXPECT_EQ(ledger.Loads("a"), 2);  // unloaded for b, then loaded again
  EXPECT_EQ(ledger.Loads("b"), 1);
}

TEST(ModelPoolTest, BudgetHeldByBusyModelsIsUnavailableAfterTheWait) {
  Ledger ledger;
  ModelPool pool(Entries({{"a", 100}, {"b", 100}}), FakeLoader(ledger),
                 {.budget_bytes = 150, .wait_for_memory = 100ms});
  Result<ModelLease> a = pool.Acquire("a");
  ASSERT_TRUE(a.ok());
  const auto start = std::chrono::steady_clock::now();
  Result<ModelLease> b = pool.Acquire("b");
  ASSERT_FALSE(b.ok());
  EXPECT_GE(std::chrono::steady_clock::now() - start, 100ms);
  EXPECT_EQ(b.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(b.error().message().find("'b'"), std::string::npos) << b.error().message();
  EXPECT_EQ(ledger.Loads("b"), 0);
}

TEST(ModelPoolTest, ModelLargerThanTheBudgetIsOutOfRangeNamingBothSizes) {
  Ledger ledger;
  ModelPool pool(Entries({{"huge", uint64_t{3} << 30}}), FakeLoader(ledger),
                 {.budget_bytes = uint64_t{1} << 30});
  Result<ModelLease> lease = pool.Acquire("huge");
  ASSERT_FALSE(lease.ok());
  EXPECT_EQ(lease.error().code(), ErrorCode::kOutOfRange);
  EXPECT_NE(lease.error().message().find("3.0 GiB"), std::string::npos) << lease.error().message();
  EXPECT_NE(lease.error().message().find("1.0 GiB"), std::string::npos);
  EXPECT_EQ(ledger.Loads("huge"), 0);
}

TEST(ModelPoolTest, UnknownModelIsNotFound) {
  Ledger ledger;
  ModelPool pool(Entries({{"a", 1}}), FakeLoader(ledger), {.budget_bytes = 10});
  Result<ModelLease> lease = pool.Acquire("b");
  ASSERT_FALSE(lease.ok());
  EXPECT_EQ(lease.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(pool.ids(), std::vector<std::string>{"a"});
}

TEST(ModelPoolTest, LoadFailureReachesEveryWaiterAndIsRetriedNextTime) {
  Ledger ledger;
  ledger.load_time = 100ms;
  ledger.fail_next.insert("a");
  ModelPool pool(Entries({{"a", 100}}), FakeLoader(ledger), {.budget_bytes = 1000});
  std::vector<std::thread> threads;
  std::atomic<int> failed{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      Result<ModelLease> lease = pool.Acquire("a");
      if (!lease.ok() && lease.error().message().find("a.gguf: bad tensor") != std::string::npos) {
        ++failed;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failed, 8);
  EXPECT_EQ(ledger.Loads("a"), 1);
  EXPECT_EQ(States(pool)["a"], ModelState::kUnloaded);
  Touch(pool, "a");
  EXPECT_EQ(ledger.Loads("a"), 2);
  std::string metrics;
  pool.RenderMetrics(metrics);
  EXPECT_NE(metrics.find("wick_model_load_failures_total 1\n"), std::string::npos);
  EXPECT_NE(metrics.find("wick_model_memory_used_bytes 100\n"), std::string::npos);
}

TEST(ModelPoolTest, ThrowingLoaderIsAFailureNotAHang) {
  int calls = 0;
  ModelPool pool(Entries({{"a", 100}}),
                 [&](const PoolEntry&) -> Result<std::unique_ptr<PooledModel>> {
                   if (++calls == 1) throw std::bad_alloc();
                   return Error(ErrorCode::kIo, "second");
                 },
                 {.budget_bytes = 1000});
  Result<ModelLease> first = pool.Acquire("a");
  ASSERT_FALSE(first.ok());
  EXPECT_NE(first.error().message().find("bad_alloc"), std::string::npos)
      << first.error().message();
  Result<ModelLease> second = pool.Acquire("a");
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.error().message().find("second"), std::string::npos);
}

TEST(ModelPoolTest, MeasuredSizeReplacesTheEstimateOnceLoaded) {
  Ledger ledger;
  ledger.sizes["a"] = 140;
  ModelPool pool(Entries({{"a", 100}, {"b", 100}}), FakeLoader(ledger), {.budget_bytes = 250});
  Touch(pool, "a");
  EXPECT_EQ(pool.Models()[0].bytes, 140u);
  EXPECT_EQ(pool.Models()[0].estimated_bytes, 100u);
  EXPECT_EQ(pool.Models()[1].bytes, 100u);  // the estimate until loaded
  // 140 measured + 100 estimated fit in 250: nothing is unloaded.
  Touch(pool, "b");
  EXPECT_EQ(States(pool)["a"], ModelState::kLoaded);
  EXPECT_EQ(States(pool)["b"], ModelState::kLoaded);
}

TEST(ModelPoolTest, ShutdownWakesRequestsWaitingForMemory) {
  Ledger ledger;
  ModelPool pool(Entries({{"a", 100}, {"b", 100}}), FakeLoader(ledger),
                 {.budget_bytes = 150, .wait_for_memory = 60s});
  std::optional<ModelLease> held;
  {
    Result<ModelLease> a = pool.Acquire("a");
    ASSERT_TRUE(a.ok());
    held.emplace(std::move(*a));
  }
  std::thread waiter([&] {
    Result<ModelLease> b = pool.Acquire("b");
    ASSERT_FALSE(b.ok());
    EXPECT_EQ(b.error().code(), ErrorCode::kUnavailable);
  });
  std::this_thread::sleep_for(50ms);
  pool.Shutdown();
  waiter.join();
}

// Many threads, four models, room for two: every request gets its model, no model is unloaded
// while in use, the live models never exceed the budget and each load is of an absent model.
TEST(ModelPoolTest, StressUnderTheBudgetWithConcurrentRequests) {
  Ledger ledger;
  ledger.load_time = 3ms;
  for (const char* id : {"a", "b", "c", "d"}) ledger.users[id] = 0;
  ModelPool pool(Entries({{"a", 100}, {"b", 100}, {"c", 100}, {"d", 100}}), FakeLoader(ledger),
                 {.budget_bytes = 200, .wait_for_memory = 30s});
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 12; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(static_cast<unsigned>(t));
      for (int i = 0; i < 40; ++i) {
        const std::string id(1, static_cast<char>('a' + rng() % 4));
        Result<ModelLease> lease = pool.Acquire(id);
        if (!lease.ok()) {
          ADD_FAILURE() << lease.error().message();
          continue;
        }
        if (lease->model().id == id) ++ok;
        ++ledger.users[id];
        std::this_thread::sleep_for(std::chrono::microseconds(rng() % 2000));
        --ledger.users[id];
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(ok, 12 * 40);
  EXPECT_EQ(ledger.unloaded_while_used, 0);
  EXPECT_LE(ledger.max_live_bytes, 200u);
  int loads = 0;
  for (const char* id : {"a", "b", "c", "d"}) loads += ledger.Loads(id);
  EXPECT_GT(loads, 4);  // models were swapped, not only loaded once
  int loaded = 0;
  for (const ModelStatus& s : pool.Models()) {
    EXPECT_EQ(s.leases, 0);
    loaded += s.state == ModelState::kLoaded;
  }
  EXPECT_LE(loaded, 2);
}

TEST(ModelPoolTest, EstimateCountsWeightsKvCacheAndBuffers) {
  model::HParams hp;
  hp.n_vocab = 32000;
  hp.n_embd = 4096;
  hp.n_layer = 32;
  hp.n_head = 32;
  hp.n_head_kv = 8;
  hp.head_dim = 128;
  hp.n_ff = 14336;
  const EngineShape shape{.n_ctx = 4096, .n_parallel = 2, .n_batch = 512, .kv_type = DType::kF16};
  // K and V: 32 layers x 4096 positions x 8 heads x 128 x 2 bytes, for two slots: 1 GiB.
  EXPECT_EQ(KvCacheBytes(hp, shape), uint64_t{1} << 30);
  const uint64_t file = uint64_t{4} << 30;
  const uint64_t total = EstimateModelMemory(hp, file, shape);
  EXPECT_GT(total, file + (uint64_t{1} << 30));
  EXPECT_LT(total, file + (uint64_t{1} << 30) + (uint64_t{200} << 20));
  EXPECT_EQ(HumanBytes(uint64_t{3} << 29), "1.5 GiB");
  EXPECT_EQ(HumanBytes(512), "512 B");
}

}  // namespace
}  // namespace wick::server
