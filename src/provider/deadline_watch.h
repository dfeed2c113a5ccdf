// Cancels provider calls that have not started answering by their deadline: the router's
// `response_timeout`, which turns a provider that is up but too slow (a full local queue, a
// hosted model cold-starting) into a fallback to the next tier instead of a client left
// waiting. One thread sleeps until the earliest deadline; a call registers a Watched on its
// stack, disarms it at its first token and removes it when it returns.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include "provider/provider.h"

namespace wick::provider {

class DeadlineWatch {
 public:
  struct Watched {
    Watched(std::chrono::steady_clock::time_point when, CancelToken* cancels)
        : deadline(when), token(cancels) {}
    // At the call's first token. False when the deadline won the race: the token was
    // cancelled, and the text must not reach the client (another tier will answer).
    bool Disarm() {
      int armed = kArmed;
      return state.compare_exchange_strong(armed, kDisarmed) || armed == kDisarmed;
    }
    bool fired() const { return state.load() == kFired; }

    const std::chrono::steady_clock::time_point deadline;
    CancelToken* const token;

   private:
    friend class DeadlineWatch;
    static constexpr int kArmed = 0, kDisarmed = 1, kFired = 2;
    std::atomic<int> state{kArmed};
  };

  DeadlineWatch();
  ~DeadlineWatch();
  DeadlineWatch(const DeadlineWatch&) = delete;
  DeadlineWatch& operator=(const DeadlineWatch&) = delete;

  void Add(Watched* watched);
  // After it returns the watch no longer touches `watched`.
  void Remove(Watched* watched);

 private:
  void Loop();

  std::mutex mu_;
  std::condition_variable cv_;
  std::set<Watched*> watched_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace wick::provider
