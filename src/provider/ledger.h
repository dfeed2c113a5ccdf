// The usage ledger: one row per request (who, which provider and model, tokens, cost, latency,
// status, cache hit, fallback path), in SQLite by default or PostgreSQL when several wick
// instances share budgets. Budgets read their spend from it; `wick usage` reports it.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "provider/config.h"
#include "provider/shared_store.h"

namespace wick::provider {

struct UsageRecord {
  std::chrono::system_clock::time_point time;
  std::string request_id;
  std::string key;  // API key name ("" without keys)
  std::string provider;
  std::string model;
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  double cost = 0;  // USD
  double latency_ms = 0;
  int status = 200;  // HTTP status given to the client
  bool cache_hit = false;
  std::string fallback_path;  // providers tried in order, "local>hf"
};

enum class GroupBy { kProvider, kModel, kKey, kDay };

struct UsageRow {
  std::string group;  // the provider, model, key, or day (YYYY-MM-DD, UTC)
  int64_t requests = 0;
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  double cost = 0;
  int64_t cache_hits = 0;
  int64_t errors = 0;  // status >= 400
};

class Ledger {
 public:
  virtual ~Ledger() = default;
  // Appends a row. Thread-safe; called once per request after it ends.
  virtual Status Record(const UsageRecord& record) = 0;
  // Appends rows in one transaction: one sync for a batch instead of one per row.
  virtual Status RecordBatch(const std::vector<UsageRecord>& records);
  // USD spent since `since` (inclusive): by one key, or by everyone with key == nullptr.
  virtual Result<double> Spend(const std::string* key,
                               std::chrono::system_clock::time_point since) = 0;
  // Totals since `since`, grouped, largest cost first.
  virtual Result<std::vector<UsageRow>> Report(std::chrono::system_clock::time_point since,
                                               GroupBy group) = 0;

  // Rate-limit buckets every instance on this database shares (PostgreSQL only), and a table
  // for cached answers (both backends); null where the backend has none. Owned by the ledger.
  virtual SharedBuckets* shared_buckets() { return nullptr; }
  virtual CacheStore* cache_store() { return nullptr; }
};

// SQLite (WAL) at config.path, created with its folders when missing; or PostgreSQL at
// config.url. The schema is created when absent. With config.enabled false: a ledger that
// records nothing, spends nothing and reports no rows (budgets then start at zero each run).
//
// Rows are written by a background thread in batches, so that a request never waits for the
// database (a WAL checkpoint's fsync, a round trip to PostgreSQL): Record queues the row and
// returns. Spend and Report first wait for the rows queued before them, so a read sees every
// earlier Record; destroying the ledger writes what is still queued.
Result<std::unique_ptr<Ledger>> OpenLedger(const LedgerConfig& config);

}  // namespace wick::provider
