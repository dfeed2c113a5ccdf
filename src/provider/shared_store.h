// State the router keeps in the ledger's database rather than in memory: rate-limit buckets
// that several wick instances behind one load balancer share (PostgreSQL), and cached answers
// that outlive a restart (SQLite or PostgreSQL, `cache_persist = true`).
//
// Both are optional: a ledger without them returns null, and the router then keeps buckets and
// the cache in memory only. A failing database never fails a request: the router falls back to
// its in-memory state for that call.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"

namespace wick::provider {

// Token buckets (one for requests, one for tokens per subject) kept where every instance sees
// them. Capacity equals the per-minute limit and refills continuously, as in RateLimiter; time
// is the database server's clock, the one thing the instances share.
class SharedBuckets {
 public:
  struct Limits {
    int64_t requests_per_min = 0;  // 0: unlimited
    int64_t tokens_per_min = 0;
  };

  struct Verdict {
    std::chrono::milliseconds retry_after{0};  // 0: taken
    bool requests_short = false;               // the request bucket is one that is short
  };

  virtual ~SharedBuckets() = default;
  // Takes one request and `tokens` tokens from `subject`'s buckets, both or neither, in one
  // atomic step; when refused, how long until both would admit it.
  virtual Result<Verdict> Take(std::string_view subject, const Limits& limits, double tokens) = 0;
  // Removes `tokens` more from the token bucket (negative: gives them back), never above its
  // capacity; it may go negative, so that later requests wait.
  virtual Status Charge(std::string_view subject, const Limits& limits, double tokens) = 0;
};

// Cached answers, as text (the response cache encodes them), under the response cache's key,
// with a wall-clock expiry.
struct CachedValue {
  std::string value;
  int64_t expires_ms = 0;  // Unix milliseconds; 0: never
};

class CacheStore {
 public:
  virtual ~CacheStore() = default;
  // The value stored under `key` unless it expired by `now_ms` (Unix milliseconds); marks it
  // used at `now_ms` for the least-recently-used order.
  virtual Result<std::optional<CachedValue>> Load(std::string_view key, int64_t now_ms) = 0;
  // Stores or replaces; `expires_ms` 0: never expires. `bytes` is what it counts against the
  // size limit.
  virtual Status Save(std::string_view key, std::string_view value, int64_t now_ms,
                      int64_t expires_ms, uint64_t bytes) = 0;
  // Drops expired entries, then the least recently used ones beyond `max_entries` or
  // `max_bytes` (0: no limit).
  virtual Status Prune(int64_t now_ms, int64_t max_entries, uint64_t max_bytes) = 0;
};

}  // namespace wick::provider
