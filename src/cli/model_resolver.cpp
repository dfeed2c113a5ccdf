#include "cli/model_resolver.h"

#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <system_error>

namespace wick::cli {

namespace {

// On a terminal one line redrawn in place per file; otherwise (logs, CI) one line per file
// when it is done, since a stream of carriage returns is noise there.
class ProgressPrinter {
 public:
  explicit ProgressPrinter(bool quiet) : quiet_(quiet), tty_(isatty(STDERR_FILENO) == 1) {}

  void Progress(const std::string& file, const hub::DownloadProgress& p) {
    if (quiet_ || !tty_) return;
    std::lock_guard lock(mu_);
    const std::string line = hub::ProgressLine(file, p);
    std::fprintf(stderr, "\r%-*s", static_cast<int>(std::max(width_, line.size())), line.c_str());
    width_ = line.size();
    open_ = true;
  }

  void Done(const hub::PulledFile& f) {
    if (quiet_) return;
    std::lock_guard lock(mu_);
    if (open_) std::fprintf(stderr, "\n");
    open_ = false;
    width_ = 0;
    if (f.source == "cache") return;
    const double s = f.download.seconds;
    const double mb = static_cast<double>(f.download.bytes_downloaded) / (1 << 20);
    std::fprintf(stderr, "wick: pulled %s (%s in %.1f s, %.1f MiB/s, from %s)\n", f.path.c_str(),
                 hub::FormatBytes(f.download.size).c_str(), s, s > 0 ? mb / s : 0.0,
                 f.source.c_str());
  }

  void Note(const std::string& message) {
    if (quiet_) return;
    std::lock_guard lock(mu_);
    if (open_) std::fprintf(stderr, "\n");
    open_ = false;
    std::fprintf(stderr, "wick: %s\n", message.c_str());
  }

 private:
  const bool quiet_;
  const bool tty_;
  std::mutex mu_;
  size_t width_ = 0;
  bool open_ = false;
};

}  // namespace

ResolveOptions ResolveOptionsFrom(const provider::HubConfig& hub) {
  ResolveOptions o;
  o.offline = hub.offline;
  o.peers = hub.peers;
  o.peer_api_key = hub.peer_api_key.value;
  o.connections = hub.connections;
  return o;
}

Result<hub::PullResult> PullModel(const hub::ModelRef& ref, const ResolveOptions& options) {
  hub::HubCache cache(hub::HubCacheRoot());
  hub::HubOptions hub_options = hub::HubOptions::FromEnvironment();
  hub_options.offline = hub_options.offline || options.offline;
  hub::HubClient client(hub_options);
  ProgressPrinter printer(options.quiet);
  hub::PullOptions pull;
  pull.revision = options.revision;
  pull.offline = hub_options.offline;
  pull.peers = options.peers;
  pull.peer_api_key = options.peer_api_key;
  pull.sha256 = options.sha256;
  pull.connections = options.connections;
  pull.on_progress = [&](const std::string& file, const hub::DownloadProgress& p) {
    printer.Progress(file, p);
  };
  pull.on_note = [&](const std::string& message) { printer.Note(message); };
  // Cached already: no network at all, as a second `wick run` should be.
  if (!options.refresh && !pull.offline) {
    hub::PullOptions cached = pull;
    cached.offline = true;
    cached.peers.clear();
    if (Result<hub::PullResult> found = hub::Pull(ref, cache, client, cached); found.ok()) {
      return found;
    }
  }
  WICK_ASSIGN_OR_RETURN(hub::PullResult result, hub::Pull(ref, cache, client, pull));
  for (const hub::PulledFile& f : result.files) printer.Done(f);
  return result;
}

Result<std::string> ResolveModel(const std::string& name, const ResolveOptions& options) {
  std::error_code ec;
  if (std::filesystem::exists(name, ec)) return name;
  WICK_ASSIGN_OR_RETURN(hub::ModelRef ref, hub::ParseModelRef(name));
  if (ref.kind == hub::ModelRef::Kind::kLocalPath) {
    return Error(ErrorCode::kNotFound, ref.path + ": no such file");
  }
  WICK_ASSIGN_OR_RETURN(hub::PullResult pulled, PullModel(ref, options));
  return pulled.model_path().string();
}

}  // namespace wick::cli
