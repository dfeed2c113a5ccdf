// `wick pull REPO[:QUANT|:FILE] [--revision REV]`: a model from the Hugging Face hub into the
// hub cache that huggingface_hub and other tools share, checked by sha256, resumed if it was
// interrupted; peers (`--peer URL`, other wick servers run with --share-cache) are asked
// first. Prints the local path of the model on stdout.
#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <memory>

#include "cli/commands.h"
#include "cli/model_resolver.h"

namespace wick::cli {

namespace {

struct PullCommandOptions {
  std::string model;
  std::string config;  // its [hub]: peers and their key, connections
  ResolveOptions resolve;
};

int RunPull(PullCommandOptions opts) {
  if (!opts.config.empty()) {
    Result<provider::Config> config = provider::LoadConfig(opts.config);
    if (!config.ok()) return ReportError(config.error().message());
    const ResolveOptions from_file = ResolveOptionsFrom(config->hub);
    // The command line adds to the file.
    opts.resolve.peers.insert(opts.resolve.peers.begin(), from_file.peers.begin(),
                              from_file.peers.end());
    if (opts.resolve.peer_api_key.empty()) opts.resolve.peer_api_key = from_file.peer_api_key;
    opts.resolve.offline = opts.resolve.offline || from_file.offline;
  }
  Result<hub::ModelRef> ref = hub::ParseModelRef(opts.model);
  if (!ref.ok()) return ReportError(ref.error().message());
  if (ref->kind != hub::ModelRef::Kind::kHub) {
    return ReportError(opts.model + ": not a hub model (expected org/name[:quant|:file.gguf])");
  }
  // `pull` is how a cached model is brought up to date: always ask the hub (unless offline).
  opts.resolve.refresh = true;
  Result<hub::PullResult> pulled = PullModel(*ref, opts.resolve);
  if (!pulled.ok()) return ReportError(pulled.error().message());
  uint64_t size = 0;
  for (const hub::PulledFile& f : pulled->files) size += f.size;
  fmt::print(stderr, "wick: {}{} at {}: {} file{}, {}{}\n", pulled->repo,
             pulled->quant.empty() ? "" : ":" + pulled->quant, pulled->commit.substr(0, 12),
             pulled->files.size(), pulled->files.size() == 1 ? "" : "s",
             hub::FormatBytes(static_cast<int64_t>(size)),
             pulled->bytes_downloaded() == 0 ? " (already in the cache)" : "");
  fmt::print("{}\n", pulled->model_path().string());
  return 0;
}

}  // namespace

void RegisterPull(CLI::App& app, CommandRunner& runner) {
  auto opts = std::make_shared<PullCommandOptions>();
  CLI::App* cmd = app.add_subcommand(
      "pull", "Download a model from the Hugging Face hub into the shared hub cache");
  cmd->add_option("model", opts->model, "org/name, org/name:QUANT or org/name:FILE.gguf")
      ->required();
  cmd->add_option("--revision", opts->resolve.revision, "Branch, tag or commit (default: main)");
  cmd->add_flag("--offline", opts->resolve.offline,
                "Never ask the hub: use the cache (or peers with --sha256)");
  cmd->add_option("--peer", opts->resolve.peers,
                  "A wick server run with --share-cache to ask first (repeatable)");
  cmd->add_option("--sha256", opts->resolve.sha256,
                  "The file's sha256, for fetching from peers without the hub");
  cmd->add_option("--connections", opts->resolve.connections, "Parallel ranges for big files")
      ->check(CLI::Range(1, 64));
  cmd->add_flag("-q,--quiet", opts->resolve.quiet, "No progress output");
  cmd->add_option("--config", opts->config, "Peers and download settings from this file's [hub]");
  cmd->callback([opts, &runner] {
    if (const char* key = std::getenv("WICK_PEER_API_KEY")) opts->resolve.peer_api_key = key;
    runner = [opts] { return RunPull(*opts); };
  });
}

}  // namespace wick::cli
