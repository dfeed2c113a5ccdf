// One persistent pool of worker threads for the kernels: created once, reused by every op,
// so a decode step with hundreds of ops pays no thread creation. The calling thread works
// too, as thread 0. Workers spin briefly between jobs (ops follow each other within
// microseconds during generation) and then sleep, so an idle engine uses no CPU.
//
// Work is pulled, not assigned: a job's threads take pieces from a shared counter, and a
// worker that wakes after the caller has taken the last piece skips the job. So on a busy
// machine a worker the scheduler has put aside delays nothing: the others take its share,
// instead of every op waiting a whole time slice for it.
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

  // Calls fn(thread, n_threads) on the calling thread (as thread 0) and on each worker that
  // joins before the caller's own call returns, at most once per thread, and returns when
  // every call has. So `fn` must pull its work from a shared counter until none is left
  // (`thread` is for per-thread scratch, not for dividing the work). `fn` must not throw.
  // Calls from several threads at once are serialised.
  void Run(const std::function<void(int thread, int n_threads)>& fn);

  // Splits [0, n) into contiguous pieces, a few per thread, with boundaries on multiples of
  // `grain` (pick it so that no two threads write the same cache line), and calls
  // fn(begin, end) once for each non-empty piece, on whichever thread takes it.
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
  bool open_ = false;           // the job still takes workers (under mutex_)
  std::atomic<int> active_{0};  // workers inside the job
  bool stop_ = false;
};

}  // namespace wick
