#include "hub/fake_hub.h"

#include <fcntl.h>
#include <httplib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <utility>

#include "core/sha256.h"

namespace wick::hub::testing {
namespace {

// Bytes per content-provider call: big enough for loopback speed, small enough that a rate
// cap and truncation act at a fine grain.
constexpr size_t kChunk = 256 * 1024;
// Handler threads per server: every parallel connection holds one while it is kept alive.
constexpr size_t kServerThreads = 48;

void SetHubError(httplib::Response& res, int status, const std::string& code,
                 const std::string& message) {
  res.status = status;
  if (!code.empty()) res.set_header("X-Error-Code", code);
  res.set_header("X-Error-Message", message);
  res.set_content(nlohmann::json{{"error", message}}.dump(), "application/json");
}

std::unique_ptr<httplib::Server> NewServer(int* port) {
  auto server = std::make_unique<httplib::Server>();
  server->new_task_queue = [] { return new httplib::ThreadPool(kServerThreads); };
  server->set_keep_alive_max_count(100000);
  *port = server->bind_to_any_port("127.0.0.1");
  if (*port <= 0) throw std::runtime_error("FakeHub: cannot bind a port on 127.0.0.1");
  return server;
}

void Start(httplib::Server& server, std::thread* thread) {
  *thread = std::thread([&server] { server.listen_after_bind(); });
  // httplib's stop() does nothing before the listen loop runs: wait for it.
  while (!server.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

}  // namespace

struct FakeHub::Blob {
  std::string bytes;  // in memory, or
  int fd = -1;        // a file on disk
  int64_t size = 0;
  std::string sha256;
  std::string blob_id;

  Blob() = default;
  Blob(const Blob&) = delete;
  Blob& operator=(const Blob&) = delete;
  ~Blob() {
    if (fd >= 0) ::close(fd);
  }
};

struct FakeHub::Repo {
  struct File {
    std::shared_ptr<Blob> blob;
    bool lfs = true;
  };
  std::string commit;
  std::map<std::string, File> files;
};

struct FakeHub::ModeState {
  FakeMode mode;
  int truncations_left = -1;
};

struct FakeHub::Handler {
  static void Count(FakeHub& self, const httplib::Request& req, bool hub) {
    std::lock_guard<std::mutex> lock(self.mutex_);
    ++self.requests_[req.path];
    if (hub) self.last_hub_authorization_ = req.get_header_value("Authorization");
  }

  // The repository, with its mode, after the checks the hub makes before anything else:
  // the token, whether the repository exists, the revision. Null when `res` holds an error.
  static std::shared_ptr<Repo> Open(FakeHub& self, const httplib::Request& req,
                                    httplib::Response& res, const std::string& repo_id,
                                    const std::string& revision) {
    std::shared_ptr<Repo> repo;
    {
      std::lock_guard<std::mutex> lock(self.mutex_);
      auto it = self.repos_.find(repo_id);
      if (it != self.repos_.end()) repo = it->second;
    }
    const std::string auth = req.get_header_value("Authorization");
    if (repo == nullptr) {
      // The hub hides whether a repository exists from anonymous callers: 401, not 404.
      SetHubError(res, auth.empty() ? 401 : 404, "RepoNotFound", "Repository not found");
      return nullptr;
    }
    const FakeMode mode = self.TakeMode(repo_id, nullptr);
    if (!mode.token.empty() && auth != "Bearer " + mode.token) {
      if (auth.empty()) {
        SetHubError(res, 401, "GatedRepo",
                    "Access to model " + repo_id +
                        " is restricted. You must have access to it and be authenticated to "
                        "access it. Please log in.");
      } else {
        SetHubError(res, 403, "GatedRepo",
                    "Access to model " + repo_id +
                        " is restricted and you are not in the authorized list.");
      }
      return nullptr;
    }
    if (revision != "main" && revision != repo->commit) {
      SetHubError(res, 404, "RevisionNotFound", "Invalid rev id: " + revision);
      return nullptr;
    }
    return repo;
  }

  static void Api(FakeHub& self, const httplib::Request& req, httplib::Response& res) {
    Count(self, req, true);
    const std::string repo_id = req.matches[1];
    std::shared_ptr<Repo> repo = Open(self, req, res, repo_id, req.matches[2].str());
    if (repo == nullptr) return;
    const bool blobs = req.get_param_value("blobs") == "true";
    const bool gated = !self.TakeMode(repo_id, nullptr).token.empty();
    nlohmann::json siblings = nlohmann::json::array();
    for (const auto& [path, file] : repo->files) {
      nlohmann::json s = {{"rfilename", path}};
      if (blobs) {
        s["blobId"] = file.blob->blob_id;
        s["size"] = file.blob->size;
        if (file.lfs) {
          s["lfs"] = {
              {"sha256", file.blob->sha256}, {"size", file.blob->size}, {"pointerSize", 134}};
        }
      }
      siblings.push_back(std::move(s));
    }
    nlohmann::json body = {{"_id", "fake"},
                           {"id", repo_id},
                           {"modelId", repo_id},
                           {"sha", repo->commit},
                           {"private", false},
                           {"disabled", false},
                           {"siblings", std::move(siblings)}};
    body["gated"] = gated ? nlohmann::json("manual") : nlohmann::json(false);
    res.set_content(body.dump(), "application/json");
  }

  static void Resolve(FakeHub& self, const httplib::Request& req, httplib::Response& res) {
    Count(self, req, true);
    const std::string repo_id = req.matches[1];
    std::shared_ptr<Repo> repo = Open(self, req, res, repo_id, req.matches[2].str());
    if (repo == nullptr) return;
    auto it = repo->files.find(req.matches[3].str());
    if (it == repo->files.end()) {
      SetHubError(res, 404, "EntryNotFound", "Entry not found");
      return;
    }
    const Blob& blob = *it->second.blob;
    res.set_header("X-Repo-Commit", repo->commit);
    if (!it->second.lfs) {
      res.set_header("ETag", "\"" + blob.blob_id + "\"");
      Serve(self, req, res, it->second.blob, repo_id);
      return;
    }
    res.set_header("ETag", "\"" + blob.blob_id + "\"");
    res.set_header("X-Linked-Etag", "\"" + blob.sha256 + "\"");
    res.set_header("X-Linked-Size", std::to_string(blob.size));
    res.set_redirect(self.cdn_endpoint() + "/cdn/" + blob.sha256, 302);
  }

  static void Cdn(FakeHub& self, const httplib::Request& req, httplib::Response& res) {
    Count(self, req, false);
    std::shared_ptr<Blob> blob;
    std::string repo_id;
    {
      std::lock_guard<std::mutex> lock(self.mutex_);
      if (req.method == "GET") self.cdn_ranges_.push_back(req.get_header_value("Range"));
      auto sha = self.by_sha_.find(req.matches[1].str());
      if (sha != self.by_sha_.end()) {
        repo_id = sha->second.first;
        blob = self.repos_.at(repo_id)->files.at(sha->second.second).blob;
      }
    }
    if (req.has_header("Authorization")) {
      self.cdn_saw_authorization_.store(true);
      res.status = 400;  // what S3 answers a presigned URL that also carries a token
      res.set_content("Only one auth mechanism allowed", "text/plain");
      return;
    }
    if (blob == nullptr) {
      res.status = 404;
      return;
    }
    Serve(self, req, res, blob, repo_id);
  }

  // The blob's bytes, or the single range asked for, with the repository's misbehaviour.
  static void Serve(FakeHub& self, const httplib::Request& req, httplib::Response& res,
                    std::shared_ptr<Blob> blob, const std::string& repo_id) {
    bool truncate = false;
    const FakeMode mode = self.TakeMode(repo_id, req.method == "GET" ? &truncate : nullptr);
    const int64_t size = blob->size;
    int64_t start = 0;
    int64_t end = size;
    res.set_header("Accept-Ranges", "bytes");
    if (!req.ranges.empty() && !mode.ignore_range) {
      const auto [first, last] = req.ranges.front();
      if (first < 0) {
        start = std::max<int64_t>(0, size - last);
      } else {
        start = first;
        end = last >= 0 ? std::min<int64_t>(last + 1, size) : size;
      }
      if (start >= size) {
        res.status = 416;
        res.set_header("Content-Range", "bytes */" + std::to_string(size));
        return;
      }
      res.status = 206;
      res.set_header("Content-Range", "bytes " + std::to_string(start) + "-" +
                                          std::to_string(end - 1) + "/" + std::to_string(size));
    } else {
      res.status = 200;
    }
    // httplib would cut the body to the Range itself; this server does (or, on request,
    // does not). The request is not const where httplib made it.
    const_cast<httplib::Request&>(req).ranges.clear();
    if (end == start) {
      res.set_content("", "application/octet-stream");
      return;
    }
    const int64_t flip_at = mode.flip_byte ? size / 2 : -1;
    int64_t sent = 0;
    res.set_content_provider(
        static_cast<size_t>(end - start), "application/octet-stream",
        [&self, blob, start, mode, truncate, flip_at, sent](size_t offset, size_t length,
                                                            httplib::DataSink& sink) mutable {
          size_t chunk = std::min(length, kChunk);
          if (mode.bytes_per_second > 0) {
            chunk = std::min<size_t>(chunk, std::max<int64_t>(1024, mode.bytes_per_second / 20));
          }
          if (truncate) {
            const int64_t allowed = mode.truncate_after - sent;
            if (allowed <= 0) return false;  // closes the connection
            chunk = std::min<size_t>(chunk, static_cast<size_t>(allowed));
          }
          const int64_t pos = start + static_cast<int64_t>(offset);
          std::string copy;
          const char* data = nullptr;
          const bool flip = flip_at >= pos && flip_at < pos + static_cast<int64_t>(chunk);
          if (blob->fd < 0 && !flip) {
            data = blob->bytes.data() + pos;
          } else {
            copy.resize(chunk);
            if (blob->fd < 0) {
              copy.assign(blob->bytes, static_cast<size_t>(pos), chunk);
            } else if (::pread(blob->fd, copy.data(), chunk, pos) != static_cast<ssize_t>(chunk)) {
              return false;
            }
            if (flip) copy[static_cast<size_t>(flip_at - pos)] ^= 0x01;
            data = copy.data();
          }
          if (mode.bytes_per_second > 0 &&
              !self.Wait(std::chrono::microseconds(static_cast<int64_t>(chunk) * 1000000 /
                                                   mode.bytes_per_second))) {
            return false;
          }
          if (!sink.write(data, chunk)) return false;
          sent += static_cast<int64_t>(chunk);
          self.bytes_served_.fetch_add(static_cast<int64_t>(chunk));
          return !(truncate && sent >= mode.truncate_after);
        });
  }
};

FakeHub::FakeHub() : global_mode_(std::make_unique<ModeState>()) {
  hub_ = NewServer(&hub_port_);
  cdn_ = NewServer(&cdn_port_);
  hub_->Get(R"(/api/models/(.+)/revision/([^/]+))",
            [this](const httplib::Request& req, httplib::Response& res) {
              Handler::Api(*this, req, res);
            });
  hub_->Get(R"(/([^/]+/[^/]+)/resolve/([^/]+)/(.+))",
            [this](const httplib::Request& req, httplib::Response& res) {
              Handler::Resolve(*this, req, res);
            });
  cdn_->Get(R"(/cdn/([0-9a-f]{64}))", [this](const httplib::Request& req, httplib::Response& res) {
    Handler::Cdn(*this, req, res);
  });
  Start(*hub_, &hub_thread_);
  Start(*cdn_, &cdn_thread_);
}

FakeHub::~FakeHub() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  hub_->stop();
  cdn_->stop();
  hub_thread_.join();
  cdn_thread_.join();
}

void FakeHub::AddRepo(const std::string& repo, const std::string& commit,
                      std::vector<FakeFile> files) {
  auto entry = std::make_shared<Repo>();
  entry->commit = commit;
  for (FakeFile& f : files) {
    auto blob = std::make_shared<Blob>();
    if (f.bytes.empty() && !f.disk_path.empty()) {
      blob->fd = ::open(f.disk_path.c_str(), O_RDONLY | O_CLOEXEC);
      struct stat st {};
      if (blob->fd < 0 || ::fstat(blob->fd, &st) != 0) {
        throw std::runtime_error("FakeHub: cannot read " + f.disk_path);
      }
      blob->size = st.st_size;
      Result<std::string> sha = Sha256::HexOfFile(f.disk_path);
      if (!sha.ok()) throw std::runtime_error(sha.error().message());
      blob->sha256 = *sha;
    } else {
      blob->bytes = std::move(f.bytes);
      blob->size = static_cast<int64_t>(blob->bytes.size());
      blob->sha256 = Sha256::HexOf(blob->bytes);
    }
    // Stands in for the git blob sha1: 40 hex digits that differ per content.
    blob->blob_id = blob->sha256.substr(0, 40);
    entry->files[f.path] = Repo::File{blob, f.lfs};
  }
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& [path, file] : entry->files) by_sha_[file.blob->sha256] = {repo, path};
  repos_[repo] = std::move(entry);
}

void FakeHub::SetMode(const FakeMode& mode) {
  std::lock_guard<std::mutex> lock(mutex_);
  global_mode_ = std::make_unique<ModeState>(ModeState{mode, mode.truncate_times});
}

void FakeHub::SetRepoMode(const std::string& repo, const FakeMode& mode) {
  std::lock_guard<std::mutex> lock(mutex_);
  repo_modes_[repo] = std::make_unique<ModeState>(ModeState{mode, mode.truncate_times});
}

FakeMode FakeHub::TakeMode(const std::string& repo, bool* truncate) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = repo_modes_.find(repo);
  ModeState& state = it != repo_modes_.end() ? *it->second : *global_mode_;
  if (truncate != nullptr) {
    *truncate = state.mode.truncate_after >= 0 && state.truncations_left != 0;
    if (*truncate && state.truncations_left > 0) --state.truncations_left;
  }
  return state.mode;
}

bool FakeHub::Wait(std::chrono::microseconds delay) {
  std::unique_lock<std::mutex> lock(mutex_);
  return !stop_cv_.wait_for(lock, delay, [this] { return stopping_; });
}

std::string FakeHub::endpoint() const {
  return "http://127.0.0.1:" + std::to_string(hub_port_);
}

std::string FakeHub::cdn_endpoint() const {
  return "http://127.0.0.1:" + std::to_string(cdn_port_);
}

std::string FakeHub::Sha256Of(const std::string& repo, const std::string& path) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = repos_.find(repo);
  if (it == repos_.end()) return "";
  auto file = it->second->files.find(path);
  return file != it->second->files.end() ? file->second.blob->sha256 : "";
}

int FakeHub::requests(const std::string& path) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = requests_.find(path);
  return it != requests_.end() ? it->second : 0;
}

std::vector<std::string> FakeHub::cdn_ranges() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return cdn_ranges_;
}

std::string FakeHub::last_hub_authorization() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return last_hub_authorization_;
}

}  // namespace wick::hub::testing
