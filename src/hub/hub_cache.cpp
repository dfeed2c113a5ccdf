#include "hub/hub_cache.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <openssl/evp.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <thread>
#include <utility>

#include "core/sha256.h"
#include "core/user_dirs.h"

namespace wick::hub {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kRepoPrefix = "models--";
constexpr std::string_view kIncompleteSuffix = ".incomplete";
// Temporary names for atomic writes: hidden, and recognisable so scans skip them.
constexpr std::string_view kTempMarker = ".wick-tmp-";
constexpr size_t kMaxEtag = 128;
// How often a timed lock attempt retries: short against the seconds a download takes.
constexpr std::chrono::milliseconds kLockPoll{10};

Error OsError(const fs::path& path, std::string_view what, int err) {
  return Error(err == ENOENT ? ErrorCode::kNotFound : ErrorCode::kIo,
               fmt::format("{}: {}: {}", path.string(), what, std::strerror(err)));
}

Error FsError(const fs::path& path, std::string_view what, const std::error_code& ec) {
  return OsError(path, what, ec.value());
}

fs::path ExpandUser(const std::string& path) {
  if (path == "~") return HomeDir();
  if (path.starts_with("~/")) return HomeDir() / path.substr(2);
  return path;
}

bool IsHex(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  });
}

std::string Trim(std::string text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  size_t start = 0;
  while (start < text.size() && std::isspace(static_cast<unsigned char>(text[start]))) ++start;
  return text.substr(start);
}

bool IsTempName(const fs::path& path) {
  return path.filename().string().find(kTempMarker) != std::string::npos;
}

fs::path TempSibling(const fs::path& path) {
  static std::atomic<uint64_t> counter{0};
  return path.parent_path() / fmt::format(".{}{}{}-{}", path.filename().string(), kTempMarker,
                                          getpid(), counter.fetch_add(1));
}

Status FsyncPath(const fs::path& path, int flags) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return OsError(path, "cannot open", errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return OsError(path, "cannot flush to disk", err);
  return OkStatus();
}

// Writes a small file whole under a temporary name, then renames it into place, so readers
// see the old content or the new, never a mixture.
Status AtomicWriteFile(const fs::path& path, std::string_view content) {
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  if (ec) return FsError(path.parent_path(), "cannot create folder", ec);
  fs::path temp = TempSibling(path);
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return OsError(temp, "cannot create", errno);
  int err = 0;
  if (::write(fd, content.data(), content.size()) != static_cast<ssize_t>(content.size())) {
    err = errno != 0 ? errno : EIO;
  } else if (::fsync(fd) != 0) {
    err = errno;
  }
  ::close(fd);
  if (err == 0 && ::rename(temp.c_str(), path.c_str()) != 0) err = errno;
  if (err != 0) {
    ::unlink(temp.c_str());
    return OsError(path, "cannot write", err);
  }
  return OkStatus();
}

std::optional<std::string> ReadRefFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::string text(128, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  // huggingface_hub writes no newline, but a hand-edited ref may have one.
  text = Trim(std::move(text));
  if (!IsCommitHash(text)) return std::nullopt;
  return text;
}

std::chrono::system_clock::time_point ToTimePoint(const timespec& ts) {
  return std::chrono::system_clock::from_time_t(ts.tv_sec) +
         std::chrono::duration_cast<std::chrono::system_clock::duration>(
             std::chrono::nanoseconds(ts.tv_nsec));
}

// Where a snapshot link points, as a normal path (not resolved further).
std::optional<fs::path> LinkTarget(const fs::path& link) {
  std::error_code ec;
  fs::path target = fs::read_symlink(link, ec);
  if (ec) return std::nullopt;
  return (link.parent_path() / target).lexically_normal();
}

// Calls `visit(relative_path, entry)` for every file or link under `dir` (not folders,
// not temporary names), in no particular order.
template <typename Visit>
void ForEachEntry(const fs::path& dir, Visit visit) {
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, ec);
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code type_ec;
    if (it->is_directory(type_ec) && !it->is_symlink(type_ec)) continue;
    if (IsTempName(it->path())) continue;
    visit(it->path().lexically_relative(dir).generic_string(), it->path());
  }
}

// The names of the folders directly under `dir`, sorted; none when it is absent.
std::vector<std::string> SubfolderNames(const fs::path& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    std::error_code type_ec;
    if (it->is_directory(type_ec) && !it->is_symlink(type_ec)) {
      names.push_back(it->path().filename().string());
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

// Removes `from` and then its parents while they are empty, up to `stop`, which goes too
// only when `remove_stop`. Nothing happens unless `from` lies in `stop`.
void PruneEmptyFolders(const fs::path& from, const fs::path& stop, bool remove_stop) {
  if (std::mismatch(stop.begin(), stop.end(), from.begin(), from.end()).first != stop.end()) {
    return;
  }
  std::error_code ec;
  for (fs::path dir = from;; dir = dir.parent_path()) {
    const bool at_stop = dir == stop;
    if (at_stop && !remove_stop) return;
    if (!fs::is_empty(dir, ec) || ec || !fs::remove(dir, ec) || at_stop) return;
  }
}

// Every readable ref: its revision ("main", "refs/pr/1") and the commit it names.
std::map<std::string, std::string> ReadRefs(const fs::path& refs_dir) {
  std::map<std::string, std::string> refs;
  ForEachEntry(refs_dir, [&](const std::string& revision, const fs::path& path) {
    if (std::optional<std::string> commit = ReadRefFile(path)) refs[revision] = *commit;
  });
  return refs;
}

void RemoveRefsTo(const fs::path& refs_dir, std::string_view commit) {
  for (const auto& [revision, target] : ReadRefs(refs_dir)) {
    if (target != commit) continue;
    fs::path path = refs_dir / revision;
    std::error_code ec;
    fs::remove(path, ec);
    PruneEmptyFolders(path.parent_path(), refs_dir, /*remove_stop=*/false);
  }
}

// Whether any snapshot of the repo still links to `blob`.
bool IsLinked(const fs::path& repo_dir, const fs::path& blob) {
  bool linked = false;
  ForEachEntry(repo_dir / "snapshots", [&](const std::string&, const fs::path& path) {
    if (!linked && LinkTarget(path) == blob) linked = true;
  });
  return linked;
}

// git's name for a file: SHA-1 over "blob {size}\0" and the bytes. Small files on the hub are
// plain git objects, and their blobs are named by it.
Result<std::string> GitBlobSha1(const fs::path& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) return OsError(path, "cannot open", errno);
  struct stat st {};
  if (::fstat(fileno(file.get()), &st) != 0) return OsError(path, "cannot stat", errno);
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha1(), nullptr) != 1) {
    return Error(ErrorCode::kIo, fmt::format("{}: SHA-1 is unavailable", path.string()));
  }
  std::string header = fmt::format("blob {}", st.st_size);
  EVP_DigestUpdate(ctx.get(), header.c_str(), header.size() + 1);  // with its '\0'
  std::vector<char> block(1 << 20);
  size_t n;
  while ((n = std::fread(block.data(), 1, block.size(), file.get())) > 0) {
    EVP_DigestUpdate(ctx.get(), block.data(), n);
  }
  if (std::ferror(file.get())) return OsError(path, "cannot read", errno);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(ctx.get(), digest, &length);
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) hex += fmt::format("{:02x}", digest[i]);
  return hex;
}

std::string Lowercase(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

Status ValidateCommit(std::string_view commit) {
  if (IsCommitHash(commit)) return OkStatus();
  return Error(ErrorCode::kInvalidArgument,
               fmt::format("commit {}: expected 40 lowercase hex digits", Quote(commit)));
}

// The model repos under the root, sorted by id.
Result<std::vector<std::pair<std::string, fs::path>>> RepoDirs(const fs::path& root) {
  std::vector<std::pair<std::string, fs::path>> repos;
  std::error_code ec;
  if (!fs::exists(root, ec)) return repos;
  fs::directory_iterator it(root, ec);
  if (ec) return FsError(root, "cannot list", ec);
  for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
    std::optional<std::string> id = RepoIdFromFolderName(it->path().filename().string());
    std::error_code type_ec;
    if (id && it->is_directory(type_ec)) repos.emplace_back(*id, it->path());
  }
  if (ec) return FsError(root, "cannot list", ec);
  std::sort(repos.begin(), repos.end());
  return repos;
}

CachedRepo ListRepo(const std::string& repo, const fs::path& dir) {
  CachedRepo listed{.repo = repo, .dir = dir, .snapshots = {}, .size = 0};
  std::map<std::string, std::vector<std::string>> refs_by_commit;
  for (const auto& [revision, commit] : ReadRefs(dir / "refs")) {
    refs_by_commit[commit].push_back(revision);
  }
  std::set<fs::path> counted;
  for (const std::string& commit : SubfolderNames(dir / "snapshots")) {
    CachedSnapshot snapshot{.commit = commit, .refs = refs_by_commit[commit], .files = {}};
    ForEachEntry(dir / "snapshots" / commit, [&](const std::string& path, const fs::path& entry) {
      struct stat st {};
      if (::stat(entry.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return;  // dangling
      fs::path blob = LinkTarget(entry).value_or(entry);
      bool gguf = IsGgufName(path);
      snapshot.files.push_back(CachedFile{
          .path = path,
          .blob = blob,
          .size = static_cast<uint64_t>(st.st_size),
          .last_used = std::max(ToTimePoint(st.st_atim), ToTimePoint(st.st_mtim)),
          .is_gguf = gguf,
          .quant = gguf ? GuessQuant(path) : std::string(),
      });
      if (counted.insert(blob).second) listed.size += static_cast<uint64_t>(st.st_size);
    });
    std::sort(snapshot.files.begin(), snapshot.files.end(),
              [](const CachedFile& a, const CachedFile& b) { return a.path < b.path; });
    listed.snapshots.push_back(std::move(snapshot));
  }
  return listed;
}

VerifyIssue Issue(VerifyIssue::Kind kind, const std::string& repo, const fs::path& path,
                  std::string detail) {
  VerifyIssue issue;
  issue.kind = kind;
  issue.repo = repo;
  issue.path = path;
  issue.detail = std::move(detail);
  return issue;
}

void VerifyBlobs(const HubCache& cache, const std::string& repo, const fs::path& blobs_dir,
                 const std::function<void(const fs::path&, uint64_t)>& on_blob,
                 VerifyReport& report) {
  std::vector<fs::path> blobs;
  ForEachEntry(blobs_dir,
               [&](const std::string&, const fs::path& entry) { blobs.push_back(entry); });
  std::sort(blobs.begin(), blobs.end());
  for (const fs::path& blob : blobs) {
    std::string name = blob.filename().string();
    if (name.ends_with(kIncompleteSuffix)) {
      std::string etag = name.substr(0, name.size() - kIncompleteSuffix.size());
      Result<BlobLock> lock = cache.TryLockBlob(repo, etag, std::chrono::milliseconds(0));
      bool active = !lock.ok() && lock.error().code() == ErrorCode::kUnavailable;
      report.issues.push_back(
          Issue(VerifyIssue::Kind::kIncomplete, repo, blob,
                active ? "a download in progress" : "left over from an interrupted download"));
      continue;
    }
    const bool sha256 = IsSha256Hex(name);
    const bool sha1 = name.size() == 40 && IsHex(name);
    if (!sha256 && !sha1) {
      ++report.blobs_unchecked;
      continue;
    }
    std::error_code ec;
    uint64_t size = fs::file_size(blob, ec);
    if (on_blob) on_blob(blob, size);
    Result<std::string> actual = sha256 ? Sha256::HexOfFile(blob.string()) : GitBlobSha1(blob);
    if (!actual.ok()) {
      report.issues.push_back(
          Issue(VerifyIssue::Kind::kUnreadable, repo, blob, actual.error().message()));
      continue;
    }
    ++report.blobs_checked;
    report.bytes_checked += size;
    if (*actual == Lowercase(name)) continue;
    VerifyIssue issue =
        Issue(VerifyIssue::Kind::kMismatch, repo, blob, sha256 ? "sha256" : "git blob sha1");
    issue.expected = Lowercase(name);
    issue.actual = *actual;
    report.issues.push_back(std::move(issue));
  }
}

void VerifyLinks(const std::string& repo, const fs::path& snapshots_dir, VerifyReport& report) {
  std::vector<VerifyIssue> dangling;
  ForEachEntry(snapshots_dir, [&](const std::string&, const fs::path& entry) {
    std::error_code ec;
    if (!fs::is_symlink(entry, ec) || fs::exists(entry, ec)) return;
    dangling.push_back(Issue(VerifyIssue::Kind::kDanglingLink, repo, entry,
                             "points at missing " + fs::read_symlink(entry, ec).string()));
  });
  std::sort(dangling.begin(), dangling.end(),
            [](const VerifyIssue& a, const VerifyIssue& b) { return a.path < b.path; });
  for (VerifyIssue& issue : dangling) report.issues.push_back(std::move(issue));
}

}  // namespace

fs::path HubCacheRoot() {
  for (const char* name : {"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"}) {
    std::string value = EnvVar(name);
    if (!value.empty()) return ExpandUser(value);
  }
  std::string hf_home = EnvVar("HF_HOME");
  if (!hf_home.empty()) return ExpandUser(hf_home) / "hub";
  std::string xdg = EnvVar("XDG_CACHE_HOME");
  if (!xdg.empty()) return ExpandUser(xdg) / "huggingface" / "hub";
  return HomeDir() / ".cache" / "huggingface" / "hub";
}

std::string RepoFolderName(std::string_view repo_id) {
  std::string folder(kRepoPrefix);
  for (char c : repo_id) {
    if (c == '/') {
      folder += "--";
    } else {
      folder += c;
    }
  }
  return folder;
}

std::optional<std::string> RepoIdFromFolderName(std::string_view folder) {
  if (!folder.starts_with(kRepoPrefix)) return std::nullopt;
  std::string_view rest = folder.substr(kRepoPrefix.size());
  // Repo ids never hold "--", so the one separator is unambiguous.
  size_t separator = rest.find("--");
  if (separator == std::string_view::npos) return std::nullopt;
  std::string id = fmt::format("{}/{}", rest.substr(0, separator), rest.substr(separator + 2));
  if (!ValidateRepoId(id).ok()) return std::nullopt;
  return id;
}

bool IsCommitHash(std::string_view text) {
  return text.size() == 40 && std::all_of(text.begin(), text.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

Status ValidateEtag(std::string_view etag) {
  bool ok =
      !etag.empty() && etag.size() <= kMaxEtag && std::all_of(etag.begin(), etag.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
      });
  if (ok) return OkStatus();
  return Error(ErrorCode::kInvalidArgument, fmt::format("etag {}: not a blob name", Quote(etag)));
}

// --- BlobLock ---

Result<BlobLock> BlobLock::Acquire(const fs::path& lock_file) {
  return TryAcquire(lock_file, std::chrono::milliseconds::max());
}

Result<BlobLock> BlobLock::TryAcquire(const fs::path& lock_file,
                                      std::chrono::milliseconds timeout) {
  std::error_code ec;
  fs::create_directories(lock_file.parent_path(), ec);
  if (ec) return FsError(lock_file.parent_path(), "cannot create folder", ec);
  int fd = ::open(lock_file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return OsError(lock_file, "cannot open lock file", errno);
  BlobLock lock(lock_file, fd);
  if (timeout == std::chrono::milliseconds::max()) {
    while (::flock(fd, LOCK_EX) != 0) {
      if (errno != EINTR) return OsError(lock_file, "cannot lock", errno);
    }
    return lock;
  }
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK && errno != EINTR) return OsError(lock_file, "cannot lock", errno);
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) {
      return Error(ErrorCode::kUnavailable,
                   fmt::format("{}: locked by another download (waited {} ms)", lock_file.string(),
                               timeout.count()));
    }
    std::this_thread::sleep_for(
        std::min<std::chrono::steady_clock::duration>(kLockPoll, deadline - now));
  }
  return lock;
}

BlobLock::BlobLock(BlobLock&& other) noexcept
    : path_(std::move(other.path_)), fd_(std::exchange(other.fd_, -1)) {}

BlobLock& BlobLock::operator=(BlobLock&& other) noexcept {
  if (this != &other) {
    Release();
    path_ = std::move(other.path_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

BlobLock::~BlobLock() {
  Release();
}

void BlobLock::Release() {
  // The lock file stays: deleting it would let a waiter lock an unlinked file while a newcomer
  // locks a fresh one, and both download.
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

// --- HubCache: paths ---

fs::path HubCache::RepoDir(std::string_view repo) const {
  return root_ / RepoFolderName(repo);
}

fs::path HubCache::BlobPath(std::string_view repo, std::string_view etag) const {
  return RepoDir(repo) / "blobs" / etag;
}

fs::path HubCache::IncompletePath(std::string_view repo, std::string_view etag) const {
  return RepoDir(repo) / "blobs" / fmt::format("{}{}", etag, kIncompleteSuffix);
}

fs::path HubCache::SnapshotPath(std::string_view repo, std::string_view commit,
                                std::string_view file) const {
  return RepoDir(repo) / "snapshots" / commit / file;
}

fs::path HubCache::RefPath(std::string_view repo, std::string_view revision) const {
  return RepoDir(repo) / "refs" / revision;
}

fs::path HubCache::LockPath(std::string_view repo, std::string_view etag) const {
  return root_ / ".locks" / RepoFolderName(repo) / fmt::format("{}.lock", etag);
}

// --- HubCache: pulling ---

std::optional<std::string> HubCache::ResolveRevision(std::string_view repo,
                                                     std::string_view revision) const {
  if (!ValidateRepoId(repo).ok() || !ValidateRevision(revision).ok()) return std::nullopt;
  std::error_code ec;
  if (IsCommitHash(revision) && fs::is_directory(RepoDir(repo) / "snapshots" / revision, ec)) {
    return std::string(revision);
  }
  return ReadRefFile(RefPath(repo, revision));
}

Status HubCache::WriteRef(std::string_view repo, std::string_view revision,
                          std::string_view commit) const {
  WICK_RETURN_IF_ERROR(ValidateRepoId(repo));
  WICK_RETURN_IF_ERROR(ValidateRevision(revision));
  WICK_RETURN_IF_ERROR(ValidateCommit(commit));
  if (revision == commit) return OkStatus();
  return AtomicWriteFile(RefPath(repo, revision), commit);
}

Status HubCache::LinkSnapshot(std::string_view repo, std::string_view commit, std::string_view file,
                              std::string_view etag) const {
  WICK_RETURN_IF_ERROR(ValidateRepoId(repo));
  WICK_RETURN_IF_ERROR(ValidateCommit(commit));
  WICK_RETURN_IF_ERROR(ValidateRepoPath(file));
  WICK_RETURN_IF_ERROR(ValidateEtag(etag));
  fs::path blob = BlobPath(repo, etag);
  std::error_code ec;
  if (!fs::is_regular_file(blob, ec)) {
    return Error(ErrorCode::kNotFound,
                 fmt::format("{}: no such blob to link {} to", blob.string(), Quote(file)));
  }
  fs::path link = SnapshotPath(repo, commit, file);
  fs::create_directories(link.parent_path(), ec);
  if (ec) return FsError(link.parent_path(), "cannot create folder", ec);
  if (fs::is_directory(fs::symlink_status(link, ec))) {
    return Error(ErrorCode::kIo, fmt::format("{}: is a folder, not a file", link.string()));
  }
  // Relative, as huggingface_hub makes them, so the cache still works when moved or mounted
  // elsewhere: up out of the file's folders, the commit and snapshots/.
  std::string target;
  for (size_t i = 0; i < 2 + static_cast<size_t>(std::count(file.begin(), file.end(), '/')); ++i) {
    target += "../";
  }
  target += fmt::format("blobs/{}", etag);
  fs::path temp = TempSibling(link);
  if (::symlink(target.c_str(), temp.c_str()) != 0) {
    return OsError(temp, "cannot create link", errno);
  }
  if (::rename(temp.c_str(), link.c_str()) != 0) {
    int err = errno;
    ::unlink(temp.c_str());
    return OsError(link, "cannot replace", err);
  }
  return OkStatus();
}

Result<fs::path> HubCache::CommitBlob(std::string_view repo, std::string_view etag) const {
  WICK_RETURN_IF_ERROR(ValidateRepoId(repo));
  WICK_RETURN_IF_ERROR(ValidateEtag(etag));
  fs::path incomplete = IncompletePath(repo, etag);
  fs::path blob = BlobPath(repo, etag);
  // Data first, then the name, then the folder holding the name: after a crash, blobs/{etag}
  // either does not exist or holds every byte.
  WICK_RETURN_IF_ERROR(FsyncPath(incomplete, O_RDONLY));
  if (::rename(incomplete.c_str(), blob.c_str()) != 0) {
    return OsError(incomplete, "cannot rename to " + blob.filename().string(), errno);
  }
  WICK_RETURN_IF_ERROR(FsyncPath(blob.parent_path(), O_RDONLY | O_DIRECTORY));
  return blob;
}

Result<BlobLock> HubCache::LockBlob(std::string_view repo, std::string_view etag) const {
  WICK_RETURN_IF_ERROR(ValidateRepoId(repo));
  WICK_RETURN_IF_ERROR(ValidateEtag(etag));
  return BlobLock::Acquire(LockPath(repo, etag));
}

Result<BlobLock> HubCache::TryLockBlob(std::string_view repo, std::string_view etag,
                                       std::chrono::milliseconds timeout) const {
  WICK_RETURN_IF_ERROR(ValidateRepoId(repo));
  WICK_RETURN_IF_ERROR(ValidateEtag(etag));
  return BlobLock::TryAcquire(LockPath(repo, etag), timeout);
}

std::optional<fs::path> HubCache::FindCached(std::string_view repo, std::string_view revision,
                                             std::string_view file) const {
  if (!ValidateRepoPath(file).ok()) return std::nullopt;
  std::optional<std::string> commit = ResolveRevision(repo, revision);
  if (!commit) return std::nullopt;
  fs::path path = SnapshotPath(repo, *commit, file);
  std::error_code ec;
  // is_regular_file follows the link: a link to a missing blob is not a cached file.
  if (!fs::is_regular_file(path, ec)) return std::nullopt;
  return path;
}

std::vector<RepoFile> HubCache::SnapshotFiles(std::string_view repo,
                                              std::string_view commit) const {
  std::vector<RepoFile> files;
  if (!ValidateRepoId(repo).ok() || !IsCommitHash(commit)) return files;
  ForEachEntry(
      RepoDir(repo) / "snapshots" / commit, [&](const std::string& path, const fs::path& entry) {
        struct stat st {};
        if (::stat(entry.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
          files.push_back(RepoFile{.path = path, .size = static_cast<uint64_t>(st.st_size)});
        }
      });
  std::sort(files.begin(), files.end(),
            [](const RepoFile& a, const RepoFile& b) { return a.path < b.path; });
  return files;
}

// --- HubCache: wick list, rm, verify ---

Result<std::vector<CachedRepo>> HubCache::List() const {
  WICK_ASSIGN_OR_RETURN(auto dirs, RepoDirs(root_));
  std::vector<CachedRepo> repos;
  for (const auto& [repo, dir] : dirs) repos.push_back(ListRepo(repo, dir));
  return repos;
}

Result<uint64_t> HubCache::RemoveRepo(std::string_view repo) const {
  WICK_RETURN_IF_ERROR(ValidateRepoId(repo));
  fs::path dir = RepoDir(repo);
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return Error(ErrorCode::kNotFound, fmt::format("{}: not in the cache", dir.string()));
  }
  // Held until the folder is gone, so no download starts writing into it meanwhile; a
  // partial blob whose lock is taken is being downloaded right now.
  std::vector<BlobLock> locks;
  bool busy = false;
  uint64_t freed = 0;
  ForEachEntry(dir, [&](const std::string& path, const fs::path& entry) {
    std::error_code size_ec;
    if (!fs::is_symlink(entry, size_ec)) {
      uintmax_t size = fs::file_size(entry, size_ec);
      if (!size_ec) freed += size;
    }
    if (!path.starts_with("blobs/") || !path.ends_with(kIncompleteSuffix)) return;
    std::string etag = entry.filename().string();
    etag.resize(etag.size() - kIncompleteSuffix.size());
    Result<BlobLock> lock = TryLockBlob(repo, etag, std::chrono::milliseconds(0));
    if (lock.ok()) {
      locks.push_back(std::move(lock).value());
    } else {
      busy = busy || lock.error().code() == ErrorCode::kUnavailable;
    }
  });
  if (busy) {
    return Error(ErrorCode::kUnavailable,
                 fmt::format("{}: a download into it is in progress", dir.string()));
  }
  fs::remove_all(dir, ec);
  if (ec) return FsError(dir, "cannot remove", ec);
  return freed;
}

Result<uint64_t> HubCache::RemoveFile(std::string_view repo, std::string_view file,
                                      std::string_view revision) const {
  WICK_RETURN_IF_ERROR(ValidateRepoId(repo));
  WICK_RETURN_IF_ERROR(ValidateRepoPath(file));
  fs::path dir = RepoDir(repo);
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return Error(ErrorCode::kNotFound, fmt::format("{}: not in the cache", dir.string()));
  }
  std::vector<std::string> commits;
  if (revision.empty()) {
    commits = SubfolderNames(dir / "snapshots");
  } else {
    WICK_RETURN_IF_ERROR(ValidateRevision(revision));
    std::optional<std::string> commit = ResolveRevision(repo, revision);
    if (!commit) {
      return Error(ErrorCode::kNotFound, fmt::format("{}: revision {} is not in the cache",
                                                     dir.string(), Quote(revision)));
    }
    commits.push_back(*commit);
  }

  uint64_t freed = 0;
  std::vector<fs::path> blobs;
  bool found = false;
  for (const std::string& commit : commits) {
    fs::path snapshot = dir / "snapshots" / commit;
    fs::path link = snapshot / file;
    fs::file_status status = fs::symlink_status(link, ec);
    if (!fs::exists(status)) continue;
    if (fs::is_directory(status)) {
      return Error(ErrorCode::kInvalidArgument,
                   fmt::format("{}: is a folder, not a file", link.string()));
    }
    found = true;
    if (fs::is_symlink(status)) {
      if (std::optional<fs::path> blob = LinkTarget(link)) blobs.push_back(*blob);
    } else {
      uintmax_t size = fs::file_size(link, ec);
      freed += ec ? 0 : size;  // a copy, not a link: its bytes are its own
    }
    if (!fs::remove(link, ec) && ec) return FsError(link, "cannot remove", ec);
    PruneEmptyFolders(link.parent_path(), snapshot, /*remove_stop=*/true);
    if (!fs::exists(snapshot, ec)) RemoveRefsTo(dir / "refs", commit);
  }
  if (!found) {
    return Error(ErrorCode::kNotFound,
                 fmt::format("{}: no file {} in {}", dir.string(), Quote(file),
                             revision.empty() ? "any snapshot" : "revision " + Quote(revision)));
  }

  std::sort(blobs.begin(), blobs.end());
  blobs.erase(std::unique(blobs.begin(), blobs.end()), blobs.end());
  const fs::path blobs_dir = (dir / "blobs").lexically_normal();
  for (const fs::path& blob : blobs) {
    // Only blobs of this repo are ours to delete, whatever a hand-made link points at.
    if (blob.parent_path() != blobs_dir) continue;
    Result<BlobLock> lock =
        TryLockBlob(repo, blob.filename().string(), std::chrono::milliseconds(0));
    if (!lock.ok() || IsLinked(dir, blob)) continue;  // a pull is relinking it, or still in use
    uintmax_t size = fs::file_size(blob, ec);
    if (ec) continue;  // already gone
    if (!fs::remove(blob, ec) && ec) return FsError(blob, "cannot remove", ec);
    freed += size;
  }

  if (SubfolderNames(dir / "snapshots").empty() && fs::is_empty(dir / "blobs", ec)) {
    fs::remove_all(dir, ec);
    if (ec) return FsError(dir, "cannot remove", ec);
  }
  return freed;
}

Result<VerifyReport> HubCache::Verify(
    std::string_view repo,
    const std::function<void(const fs::path& blob, uint64_t size)>& on_blob) const {
  std::vector<std::pair<std::string, fs::path>> dirs;
  if (repo.empty()) {
    WICK_ASSIGN_OR_RETURN(dirs, RepoDirs(root_));
  } else {
    WICK_RETURN_IF_ERROR(ValidateRepoId(repo));
    std::error_code ec;
    if (!fs::is_directory(RepoDir(repo), ec)) {
      return Error(ErrorCode::kNotFound,
                   fmt::format("{}: not in the cache", RepoDir(repo).string()));
    }
    dirs.emplace_back(std::string(repo), RepoDir(repo));
  }
  VerifyReport report;
  for (const auto& [id, dir] : dirs) {
    VerifyBlobs(*this, id, dir / "blobs", on_blob, report);
    VerifyLinks(id, dir / "snapshots", report);
  }
  return report;
}

}  // namespace wick::hub
