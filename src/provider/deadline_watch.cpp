#include "provider/deadline_watch.h"

namespace wick::provider {

DeadlineWatch::DeadlineWatch() : thread_([this] { Loop(); }) {}

DeadlineWatch::~DeadlineWatch() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void DeadlineWatch::Add(Watched* watched) {
  {
    std::lock_guard lock(mu_);
    watched_.insert(watched);
  }
  cv_.notify_one();  // it may be the earliest deadline now
}

void DeadlineWatch::Remove(Watched* watched) {
  std::lock_guard lock(mu_);
  watched_.erase(watched);
}

void DeadlineWatch::Loop() {
  using Clock = std::chrono::steady_clock;
  std::unique_lock lock(mu_);
  while (!stopping_) {
    const auto now = Clock::now();
    auto earliest = Clock::time_point::max();
    for (Watched* w : watched_) {
      if (w->state.load() != Watched::kArmed) continue;
      if (w->deadline <= now) {
        int armed = Watched::kArmed;
        if (w->state.compare_exchange_strong(armed, Watched::kFired)) w->token->Cancel();
      } else if (w->deadline < earliest) {
        earliest = w->deadline;
      }
    }
    if (earliest == Clock::time_point::max()) {
      cv_.wait(lock);
    } else {
      cv_.wait_until(lock, earliest);
    }
  }
}

}  // namespace wick::provider
