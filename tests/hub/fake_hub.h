// A Hugging Face hub for tests, in-process on 127.0.0.1: the model API (?blobs=true), resolve
// URLs that redirect LFS files to a CDN (302 with X-Repo-Commit, X-Linked-Etag,
// X-Linked-Size and ETag) and serve other files directly, and the CDN with byte ranges. The
// CDN listens on a second port because the real one is another host: a client must not send
// the hub's token there, and this CDN, like a presigned S3 URL, refuses a request that does.
//
// Misbehaves on request, globally or per repository: a required token, a rate cap, a
// connection closed after N bytes, Range ignored, one byte flipped. Counts what it saw.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace wick::hub::testing {

struct FakeFile {
  std::string path;       // in the repository: "sub/model.gguf"
  std::string bytes;      // the content, or
  std::string disk_path;  // a file served as it is on disk (when `bytes` is empty)
  bool lfs = true;
};

struct FakeMode {
  std::string token;             // required when set: 401 without it, 403 with another
  int64_t bytes_per_second = 0;  // a rate cap on file bytes; 0: none
  int64_t truncate_after = -1;   // closes the connection after this many body bytes
  int truncate_times = -1;       // ... in this many responses, then behaves (< 0: always)
  bool ignore_range = false;     // 200 and the whole file, whatever Range says
  bool flip_byte = false;        // the file's middle byte is served flipped
};

class FakeHub {
 public:
  FakeHub();
  ~FakeHub();
  FakeHub(const FakeHub&) = delete;
  FakeHub& operator=(const FakeHub&) = delete;

  // Serves `files` for `repo` ("org/name") at revision "main" or `commit` (40 hex digits).
  // A disk file that cannot be read throws.
  void AddRepo(const std::string& repo, const std::string& commit, std::vector<FakeFile> files);
  // The mode of every repository without one of its own.
  void SetMode(const FakeMode& mode);
  void SetRepoMode(const std::string& repo, const FakeMode& mode);

  std::string endpoint() const;      // "http://127.0.0.1:PORT": HF_ENDPOINT
  std::string cdn_endpoint() const;  // "http://127.0.0.1:OTHER_PORT"
  // The SHA-256 a registered file is served under (/cdn/{sha256}); empty if unknown.
  std::string Sha256Of(const std::string& repo, const std::string& path) const;

  // Requests per URL path ("/api/models/org/name/revision/main", "/cdn/<sha256>").
  int requests(const std::string& path) const;
  int64_t bytes_served() const { return bytes_served_.load(); }
  bool cdn_saw_authorization() const { return cdn_saw_authorization_.load(); }
  // The Range header of each /cdn GET, in arrival order ("" when there was none).
  std::vector<std::string> cdn_ranges() const;
  // The Authorization header of the last request to the hub (not the CDN).
  std::string last_hub_authorization() const;

 private:
  struct Blob;
  struct Repo;
  struct ModeState;
  struct Handler;

  // Sleeps unless the server is stopping; false when it is.
  bool Wait(std::chrono::microseconds delay);
  // The mode for `repo` and whether this response is to be truncated (counting it).
  FakeMode TakeMode(const std::string& repo, bool* truncate);

  std::unique_ptr<httplib::Server> hub_;
  std::unique_ptr<httplib::Server> cdn_;
  std::thread hub_thread_;
  std::thread cdn_thread_;
  int hub_port_ = 0;
  int cdn_port_ = 0;

  mutable std::mutex mutex_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::map<std::string, std::shared_ptr<Repo>> repos_;
  std::map<std::string, std::pair<std::string, std::string>> by_sha_;  // → repo, path
  std::unique_ptr<ModeState> global_mode_;
  std::map<std::string, std::unique_ptr<ModeState>> repo_modes_;
  std::map<std::string, int> requests_;
  std::vector<std::string> cdn_ranges_;
  std::string last_hub_authorization_;
  std::atomic<int64_t> bytes_served_{0};
  std::atomic<bool> cdn_saw_authorization_{false};
};

}  // namespace wick::hub::testing
