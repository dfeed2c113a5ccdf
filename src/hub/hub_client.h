// A client for the Hugging Face hub's HTTP API: what a repository holds at a revision, and
// where each file's bytes live. The same endpoints huggingface_hub uses:
//
//   GET  {endpoint}/api/models/{repo}/revision/{rev}?blobs=true   commit sha, files, sizes,
//                                                                 LFS sha256s
//   HEAD {endpoint}/{repo}/resolve/{rev}/{file}                   X-Repo-Commit,
//        X-Linked-Etag (LFS sha256) / ETag (git blob sha1), X-Linked-Size, and for LFS files
//        a 302 to a CDN URL that is not followed (its Location is the download URL)
//
// Authorization goes to the hub only, never to the CDN. Errors say what to do: set a token,
// accept a gated model's conditions, or which of repository, revision and file is missing.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "hub/download.h"

namespace wick::hub {

inline constexpr const char* kDefaultEndpoint = "https://huggingface.co";

struct HubOptions {
  std::string endpoint = kDefaultEndpoint;  // without a trailing slash
  std::string token;                        // empty: anonymous
  std::string user_agent = "wick";
  std::chrono::milliseconds connect_timeout{10000};
  std::chrono::milliseconds timeout{10000};           // API and HEAD requests, whole
  std::chrono::milliseconds download_timeout{10000};  // a download's stall limit
  bool offline = false;  // every request fails at once, naming HF_HUB_OFFLINE

  // HF_ENDPOINT, HF_TOKEN (else the token file), HF_HUB_OFFLINE, HF_HUB_ETAG_TIMEOUT and
  // HF_HUB_DOWNLOAD_TIMEOUT (seconds), and "wick/<version>" as user agent.
  static HubOptions FromEnvironment();
};

// $HF_HOME, else $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface.
std::string HfHome();
// HF_TOKEN (or the older HUGGING_FACE_HUB_TOKEN), else the first line of $HF_TOKEN_PATH or
// $HF_HOME/token (what `huggingface-cli login` writes); empty when there is none.
std::string TokenFromEnvironment();

// A file of a repository as the hub's API lists it (model_ref.h's RepoFile is the subset
// that choosing a GGUF needs).
struct RemoteFile {
  std::string path;     // "sub/dir/model.gguf"
  int64_t size = -1;    // bytes; -1 when the API did not say
  std::string etag;     // the LFS sha256 for LFS files, else the git blob sha1
  std::string blob_id;  // git blob sha1 (of the pointer file, for LFS files)
  bool lfs = false;
  std::string sha256;  // LFS files only
};

struct RepoInfo {
  std::string repo;
  std::string commit;  // 40 hex digits
  bool is_private = false;
  bool gated = false;
  std::vector<RemoteFile> files;

  const RemoteFile* Find(std::string_view path) const;
};

struct FileMeta {
  std::string commit;  // X-Repo-Commit
  std::string etag;    // without quotes: an LFS file's sha256, else the git blob sha1
  int64_t size = -1;
  bool lfs = false;  // the etag is a sha256 (X-Linked-Etag)
  // Where the bytes are: the CDN URL a LFS file redirects to, else the resolve URL (after
  // relative redirects such as a renamed repository's).
  std::string url;
};

class HubClient {
 public:
  explicit HubClient(HubOptions options = HubOptions::FromEnvironment());

  const HubOptions& options() const { return options_; }

  Result<RepoInfo> Info(std::string_view repo, std::string_view revision = "main") const;
  std::string ResolveUrl(std::string_view repo, std::string_view revision,
                         std::string_view file) const;
  Result<FileMeta> Head(std::string_view repo, std::string_view revision,
                        std::string_view file) const;
  // Options for Download(url): user agent and stall timeout, and the token only when `url`
  // is on the hub's own host (a CDN's presigned URL carries its own authorisation).
  DownloadOptions DownloadOptionsFor(std::string_view url) const;

 private:
  HubOptions options_;
};

// "org/name" → "org/name"; a revision such as "refs/pr/1" is escaped whole, a file path
// keeps its slashes (as huggingface_hub's hf_hub_url does).
std::string EscapePath(std::string_view text, bool keep_slashes);

}  // namespace wick::hub
