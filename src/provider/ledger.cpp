// OpenLedger picks the backend; the helpers both backends share live here too.
#include "provider/ledger.h"

#include <fmt/format.h>

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

namespace {

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
  if (!config.url.empty()) return ledger_internal::OpenPostgresLedger(config.url);
  if (config.path.empty()) {
    return Error(ErrorCode::kInvalidArgument, "ledger: neither a path nor a url is configured");
  }
  return ledger_internal::OpenSqliteLedger(config.path);
}

}  // namespace wick::provider
