#include "core/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <numeric>

namespace wick {
namespace {

TEST(ThreadPoolTest, RunCallsEveryThreadOnce) {
  for (int n : {1, 2, 3, 8}) {
    ThreadPool pool(n);
    ASSERT_EQ(pool.size(), n);
    std::vector<std::atomic<int>> calls(static_cast<size_t>(n));
    for (int round = 0; round < 200; ++round) {
      pool.Run([&](int thread, int n_threads) {
        EXPECT_EQ(n_threads, n);
        calls[static_cast<size_t>(thread)].fetch_add(1);
      });
    }
    for (auto& c : calls) EXPECT_EQ(c.load(), 200);
  }
}

TEST(ThreadPoolTest, ParallelForCoversEachIndexOnceOnGrainBoundaries) {
  ThreadPool pool(4);
  for (int64_t n : {0, 1, 7, 16, 17, 1000, 4099}) {
    for (int64_t grain : {1, 4, 16, 5000}) {
      std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
      pool.ParallelFor(n, grain, [&](int64_t begin, int64_t end) {
        EXPECT_EQ(begin % grain, 0) << n << " " << grain;
        EXPECT_TRUE(end == n || end % grain == 0);
        for (int64_t i = begin; i < end; ++i) hits[static_cast<size_t>(i)].fetch_add(1);
      });
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[static_cast<size_t>(i)].load(), 1) << i;
    }
  }
}

TEST(ThreadPoolTest, ResultsAreVisibleToTheCaller) {
  ThreadPool pool(3);
  std::vector<int64_t> out(10000);
  for (int round = 0; round < 50; ++round) {
    pool.ParallelFor(static_cast<int64_t>(out.size()), 16, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) out[static_cast<size_t>(i)] = i * round;
    });
    int64_t sum = std::accumulate(out.begin(), out.end(), int64_t{0});
    ASSERT_EQ(sum, int64_t{round} * (9999 * 10000 / 2));
  }
}

TEST(ThreadPoolTest, ConcurrentCallersAreSerialised) {
  ThreadPool pool(2);
  std::atomic<int64_t> total{0};
  std::vector<std::thread> callers;
  for (int c = 0; c < 4; ++c) {
    callers.emplace_back([&] {
      for (int i = 0; i < 100; ++i) {
        pool.ParallelFor(64, 8, [&](int64_t b, int64_t e) { total.fetch_add(e - b); });
      }
    });
  }
  for (auto& t : callers) t.join();
  EXPECT_EQ(total.load(), 4 * 100 * 64);
}

TEST(ThreadPoolTest, DefaultSizeIsThePhysicalCoreCount) {
  EXPECT_GE(PhysicalCoreCount(), 1);
  ThreadPool pool;
  EXPECT_EQ(pool.size(), PhysicalCoreCount());
}

}  // namespace
}  // namespace wick
