// The PostgreSQL ledger, for several wick instances that share budgets: they all record into
// and read spend from one table. One connection, serialised by a mutex (a row per request is
// light work for one connection), re-established once when the server dropped it. Every value
// travels as a parameter (PQexecParams), never spliced into SQL.
#include <libpq-fe.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

#include "provider/ledger_backends.h"

namespace wick::provider::ledger_internal {

namespace {

// Run inside one transaction under an advisory lock: CREATE TABLE IF NOT EXISTS is not safe
// against itself, and several instances starting together would otherwise race on it.
constexpr const char* kSchema =
    "BEGIN;"
    "SELECT pg_advisory_xact_lock(7306385241651160691);"
    "CREATE TABLE IF NOT EXISTS usage ("
    "id BIGSERIAL PRIMARY KEY, time_ms BIGINT NOT NULL, request_id TEXT NOT NULL, "
    "\"key\" TEXT NOT NULL, provider TEXT NOT NULL, model TEXT NOT NULL, "
    "prompt_tokens BIGINT NOT NULL, completion_tokens BIGINT NOT NULL, "
    "cost DOUBLE PRECISION NOT NULL, latency_ms DOUBLE PRECISION NOT NULL, "
    "status INTEGER NOT NULL, cache_hit INTEGER NOT NULL, fallback_path TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS usage_time ON usage(time_ms, cost);"
    "CREATE INDEX IF NOT EXISTS usage_key_time ON usage(\"key\", time_ms, cost);"
    "COMMIT;";

// Not waiting for each row's WAL flush: a server crash may lose the last fraction of a second
// of rows (never corrupt the table), as SQLite's synchronous=NORMAL may; waiting would cost a
// disk flush per request, under the one connection's mutex.
constexpr const char* kSession = "SET synchronous_commit TO off";

constexpr const char* kInsert =
    "INSERT INTO usage (time_ms, request_id, \"key\", provider, model, prompt_tokens, "
    "completion_tokens, cost, latency_ms, status, cache_hit, fallback_path) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";
constexpr const char* kSpendAll = "SELECT COALESCE(SUM(cost), 0) FROM usage WHERE time_ms >= $1";
constexpr const char* kSpendKey =
    "SELECT COALESCE(SUM(cost), 0) FROM usage WHERE \"key\" = $1 AND time_ms >= $2";

struct ResultDeleter {
  void operator()(PGresult* result) const { PQclear(result); }
};
using PgResult = std::unique_ptr<PGresult, ResultDeleter>;

// libpq's messages end in '\n' and may span lines ("connection to server ... failed: ...\n
// Is the server running ..."); wick's errors are one line.
std::string OneLine(const char* message) {
  std::string out;
  for (const char* p = message; p != nullptr && *p != '\0'; ++p) {
    if (*p == '\n') {
      if (p[1] != '\0') out += "; ";
    } else {
      out += *p;
    }
  }
  while (!out.empty() && (out.back() == ' ' || out.back() == ';')) out.pop_back();
  return out.empty() ? "unknown libpq error" : out;
}

std::string DoubleText(double value) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", value);
  return buf;
}

// Sums come back as text (numeric for SUM(bigint)), always integral here.
int64_t IntAt(PGresult* r, int row, int col) {
  return std::strtoll(PQgetvalue(r, row, col), nullptr, 10);
}
double DoubleAt(PGresult* r, int row, int col) {
  return std::strtod(PQgetvalue(r, row, col), nullptr);
}

class PostgresLedger : public Ledger {
 public:
  explicit PostgresLedger(const std::string& url) : url_(url), shown_url_(RedactUrl(url)) {}
  ~PostgresLedger() override {
    if (conn_ != nullptr) PQfinish(conn_);
  }

  Status Open() {
    std::lock_guard lock(mu_);
    conn_ = PQconnectdb(url_.c_str());
    if (conn_ == nullptr) return Error(ErrorCode::kIo, "connecting: out of memory").With(Context());
    if (PQstatus(conn_) != CONNECTION_OK) {
      return Error(ErrorCode::kUnavailable, "connecting: " + OneLine(PQerrorMessage(conn_)))
          .With(Context());
    }
    // The default processor prints every NOTICE ("relation already exists, skipping") on
    // stderr.
    PQsetNoticeProcessor(
        conn_, [](void*, const char*) {}, nullptr);
    PgResult result(PQexec(conn_, kSession));
    if (PQresultStatus(result.get()) != PGRES_COMMAND_OK) {
      return Error(ErrorCode::kIo,
                   "setting up the session: " + OneLine(PQresultErrorMessage(result.get())))
          .With(Context());
    }
    result.reset(PQexec(conn_, kSchema));
    if (PQresultStatus(result.get()) != PGRES_COMMAND_OK) {
      std::string message = OneLine(PQresultErrorMessage(result.get()));
      PQclear(PQexec(conn_, "ROLLBACK"));
      return Error(ErrorCode::kIo, "creating the usage table: " + message).With(Context());
    }
    return OkStatus();
  }

  Status Record(const UsageRecord& r) override {
    std::string values[12] = {std::to_string(ToMillis(r.time)),
                              r.request_id,
                              r.key,
                              r.provider,
                              r.model,
                              std::to_string(r.prompt_tokens),
                              std::to_string(r.completion_tokens),
                              DoubleText(r.cost),
                              DoubleText(r.latency_ms),
                              std::to_string(r.status),
                              r.cache_hit ? "1" : "0",
                              r.fallback_path};
    std::lock_guard lock(mu_);
    WICK_ASSIGN_OR_RETURN(PgResult result, Exec(kInsert, values, 12, PGRES_COMMAND_OK,
                                                "recording request " + Quote(r.request_id)));
    return OkStatus();
  }

  Result<double> Spend(const std::string* key,
                       std::chrono::system_clock::time_point since) override {
    std::string since_text = std::to_string(ToMillis(since));
    std::lock_guard lock(mu_);
    if (key != nullptr) {
      std::string values[2] = {*key, since_text};
      WICK_ASSIGN_OR_RETURN(PgResult result,
                            Exec(kSpendKey, values, 2, PGRES_TUPLES_OK, "reading spend"));
      return DoubleAt(result.get(), 0, 0);
    }
    WICK_ASSIGN_OR_RETURN(PgResult result,
                          Exec(kSpendAll, &since_text, 1, PGRES_TUPLES_OK, "reading spend"));
    return DoubleAt(result.get(), 0, 0);
  }

  Result<std::vector<UsageRow>> Report(std::chrono::system_clock::time_point since,
                                       GroupBy group) override {
    std::string since_text = std::to_string(ToMillis(since));
    std::string sql = ReportSql(group, "$1");
    std::lock_guard lock(mu_);
    WICK_ASSIGN_OR_RETURN(PgResult result,
                          Exec(sql.c_str(), &since_text, 1, PGRES_TUPLES_OK, "reading the report"));
    PGresult* r = result.get();
    std::vector<UsageRow> rows;
    rows.reserve(PQntuples(r));
    for (int i = 0; i < PQntuples(r); ++i) {
      UsageRow row;
      row.group = group == GroupBy::kDay ? DayName(IntAt(r, i, 0)) : PQgetvalue(r, i, 0);
      row.requests = IntAt(r, i, 1);
      row.prompt_tokens = IntAt(r, i, 2);
      row.completion_tokens = IntAt(r, i, 3);
      row.cost = DoubleAt(r, i, 4);
      row.cache_hits = IntAt(r, i, 5);
      row.errors = IntAt(r, i, 6);
      rows.push_back(std::move(row));
    }
    return rows;
  }

 private:
  std::string Context() const { return "usage ledger " + shown_url_; }

  // Runs one parameterised statement (mu_ held). When the connection is found broken, before
  // or by the statement, it is reset once and the statement tried again; a second failure is
  // the caller's error. A retried insert can only duplicate a row if the server committed it
  // and then the connection dropped before the reply: rare, and a row too many errs on the
  // side of budgets.
  Result<PgResult> Exec(const char* sql, const std::string* values, int count,
                        ExecStatusType expected, const std::string& what) {
    std::vector<const char*> params(count);
    for (int i = 0; i < count; ++i) params[i] = values[i].c_str();
    bool reset = false;
    while (true) {
      if (PQstatus(conn_) != CONNECTION_OK) {
        if (reset) break;
        reset = true;
        PQreset(conn_);
        if (PQstatus(conn_) != CONNECTION_OK) break;
        PQclear(PQexec(conn_, kSession));  // a new session: best effort, it only saves time
      }
      PgResult result(PQexecParams(conn_, sql, count, nullptr, params.data(), nullptr, nullptr, 0));
      if (PQresultStatus(result.get()) == expected) return result;
      // Broken by this statement (the server restarted, a proxy timed it out): reset and
      // try again once. Otherwise the statement itself failed.
      if (PQstatus(conn_) == CONNECTION_OK || reset) {
        const char* message = result != nullptr ? PQresultErrorMessage(result.get()) : "";
        if (*message == '\0') message = PQerrorMessage(conn_);
        return Error(ErrorCode::kIo, what + ": " + OneLine(message)).With(Context());
      }
    }
    return Error(ErrorCode::kUnavailable,
                 what + ": reconnecting: " + OneLine(PQerrorMessage(conn_)))
        .With(Context());
  }

  std::string url_;        // as configured (it holds no password: libpq reads PGPASSWORD)
  std::string shown_url_;  // for messages, a password replaced all the same
  std::mutex mu_;
  PGconn* conn_ = nullptr;
};

}  // namespace

Result<std::unique_ptr<Ledger>> OpenPostgresLedger(const std::string& url) {
  auto ledger = std::make_unique<PostgresLedger>(url);
  WICK_RETURN_IF_ERROR(ledger->Open());
  return std::unique_ptr<Ledger>(std::move(ledger));
}

}  // namespace wick::provider::ledger_internal
