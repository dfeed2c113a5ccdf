#include "provider/curl_transfer.h"

#include <curl/curl.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <utility>

#include "core/ascii.h"

namespace wick::provider {
namespace {

// How often the poll loop wakes to ask keep_going when the socket is quiet: the latency of a
// cancel or a first-token timeout.
constexpr int kPollMs = 25;
// Idle handles kept per pool; more concurrent requests than this still work, their handles
// (and connections) are just closed afterwards.
constexpr size_t kMaxIdleSlots = 32;

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Context {
  CURL* easy = nullptr;
  const TransferHooks* hooks = nullptr;
  TransferResult* result = nullptr;
  bool hook_aborted = false;
};

size_t OnWrite(char* data, size_t size, size_t count, void* user) {
  auto* ctx = static_cast<Context*>(user);
  long status = 0;
  curl_easy_getinfo(ctx->easy, CURLINFO_RESPONSE_CODE, &status);
  ctx->result->status = static_cast<int>(status);
  const size_t bytes = size * count;
  if (ctx->hooks->on_body &&
      !ctx->hooks->on_body(static_cast<int>(status), ctx->result->content_type, {data, bytes})) {
    ctx->hook_aborted = true;
    return 0;  // not `bytes`: curl ends the transfer with CURLE_WRITE_ERROR
  }
  return bytes;
}

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* ctx = static_cast<Context*>(user);
  const size_t bytes = size * count;
  std::string_view line(data, bytes);
  // A new status line (after a 100 Continue, say): the headers before it were another
  // response's.
  if (StartsWithIgnoreCase(line, "http/")) {
    ctx->result->retry_after.clear();
    ctx->result->content_type.clear();
  } else if (StartsWithIgnoreCase(line, "retry-after:")) {
    ctx->result->retry_after = std::string(TrimAscii(line.substr(std::strlen("retry-after:"))));
  } else if (StartsWithIgnoreCase(line, "content-type:")) {
    ctx->result->content_type = std::string(TrimAscii(line.substr(std::strlen("content-type:"))));
  }
  return bytes;
}

// Called once the connection is set up and the request is about to go out: from here on a
// timeout is the server's slowness, not an unreachable host.
int OnPrereq(void* user, char*, char*, int, int) {
  static_cast<Context*>(user)->result->connected = true;
  return CURL_PREREQFUNC_OK;
}

TransferResult::Error Classify(CURLcode code) {
  switch (code) {
    case CURLE_OK:
      return TransferResult::Error::kNone;
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
      return TransferResult::Error::kConnect;
    case CURLE_OPERATION_TIMEDOUT:
      return TransferResult::Error::kTimeout;
    case CURLE_ABORTED_BY_CALLBACK:
    case CURLE_WRITE_ERROR:
      return TransferResult::Error::kAborted;
    default:
      return TransferResult::Error::kTransport;
  }
}

}  // namespace

// DNS answers and TLS sessions shared by all of a pool's handles. Connections are not shared
// through it: libcurl documents sharing its connection cache across threads as unsafe, so
// each pooled handle keeps its own connections instead.
struct CurlPool::Share {
  CURLSH* handle = nullptr;
  std::array<std::mutex, CURL_LOCK_DATA_LAST> locks;

  Share() {
    handle = curl_share_init();
    if (handle == nullptr) return;
    curl_share_setopt(handle, CURLSHOPT_LOCKFUNC, &Lock);
    curl_share_setopt(handle, CURLSHOPT_UNLOCKFUNC, &Unlock);
    curl_share_setopt(handle, CURLSHOPT_USERDATA, this);
    curl_share_setopt(handle, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(handle, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  }
  ~Share() {
    if (handle != nullptr) curl_share_cleanup(handle);
  }
  static void Lock(CURL*, curl_lock_data data, curl_lock_access, void* user) {
    static_cast<Share*>(user)->locks[static_cast<size_t>(data)].lock();
  }
  static void Unlock(CURL*, curl_lock_data data, void* user) {
    static_cast<Share*>(user)->locks[static_cast<size_t>(data)].unlock();
  }
};

// An easy handle driven through its own multi handle: the multi handle's connection cache is
// what keeps connections alive from one request to the next.
struct CurlPool::Slot {
  CURLM* multi = curl_multi_init();
  CURL* easy = curl_easy_init();
  ~Slot() {
    if (easy != nullptr) curl_easy_cleanup(easy);
    if (multi != nullptr) curl_multi_cleanup(multi);
  }
};

CurlPool::CurlPool() {
  GlobalInit();
  share_ = std::make_unique<Share>();
}

CurlPool::~CurlPool() {
  // Handles use the share, so they go first.
  free_.clear();
}

std::unique_ptr<CurlPool::Slot> CurlPool::Acquire() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!free_.empty()) {
      std::unique_ptr<Slot> slot = std::move(free_.back());
      free_.pop_back();
      return slot;
    }
  }
  return std::make_unique<Slot>();
}

void CurlPool::Release(std::unique_ptr<Slot> slot) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (free_.size() < kMaxIdleSlots) free_.push_back(std::move(slot));
}

TransferResult CurlPool::Perform(const HttpRequest& request, const TransferHooks& hooks) {
  TransferResult result;
  std::unique_ptr<Slot> slot = Acquire();
  if (slot->multi == nullptr || slot->easy == nullptr) {
    result.error = TransferResult::Error::kConnect;
    result.message = "libcurl could not create a handle (out of memory?)";
    return result;
  }
  CURL* easy = slot->easy;
  // Reset forgets the last request's options but keeps the multi handle's connections.
  curl_easy_reset(easy);
  Context ctx{easy, &hooks, &result, false};
  char error_buffer[CURL_ERROR_SIZE] = "";

  curl_slist* headers = nullptr;
  for (const std::string& h : request.headers) headers = curl_slist_append(headers, h.c_str());

  curl_easy_setopt(easy, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);  // threads: no SIGALRM for DNS timeouts
  if (share_->handle != nullptr) curl_easy_setopt(easy, CURLOPT_SHARE, share_->handle);
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(std::max<int64_t>(1, request.connect_timeout.count())));
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(std::max<int64_t>(1, request.total_timeout.count())));
  curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(easy, CURLOPT_USERAGENT, "wick");
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
  if (request.post) {
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(request.body.size()));
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, request.body.c_str());
  } else {
    curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
  }
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &OnWrite);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &ctx);
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &OnHeader);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, &ctx);
  curl_easy_setopt(easy, CURLOPT_PREREQFUNCTION, &OnPrereq);
  curl_easy_setopt(easy, CURLOPT_PREREQDATA, &ctx);
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, error_buffer);

  CURLM* multi = slot->multi;
  CURLcode code = CURLE_OK;
  bool finished = false;
  bool stopped = false;
  if (curl_multi_add_handle(multi, easy) != CURLM_OK) {
    code = CURLE_FAILED_INIT;
    finished = true;
  }
  while (!finished) {
    int running = 0;
    if (curl_multi_perform(multi, &running) != CURLM_OK) {
      code = CURLE_FAILED_INIT;
      break;
    }
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi, &left)) {
      if (msg->msg == CURLMSG_DONE && msg->easy_handle == easy) {
        code = msg->data.result;
        finished = true;
      }
    }
    if (finished || running == 0) break;
    if (hooks.keep_going && !hooks.keep_going()) {
      stopped = true;
      break;
    }
    curl_multi_poll(multi, nullptr, 0, kPollMs, nullptr);
  }
  // Removing an unfinished transfer closes its connection, which is what an abandoned
  // stream needs: nobody could read the rest of it off a reused connection.
  curl_multi_remove_handle(multi, easy);
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, static_cast<char*>(nullptr));
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, static_cast<curl_slist*>(nullptr));
  curl_slist_free_all(headers);

  if (stopped || ctx.hook_aborted) {
    result.error = TransferResult::Error::kAborted;
    result.message = "stopped by the caller";
  } else if (!finished && code == CURLE_OK) {
    result.error = TransferResult::Error::kTransport;
    result.message = "libcurl's transfer loop failed";
  } else {
    result.error = Classify(code);
    if (result.error != TransferResult::Error::kNone) {
      result.message = error_buffer[0] != '\0' ? std::string(error_buffer)
                                               : std::string(curl_easy_strerror(code));
    }
  }
  long status = 0;
  if (curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK && status != 0) {
    result.status = static_cast<int>(status);
  }
  Release(std::move(slot));
  return result;
}

}  // namespace wick::provider
