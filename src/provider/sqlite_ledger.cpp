// The SQLite ledger: one file, WAL mode so that `wick usage` (another process) reads while
// `wick serve` writes, and a busy timeout so that two writers wait for each other rather than
// fail. Statements are prepared once and reused under one mutex: a request's Record is then an
// insert into the WAL, with no SQL parsing on the request path.
#include <sqlite3.h>

#include <filesystem>
#include <mutex>
#include <string>
#include <system_error>

#include "provider/ledger_backends.h"

namespace wick::provider::ledger_internal {

namespace {

constexpr int kBusyTimeoutMs = 5000;

constexpr const char* kSchema =
    "CREATE TABLE IF NOT EXISTS usage ("
    "id INTEGER PRIMARY KEY, time_ms INTEGER NOT NULL, request_id TEXT NOT NULL, "
    "\"key\" TEXT NOT NULL, provider TEXT NOT NULL, model TEXT NOT NULL, "
    "prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL, cost REAL NOT NULL, "
    "latency_ms REAL NOT NULL, status INTEGER NOT NULL, cache_hit INTEGER NOT NULL, "
    "fallback_path TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS usage_time ON usage(time_ms, cost);"
    "CREATE INDEX IF NOT EXISTS usage_key_time ON usage(\"key\", time_ms, cost);";

constexpr const char* kInsert =
    "INSERT INTO usage (time_ms, request_id, \"key\", provider, model, prompt_tokens, "
    "completion_tokens, cost, latency_ms, status, cache_hit, fallback_path) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
constexpr const char* kSpendAll = "SELECT COALESCE(SUM(cost), 0) FROM usage WHERE time_ms >= ?";
constexpr const char* kSpendKey =
    "SELECT COALESCE(SUM(cost), 0) FROM usage WHERE \"key\" = ? AND time_ms >= ?";

struct StatementDeleter {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};
using Statement = std::unique_ptr<sqlite3_stmt, StatementDeleter>;

// Resets a reused statement on every exit path, so that a failed step never leaves it holding
// a read transaction open (which would stop WAL checkpoints).
class ResetOnExit {
 public:
  explicit ResetOnExit(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ~ResetOnExit() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  ResetOnExit(const ResetOnExit&) = delete;
  ResetOnExit& operator=(const ResetOnExit&) = delete;

 private:
  sqlite3_stmt* stmt_;
};

class SqliteLedger : public Ledger, public CacheStore {
 public:
  explicit SqliteLedger(std::string path) : path_(std::move(path)) {}
  ~SqliteLedger() override {
    insert_.reset();
    spend_all_.reset();
    spend_key_.reset();
    for (Statement* stmt : {&cache_load_, &cache_save_, &cache_expire_, &cache_prune_}) {
      stmt->reset();
    }
    for (auto& stmt : report_) stmt.reset();
    if (db_ != nullptr) sqlite3_close_v2(db_);
  }

  Status Open() {
    std::error_code ec;
    std::filesystem::path parent = std::filesystem::path(path_).parent_path();
    if (!parent.empty()) {
      std::filesystem::create_directories(parent, ec);
      if (ec) {
        return Error(ErrorCode::kIo, "creating the folder " + parent.string() + ": " + ec.message())
            .With(Context());
      }
    }
    // NOMUTEX: mu_ serialises every use of the connection already.
    int rc =
        sqlite3_open_v2(path_.c_str(), &db_,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) return Fail("opening", rc);
    sqlite3_busy_timeout(db_, kBusyTimeoutMs);
    // synchronous=NORMAL in WAL mode: a crash may lose the last rows, never corrupt the file;
    // FULL would add an fsync to every request.
    WICK_RETURN_IF_ERROR(Exec("PRAGMA journal_mode=WAL", "setting WAL mode"));
    WICK_RETURN_IF_ERROR(Exec("PRAGMA synchronous=NORMAL", "setting synchronous"));
    WICK_RETURN_IF_ERROR(Exec(kSchema, "creating the usage table"));
    const CacheSql cache = MakeCacheSql("?");
    WICK_RETURN_IF_ERROR(Exec(cache.schema.c_str(), "creating the response cache table"));
    WICK_RETURN_IF_ERROR(Prepare(cache.load, cache_load_));
    WICK_RETURN_IF_ERROR(Prepare(cache.save, cache_save_));
    WICK_RETURN_IF_ERROR(Prepare(cache.expire, cache_expire_));
    WICK_RETURN_IF_ERROR(Prepare(cache.prune, cache_prune_));
    WICK_RETURN_IF_ERROR(Prepare(kInsert, insert_));
    WICK_RETURN_IF_ERROR(Prepare(kSpendAll, spend_all_));
    WICK_RETURN_IF_ERROR(Prepare(kSpendKey, spend_key_));
    for (GroupBy group : {GroupBy::kProvider, GroupBy::kModel, GroupBy::kKey, GroupBy::kDay}) {
      WICK_RETURN_IF_ERROR(Prepare(ReportSql(group, "?"), report_[static_cast<int>(group)]));
    }
    return OkStatus();
  }

  Status Record(const UsageRecord& r) override {
    std::lock_guard lock(mu_);
    return Insert(r);
  }

  Status RecordBatch(const std::vector<UsageRecord>& records) override {
    std::lock_guard lock(mu_);
    WICK_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE", "starting a batch of usage rows"));
    for (const UsageRecord& r : records) {
      Status inserted = Insert(r);
      if (!inserted.ok()) {
        sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
        return inserted;
      }
    }
    return Exec("COMMIT", "committing a batch of usage rows");
  }

 private:
  // One row (mu_ held).
  Status Insert(const UsageRecord& r) {
    sqlite3_stmt* s = insert_.get();
    ResetOnExit reset(s);
    sqlite3_bind_int64(s, 1, ToMillis(r.time));
    BindText(s, 2, r.request_id);
    BindText(s, 3, r.key);
    BindText(s, 4, r.provider);
    BindText(s, 5, r.model);
    sqlite3_bind_int64(s, 6, r.prompt_tokens);
    sqlite3_bind_int64(s, 7, r.completion_tokens);
    sqlite3_bind_double(s, 8, r.cost);
    sqlite3_bind_double(s, 9, r.latency_ms);
    sqlite3_bind_int(s, 10, r.status);
    sqlite3_bind_int(s, 11, r.cache_hit ? 1 : 0);
    BindText(s, 12, r.fallback_path);
    int rc = sqlite3_step(s);
    if (rc != SQLITE_DONE) return Fail("recording request " + Quote(r.request_id), rc);
    return OkStatus();
  }

 public:
  Result<double> Spend(const std::string* key,
                       std::chrono::system_clock::time_point since) override {
    std::lock_guard lock(mu_);
    sqlite3_stmt* s = key != nullptr ? spend_key_.get() : spend_all_.get();
    ResetOnExit reset(s);
    int index = 1;
    if (key != nullptr) BindText(s, index++, *key);
    sqlite3_bind_int64(s, index, ToMillis(since));
    int rc = sqlite3_step(s);
    if (rc != SQLITE_ROW) return Fail("reading spend", rc);
    return sqlite3_column_double(s, 0);
  }

  Result<std::vector<UsageRow>> Report(std::chrono::system_clock::time_point since,
                                       GroupBy group) override {
    std::lock_guard lock(mu_);
    sqlite3_stmt* s = report_[static_cast<int>(group)].get();
    ResetOnExit reset(s);
    sqlite3_bind_int64(s, 1, ToMillis(since));
    std::vector<UsageRow> rows;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
      UsageRow row;
      if (group == GroupBy::kDay) {
        row.group = DayName(sqlite3_column_int64(s, 0));
      } else {
        const unsigned char* text = sqlite3_column_text(s, 0);
        row.group = text != nullptr ? reinterpret_cast<const char*>(text) : "";
      }
      row.requests = sqlite3_column_int64(s, 1);
      row.prompt_tokens = sqlite3_column_int64(s, 2);
      row.completion_tokens = sqlite3_column_int64(s, 3);
      row.cost = sqlite3_column_double(s, 4);
      row.cache_hits = sqlite3_column_int64(s, 5);
      row.errors = sqlite3_column_int64(s, 6);
      rows.push_back(std::move(row));
    }
    if (rc != SQLITE_DONE) return Fail("reading the report", rc);
    return rows;
  }

  CacheStore* cache_store() override { return this; }

  Result<std::optional<CachedValue>> Load(std::string_view key, int64_t now_ms) override {
    std::lock_guard lock(mu_);
    sqlite3_stmt* s = cache_load_.get();
    ResetOnExit reset(s);
    BindText(s, 1, key);
    sqlite3_bind_int64(s, 2, now_ms);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) return std::optional<CachedValue>();
    if (rc != SQLITE_ROW) return Fail("reading the response cache", rc);
    CachedValue out;
    const auto* text = sqlite3_column_text(s, 0);
    out.value.assign(text != nullptr ? reinterpret_cast<const char*>(text) : "",
                     static_cast<size_t>(sqlite3_column_bytes(s, 0)));
    out.expires_ms = sqlite3_column_int64(s, 1);
    // The update is made at the first step; stepping to the end completes the statement.
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    }
    if (rc != SQLITE_DONE) return Fail("reading the response cache", rc);
    return std::optional<CachedValue>(std::move(out));
  }

  Status Save(std::string_view key, std::string_view value, int64_t now_ms, int64_t expires_ms,
              uint64_t bytes) override {
    std::lock_guard lock(mu_);
    sqlite3_stmt* s = cache_save_.get();
    ResetOnExit reset(s);
    BindText(s, 1, key);
    BindText(s, 2, value);
    sqlite3_bind_int64(s, 3, static_cast<int64_t>(bytes));
    sqlite3_bind_int64(s, 4, expires_ms);
    sqlite3_bind_int64(s, 5, now_ms);
    int rc = sqlite3_step(s);
    if (rc != SQLITE_DONE) return Fail("writing the response cache", rc);
    return OkStatus();
  }

  Status Prune(int64_t now_ms, int64_t max_entries, uint64_t max_bytes) override {
    std::lock_guard lock(mu_);
    {
      sqlite3_stmt* s = cache_expire_.get();
      ResetOnExit reset(s);
      sqlite3_bind_int64(s, 1, now_ms);
      int rc = sqlite3_step(s);
      if (rc != SQLITE_DONE) return Fail("expiring the response cache", rc);
    }
    sqlite3_stmt* s = cache_prune_.get();
    ResetOnExit reset(s);
    sqlite3_bind_int64(s, 1, max_entries);
    sqlite3_bind_int64(s, 2, static_cast<int64_t>(max_bytes));
    int rc = sqlite3_step(s);
    if (rc != SQLITE_DONE) return Fail("pruning the response cache", rc);
    return OkStatus();
  }

 private:
  std::string Context() const { return "usage ledger " + path_; }

  // "usage ledger FILE: <what>: <SQLite's message>".
  Error Fail(const std::string& what, int rc) const {
    const char* message = db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    ErrorCode code = rc == SQLITE_BUSY || rc == SQLITE_LOCKED      ? ErrorCode::kUnavailable
                     : rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB ? ErrorCode::kCorrupt
                                                                   : ErrorCode::kIo;
    return Error(code, what + ": " + message).With(Context());
  }

  Status Exec(const char* sql, const std::string& what) {
    char* message = nullptr;
    int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &message);
    if (rc == SQLITE_OK) return OkStatus();
    std::string text = message != nullptr ? message : sqlite3_errstr(rc);
    sqlite3_free(message);
    return Error(rc == SQLITE_NOTADB ? ErrorCode::kCorrupt : ErrorCode::kIo, what + ": " + text)
        .With(Context());
  }

  Status Prepare(const std::string& sql, Statement& out) {
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()),
                                SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) return Fail("preparing a statement", rc);
    out.reset(stmt);
    return OkStatus();
  }

  static void BindText(sqlite3_stmt* s, int index, std::string_view text) {
    sqlite3_bind_text(s, index, text.data(), static_cast<int>(text.size()), SQLITE_STATIC);
  }

  std::string path_;
  std::mutex mu_;
  sqlite3* db_ = nullptr;
  Statement insert_;
  Statement spend_all_;
  Statement spend_key_;
  Statement report_[4];  // by GroupBy
  Statement cache_load_;
  Statement cache_save_;
  Statement cache_expire_;
  Statement cache_prune_;
};

}  // namespace

Result<std::unique_ptr<Ledger>> OpenSqliteLedger(const std::string& path) {
  auto ledger = std::make_unique<SqliteLedger>(path);
  WICK_RETURN_IF_ERROR(ledger->Open());
  return std::unique_ptr<Ledger>(std::move(ledger));
}

}  // namespace wick::provider::ledger_internal
