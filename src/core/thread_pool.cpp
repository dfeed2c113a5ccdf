#include "core/thread_pool.h"

#include <algorithm>
#include <fstream>
#include <set>
#include <string>
#include <utility>

namespace wick {

namespace {

// Spinning this many rounds (up to about a millisecond) before sleeping keeps back-to-back
// ops cheap without burning a core when the engine is idle. WebAssembly has no pause
// instruction, so a round there is a nanosecond or two and it takes far more of them; a
// browser also wakes a sleeping worker slowly (hundreds of microseconds), so a worker that
// slept between a decode step's ops would come too late to share them.
#if defined(__EMSCRIPTEN__)
constexpr int kSpinRounds = 1000000;
#else
constexpr int kSpinRounds = 20000;
#endif

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

}  // namespace

int PhysicalCoreCount() {
  std::set<std::pair<std::string, std::string>> cores;  // (package, core)
  for (unsigned cpu = 0;; ++cpu) {
    std::string base = "/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/topology/";
    std::ifstream package(base + "physical_package_id");
    std::ifstream core(base + "core_id");
    std::string p, c;
    if (!(package >> p) || !(core >> c)) break;
    cores.emplace(p, c);
  }
  if (!cores.empty()) return static_cast<int>(cores.size());
  return std::max(1u, std::thread::hardware_concurrency());
}

ThreadPool::ThreadPool(int n_threads)
    : n_threads_(n_threads >= 1 ? n_threads : PhysicalCoreCount()) {
  workers_.reserve(static_cast<size_t>(n_threads_ - 1));
  for (int t = 1; t < n_threads_; ++t) workers_.emplace_back([this, t] { WorkerLoop(t); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();
  for (std::thread& w : workers_) w.join();
}

void ThreadPool::WorkerLoop(int thread) {
  uint64_t seen = 0;
  while (true) {
    uint64_t gen = generation_.load(std::memory_order_acquire);
    for (int spin = 0; gen == seen && spin < kSpinRounds; ++spin) {
      CpuRelax();
      gen = generation_.load(std::memory_order_acquire);
    }
    const std::function<void(int, int)>* job;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
      seen = generation_.load(std::memory_order_acquire);
      if (stop_) return;
      // Too late: the caller has taken the last piece and is waiting for the others.
      if (!open_) continue;
      active_.fetch_add(1, std::memory_order_relaxed);
      job = job_;
    }
    (*job)(thread, n_threads_);
    std::lock_guard<std::mutex> lock(mutex_);
    if (active_.fetch_sub(1, std::memory_order_acq_rel) == 1 && !open_) done_.notify_one();
  }
}

void ThreadPool::Run(const std::function<void(int, int)>& fn) {
  if (n_threads_ == 1) {
    fn(0, 1);
    return;
  }
  std::lock_guard<std::mutex> run_lock(run_mutex_);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    job_ = &fn;
    open_ = true;
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();
  fn(0, n_threads_);
  // The caller's call returns once no work is left to take: close the job to latecomers,
  // then wait only for the workers inside it, which are finishing pieces they took.
  {
    std::lock_guard<std::mutex> lock(mutex_);
    open_ = false;
  }
  for (int spin = 0; active_.load(std::memory_order_acquire) != 0 && spin < kSpinRounds; ++spin) {
    CpuRelax();
  }
  std::unique_lock<std::mutex> lock(mutex_);
  done_.wait(lock, [&] { return active_.load(std::memory_order_acquire) == 0; });
  job_ = nullptr;
}

void ThreadPool::ParallelFor(int64_t n, int64_t grain,
                             const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  const int64_t chunks = (n + grain - 1) / grain;
  // One chunk (a decode step's single row) is not worth waking the workers for.
  if (chunks == 1) {
    fn(0, n);
    return;
  }
  // Two pieces per thread: a thread that is slow, or late, leaves part of its share to the
  // others, and each piece is still long enough for the kernels' inner loops.
  const int64_t pieces = std::min<int64_t>(chunks, 2 * n_threads_);
  const int64_t per_piece = (chunks + pieces - 1) / pieces;
  std::atomic<int64_t> next{0};
  Run([&](int, int) {
    for (int64_t p = next.fetch_add(1); p < pieces; p = next.fetch_add(1)) {
      const int64_t begin = p * per_piece * grain;
      const int64_t end = std::min(n, (p + 1) * per_piece * grain);
      if (begin < end) fn(begin, end);
    }
  });
}

}  // namespace wick
