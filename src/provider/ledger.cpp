// OpenLedger picks the backend; the helpers both backends share live here too.
#include "provider/ledger.h"

#include <fmt/format.h>

#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <thread>

#include "provider/ledger_backends.h"

namespace wick::provider {

namespace ledger_internal {

int64_t ToMillis(std::chrono::system_clock::time_point time) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
}

std::string_view GroupColumn(GroupBy group) {
  switch (group) {
    case GroupBy::kProvider:
      return "provider";
    case GroupBy::kModel:
      return "model";
    case GroupBy::kKey:
      return "\"key\"";  // quoted: KEY is a keyword in both dialects
    case GroupBy::kDay:
      return "(time_ms / 86400000)";
  }
  return "provider";
}

std::string DayName(int64_t day_number) {
  std::chrono::year_month_day ymd{std::chrono::sys_days{std::chrono::days{day_number}}};
  return fmt::format("{:04d}-{:02d}-{:02d}", static_cast<int>(ymd.year()),
                     static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
}

std::string ReportSql(GroupBy group, std::string_view since_placeholder) {
  return fmt::format(
      "SELECT {0} AS grp, COUNT(*), COALESCE(SUM(prompt_tokens), 0), "
      "COALESCE(SUM(completion_tokens), 0), COALESCE(SUM(cost), 0), COALESCE(SUM(cache_hit), 0), "
      "COALESCE(SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END), 0) "
      "FROM usage WHERE time_ms >= {1} GROUP BY {0} ORDER BY 5 DESC, 1 ASC",
      GroupColumn(group), since_placeholder);
}

CacheSql MakeCacheSql(std::string_view p) {
  CacheSql sql;
  // expires_ms 0: never. used_ms orders least-recently-used eviction.
  sql.schema =
      "CREATE TABLE IF NOT EXISTS response_cache (cache_key TEXT PRIMARY KEY, value TEXT NOT "
      "NULL, bytes BIGINT NOT NULL, expires_ms BIGINT NOT NULL, used_ms BIGINT NOT NULL);";
  sql.load = fmt::format(
      "UPDATE response_cache SET used_ms = {0}2 WHERE cache_key = {0}1 AND (expires_ms = 0 OR "
      "expires_ms > {0}2) RETURNING value, expires_ms",
      p);
  sql.save = fmt::format(
      "INSERT INTO response_cache (cache_key, value, bytes, expires_ms, used_ms) VALUES ({0}1, "
      "{0}2, {0}3, {0}4, {0}5) ON CONFLICT (cache_key) DO UPDATE SET value = excluded.value, "
      "bytes = excluded.bytes, expires_ms = excluded.expires_ms, used_ms = excluded.used_ms",
      p);
  sql.expire =
      fmt::format("DELETE FROM response_cache WHERE expires_ms <> 0 AND expires_ms <= {0}1", p);
  // Running totals from the most recently used down: whatever lies past either limit goes.
  sql.prune = fmt::format(
      "DELETE FROM response_cache WHERE cache_key IN (SELECT cache_key FROM (SELECT cache_key, "
      "ROW_NUMBER() OVER w AS n, SUM(bytes) OVER w AS total FROM response_cache WINDOW w AS "
      "(ORDER BY used_ms DESC, cache_key ROWS UNBOUNDED PRECEDING)) ranked WHERE ({0}1 > 0 AND "
      "n > {0}1) OR ({0}2 > 0 AND total > {0}2))",
      p);
  return sql;
}

std::string RedactUrl(std::string_view url) {
  std::string out(url);
  // user:password@host: the password sits between the first ':' after the scheme and the
  // last '@' of the authority.
  size_t scheme = out.find("://");
  size_t start = scheme == std::string::npos ? 0 : scheme + 3;
  size_t end = out.find_first_of("/?", start);
  if (end == std::string::npos) end = out.size();
  size_t at = out.rfind('@', end);
  if (at != std::string::npos && at >= start) {
    size_t colon = out.find(':', start);
    if (colon != std::string::npos && colon < at) out.replace(colon + 1, at - colon - 1, "***");
  }
  // ?password=...&...: the value runs to the next '&' (or the end).
  for (size_t pos = out.find("password="); pos != std::string::npos;
       pos = out.find("password=", pos + 1)) {
    size_t value = pos + 9;
    size_t value_end = out.find('&', value);
    if (value_end == std::string::npos) value_end = out.size();
    out.replace(value, value_end - value, "***");
  }
  return out;
}

}  // namespace ledger_internal

Status Ledger::RecordBatch(const std::vector<UsageRecord>& records) {
  for (const UsageRecord& r : records) WICK_RETURN_IF_ERROR(Record(r));
  return OkStatus();
}

namespace {

// Queues rows for a writer thread (see OpenLedger). When the queue is full (the database has
// fallen far behind), Record waits for room rather than dropping rows or growing without end.
class BufferedLedger : public Ledger {
 public:
  explicit BufferedLedger(std::unique_ptr<Ledger> inner)
      : inner_(std::move(inner)), writer_([this] { Write(); }) {}

  ~BufferedLedger() override {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    wake_.notify_all();
    writer_.join();
  }

  Status Record(const UsageRecord& record) override {
    std::unique_lock lock(mu_);
    room_.wait(lock, [&] { return queue_.size() < kMaxQueued || stopping_; });
    queue_.push_back(record);
    ++queued_;
    wake_.notify_one();
    return OkStatus();
  }

  Result<double> Spend(const std::string* key,
                       std::chrono::system_clock::time_point since) override {
    Flush();
    return inner_->Spend(key, since);
  }

  Result<std::vector<UsageRow>> Report(std::chrono::system_clock::time_point since,
                                       GroupBy group) override {
    Flush();
    return inner_->Report(since, group);
  }

  SharedBuckets* shared_buckets() override { return inner_->shared_buckets(); }
  CacheStore* cache_store() override { return inner_->cache_store(); }

 private:
  static constexpr size_t kMaxQueued = 100'000;
  static constexpr size_t kMaxBatch = 512;

  // Waits until every row queued so far is written (or failed to be).
  void Flush() {
    std::unique_lock lock(mu_);
    const uint64_t target = queued_;
    written_cv_.wait(lock, [&] { return written_ >= target; });
  }

  void Write() {
    std::unique_lock lock(mu_);
    while (true) {
      wake_.wait(lock, [&] { return !queue_.empty() || stopping_; });
      if (queue_.empty() && stopping_) return;
      std::vector<UsageRecord> batch;
      while (!queue_.empty() && batch.size() < kMaxBatch) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      room_.notify_all();
      lock.unlock();
      Status status = inner_->RecordBatch(batch);
      if (!status.ok()) {
        // A request's answer has long gone; the row is lost, and said so once per batch.
        std::fprintf(stderr, "wick: warning: %zu usage rows not recorded: %s\n", batch.size(),
                     status.error().message().c_str());
      }
      lock.lock();
      written_ += batch.size();
      written_cv_.notify_all();
    }
  }

  std::unique_ptr<Ledger> inner_;
  std::mutex mu_;
  std::condition_variable wake_, room_, written_cv_;
  std::deque<UsageRecord> queue_;
  uint64_t queued_ = 0;
  uint64_t written_ = 0;
  bool stopping_ = false;
  std::thread writer_;  // last: it starts in the constructor and uses the members above
};

// `[ledger] enabled = false`: wick runs without recording, and budgets then see nothing spent
// (they cannot be enforced across restarts, which is what the user asked for by disabling it).
class NullLedger : public Ledger {
 public:
  Status Record(const UsageRecord&) override { return OkStatus(); }
  Result<double> Spend(const std::string*, std::chrono::system_clock::time_point) override {
    return 0.0;
  }
  Result<std::vector<UsageRow>> Report(std::chrono::system_clock::time_point, GroupBy) override {
    return std::vector<UsageRow>{};
  }
};

}  // namespace

Result<std::unique_ptr<Ledger>> OpenLedger(const LedgerConfig& config) {
  if (!config.enabled) return std::unique_ptr<Ledger>(std::make_unique<NullLedger>());
  std::unique_ptr<Ledger> ledger;
  if (!config.url.empty()) {
    WICK_ASSIGN_OR_RETURN(ledger, ledger_internal::OpenPostgresLedger(config.url));
  } else if (config.path.empty()) {
    return Error(ErrorCode::kInvalidArgument, "ledger: neither a path nor a url is configured");
  } else {
    WICK_ASSIGN_OR_RETURN(ledger, ledger_internal::OpenSqliteLedger(config.path));
  }
  return std::unique_ptr<Ledger>(std::make_unique<BufferedLedger>(std::move(ledger)));
}

}  // namespace wick::provider
