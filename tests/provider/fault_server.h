// An OpenAI-compatible server for the remote provider's tests that misbehaves on request:
// error statuses with Retry-After, hangs, a slow first token, a connection dropped mid-stream,
// garbage in the SSE stream, usage that undercounts, a stream without [DONE]. Runs in-process
// on 127.0.0.1 on a free port.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace httplib {
class Server;
}

namespace wick::provider::testing {

struct Fault {
  enum class Kind {
    kNone,            // a proper answer: N tokens, finish_reason, usage, [DONE]
    kStatus,          // `status` with `retry_after` and `body` (an OpenAI error body if empty)
    kHang,            // accepts the request and never answers
    kSlowFirstToken,  // 200 and headers at once, the first chunk after `delay`
    kDropMidStream,   // `after_chunks` chunks, then the connection is closed
    kMalformedSse,    // a data line that is not JSON, before any token
    kWrongUsage,      // a whole stream whose usage.completion_tokens is 1
    kNoDone,          // a whole stream with usage but no data: [DONE]
  };
  Kind kind = Kind::kNone;
  int status = 200;
  std::string retry_after;
  std::string body;
  std::chrono::milliseconds delay{0};
  int after_chunks = 0;

  static Fault None() { return {}; }
  static Fault Status(int status, std::string retry_after = "", std::string body = "");
  static Fault Hang();
  static Fault SlowFirstToken(std::chrono::milliseconds delay);
  static Fault DropMidStream(int after_chunks);
  static Fault MalformedSse();
  static Fault WrongUsage();
  static Fault NoDone();
};

class FaultServer {
 public:
  static constexpr int kPromptTokens = 7;
  static constexpr const char* kModel = "fault-model";

  FaultServer();
  ~FaultServer();
  FaultServer(const FaultServer&) = delete;
  FaultServer& operator=(const FaultServer&) = delete;

  int port() const { return port_; }
  // "http://127.0.0.1:<port>/v1"
  std::string endpoint() const;

  // `fault` applies to the next `times` completion requests (all of them when negative), then
  // the server behaves again.
  void SetFault(Fault fault, int times = -1);
  // Tokens per answer (default 5): token i is Token(i).
  void SetTokens(int tokens) { tokens_ = tokens; }
  static std::string Token(int i) { return "t" + std::to_string(i) + " "; }

  int requests() const { return requests_.load(); }  // completion requests received
  std::string last_body() const;
  std::string last_authorization() const;

 private:
  struct Handler;
  Fault TakeFault();
  // Sleeps unless the server is stopping; false when it is.
  bool Wait(std::chrono::milliseconds delay);

  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
  std::atomic<int> tokens_{5};
  std::atomic<int> requests_{0};
  mutable std::mutex mutex_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  Fault fault_;
  int fault_times_ = -1;
  std::string last_body_;
  std::string last_authorization_;
};

}  // namespace wick::provider::testing
