// A private PostgreSQL server for one test process: its own cluster in a temp dir, reachable
// only through a Unix socket in that dir, started on first use and stopped at exit. Tests get
// a fresh database each, so they never see each other's rows and need no cleanup.
//
// It needs Debian's postgresql package (initdb and pg_ctl under /usr/lib/postgresql/*/bin, or
// a folder named by $WICK_PG_BINDIR). As root, PostgreSQL refuses to run, so the commands run
// as the `postgres` user that package creates.
#pragma once

#include <string>

namespace wick::testing {

class PostgresServer {
 public:
  // The process's server, started on the first call. nullptr when it is unavailable, with
  // `why` saying so; `skip` is true when PostgreSQL is simply not installed (the test should
  // skip), false when it is installed but would not start (the test should fail).
  static PostgresServer* Get(std::string& why, bool& skip);

  // postgresql://wick@/DATABASE?host=DIR&port=PORT
  std::string Url(const std::string& database) const;
  // Creates an empty database and returns its URL; "" with `error` set on failure.
  std::string NewDatabase(std::string& error);
  // Ends every other session on `database`, as a server restart or an idle timeout in a proxy
  // would, so that a client must reconnect. False with `error` set on failure.
  bool DropConnections(const std::string& database, std::string& error);

  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

 private:
  PostgresServer() = default;
  bool Start(const std::string& bin_dir, std::string& error);
  bool Sql(const std::string& sql, const std::string& param, std::string& error);

  std::string dir_;      // socket dir; the cluster is in dir_/data
  std::string bin_dir_;  // initdb and pg_ctl
  int port_ = 0;
  bool running_ = false;
  int next_database_ = 0;
};

}  // namespace wick::testing

// Skips the test when PostgreSQL is not installed; fails it when it is but would not start.
#define WICK_REQUIRE_POSTGRES(var)                                 \
  std::string var##_why;                                           \
  bool var##_skip = false;                                         \
  ::wick::testing::PostgresServer* var =                           \
      ::wick::testing::PostgresServer::Get(var##_why, var##_skip); \
  if (var == nullptr && var##_skip) GTEST_SKIP() << var##_why;     \
  ASSERT_NE(var, nullptr) << var##_why
