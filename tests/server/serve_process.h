// A `wick serve` child process for HTTP tests: started on a free port, stopped with SIGTERM,
// its log kept to check for sanitizer reports.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "test_support.h"

namespace wick::testing {

class ServeProcess {
 public:
  // Starts `wick serve ARGS --port 0` and waits until the model is ready (or fails); with
  // `wait_for_model` false, only until it listens.
  explicit ServeProcess(const std::vector<std::string>& args, int timeout_seconds = 60,
                        bool wait_for_model = true);
  ~ServeProcess();
  ServeProcess(const ServeProcess&) = delete;
  ServeProcess& operator=(const ServeProcess&) = delete;

  bool ready() const { return port_ > 0; }
  int port() const { return port_; }
  // Everything the server wrote to stderr so far.
  std::string Log() const;
  // SIGTERM, then waits; the exit code (-1: killed or timed out). Idempotent.
  int Stop(int timeout_seconds = 30);
  // SIGKILL, then waits: a server that dies at once, its sockets closed by the kernel (SIGTERM
  // waits for idle keep-alive connections to time out). Idempotent.
  void Kill();

 private:
  TempDir dir_;
  pid_t pid_ = -1;
  int port_ = 0;
  int exit_code_ = -1;
};

}  // namespace wick::testing
