#include "test_support.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <random>
#include <stdexcept>

namespace wick::testing {

namespace {

// Every wick a test starts runs on the CPU unless the test asks for a device: the suite's
// expectations (exact logits, "backend": "CPU") hold on machines with a GPU too. The CUDA
// tests pass --device themselves.
const bool kCpuUnlessAsked = [] { return ::setenv("WICK_DEVICE", "cpu", 0) == 0; }();

// Read once, before any fork: a child only reads it.
const std::string kWickBinary = [] {
  const char* env = std::getenv("WICK_TEST_BINARY");
  return std::string(env != nullptr && *env != '\0' ? env : WICK_BINARY);
}();

}  // namespace

const std::string& WickBinary() {
  return kWickBinary;
}

std::optional<std::filesystem::path> SharedDir() {
  std::filesystem::path dir;
  if (const char* env = std::getenv("WICK_SHARED"); env != nullptr && *env != '\0') {
    dir = env;
  } else {
    dir = std::filesystem::path(WICK_SOURCE_DIR) / ".." / "shared";
  }
  std::error_code ec;
  if (!std::filesystem::is_directory(dir / "models", ec)) return std::nullopt;
  return std::filesystem::weakly_canonical(dir, ec);
}

ScopedEnv::ScopedEnv(const char* name, const char* value)
    : ScopedEnv(name, value != nullptr ? std::optional<std::string>(value) : std::nullopt) {}

ScopedEnv::ScopedEnv(const char* name, std::optional<std::string> value) : name_(name) {
  if (const char* old = std::getenv(name)) old_ = old;
  if (value) {
    ::setenv(name, value->c_str(), 1);
  } else {
    ::unsetenv(name);
  }
}

ScopedEnv::~ScopedEnv() {
  if (old_) {
    ::setenv(name_.c_str(), old_->c_str(), 1);
  } else {
    ::unsetenv(name_.c_str());
  }
}

TempDir::TempDir() {
  std::random_device rd;
  auto base = std::filesystem::temp_directory_path();
  for (int attempt = 0; attempt < 100; ++attempt) {
    auto candidate = base / ("wick-test-" + std::to_string(rd()));
    if (std::filesystem::create_directory(candidate)) {
      path_ = candidate;
      return;
    }
  }
  throw std::runtime_error("cannot create a temporary directory");
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::vector<uint8_t> ReadFileBytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void WriteFileBytes(const std::filesystem::path& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

namespace {

// Without `feed_input` the child shares the test's standard input.
CommandResult Spawn(const std::vector<std::string>& args, const std::string& input,
                    int timeout_seconds, bool feed_input) {
  int out_pipe[2], err_pipe[2], in_pipe[2] = {-1, -1};
  if (pipe(out_pipe) != 0 || pipe(err_pipe) != 0) throw std::runtime_error("pipe failed");
  if (feed_input) {
    if (input.size() > 65536 || pipe(in_pipe) != 0) throw std::runtime_error("input pipe failed");
    if (write(in_pipe[1], input.data(), input.size()) != static_cast<ssize_t>(input.size())) {
      throw std::runtime_error("input write failed");
    }
    close(in_pipe[1]);
  }
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    if (feed_input) {
      dup2(in_pipe[0], 0);
      close(in_pipe[0]);
    }
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    close(out_pipe[0]);
    close(err_pipe[0]);
    close(out_pipe[1]);
    close(err_pipe[1]);
    std::vector<char*> argv;
    std::string binary = WickBinary();
    argv.push_back(binary.data());
    std::vector<std::string> copy = args;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(binary.c_str(), argv.data());
    _exit(127);
  }
  if (feed_input) close(in_pipe[0]);
  close(out_pipe[1]);
  close(err_pipe[1]);
  CommandResult result;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_fds = 2;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds);
  char buf[65536];
  while (open_fds > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) {
      result.timed_out = true;
      kill(pid, SIGKILL);
      break;
    }
    if (poll(fds, 2, static_cast<int>(left)) < 0) continue;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        sinks[i]->append(buf, static_cast<size_t>(n));
      } else {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (auto& fd : fds) {
    if (fd.fd >= 0) close(fd.fd);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  return result;
}

}  // namespace

CommandResult RunWick(const std::vector<std::string>& args, int timeout_seconds) {
  return Spawn(args, std::string(), timeout_seconds, /*feed_input=*/false);
}

CommandResult RunWickWithInput(const std::vector<std::string>& args, const std::string& input,
                               int timeout_seconds) {
  return Spawn(args, input, timeout_seconds, /*feed_input=*/true);
}

}  // namespace wick::testing
