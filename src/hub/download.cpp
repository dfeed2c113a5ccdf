#include "hub/download.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "core/ascii.h"
#include "core/sha256.h"
#include "hub/trailing_hasher.h"

namespace wick::hub {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr milliseconds kReportEvery{100};
constexpr milliseconds kMaxBackoff{8000};
// How long the parallel coordinator sleeps when the next bytes to hash have not arrived: far
// below the time a connection needs to fill a hash block, so hashing trails the writers.
constexpr milliseconds kCoordinatorWait{5};
constexpr size_t kErrorBodyMax = 300;
constexpr int64_t kHashBlock = int64_t{8} << 20;
// libcurl's receive buffer: larger than its 16 KiB default, so a fast link means fewer
// write callbacks (each one a write() and a hash update).
constexpr long kCurlBufferSize = 512 * 1024;

void CurlGlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

bool ParseInt(std::string_view text, int64_t* out) {
  if (text.empty() || text.size() > 18) return false;
  int64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

// "bytes 100-199/1000" (total "*" when unknown: -1).
bool ParseContentRange(std::string_view value, int64_t* first, int64_t* total) {
  if (!StartsWithIgnoreCase(value, "bytes ")) return false;
  value.remove_prefix(6);
  const size_t dash = value.find('-');
  const size_t slash = value.find('/');
  if (dash == std::string_view::npos || slash == std::string_view::npos || slash < dash) {
    return false;
  }
  int64_t last = 0;
  if (!ParseInt(value.substr(0, dash), first)) return false;
  if (!ParseInt(value.substr(dash + 1, slash - dash - 1), &last)) return false;
  const std::string_view tail = value.substr(slash + 1);
  if (tail == "*") {
    *total = -1;
    return true;
  }
  return ParseInt(tail, total);
}

std::string FormatEta(double seconds) {
  const int64_t s = static_cast<int64_t>(seconds + 0.5);
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}h{:02}m", s / 3600, s % 3600 / 60);
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

Error IoError(const std::string& what, const std::string& path) {
  return Error(ErrorCode::kIo, what + " " + path + ": " + std::strerror(errno));
}

bool PWriteAll(int fd, const char* data, size_t size, int64_t offset) {
  while (size > 0) {
    const ssize_t n = ::pwrite(fd, data, size, offset);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
    offset += n;
  }
  return true;
}

// Everything one Download call shares between its threads.
struct Job {
  Job(const std::string& u, const std::string& p, const DownloadOptions& o)
      : url(u), shown_url(RedactUrl(u)), path(p), options(o) {}

  const std::string& url;
  const std::string shown_url;
  const std::string& path;
  const DownloadOptions& options;
  int64_t total = -1;  // -1 while unknown
  int64_t resumed_from = 0;
  Clock::time_point start = Clock::now();
  Clock::time_point last_report{};
  std::atomic<int64_t> network_bytes{0};
  std::atomic<int> retries{0};

  bool Cancelled() const {
    return options.cancel != nullptr && options.cancel->load(std::memory_order_relaxed);
  }
  double Seconds() const { return std::chrono::duration<double>(Clock::now() - start).count(); }
  // Only ever called on the calling thread.
  void Report(int64_t done, bool force = false) {
    if (!options.on_progress) return;
    const Clock::time_point now = Clock::now();
    if (!force && now - last_report < kReportEvery) return;
    last_report = now;
    DownloadProgress p;
    p.done = done;
    p.total = std::max<int64_t>(total, 0);
    p.resumed_from = resumed_from;
    p.seconds = Seconds();
    options.on_progress(p);
  }
  std::string Of(int64_t have) const {
    return total >= 0 ? fmt::format("{} of {} bytes", have, total) : fmt::format("{} bytes", have);
  }
};

// Waits before retry `failures` (1, 2, ...): exponential, interrupted by a cancel or stop.
void Backoff(const Job& job, int failures, const std::atomic<bool>* stop) {
  milliseconds delay = job.options.retry_backoff * (int64_t{1} << std::min(failures - 1, 10));
  delay = std::min(delay, kMaxBackoff);
  const Clock::time_point until = Clock::now() + delay;
  while (Clock::now() < until && !job.Cancelled() && !(stop != nullptr && stop->load())) {
    std::this_thread::sleep_for(std::min<Clock::duration>(milliseconds(10), until - Clock::now()));
  }
}

bool Retryable(int status) {
  return status == 408 || status == 429 || status == 500 || status == 502 || status == 503 ||
         status == 504;
}

// One HTTP GET of bytes [from, to] (to < 0: to the end), following redirects. Body bytes go
// to `sink` only once the response is known to be the bytes asked for.
class Attempt {
 public:
  enum class Outcome {
    kDone,          // every byte asked for arrived
    kTransport,     // no connection, a timeout, or the connection closed early
    kHttpStatus,    // a status other than 200/206 (`message` holds the start of the body)
    kRangeIgnored,  // 200 and the whole file, to a Range request that may not restart
    kBadRange,      // 206 for other bytes than those asked for
    kSizeMismatch,  // the server's file is not `expected_size` bytes
    kCancelled,
    kSinkFailed,
  };

  int64_t from = 0;
  int64_t to = -1;
  // A 200 to a Range request: the server sends the whole file, so start over from byte 0 in
  // the same response (single connection) instead of failing.
  bool allow_restart = false;
  std::function<bool(const char*, size_t)> sink;
  std::function<void()> restart;
  const std::atomic<bool>* stop = nullptr;  // another connection failed

  Outcome outcome = Outcome::kDone;
  int status = 0;
  int64_t bytes = 0;          // delivered to the sink
  int64_t server_total = -1;  // the file's size as the server states it
  std::string message;

  Attempt(Job& job, CURL* easy) : job_(job), easy_(easy) {}

  void Run() {
    curl_easy_reset(easy_);
    char error_buffer[CURL_ERROR_SIZE] = "";
    curl_slist* headers = nullptr;
    if (!job_.options.bearer_token.empty()) {
      const std::string auth = "Authorization: Bearer " + job_.options.bearer_token;
      headers = curl_slist_append(headers, auth.c_str());
    }
    ranged_ = from > 0 || to >= 0;
    const std::string range = to >= 0 ? fmt::format("{}-{}", from, to) : fmt::format("{}-", from);
    curl_easy_setopt(easy_, CURLOPT_URL, job_.url.c_str());
    curl_easy_setopt(easy_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy_, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(easy_, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(easy_, CURLOPT_UNRESTRICTED_AUTH, 0L);
    curl_easy_setopt(easy_, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy_, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy_, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(std::max<int64_t>(1, job_.options.connect_timeout.count())));
    curl_easy_setopt(easy_, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(
        easy_, CURLOPT_LOW_SPEED_TIME,
        static_cast<long>(std::max<int64_t>(
            1,
            std::chrono::duration_cast<std::chrono::seconds>(job_.options.stall_timeout).count())));
    curl_easy_setopt(easy_, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(easy_, CURLOPT_USERAGENT, job_.options.user_agent.c_str());
    curl_easy_setopt(easy_, CURLOPT_HTTPHEADER, headers);
    if (ranged_) curl_easy_setopt(easy_, CURLOPT_RANGE, range.c_str());
    curl_easy_setopt(easy_, CURLOPT_BUFFERSIZE, kCurlBufferSize);
    curl_easy_setopt(easy_, CURLOPT_WRITEFUNCTION, &OnBody);
    curl_easy_setopt(easy_, CURLOPT_WRITEDATA, this);
    curl_easy_setopt(easy_, CURLOPT_HEADERFUNCTION, &OnHeader);
    curl_easy_setopt(easy_, CURLOPT_HEADERDATA, this);
    curl_easy_setopt(easy_, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(easy_, CURLOPT_XFERINFOFUNCTION, &OnProgress);
    curl_easy_setopt(easy_, CURLOPT_XFERINFODATA, this);
    curl_easy_setopt(easy_, CURLOPT_ERRORBUFFER, error_buffer);

    const CURLcode code = curl_easy_perform(easy_);
    if (!checked_ && code == CURLE_OK) Check();  // an empty body never reached OnBody
    curl_easy_setopt(easy_, CURLOPT_HTTPHEADER, static_cast<curl_slist*>(nullptr));
    curl_easy_setopt(easy_, CURLOPT_ERRORBUFFER, static_cast<char*>(nullptr));
    curl_slist_free_all(headers);

    if (cancelled_ || (code == CURLE_ABORTED_BY_CALLBACK && Stopping())) {
      outcome = Outcome::kCancelled;
    } else if (sink_failed_) {
      outcome = Outcome::kSinkFailed;
    } else if (checked_ && !accepted_) {
      // Check() chose the outcome.
    } else if (code != CURLE_OK) {
      outcome = Outcome::kTransport;
      message = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(code);
    } else {
      const int64_t end = to >= 0 ? to + 1 : server_total;
      if (end >= 0 && from + bytes < end) {
        outcome = Outcome::kTransport;
        message = "the connection closed early";
      } else {
        outcome = Outcome::kDone;
      }
    }
  }

 private:
  bool Stopping() const { return job_.Cancelled() || (stop != nullptr && stop->load()); }

  // Decides, once the final response's headers are in, whether its body is ours to keep.
  void Check() {
    checked_ = true;
    long code = 0;
    curl_easy_getinfo(easy_, CURLINFO_RESPONSE_CODE, &code);
    status = static_cast<int>(code);
    if (status == 206 && ranged_) {
      int64_t first = -1;
      if (!ParseContentRange(content_range_, &first, &server_total) || first != from) {
        outcome = Outcome::kBadRange;
        message = fmt::format("asked for bytes from {}, got Content-Range {}", from,
                              Quote(content_range_));
        return;
      }
    } else if (status == 200) {
      server_total = content_length_;
      if (ranged_) {
        if (!allow_restart) {
          outcome = Outcome::kRangeIgnored;
          message = "the server ignored the Range header";
          return;
        }
        restart();
        from = 0;
      }
    } else {
      outcome = Outcome::kHttpStatus;
      return;
    }
    if (job_.total >= 0 && server_total >= 0 && server_total != job_.total) {
      outcome = Outcome::kSizeMismatch;
      message =
          fmt::format("the server's file has {} bytes, expected {}", server_total, job_.total);
      return;
    }
    accepted_ = true;
  }

  static size_t OnBody(char* data, size_t size, size_t count, void* user) {
    auto* self = static_cast<Attempt*>(user);
    const size_t n = size * count;
    if (!self->checked_) self->Check();
    if (!self->accepted_) {
      if (self->outcome != Outcome::kHttpStatus) return 0;  // stop reading a wrong body
      const size_t room = kErrorBodyMax - std::min(kErrorBodyMax, self->message.size());
      self->message.append(data, std::min(room, n));
      return n;
    }
    if (self->Stopping()) {
      self->cancelled_ = true;
      return 0;
    }
    if (!self->sink(data, n)) {
      self->sink_failed_ = true;
      return 0;
    }
    self->bytes += static_cast<int64_t>(n);
    return n;
  }

  static size_t OnHeader(char* data, size_t size, size_t count, void* user) {
    auto* self = static_cast<Attempt*>(user);
    const size_t n = size * count;
    const std::string_view line(data, n);
    if (StartsWithIgnoreCase(line, "http/")) {  // a new response (after a redirect)
      self->content_range_.clear();
      self->content_length_ = -1;
    } else if (StartsWithIgnoreCase(line, "content-range:")) {
      self->content_range_ = std::string(TrimAscii(line.substr(14)));
    } else if (StartsWithIgnoreCase(line, "content-length:")) {
      if (!ParseInt(TrimAscii(line.substr(15)), &self->content_length_)) self->content_length_ = -1;
    }
    return n;
  }

  static int OnProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    auto* self = static_cast<Attempt*>(user);
    if (!self->Stopping()) return 0;
    self->cancelled_ = true;
    return 1;
  }

  Job& job_;
  CURL* easy_;
  bool ranged_ = false;
  bool checked_ = false;
  bool accepted_ = false;
  bool cancelled_ = false;
  bool sink_failed_ = false;
  std::string content_range_;
  int64_t content_length_ = -1;
};

using CurlHandle = std::unique_ptr<CURL, void (*)(CURL*)>;

CurlHandle NewHandle() {
  return CurlHandle(curl_easy_init(), &curl_easy_cleanup);
}

ErrorCode CodeForStatus(int status) {
  if (status == 404 || status == 410) return ErrorCode::kNotFound;
  if (status == 401 || status == 403) return ErrorCode::kInvalidArgument;
  if (Retryable(status)) return ErrorCode::kUnavailable;
  return ErrorCode::kIo;
}

// The error for an attempt that will not be retried (have: bytes of the file present).
Error Failure(const Job& job, const Attempt& a, int64_t have, const std::string& io_error) {
  const std::string where = job.shown_url + ": ";
  switch (a.outcome) {
    case Attempt::Outcome::kHttpStatus: {
      std::string msg = where + fmt::format("HTTP {}", a.status);
      if (!a.message.empty()) msg += ": " + Quote(a.message, 200);
      return Error(CodeForStatus(a.status), msg);
    }
    case Attempt::Outcome::kBadRange:
    case Attempt::Outcome::kSizeMismatch:
      return Error(ErrorCode::kCorrupt, where + a.message);
    case Attempt::Outcome::kCancelled:
      return Error(ErrorCode::kUnavailable, where + "download cancelled after " + job.Of(have));
    case Attempt::Outcome::kSinkFailed:
      return Error(ErrorCode::kIo, io_error);
    default:
      return Error(ErrorCode::kUnavailable,
                   where + fmt::format("{}; have {} after {} retries", a.message, job.Of(have),
                                       job.retries.load()));
  }
}

// Whether a failed attempt is worth another try, counting failures without progress.
bool ShouldRetry(Job& job, const Attempt& a, int* failures, const std::atomic<bool>* stop) {
  const bool transient = a.outcome == Attempt::Outcome::kTransport ||
                         (a.outcome == Attempt::Outcome::kHttpStatus && Retryable(a.status));
  if (!transient) return false;
  if (a.bytes > 0) *failures = 0;
  if (++*failures > job.options.max_retries) return false;
  job.retries.fetch_add(1);
  Backoff(job, *failures, stop);
  return !job.Cancelled() && !(stop != nullptr && stop->load());
}

// One connection from `have` to the end, appending; a server that ignores Range restarts
// the file from byte 0. A TrailingHasher hashes behind it.
Status RunSingle(Job& job, int fd, Sha256* hasher, int64_t& have) {
  CurlHandle easy = NewHandle();
  if (!easy) return Error(ErrorCode::kIo, "libcurl could not create a handle");
  std::optional<TrailingHasher> trailing;
  if (hasher != nullptr) trailing.emplace(fd, *hasher, have, job.path);
  auto finish = [&](Status status) {
    if (!trailing) return status;
    Status hashed = trailing->Finish();
    return status.ok() ? hashed : status;
  };
  int failures = 0;
  bool restarted = false;
  std::string io_error;
  while (true) {
    if (job.total >= 0 && have == job.total && have > 0) return finish(OkStatus());
    Attempt a(job, easy.get());
    a.from = have;
    a.allow_restart = true;
    a.sink = [&](const char* data, size_t n) {
      if (!PWriteAll(fd, data, n, have)) {
        io_error = IoError("writing", job.path).message();
        return false;
      }
      have += static_cast<int64_t>(n);
      if (trailing) trailing->Written(have);
      job.network_bytes.fetch_add(static_cast<int64_t>(n), std::memory_order_relaxed);
      job.Report(have);
      return true;
    };
    a.restart = [&] {
      if (trailing) trailing->Restart();
      // A failed truncate leaves stale bytes past the end: the final size check catches it.
      if (::ftruncate(fd, 0) != 0) io_error = IoError("truncating", job.path).message();
      have = 0;
      job.resumed_from = 0;
    };
    a.Run();
    if (job.total < 0 && a.server_total >= 0) job.total = a.server_total;
    if (a.outcome == Attempt::Outcome::kDone) {
      if (job.total < 0) job.total = have;
      return finish(OkStatus());
    }
    // 416: the range starts at or past the end, so the prefix is not a prefix of this file.
    if (a.outcome == Attempt::Outcome::kHttpStatus && a.status == 416 && have > 0 && !restarted) {
      restarted = true;
      a.restart();
      continue;
    }
    if (ShouldRetry(job, a, &failures, nullptr)) continue;
    if (job.Cancelled()) a.outcome = Attempt::Outcome::kCancelled;
    return finish(Failure(job, a, have, io_error));
  }
}

// Parallel ranges: the remaining bytes are cut into pieces that `connections` workers take
// in order, each pwrite()-ing its piece sequentially at its offset.
//
// Hashing must follow file order, so the calling thread hashes the contiguous prefix as it
// grows, reading the just-written bytes back with pread(). They come from the page cache
// (a memory copy, several times faster than SHA-256 itself), memory stays one 8 MiB block
// whatever the connection count and piece size, and no worker ever waits for the hasher. The
// alternative, holding out-of-order pieces in memory until the prefix reaches them, needs
// either unbounded memory or workers that stall behind the slowest connection.
//
// Resume: when it stops early, the file is cut back to its contiguous prefix, so the next
// call sees a plain prefix and needs no record of which ranges arrived. Killed outright, it
// leaves a full-size file with holes: the next call checks it against the expected SHA-256
// and starts over when it does not match.
struct Piece {
  int64_t begin = 0;
  int64_t end = 0;
  std::atomic<int64_t> written{0};
};

struct Parallel {
  Job& job;
  int fd;
  std::vector<Piece> pieces;
  std::atomic<size_t> next{0};
  std::atomic<size_t> completed{0};
  std::atomic<int64_t> written{0};
  std::atomic<bool> stop{false};
  std::atomic<bool> range_ignored{false};
  std::mutex mutex;
  std::condition_variable cv;
  std::optional<Error> error;  // the first failure

  Parallel(Job& j, int f, size_t n) : job(j), fd(f), pieces(n) {}

  void Fail(Error e) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (!error) error = std::move(e);
    }
    stop.store(true);
    cv.notify_all();
  }
  int64_t ContiguousEnd() const {
    for (const Piece& p : pieces) {
      const int64_t w = p.written.load(std::memory_order_acquire);
      if (p.begin + w < p.end) return p.begin + w;
    }
    return pieces.empty() ? 0 : pieces.back().end;
  }
};

Status FetchPiece(Parallel& par, CURL* easy, Piece& piece) {
  Job& job = par.job;
  int failures = 0;
  std::string io_error;
  while (true) {
    const int64_t at = piece.begin + piece.written.load(std::memory_order_relaxed);
    if (at == piece.end) return OkStatus();
    Attempt a(job, easy);
    a.from = at;
    a.to = piece.end - 1;
    a.stop = &par.stop;
    a.sink = [&](const char* data, size_t n) {
      const int64_t w = piece.written.load(std::memory_order_relaxed);
      // More than the range asked for must not spill into the next piece.
      n = static_cast<size_t>(
          std::min<int64_t>(static_cast<int64_t>(n), piece.end - piece.begin - w));
      if (!PWriteAll(par.fd, data, n, piece.begin + w)) {
        io_error = IoError("writing", job.path).message();
        return false;
      }
      piece.written.store(w + static_cast<int64_t>(n), std::memory_order_release);
      par.written.fetch_add(static_cast<int64_t>(n), std::memory_order_relaxed);
      job.network_bytes.fetch_add(static_cast<int64_t>(n), std::memory_order_relaxed);
      return true;
    };
    a.Run();
    if (a.outcome == Attempt::Outcome::kDone) return OkStatus();
    if (a.outcome == Attempt::Outcome::kRangeIgnored) {
      par.range_ignored.store(true);
      return Error(ErrorCode::kUnsupported, job.shown_url + ": " + a.message);
    }
    if (ShouldRetry(job, a, &failures, &par.stop)) continue;
    if (job.Cancelled()) a.outcome = Attempt::Outcome::kCancelled;
    return Failure(job, a, par.ContiguousEnd(), io_error);
  }
}

void Worker(Parallel& par) {
  CurlHandle easy = NewHandle();
  if (!easy) {
    par.Fail(Error(ErrorCode::kIo, "libcurl could not create a handle"));
    return;
  }
  while (!par.stop.load()) {
    const size_t i = par.next.fetch_add(1);
    if (i >= par.pieces.size()) break;
    Status s = FetchPiece(par, easy.get(), par.pieces[i]);
    if (!s.ok()) {
      par.Fail(std::move(s).error());
      return;
    }
    par.completed.fetch_add(1);
    par.cv.notify_all();
  }
}

// Returns with `have` at the contiguous prefix (hashed into `hasher`) and, when the server
// ignored ranges, *fall_back set and OK, for one connection to take over.
Status RunParallel(Job& job, int fd, Sha256* hasher, int64_t& have, int* connections,
                   bool* fall_back) {
  const int64_t remaining = job.total - have;
  int64_t piece = job.options.piece_size;
  if (piece <= 0) {
    // Four pieces per connection balance uneven connections; at least 1 MiB each so that
    // requests stay few, at most 64 MiB so that a retried piece costs little.
    piece = remaining / (int64_t{4} * job.options.connections);
    piece = std::clamp<int64_t>(piece, int64_t{1} << 20, int64_t{64} << 20);
  }
  const size_t n = static_cast<size_t>((remaining + piece - 1) / piece);
  Parallel par(job, fd, n);
  for (size_t i = 0; i < n; ++i) {
    par.pieces[i].begin = have + static_cast<int64_t>(i) * piece;
    par.pieces[i].end = std::min(job.total, par.pieces[i].begin + piece);
  }
  // Reserves the space first: "no space left" now rather than at 90 %.
  if (::fallocate(fd, 0, 0, job.total) != 0) {
    if (errno != EOPNOTSUPP && errno != ENOSYS) return IoError("allocating space for", job.path);
    if (::ftruncate(fd, job.total) != 0) return IoError("resizing", job.path);
  }
  *connections = static_cast<int>(std::min<size_t>(n, job.options.connections));
  std::vector<std::thread> workers;
  for (int i = 0; i < *connections; ++i) workers.emplace_back([&par] { Worker(par); });

  const int64_t base = have;
  int64_t hashed = have;
  std::vector<char> block;
  Status hash_status = OkStatus();
  while (!par.stop.load()) {
    if (job.Cancelled()) {
      par.stop.store(true);
      break;
    }
    bool advanced = false;
    if (hasher != nullptr && hashed < job.total) {
      const Piece& p = par.pieces[static_cast<size_t>((hashed - base) / piece)];
      const int64_t avail = p.begin + p.written.load(std::memory_order_acquire);
      if (avail > hashed) {
        const int64_t len = std::min(avail - hashed, kHashBlock);
        block.resize(static_cast<size_t>(len));
        if (::pread(fd, block.data(), block.size(), hashed) != len) {
          hash_status = IoError("reading back", job.path);
          par.stop.store(true);
          break;
        }
        hasher->Update(block.data(), block.size());
        hashed += len;
        advanced = true;
      }
    }
    job.Report(base + par.written.load(std::memory_order_relaxed));
    if (par.completed.load() == n && (hasher == nullptr || hashed == job.total)) break;
    if (!advanced) {
      std::unique_lock<std::mutex> lock(par.mutex);
      par.cv.wait_for(lock, kCoordinatorWait);
    }
  }
  for (std::thread& t : workers) t.join();

  if (hash_status.ok() && !par.error && !job.Cancelled() && par.completed.load() == n) {
    have = job.total;
    return OkStatus();
  }
  const int64_t prefix = par.ContiguousEnd();
  if (::ftruncate(fd, prefix) != 0) return IoError("truncating", job.path);
  if (hasher != nullptr && hashed < prefix) {
    WICK_RETURN_IF_ERROR(HashFileRange(fd, hashed, prefix, *hasher, job.path));
  }
  have = prefix;
  if (!hash_status.ok()) return hash_status;
  if (par.range_ignored.load() && !job.Cancelled()) {
    *fall_back = true;
    *connections = 1;
    return OkStatus();
  }
  if (job.Cancelled()) {
    return Error(ErrorCode::kUnavailable,
                 job.shown_url + ": download cancelled after " + job.Of(have));
  }
  return std::move(*par.error);
}

}  // namespace

Result<DownloadStats> Download(const std::string& url, const std::string& incomplete_path,
                               int64_t expected_size, std::string_view expected_sha256,
                               const DownloadOptions& options) {
  CurlGlobalInit();
  if (!expected_sha256.empty() && !IsSha256Hex(expected_sha256)) {
    return Error(ErrorCode::kInvalidArgument,
                 "expected sha256 " + Quote(expected_sha256) + " is not 64 hex digits");
  }
  std::string expected(expected_sha256);
  for (char& c : expected) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  Job job(url, incomplete_path, options);
  job.total = expected_size > 0 ? expected_size : -1;
  const bool hashing = options.hash || !expected.empty();

  Fd fd(::open(incomplete_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (fd.get() < 0) return IoError("opening", incomplete_path);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return IoError("reading the size of", incomplete_path);
  int64_t have = st.st_size;
  Sha256 hasher;
  if (job.total >= 0 && have == job.total && !expected.empty()) {
    // Complete already, or full-size with holes from a killed parallel download.
    WICK_RETURN_IF_ERROR(HashFileRange(fd.get(), 0, have, hasher, incomplete_path));
    if (hasher.FinishHex() == expected) {
      DownloadStats stats;
      stats.size = stats.resumed_from = have;
      stats.resumed = true;
      stats.sha256 = expected;
      stats.connections = 0;
      return stats;
    }
  }
  if (have > 0 && job.total >= 0 && have >= job.total) {
    if (::ftruncate(fd.get(), 0) != 0) return IoError("truncating", incomplete_path);
    have = 0;
  }
  if (have > 0 && hashing) {
    WICK_RETURN_IF_ERROR(HashFileRange(fd.get(), 0, have, hasher, incomplete_path));
  }
  job.resumed_from = have;
  DownloadStats stats;

  Sha256* h = hashing ? &hasher : nullptr;
  int connections = 1;
  bool fall_back = false;
  Status status = OkStatus();
  if (job.total > 0 && options.connections > 1 && job.total - have >= options.min_parallel_size) {
    status = RunParallel(job, fd.get(), h, have, &connections, &fall_back);
  }
  if (status.ok() && (connections == 1 || fall_back)) {
    status = RunSingle(job, fd.get(), h, have);
    connections = 1;
  }
  job.Report(have, true);
  if (!status.ok()) return std::move(status).error();

  if (::fstat(fd.get(), &st) != 0) return IoError("reading the size of", incomplete_path);
  if (job.total >= 0 && st.st_size != job.total) {
    return Error(ErrorCode::kCorrupt,
                 fmt::format("{}: {} has {} bytes after the download, expected {}", job.shown_url,
                             incomplete_path, st.st_size, job.total));
  }
  stats.size = st.st_size;
  stats.resumed_from = job.resumed_from;  // 0 when a server that ignores Range restarted it
  stats.resumed = stats.resumed_from > 0;
  stats.bytes_downloaded = job.network_bytes.load();
  stats.seconds = job.Seconds();
  stats.connections = connections;
  stats.retries = job.retries.load();
  if (hashing) stats.sha256 = hasher.FinishHex();
  if (!expected.empty() && stats.sha256 != expected) {
    ::unlink(incomplete_path.c_str());
    return Error(ErrorCode::kCorrupt,
                 fmt::format("{}: sha256 mismatch: expected {}, got {} ({} bytes); removed {}",
                             job.shown_url, expected, stats.sha256, stats.size, incomplete_path));
  }
  return stats;
}

std::string FormatBytes(int64_t bytes) {
  if (bytes < 1024) return fmt::format("{} B", bytes);
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = static_cast<double>(bytes) / 1024;
  size_t unit = 0;
  while (v >= 1024 && unit + 1 < std::size(kUnits)) {
    v /= 1024;
    ++unit;
  }
  return fmt::format("{:.1f} {}", v, kUnits[unit]);
}

std::string ProgressLine(std::string_view name, const DownloadProgress& p) {
  const double rate = p.BytesPerSecond();
  std::string line(name);
  if (p.total > 0) {
    const int64_t percent = std::min<int64_t>(100, p.done * 100 / p.total);
    line += fmt::format(" {}% {}/{}", percent, FormatBytes(p.done), FormatBytes(p.total));
  } else {
    line += " " + FormatBytes(p.done);
  }
  line += " " + FormatBytes(static_cast<int64_t>(rate)) + "/s";
  if (p.total > 0 && rate > 0 && p.done < p.total) {
    line += " ETA " + FormatEta(static_cast<double>(p.total - p.done) / rate);
  }
  return line;
}

std::string RedactUrl(std::string_view url) {
  const size_t cut = url.find_first_of("?#");
  return std::string(url.substr(0, cut));
}

}  // namespace wick::hub
