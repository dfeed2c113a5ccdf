// One persistent pool of worker threads for the kernels: created once, reused by every op,
// so a decode step with hundreds of ops pays no thread creation. The calling thread works
// too, as thread 0. Workers spin briefly between jobs (ops follow each other within
// microseconds during generation) and then sleep, so an idle engine uses no CPU.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace wick {

// Physical cores of this machine (hyper-threads share execution units, and memory-bound
// kernels gain nothing from them); hardware_concurrency when the topology is unreadable.
int PhysicalCoreCount();

class ThreadPool {
 public:
  // `n_threads` counts the caller; values below 1 mean PhysicalCoreCount().
  explicit ThreadPool(int n_threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Calls fn(thread, n_threads) once on every thread and returns when all have finished.
  // `fn` must not throw. Calls from several threads at once are serialised.
  void Run(const std::function<void(int thread, int n_threads)>& fn);

  // Splits [0, n) into one contiguous range per thread, with boundaries on multiples of
  // `grain` (pick it so that no two threads write the same cache line), and calls
  // fn(begin, end) for each non-empty range.
  void ParallelFor(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

 private:
  void WorkerLoop(int thread);

  int n_threads_;
  std::vector<std::thread> workers_;
  std::mutex run_mutex_;  // one job at a time

  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  const std::function<void(int, int)>* job_ = nullptr;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  bool stop_ = false;
};

}  // namespace wick
