// HTTP transfers over libcurl for the remote providers: a pool of reusable handles (each
// keeps its connections alive between requests), and one transfer at a time per handle,
// driven by a poll loop that asks the caller every few tens of milliseconds whether to go on,
// so that a cancel or a first-token deadline takes effect even while nothing arrives.
//
// Knows nothing of OpenAI: bytes in, bytes out, and what went wrong in transport terms.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace wick::provider {

struct HttpRequest {
  std::string url;
  bool post = true;  // POST `body`, else GET
  std::string body;
  std::vector<std::string> headers;  // "Name: value"
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds total_timeout{600000};
};

struct TransferHooks {
  // Response body bytes as they arrive, with the response's HTTP status and Content-Type;
  // false aborts.
  std::function<bool(int status, std::string_view content_type, std::string_view bytes)> on_body;
  // Asked while the transfer runs (at least every ~50 ms); false aborts.
  std::function<bool()> keep_going;
};

struct TransferResult {
  enum class Error {
    kNone,       // the response arrived whole
    kConnect,    // no connection: DNS, refused, TLS handshake or verification
    kTimeout,    // curl's connect or total timeout
    kAborted,    // a hook said stop
    kTransport,  // the connection broke (reset, closed early, a truncated body)
  };
  Error error = Error::kNone;
  std::string message;      // curl's explanation when error != kNone
  int status = 0;           // the HTTP status, 0 when none arrived
  bool connected = false;   // a connection was ready and the request about to be sent
  std::string retry_after;  // the Retry-After header, raw
  std::string content_type;
};

class CurlPool {
 public:
  CurlPool();
  ~CurlPool();
  CurlPool(const CurlPool&) = delete;
  CurlPool& operator=(const CurlPool&) = delete;

  // Runs one request on a pooled handle. Thread-safe; blocks until the transfer ends.
  TransferResult Perform(const HttpRequest& request, const TransferHooks& hooks);

 private:
  struct Slot;
  struct Share;
  std::unique_ptr<Slot> Acquire();
  void Release(std::unique_ptr<Slot> slot);

  std::unique_ptr<Share> share_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<Slot>> free_;
};

}  // namespace wick::provider
