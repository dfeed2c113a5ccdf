#include "server/blob_share.h"

#include <fcntl.h>
#include <httplib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <vector>

#include "hub/hub_cache.h"
#include "hub/puller.h"
#include "server/http_util.h"

namespace wick::server {

namespace {

// Read per call of the content provider: large enough to keep a LAN link busy.
constexpr size_t kChunk = size_t{1} << 20;

struct OpenBlob {
  explicit OpenBlob(int descriptor) : fd(descriptor) {}
  ~OpenBlob() {
    if (fd >= 0) ::close(fd);
  }
  OpenBlob(const OpenBlob&) = delete;
  OpenBlob& operator=(const OpenBlob&) = delete;
  int fd;
  std::vector<char> buffer;
};

}  // namespace

void ServeCachedBlob(const httplib::Request& req, httplib::Response& res,
                     const hub::HubCache& cache) {
  const std::string sha256 = req.matches[1];
  std::optional<std::filesystem::path> blob = hub::FindBlob(cache, sha256);
  if (!blob) {
    return SendError(res, MakeError(404, "no blob " + sha256 + " in this server's hub cache",
                                    "invalid_request_error", "", "blob_not_found"));
  }
  auto open = std::make_shared<OpenBlob>(::open(blob->c_str(), O_RDONLY | O_CLOEXEC));
  struct stat st {};
  if (open->fd < 0 || ::fstat(open->fd, &st) != 0) {
    return SendError(res, MakeError(500, "cannot read blob " + sha256, "server_error"));
  }
  res.set_header("ETag", "\"" + sha256 + "\"");
  res.set_header("Accept-Ranges", "bytes");
  // With a length, cpp-httplib answers Range requests itself (206, Content-Range), asking
  // the provider for just those bytes.
  res.set_content_provider(static_cast<size_t>(st.st_size), "application/octet-stream",
                           [open](size_t offset, size_t length, httplib::DataSink& sink) {
                             const size_t n = std::min(length, kChunk);
                             open->buffer.resize(n);
                             const ssize_t got = ::pread(open->fd, open->buffer.data(), n,
                                                         static_cast<off_t>(offset));
                             if (got <= 0) return false;
                             return sink.write(open->buffer.data(), static_cast<size_t>(got));
                           });
}

}  // namespace wick::server
