// The Hugging Face hub cache on disk, laid out exactly as huggingface_hub lays it out, so a
// model pulled by wick is found by transformers, llama.cpp and the `hf` tool, and the reverse:
//
//   {root}/models--{org}--{name}/
//     blobs/{etag}                     the bytes (etag: the LFS sha256, or the git blob sha1)
//     blobs/{etag}.incomplete          a download in progress
//     snapshots/{commit}/{path}        a relative symlink to ../../blobs/{etag}
//     refs/{revision}                  the commit the revision named, no trailing newline
//   {root}/.locks/models--{org}--{name}/{etag}.lock   held with flock(), as huggingface_hub does
//
// Every write is atomic (a temporary name, then rename), so a crash or a concurrent pull never
// leaves a half-written ref or link, and the blob lock keeps two pulls of one file from
// downloading it twice. Names from the hub (paths, revisions, etags) are validated before
// they touch the disk. Errors name the path involved.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "hub/model_ref.h"

namespace wick::hub {

// The cache root, in huggingface_hub's order: $HF_HUB_CACHE, the legacy $HUGGINGFACE_HUB_CACHE,
// $HF_HOME/hub, $XDG_CACHE_HOME/huggingface/hub, ~/.cache/huggingface/hub. A leading '~' is
// expanded; empty variables count as unset.
std::filesystem::path HubCacheRoot();

// "org/name" -> "models--org--name", and back (nullopt for datasets, spaces and other entries).
std::string RepoFolderName(std::string_view repo_id);
std::optional<std::string> RepoIdFromFolderName(std::string_view folder);

bool IsCommitHash(std::string_view text);  // 40 lowercase hex digits, as the hub sends them
// A blob name: 1-128 of [A-Za-z0-9_-] (in practice a sha256 or sha1 in hex).
Status ValidateEtag(std::string_view etag);

// An exclusive flock() on a lock file, released when the object dies. Works between
// processes and between threads alike (each lock opens its own descriptor). The lock file is
// never deleted: a waiter would then hold a lock on an unlinked file while a newcomer locks a
// new one.
class BlobLock {
 public:
  // Waits as long as another holder keeps it. Creates the file and its folders.
  static Result<BlobLock> Acquire(const std::filesystem::path& lock_file);
  // Gives up after `timeout` (zero: a single try) with kUnavailable.
  static Result<BlobLock> TryAcquire(const std::filesystem::path& lock_file,
                                     std::chrono::milliseconds timeout);

  BlobLock(BlobLock&& other) noexcept;
  BlobLock& operator=(BlobLock&& other) noexcept;
  BlobLock(const BlobLock&) = delete;
  BlobLock& operator=(const BlobLock&) = delete;
  ~BlobLock();

  const std::filesystem::path& path() const { return path_; }

 private:
  BlobLock(std::filesystem::path path, int fd) : path_(std::move(path)), fd_(fd) {}
  void Release();

  std::filesystem::path path_;
  int fd_ = -1;
};

// One file of a cached snapshot, for `wick list`.
struct CachedFile {
  std::string path;            // in the repo: "sub/model-Q4_K_M.gguf"
  std::filesystem::path blob;  // where the bytes are (the entry itself if it is a copy)
  uint64_t size = 0;
  std::chrono::system_clock::time_point last_used;  // the blob's latest access or change
  bool is_gguf = false;
  std::string quant;  // GuessQuant(path) for GGUF files, else ""
};

struct CachedSnapshot {
  std::string commit;
  std::vector<std::string> refs;  // revisions pointing here: "main", "refs/pr/1"; sorted
  std::vector<CachedFile> files;  // sorted by path; links whose blob is gone are left out
};

struct CachedRepo {
  std::string repo;  // "org/name"
  std::filesystem::path dir;
  std::vector<CachedSnapshot> snapshots;  // sorted by commit
  uint64_t size = 0;  // bytes of its files, a blob counted once however many links it has
};

// What `wick verify` found wrong; printing it is the caller's business.
struct VerifyIssue {
  enum class Kind {
    kMismatch,      // a blob's bytes do not hash to its name
    kDanglingLink,  // a snapshot link whose blob is missing
    kIncomplete,    // a partial download (see `detail`: in progress, or left over)
    kUnreadable,    // a blob that could not be read (`detail`: the error)
  };
  Kind kind = Kind::kMismatch;
  std::string repo;
  std::filesystem::path path;
  std::string expected;  // kMismatch: the hash the name claims
  std::string actual;    // kMismatch: the hash of the bytes
  std::string detail;
};

struct VerifyReport {
  size_t blobs_checked = 0;
  uint64_t bytes_checked = 0;
  size_t blobs_unchecked = 0;  // named by something other than a sha256 or a git sha1
  std::vector<VerifyIssue> issues;
  bool ok() const { return issues.empty(); }
};

// The cache under one root. The path getters assume valid names (see model_ref.h and
// ValidateEtag); every method that touches the disk validates its arguments itself.
class HubCache {
 public:
  explicit HubCache(std::filesystem::path root) : root_(std::move(root)) {}
  const std::filesystem::path& root() const { return root_; }

  std::filesystem::path RepoDir(std::string_view repo) const;
  std::filesystem::path BlobPath(std::string_view repo, std::string_view etag) const;
  std::filesystem::path IncompletePath(std::string_view repo, std::string_view etag) const;
  std::filesystem::path SnapshotPath(std::string_view repo, std::string_view commit,
                                     std::string_view file) const;
  std::filesystem::path RefPath(std::string_view repo, std::string_view revision) const;
  std::filesystem::path LockPath(std::string_view repo, std::string_view etag) const;

  // The commit a revision names offline: a commit hash with a snapshot folder is itself;
  // anything else is read from refs/. nullopt when the cache does not know it.
  std::optional<std::string> ResolveRevision(std::string_view repo,
                                             std::string_view revision) const;
  // Records that `revision` is at `commit`; nothing to record when it is the commit itself.
  Status WriteRef(std::string_view repo, std::string_view revision, std::string_view commit) const;
  // Points snapshots/{commit}/{file} at blobs/{etag} (which must exist), replacing what was
  // there: the file changed on the hub, or an earlier link went stale.
  Status LinkSnapshot(std::string_view repo, std::string_view commit, std::string_view file,
                      std::string_view etag) const;
  // Makes a finished download the blob: flushes blobs/{etag}.incomplete to disk, renames it
  // to blobs/{etag}, flushes the folder. Call it holding the blob's lock, after checking
  // the bytes' hash.
  Result<std::filesystem::path> CommitBlob(std::string_view repo, std::string_view etag) const;

  Result<BlobLock> LockBlob(std::string_view repo, std::string_view etag) const;
  Result<BlobLock> TryLockBlob(std::string_view repo, std::string_view etag,
                               std::chrono::milliseconds timeout) const;

  // The snapshot path of `file` at `revision`, if it is there and its blob too.
  std::optional<std::filesystem::path> FindCached(std::string_view repo, std::string_view revision,
                                                  std::string_view file) const;
  // The files present in a snapshot, with sizes, for choosing a model offline (SelectGguf).
  std::vector<RepoFile> SnapshotFiles(std::string_view repo, std::string_view commit) const;

  // Every cached model repo, sorted by id. An absent root is an empty cache.
  Result<std::vector<CachedRepo>> List() const;

  // Deletes a repo's folder (lock files stay: see BlobLock); returns the bytes freed. Refuses
  // (kUnavailable) while a download into it is in progress.
  Result<uint64_t> RemoveRepo(std::string_view repo) const;
  // Deletes `file` from the snapshot `revision` names, or from every snapshot when it is
  // empty, then each blob no snapshot links to any more (unless a download holds its lock).
  // Snapshots left empty go with the refs that name them, and a repo left empty goes too.
  // Returns the bytes freed: 0 when another snapshot still uses the blob.
  Result<uint64_t> RemoveFile(std::string_view repo, std::string_view file,
                              std::string_view revision = {}) const;

  // Re-hashes blobs against their names (sha256, or git's blob sha1 for small files) and
  // reports dangling links and partial downloads, in one repo or (empty) all of them.
  // `on_blob` hears of each blob before it is hashed, for progress on large caches.
  Result<VerifyReport> Verify(std::string_view repo = {},
                              const std::function<void(const std::filesystem::path& blob,
                                                       uint64_t size)>& on_blob = {}) const;

 private:
  std::filesystem::path root_;
};

}  // namespace wick::hub
