#include "provider/postgres_fixture.h"

#include <fcntl.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <vector>

namespace wick::testing {

namespace fs = std::filesystem;

namespace {

// The folder holding initdb and pg_ctl: $WICK_PG_BINDIR, else the newest
// /usr/lib/postgresql/<version>/bin. "" when there is none.
std::string FindBinDir() {
  if (const char* env = std::getenv("WICK_PG_BINDIR"); env != nullptr && *env != '\0') {
    return env;
  }
  std::error_code ec;
  int best_version = -1;
  std::string best;
  for (const fs::directory_entry& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    fs::path bin = entry.path() / "bin";
    if (!fs::exists(bin / "initdb", ec) || !fs::exists(bin / "pg_ctl", ec)) continue;
    int version = std::atoi(entry.path().filename().c_str());
    if (version > best_version) {
      best_version = version;
      best = bin.string();
    }
  }
  return best;
}

// A port no one listens on now. The server listens only on a socket in its own dir, so a
// clash could only happen there; a free port keeps the socket's name unsurprising anyway.
int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 54321;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  int port = 54321;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

std::string Tail(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  std::string s = text.str();
  return s.size() > 2000 ? s.substr(s.size() - 2000) : s;
}

// Runs argv (as the postgres user when we are root), its output appended to `log`. True when
// it exits with 0.
bool Run(std::vector<std::string> argv, const std::string& log, std::string& error) {
  if (geteuid() == 0) argv.insert(argv.begin(), {"runuser", "-u", "postgres", "--"});
  std::string shown;
  for (const std::string& arg : argv) shown += (shown.empty() ? "" : " ") + arg;
  // Everything the child needs is built before fork: after fork, in a process that may have
  // had threads, only async-signal-safe calls are safe.
  std::string cwd = fs::path(log).parent_path().string();
  std::vector<char*> args;
  for (std::string& arg : argv) args.push_back(arg.data());
  args.push_back(nullptr);
  pid_t pid = fork();
  if (pid < 0) {
    error = "fork failed for: " + shown;
    return false;
  }
  if (pid == 0) {
    int in = open("/dev/null", O_RDONLY);
    int out = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    // The test's own folder may be closed to the postgres user; initdb warns about that.
    if (chdir(cwd.c_str()) != 0) _exit(126);
    if (in >= 0) dup2(in, 0);
    if (out >= 0) {
      dup2(out, 1);
      dup2(out, 2);
    }
    execvp(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return true;
  error = shown + " failed (status " + std::to_string(status) + "); its output:\n" + Tail(log);
  return false;
}

// Stops and removes the clusters of test processes that died without stopping theirs (a
// crash, a timeout's SIGKILL), so that a CI machine does not collect idle servers.
void RemoveOrphans(const std::string& bin_dir) {
  std::error_code ec;
  for (const fs::directory_entry& entry : fs::directory_iterator(fs::temp_directory_path(), ec)) {
    if (entry.path().filename().string().rfind("wick-pg-", 0) != 0) continue;
    std::ifstream owner(entry.path() / "owner.pid");
    pid_t pid = 0;
    if (!(owner >> pid) || pid <= 0 || kill(pid, 0) == 0 || errno != ESRCH) continue;
    std::string error;
    std::string dir = entry.path().string();
    Run({bin_dir + "/pg_ctl", "-D", dir + "/data", "-m", "immediate", "-w", "stop"},
        dir + "/commands.log", error);
    fs::remove_all(entry.path(), ec);
  }
}

}  // namespace

PostgresServer* PostgresServer::Get(std::string& why, bool& skip) {
  // Constructed on first use and destroyed at exit, which stops the server.
  static std::mutex mu;
  static std::unique_ptr<PostgresServer> server;
  static std::string failure;
  static bool missing = false;
  static bool tried = false;
  std::lock_guard lock(mu);
  if (!tried) {
    tried = true;
    std::string bin_dir = FindBinDir();
    if (bin_dir.empty()) {
      missing = true;
      failure =
          "PostgreSQL is not installed (no initdb under /usr/lib/postgresql/*/bin and "
          "$WICK_PG_BINDIR unset): scripts/install-deps installs it";
    } else if (geteuid() == 0 && getpwnam("postgres") == nullptr) {
      failure = "running as root, and PostgreSQL refuses root: no `postgres` user to run it as";
    } else {
      RemoveOrphans(bin_dir);
      std::unique_ptr<PostgresServer> started(new PostgresServer());
      if (started->Start(bin_dir, failure)) server = std::move(started);
    }
  }
  why = failure;
  skip = missing;
  return server.get();
}

bool PostgresServer::Start(const std::string& bin_dir, std::string& error) {
  bin_dir_ = bin_dir;
  std::string pattern = (fs::temp_directory_path() / "wick-pg-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) {
    error = "cannot create a temp dir from " + pattern;
    return false;
  }
  dir_ = pattern;
  std::ofstream(dir_ + "/owner.pid") << getpid() << "\n";
  if (geteuid() == 0) {
    passwd* pw = getpwnam("postgres");
    if (pw == nullptr || chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
      error = "cannot give " + dir_ + " to the postgres user";
      return false;
    }
  }
  port_ = FreePort();
  // Written by us (root or not) before anything runs as postgres, so that both can append.
  std::string log = dir_ + "/commands.log";
  std::ofstream(log).close();
  chmod(log.c_str(), 0666);
  // No fsync anywhere: the cluster is thrown away at exit, and tests should be quick.
  if (!Run({bin_dir_ + "/initdb", "-D", dir_ + "/data", "-U", "wick", "--auth=trust", "-E", "UTF8",
            "--locale=C", "--no-sync"},
           log, error)) {
    return false;
  }
  std::string options =
      "-k " + dir_ + " -p " + std::to_string(port_) + " -c listen_addresses='' -c fsync=off";
  if (!Run({bin_dir_ + "/pg_ctl", "-D", dir_ + "/data", "-l", dir_ + "/server.log", "-o", options,
            "-w", "-t", "60", "start"},
           log, error)) {
    error += "\nserver log:\n" + Tail(dir_ + "/server.log");
    return false;
  }
  running_ = true;
  return true;
}

PostgresServer::~PostgresServer() {
  if (running_) {
    std::string error;
    Run({bin_dir_ + "/pg_ctl", "-D", dir_ + "/data", "-m", "fast", "-w", "stop"},
        dir_ + "/commands.log", error);
  }
  if (!dir_.empty()) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

std::string PostgresServer::Url(const std::string& database) const {
  return "postgresql://wick@/" + database + "?host=" + dir_ + "&port=" + std::to_string(port_);
}

bool PostgresServer::Sql(const std::string& sql, const std::string& param, std::string& error) {
  PGconn* conn = PQconnectdb(Url("postgres").c_str());
  bool ok = false;
  if (PQstatus(conn) != CONNECTION_OK) {
    error = "connecting to the test server: " + std::string(PQerrorMessage(conn));
  } else {
    PQsetNoticeProcessor(
        conn, [](void*, const char*) {}, nullptr);
    const char* values[1] = {param.c_str()};
    PGresult* result =
        param.empty() ? PQexec(conn, sql.c_str())
                      : PQexecParams(conn, sql.c_str(), 1, nullptr, values, nullptr, nullptr, 0);
    ExecStatusType status = PQresultStatus(result);
    ok = status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
    if (!ok) error = sql + ": " + PQresultErrorMessage(result);
    PQclear(result);
  }
  PQfinish(conn);
  return ok;
}

std::string PostgresServer::NewDatabase(std::string& error) {
  std::string name = "ledger_test_" + std::to_string(++next_database_);
  if (!Sql("CREATE DATABASE " + name, "", error)) return "";
  return Url(name);
}

bool PostgresServer::DropConnections(const std::string& database, std::string& error) {
  return Sql(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
      "WHERE datname = $1 AND pid <> pg_backend_pid()",
      database, error);
}

}  // namespace wick::testing
