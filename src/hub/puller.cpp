#include "hub/puller.h"

#include <fmt/format.h>

#include <cctype>
#include <system_error>

#include "core/ascii.h"
#include "core/sha256.h"

namespace wick::hub {

namespace {

namespace fs = std::filesystem;

void Note(const PullOptions& options, const std::string& message) {
  if (options.on_note) options.on_note(message);
}

// The same choice as online, from what the cache holds for `revision`.
Result<PullResult> FromCache(const ModelRef& ref, const std::string& revision,
                             const HubCache& cache, const std::string& why) {
  std::optional<std::string> commit = cache.ResolveRevision(ref.repo, revision);
  if (!commit) {
    return Error(ErrorCode::kNotFound, fmt::format("{}@{} is not in the hub cache ({}) and {}",
                                                   ref.repo, revision, cache.root().string(), why));
  }
  Result<Selection> selection = SelectGguf(cache.SnapshotFiles(ref.repo, *commit), ref.Spec());
  if (!selection.ok()) {
    return std::move(selection).error().With(
        fmt::format("{} (cached snapshot {}; {})", ref.repo, commit->substr(0, 12), why));
  }
  PullResult result;
  result.repo = ref.repo;
  result.revision = revision;
  result.commit = *commit;
  result.quant = selection->quant;
  for (const RepoFile& f : selection->files) {
    std::optional<fs::path> local = cache.FindCached(ref.repo, *commit, f.path);
    if (!local) {
      return Error(ErrorCode::kNotFound,
                   fmt::format("{}: {} is not cached and {}", ref.repo, f.path, why));
    }
    result.files.push_back(
        {.path = f.path, .local = *local, .size = f.size, .source = "cache", .download = {}});
  }
  return result;
}

// Downloads one blob into the cache (the caller holds its lock): from each peer in turn, then
// from `hub_url` when there is one. Whatever the source, Download checks the sha256.
Result<PulledFile> Fetch(const std::string& repo, const std::string& path, int64_t size,
                         const std::string& etag, const std::string& sha256,
                         const std::string& hub_url, const HubClient& client, const HubCache& cache,
                         const PullOptions& options) {
  const std::string incomplete = cache.IncompletePath(repo, etag).string();
  std::error_code ec;
  fs::create_directories(fs::path(incomplete).parent_path(), ec);
  auto with_progress = [&](DownloadOptions d) {
    d.connections = options.connections;
    if (options.on_progress) {
      d.on_progress = [&](const DownloadProgress& p) { options.on_progress(path, p); };
    }
    return d;
  };
  PulledFile pulled;
  pulled.path = path;
  // A peer is only asked for what has a hash to check it against.
  if (!sha256.empty()) {
    for (const std::string& peer : options.peers) {
      const std::string url = fmt::format(
          "{}/v1/blobs/{}", peer.back() == '/' ? peer.substr(0, peer.size() - 1) : peer, sha256);
      DownloadOptions d = with_progress(client.DownloadOptionsFor(url));
      d.bearer_token = options.peer_api_key;  // never the hub's token
      Result<DownloadStats> got = Download(url, incomplete, size, sha256, d);
      if (got.ok()) {
        pulled.source = peer;
        pulled.download = *got;
        return pulled;
      }
      // Whatever a failed peer left is not worth resuming from another source.
      fs::remove(incomplete, ec);
      Note(options,
           fmt::format("peer {}: {}; trying the next source", peer, got.error().message()));
    }
  }
  if (hub_url.empty()) {
    return Error(ErrorCode::kUnavailable,
                 fmt::format("{}: {} could not be fetched from any peer", repo, path));
  }
  Result<DownloadStats> got = Download(hub_url, incomplete, size, sha256,
                                       with_progress(client.DownloadOptionsFor(hub_url)));
  if (!got.ok()) return std::move(got).error().With(fmt::format("{}: {}", repo, path));
  pulled.source = "hub";
  pulled.download = *got;
  return pulled;
}

// Puts one file of the commit in place: already linked, a blob some other revision brought,
// or a download under the blob's lock (a second pull of the same file waits, then finds it).
Result<PulledFile> Place(const std::string& repo, const std::string& commit,
                         const std::string& path, int64_t size, const std::string& etag,
                         const std::string& sha256, const std::function<Result<std::string>()>& url,
                         const HubClient& client, const HubCache& cache,
                         const PullOptions& options) {
  WICK_RETURN_IF_ERROR(ValidateEtag(etag));
  std::error_code ec;
  if (std::optional<fs::path> local = cache.FindCached(repo, commit, path)) {
    return PulledFile{.path = path,
                      .local = *local,
                      .size = fs::file_size(*local, ec),
                      .source = "cache",
                      .download = {}};
  }
  PulledFile pulled{.path = path, .local = {}, .size = 0, .source = "cache", .download = {}};
  if (!fs::exists(cache.BlobPath(repo, etag), ec)) {
    WICK_ASSIGN_OR_RETURN(BlobLock lock, cache.LockBlob(repo, etag));
    if (!fs::exists(cache.BlobPath(repo, etag), ec)) {
      std::string hub_url;
      if (url) {
        WICK_ASSIGN_OR_RETURN(hub_url, url());
      }
      WICK_ASSIGN_OR_RETURN(pulled,
                            Fetch(repo, path, size, etag, sha256, hub_url, client, cache, options));
      WICK_RETURN_IF_ERROR(cache.CommitBlob(repo, etag));
    }
  }
  WICK_RETURN_IF_ERROR(cache.LinkSnapshot(repo, commit, path, etag));
  pulled.local = cache.SnapshotPath(repo, commit, path);
  // The bytes on disk: the hub's size may be unknown (a peer fetch by hash alone).
  const auto on_disk = fs::file_size(pulled.local, ec);
  if (!ec) pulled.size = on_disk;
  return pulled;
}

// The hub cannot be asked: with peers and the file's sha256, a file named by path at a commit
// can still be fetched, since the cache needs nothing else to place it.
Result<PullResult> FromPeers(const ModelRef& ref, const std::string& revision,
                             const HubCache& cache, const HubClient& client,
                             const PullOptions& options) {
  if (!IsCommitHash(revision) || ref.file.empty() || !IsSha256Hex(options.sha256)) {
    return Error(ErrorCode::kInvalidArgument,
                 "fetching from peers without the hub needs a file (org/name:FILE.gguf), a "
                 "commit (--revision with 40 hex digits) and its --sha256");
  }
  const std::string sha256 = AsciiLower(options.sha256);
  WICK_ASSIGN_OR_RETURN(PulledFile file, Place(ref.repo, revision, ref.file, -1, sha256, sha256, {},
                                               client, cache, options));
  PullResult result;
  result.repo = ref.repo;
  result.revision = revision;
  result.commit = revision;
  result.quant = GuessQuant(ref.file);
  result.files.push_back(std::move(file));
  return result;
}

}  // namespace

uint64_t PullResult::bytes_downloaded() const {
  uint64_t total = 0;
  for (const PulledFile& f : files) total += static_cast<uint64_t>(f.download.bytes_downloaded);
  return total;
}

Result<PullResult> Pull(const ModelRef& ref, const HubCache& cache, const HubClient& client,
                        const PullOptions& options) {
  if (ref.kind != ModelRef::Kind::kHub) {
    return Error(ErrorCode::kInvalidArgument, "not a hub reference: " + ref.path);
  }
  const std::string revision = options.revision.empty() ? ref.revision : options.revision;
  WICK_RETURN_IF_ERROR(ValidateRevision(revision));
  if (options.offline || client.options().offline) {
    if (!options.peers.empty() && !options.sha256.empty()) {
      return FromPeers(ref, revision, cache, client, options);
    }
    return FromCache(ref, revision, cache,
                     "the hub is not asked offline (--offline, HF_HUB_OFFLINE=1)");
  }
  Result<RepoInfo> info = client.Info(ref.repo, revision);
  if (!info.ok()) {
    // Unreachable (not a refusal such as 401 or 404): what the cache has will do, as
    // huggingface_hub falls back to it.
    if (info.error().code() != ErrorCode::kUnavailable) return std::move(info).error();
    const std::string why = "the hub could not be reached: " + info.error().message();
    if (!options.peers.empty() && !options.sha256.empty()) {
      return FromPeers(ref, revision, cache, client, options);
    }
    Result<PullResult> cached = FromCache(ref, revision, cache, why);
    if (cached.ok()) Note(options, "the hub could not be reached; using the cached copy");
    return cached;
  }
  std::vector<RepoFile> listed;
  listed.reserve(info->files.size());
  for (const RemoteFile& f : info->files) {
    listed.push_back({.path = f.path, .size = f.size > 0 ? static_cast<uint64_t>(f.size) : 0});
  }
  Result<Selection> selection = SelectGguf(listed, ref.Spec());
  if (!selection.ok()) return std::move(selection).error().With(ref.repo);

  PullResult result;
  result.repo = ref.repo;
  result.revision = revision;
  result.commit = info->commit;
  result.quant = selection->quant;
  result.from_hub = true;
  for (const RepoFile& chosen : selection->files) {
    const RemoteFile* remote = info->Find(chosen.path);
    if (remote == nullptr || remote->etag.empty()) {
      return Error(ErrorCode::kCorrupt,
                   fmt::format("{}: the hub lists {} without its hash", ref.repo, chosen.path));
    }
    if (!options.sha256.empty() && remote->lfs && AsciiLower(options.sha256) != remote->sha256) {
      return Error(ErrorCode::kInvalidArgument,
                   fmt::format("{}: {} has sha256 {} on the hub, not the {} given", ref.repo,
                               chosen.path, remote->sha256, options.sha256));
    }
    // An LFS file's bytes are on the CDN its resolve URL redirects to: asking once here saves
    // every parallel range its own trip through the hub.
    const std::function<Result<std::string>()> url = [&]() -> Result<std::string> {
      if (!remote->lfs) return client.ResolveUrl(ref.repo, info->commit, chosen.path);
      WICK_ASSIGN_OR_RETURN(FileMeta meta, client.Head(ref.repo, info->commit, chosen.path));
      return meta.url;
    };
    WICK_ASSIGN_OR_RETURN(
        PulledFile file,
        Place(ref.repo, info->commit, chosen.path, remote->size, remote->etag,
              remote->lfs ? remote->sha256 : std::string(), url, client, cache, options));
    result.files.push_back(std::move(file));
  }
  WICK_RETURN_IF_ERROR(cache.WriteRef(ref.repo, revision, info->commit));
  return result;
}

std::optional<fs::path> FindBlob(const HubCache& cache, std::string_view sha256) {
  if (!IsSha256Hex(sha256)) return std::nullopt;
  const std::string name = AsciiLower(std::string(sha256));
  std::error_code ec;
  for (fs::directory_iterator it(cache.root(), ec), end; !ec && it != end; it.increment(ec)) {
    std::optional<std::string> repo = RepoIdFromFolderName(it->path().filename().string());
    if (!repo) continue;
    fs::path blob = cache.BlobPath(*repo, name);
    if (fs::is_regular_file(blob, ec)) return blob;
  }
  return std::nullopt;
}

}  // namespace wick::hub
