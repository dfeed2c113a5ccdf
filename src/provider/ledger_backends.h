// What the ledger backends share: how a record and a grouping map onto the one `usage` table,
// so that SQLite and PostgreSQL answer Report() identically. Private to src/provider.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/error.h"
#include "provider/ledger.h"

namespace wick::provider::ledger_internal {

// Opened by OpenLedger for a LedgerConfig with a path or with a url.
Result<std::unique_ptr<Ledger>> OpenSqliteLedger(const std::string& path);
Result<std::unique_ptr<Ledger>> OpenPostgresLedger(const std::string& url);

// Rows store milliseconds since the Unix epoch, so that "since" is an indexed integer range in
// both databases and no time zone setting of either server can shift a day.
int64_t ToMillis(std::chrono::system_clock::time_point time);

// The SQL expression a GroupBy groups on. kDay groups on the UTC day number
// (time_ms / 86400000, integer division in both dialects); DayName() turns it into the date.
std::string_view GroupColumn(GroupBy group);
// Day number since 1970-01-01 -> "YYYY-MM-DD".
std::string DayName(int64_t day_number);

// The columns Report() selects after the group, in this order, then its GROUP BY and ORDER BY
// ("largest cost first", ties by group for a stable order). One text for both dialects.
std::string ReportSql(GroupBy group, std::string_view since_placeholder);

// The response cache's table and statements, one text for both dialects: `placeholder(i)`
// writes the i-th parameter ("?3" for SQLite, "$3" for PostgreSQL). Parameters: Load (key,
// now_ms); Save (key, value, bytes, expires_ms, now_ms); Expire (now_ms); Prune (max_entries,
// max_bytes).
struct CacheSql {
  std::string schema, load, save, expire, prune;
};
CacheSql MakeCacheSql(std::string_view placeholder_prefix);

// The url with any password (user:password@, password=...) replaced by "***", for messages.
std::string RedactUrl(std::string_view url);

}  // namespace wick::provider::ledger_internal
