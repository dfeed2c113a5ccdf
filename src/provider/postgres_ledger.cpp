// The PostgreSQL ledger, for several wick instances that share budgets: they all record into
// and read spend from one table. One connection, serialised by a mutex (a row per request is
// light work for one connection), re-established once when the server dropped it. Every value
// travels as a parameter (PQexecParams), never spliced into SQL.
#include <libpq-fe.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

#include "provider/ledger_backends.h"

namespace wick::provider::ledger_internal {

namespace {

// Run inside one transaction (Open adds the cache table and the COMMIT) under an advisory lock:
// CREATE TABLE IF NOT EXISTS is not safe against itself, and several instances starting
// together would otherwise race on it.
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
    "CREATE TABLE IF NOT EXISTS rate_buckets (subject TEXT PRIMARY KEY, "
    "requests DOUBLE PRECISION NOT NULL, tokens DOUBLE PRECISION NOT NULL, "
    "updated_ms BIGINT NOT NULL);"
    // One round trip takes from both buckets or from neither, under the row's lock, timed by
    // the server's clock (the one every instance shares): wait_ms 0 when taken, else the
    // milliseconds until both would admit the request, and whether the request bucket is
    // among those short. With p_charge it only moves tokens. The same arithmetic as
    // BucketState: capacity = the per-minute limit, and a request bigger than the whole bucket
    // passes when the bucket is full.
    "CREATE OR REPLACE FUNCTION wick_rate_take(p_subject TEXT, p_rpm DOUBLE PRECISION, "
    "p_tpm DOUBLE PRECISION, p_tokens DOUBLE PRECISION, p_charge BOOLEAN, "
    "OUT wait_ms BIGINT, OUT requests_short BOOLEAN) LANGUAGE plpgsql AS $$ "
    "DECLARE now_ms BIGINT := (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT; "
    "r DOUBLE PRECISION; t DOUBLE PRECISION; last BIGINT; wait DOUBLE PRECISION := 0; "
    "need DOUBLE PRECISION; "
    "BEGIN "
    "requests_short := false; "
    "INSERT INTO rate_buckets VALUES (p_subject, p_rpm, p_tpm, now_ms) "
    "ON CONFLICT (subject) DO NOTHING; "
    "SELECT requests, tokens, updated_ms INTO r, t, last FROM rate_buckets "
    "WHERE subject = p_subject FOR UPDATE; "
    "IF now_ms > last THEN "
    "r := r + (now_ms - last) * p_rpm / 60000.0; t := t + (now_ms - last) * p_tpm / 60000.0; "
    "last := now_ms; END IF; "
    "r := LEAST(r, p_rpm); t := LEAST(t, p_tpm); "
    "IF p_charge THEN "
    "IF p_tpm > 0 THEN t := LEAST(p_tpm, t - p_tokens); END IF; "
    "ELSE "
    "IF p_rpm > 0 AND r + 1e-6 < 1 THEN "
    "wait := (1 - r) * 60000.0 / p_rpm; requests_short := true; END IF; "
    "need := LEAST(p_tokens, p_tpm); "
    "IF p_tpm > 0 AND t + 1e-6 < need THEN "
    "wait := GREATEST(wait, (need - t) * 60000.0 / p_tpm); END IF; "
    "IF wait = 0 THEN "
    "IF p_rpm > 0 THEN r := r - 1; END IF; IF p_tpm > 0 THEN t := t - p_tokens; END IF; "
    "END IF; END IF; "
    "UPDATE rate_buckets SET requests = r, tokens = t, updated_ms = last "
    "WHERE subject = p_subject; "
    "wait_ms := CASE WHEN wait > 0 THEN GREATEST(CEIL(wait), 1) ELSE 0 END; "
    "END $$;";

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
constexpr const char* kRateTake =
    "SELECT wait_ms, requests_short FROM wick_rate_take($1, $2, $3, $4, $5)";

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

class PostgresLedger : public Ledger, public SharedBuckets, public CacheStore {
 public:
  explicit PostgresLedger(const std::string& url)
      : url_(url), shown_url_(RedactUrl(url)), cache_sql_(MakeCacheSql("$")) {}
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
    const std::string schema = kSchema + cache_sql_.schema + "COMMIT;";
    result.reset(PQexec(conn_, schema.c_str()));
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

  SharedBuckets* shared_buckets() override { return this; }
  CacheStore* cache_store() override { return this; }

  Result<Verdict> Take(std::string_view subject, const Limits& limits, double tokens) override {
    return CallRate(subject, limits, tokens, /*charge=*/false);
  }

  Status Charge(std::string_view subject, const Limits& limits, double tokens) override {
    WICK_RETURN_IF_ERROR(CallRate(subject, limits, tokens, /*charge=*/true));
    return OkStatus();
  }

  Result<std::optional<CachedValue>> Load(std::string_view key, int64_t now_ms) override {
    std::string values[2] = {std::string(key), std::to_string(now_ms)};
    std::lock_guard lock(mu_);
    WICK_ASSIGN_OR_RETURN(PgResult result, Exec(cache_sql_.load.c_str(), values, 2, PGRES_TUPLES_OK,
                                                "reading the response cache"));
    if (PQntuples(result.get()) == 0) return std::optional<CachedValue>();
    CachedValue out;
    out.value = PQgetvalue(result.get(), 0, 0);
    out.expires_ms = IntAt(result.get(), 0, 1);
    return std::optional<CachedValue>(std::move(out));
  }

  Status Save(std::string_view key, std::string_view value, int64_t now_ms, int64_t expires_ms,
              uint64_t bytes) override {
    std::string values[5] = {std::string(key), std::string(value), std::to_string(bytes),
                             std::to_string(expires_ms), std::to_string(now_ms)};
    std::lock_guard lock(mu_);
    WICK_ASSIGN_OR_RETURN(PgResult result, Exec(cache_sql_.save.c_str(), values, 5,
                                                PGRES_COMMAND_OK, "writing the response cache"));
    return OkStatus();
  }

  Status Prune(int64_t now_ms, int64_t max_entries, uint64_t max_bytes) override {
    std::string now = std::to_string(now_ms);
    std::string limits[2] = {std::to_string(max_entries), std::to_string(max_bytes)};
    std::lock_guard lock(mu_);
    WICK_ASSIGN_OR_RETURN(PgResult expired, Exec(cache_sql_.expire.c_str(), &now, 1,
                                                 PGRES_COMMAND_OK, "expiring the response cache"));
    WICK_ASSIGN_OR_RETURN(PgResult pruned, Exec(cache_sql_.prune.c_str(), limits, 2,
                                                PGRES_COMMAND_OK, "pruning the response cache"));
    return OkStatus();
  }

 private:
  std::string Context() const { return "usage ledger " + shown_url_; }

  Result<Verdict> CallRate(std::string_view subject, const Limits& limits, double tokens,
                           bool charge) {
    std::string values[5] = {std::string(subject),
                             std::to_string(std::max<int64_t>(limits.requests_per_min, 0)),
                             std::to_string(std::max<int64_t>(limits.tokens_per_min, 0)),
                             DoubleText(tokens), charge ? "true" : "false"};
    std::lock_guard lock(mu_);
    WICK_ASSIGN_OR_RETURN(PgResult result, Exec(kRateTake, values, 5, PGRES_TUPLES_OK,
                                                "rate limit of " + std::string(subject)));
    return Verdict{.retry_after = std::chrono::milliseconds(IntAt(result.get(), 0, 0)),
                   .requests_short = PQgetvalue(result.get(), 0, 1)[0] == 't'};
  }

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
  CacheSql cache_sql_;
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
