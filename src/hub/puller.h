// Pulling a model: a reference (`org/name:q4_k_m`) in, local files out. Asks the hub which
// commit the revision is at and which files the reference means, takes what the cache already
// has, and downloads the rest (from peers first when any are given, then the hub) into the
// cache, each file checked against the sha256 the hub gives before it is moved into place.
// Offline (HF_HUB_OFFLINE=1, --offline), or when the hub cannot be reached, the same choice
// is made from the cached snapshot instead.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "hub/download.h"
#include "hub/hub_cache.h"
#include "hub/hub_client.h"
#include "hub/model_ref.h"

namespace wick::hub {

struct PullOptions {
  std::string revision;  // overrides the reference's @revision when set
  bool offline = false;  // never ask the hub (HubOptions::offline counts too)
  // Base URLs of wick servers run with --share-cache ("http://host:8080"): each LFS file is
  // asked for there first, by its sha256, and taken only if its bytes hash to it.
  std::vector<std::string> peers;
  std::string peer_api_key;  // sent to peers as a bearer key
  // The file's sha256 when the hub cannot be asked (offline, or unreachable): with peers, a
  // file named by path at a commit revision can still be fetched and checked.
  std::string sha256;
  int connections = 8;  // parallel ranges for big files
  std::function<void(const std::string& file, const DownloadProgress& progress)> on_progress;
  std::function<void(const std::string& message)> on_note;  // "using the cached copy: …"
};

struct PulledFile {
  std::string path;             // in the repo
  std::filesystem::path local;  // snapshots/{commit}/{path} in the cache
  uint64_t size = 0;
  std::string source;      // "cache", "hub", or the peer's URL
  DownloadStats download;  // when it was downloaded
};

struct PullResult {
  std::string repo;
  std::string revision;
  std::string commit;
  std::string quant;
  std::vector<PulledFile> files;  // a split model's parts in order
  bool from_hub = false;          // the hub was asked (false: offline or unreachable)

  // What loads the model: the file, or a split model's first part.
  const std::filesystem::path& model_path() const { return files.front().local; }
  uint64_t bytes_downloaded() const;
};

Result<PullResult> Pull(const ModelRef& ref, const HubCache& cache, const HubClient& client,
                        const PullOptions& options = {});

// The blob of that sha256 in any cached repo (what a peer serves); nullopt when none has it.
std::optional<std::filesystem::path> FindBlob(const HubCache& cache, std::string_view sha256);

}  // namespace wick::hub
