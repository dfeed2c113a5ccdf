// A cache of whole answers to deterministic requests (temperature 0, or a fixed seed), keyed
// by the provider's model and everything in the request that shapes the output. In memory, with
// a time to live, an entry limit and a byte limit, evicting the least recently used.
//
// Only the request's sampling settings decide whether it may be cached; whether the provider
// really is deterministic at temperature 0 is the configuration's call (cache_enabled).
#pragma once

#include <chrono>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "api/openai_protocol.h"
#include "provider/clock.h"
#include "provider/provider.h"
#include "provider/shared_store.h"

namespace wick::provider {

// From [performance]: cache_ttl, cache_max_entries, cache_max_size.
struct ResponseCacheOptions {
  std::chrono::milliseconds ttl{3'600'000};  // 0: entries never expire
  int64_t max_entries = 10'000;              // 0: no limit
  uint64_t max_bytes = 100ull << 20;         // 0: no limit
  // cache_persist: every answer is also written here (the ledger's database), and a miss in
  // memory is looked up here, so answers outlive a restart and, on PostgreSQL, are shared
  // by every instance. Expiry there is by wall clock. Null: memory only.
  CacheStore* store = nullptr;
};

class ResponseCache {
 public:
  struct Stats {
    uint64_t hits = 0;
    uint64_t misses = 0;       // expired entries included
    uint64_t evictions = 0;    // pushed out by the entry or byte limit
    uint64_t expirations = 0;  // found past their time to live
    uint64_t entries = 0;
    uint64_t bytes = 0;
  };

  explicit ResponseCache(const Clock& clock, ResponseCacheOptions options = {});

  // Temperature 0 or a fixed seed; more than one choice only with a seed (unseeded choices
  // differ from each other by design).
  static bool Cacheable(const api::CompletionRequest& request);

  // The canonical form the key hashes: compact JSON, object keys sorted at every depth (so two
  // clients ordering a message's fields differently share an entry), with `provider_model` and
  // every field that shapes the output; not stream or include_usage, so a streamed request is
  // answered from a non-streamed one. Stop strings are sorted too: their order changes nothing.
  static std::string CanonicalJson(std::string_view provider_model,
                                   const api::CompletionRequest& request);
  // SHA-256 of CanonicalJson, 64 lowercase hex digits.
  static std::string Key(std::string_view provider_model, const api::CompletionRequest& request);

  // The cached answer; an expired one is a miss and is dropped.
  std::optional<Completion> Get(std::string_view key);
  // Stores (or replaces) an answer. One bigger than the whole byte limit is not stored.
  void Put(std::string_view key, Completion completion);

  // How an answer is kept in a CacheStore: CBOR (every string as bytes, since a token may be
  // part of a UTF-8 character) in hex. Decode returns nullopt for anything it did not write.
  static std::string Encode(const Completion& completion);
  static std::optional<Completion> Decode(std::string_view text);
  void Clear();

  Stats stats() const;
  // What an entry is charged against max_bytes: its text, log-probabilities and bookkeeping.
  static uint64_t SizeOf(std::string_view key, const Completion& completion);

 private:
  struct Entry {
    std::string key;
    std::shared_ptr<const Completion> completion;  // shared so Get copies it outside the lock
    uint64_t bytes = 0;
    std::chrono::steady_clock::time_point expires{};
  };
  using Lru = std::list<Entry>;  // most recently used first

  // Adds an entry to memory (mu_ held).
  void Insert(std::string_view key, std::shared_ptr<const Completion> completion, uint64_t bytes,
              std::chrono::steady_clock::time_point expires);
  std::optional<Completion> LoadFromStore(std::string_view key);
  void Erase(Lru::iterator it);
  void EvictOverLimits();

  const Clock& clock_;
  const ResponseCacheOptions options_;
  mutable std::mutex mu_;
  Lru lru_;
  // Keys view the strings held in lru_'s entries, which a std::list never moves.
  std::unordered_map<std::string_view, Lru::iterator> index_;
  Stats stats_;
  uint64_t saves_since_prune_ = 0;
};

}  // namespace wick::provider
