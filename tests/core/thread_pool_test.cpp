#include "core/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <numeric>
#include <thread>

namespace wick {
namespace {

TEST(ThreadPoolTest, RunCallsTheCallerAndEachWorkerAtMostOnce) {
  for (int n : {1, 2, 3, 8}) {
    ThreadPool pool(n);
    ASSERT_EQ(pool.size(), n);
    for (int round = 0; round < 200; ++round) {
      std::vector<std::atomic<int>> calls(static_cast<size_t>(n));
      std::atomic<int> next{0}, done{0};
      pool.Run([&](int thread, int n_threads) {
        EXPECT_EQ(n_threads, n);
        calls[static_cast<size_t>(thread)].fetch_add(1);
        // Work pulled from a counter: whoever joins shares it.
        while (next.fetch_add(1) < 1000) done.fetch_add(1);
      });
      EXPECT_EQ(calls[0].load(), 1);  // the caller always works
      for (auto& c : calls) EXPECT_LE(c.load(), 1);
      EXPECT_EQ(done.load(), 1000);  // every piece once, whoever did it
    }
  }
}

// A slow worker (as a descheduled one is) may join a job late or not at all: every piece is
// still done exactly once, by whoever takes it.
TEST(ThreadPoolTest, ASlowWorkerLeavesNoPieceUndoneOrDoneTwice) {
  ThreadPool pool(2);
  std::atomic<int> runs{0};
  for (int round = 0; round < 50; ++round) {
    std::atomic<int> next{0};
    pool.Run([&](int thread, int) {
      if (thread == 1) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      while (next.fetch_add(1) < 10) runs.fetch_add(1);
    });
  }
  EXPECT_EQ(runs.load(), 500);
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
