// What a user types where a model is named (-m, serve --models, [local] model_path): a path,
// or a Hugging Face hub reference (`org/name:quant`, `hf://org/name/file.gguf`) that is pulled
// into the hub cache on first use and read from there after, without the network. Every
// command resolves its model argument here, so they all accept the same names.
#pragma once

#include <string>
#include <vector>

#include "core/error.h"
#include "hub/puller.h"
#include "provider/config.h"

namespace wick::cli {

struct ResolveOptions {
  bool offline = false;            // never ask the hub (HF_HUB_OFFLINE=1 counts too)
  bool quiet = false;              // no progress on stderr
  bool refresh = false;            // ask the hub for the revision even when it is cached
  std::string revision;            // overrides a reference's @revision
  std::vector<std::string> peers;  // wick servers with --share-cache, asked before the hub
  std::string peer_api_key;
  std::string sha256;  // expected hash, for fetching from peers without the hub
  int connections = 8;
};

// From a config file's [hub]: its peers, their key, connections, offline.
ResolveOptions ResolveOptionsFrom(const provider::HubConfig& hub);

// Pulls (or finds in the cache) a hub reference, with a progress bar on a terminal and a
// line per file otherwise.
Result<hub::PullResult> PullModel(const hub::ModelRef& ref, const ResolveOptions& options);

// The local path of the model (a split model's first part). An existing path is returned as it
// is; a hub reference already in the cache is used without asking the hub.
Result<std::string> ResolveModel(const std::string& name, const ResolveOptions& options = {});

}  // namespace wick::cli
