// `wick list [--json] [--all]`: the models in the hub cache (whoever put them there): repo,
// file, quant, size and when each was last used. A split model is one line, its parts summed.
#include <fmt/chrono.h>
#include <fmt/format.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "hub/download.h"
#include "hub/hub_cache.h"
#include "io/gguf_split.h"

namespace wick::cli {

namespace {

struct ListOptions {
  bool json = false;
  bool all = false;  // non-GGUF files too
};

struct Row {
  std::string repo, file, quant, revisions, commit, path;
  uint64_t size = 0;
  int parts = 1;
  std::chrono::system_clock::time_point last_used;
};

std::string When(std::chrono::system_clock::time_point t) {
  return fmt::format("{:%Y-%m-%d %H:%M}", std::chrono::floor<std::chrono::seconds>(t));
}

std::vector<Row> Rows(const std::vector<hub::CachedRepo>& repos, bool all) {
  std::vector<Row> rows;
  for (const hub::CachedRepo& repo : repos) {
    for (const hub::CachedSnapshot& snap : repo.snapshots) {
      std::string revisions;
      for (const std::string& r : snap.refs) revisions += (revisions.empty() ? "" : ",") + r;
      for (const hub::CachedFile& f : snap.files) {
        if (!f.is_gguf && !all) continue;
        std::optional<GgufSplitName> split = ParseGgufSplitName(f.path);
        // The other parts fold into their set's first part.
        if (split && split->index > 1) {
          for (auto it = rows.rbegin(); it != rows.rend(); ++it) {
            if (it->repo == repo.repo && it->commit == snap.commit &&
                it->file == GgufSplitPath(split->prefix, 1, split->count)) {
              it->size += f.size;
              it->parts += 1;
              it->last_used = std::max(it->last_used, f.last_used);
              break;
            }
          }
          continue;
        }
        rows.push_back({.repo = repo.repo,
                        .file = f.path,
                        .quant = f.quant,
                        .revisions = revisions,
                        .commit = snap.commit,
                        .path = (repo.dir / "snapshots" / snap.commit / f.path).string(),
                        .size = f.size,
                        .parts = 1,
                        .last_used = f.last_used});
      }
    }
  }
  return rows;
}

int RunList(const ListOptions& opts) {
  hub::HubCache cache(hub::HubCacheRoot());
  Result<std::vector<hub::CachedRepo>> repos = cache.List();
  if (!repos.ok()) return ReportError(repos.error().message());
  const std::vector<Row> rows = Rows(*repos, opts.all);
  if (opts.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const Row& r : rows) {
      out.push_back(
          {{"repo", r.repo},
           {"file", r.file},
           {"quant", r.quant},
           {"size", r.size},
           {"parts", r.parts},
           {"revisions", r.revisions},
           {"commit", r.commit},
           {"path", r.path},
           {"last_used", fmt::format("{:%Y-%m-%dT%H:%M:%SZ}",
                                     std::chrono::floor<std::chrono::seconds>(r.last_used))}});
    }
    fmt::print("{}\n", out.dump(2));
    return 0;
  }
  if (rows.empty()) {
    fmt::print(stderr, "wick: no models in the hub cache ({})\n", cache.root().string());
    return 0;
  }
  size_t repo_w = 5, file_w = 4, quant_w = 5;
  for (const Row& r : rows) {
    repo_w = std::max(repo_w, r.repo.size());
    file_w = std::max(file_w, r.file.size() + (r.parts > 1 ? 12 : 0));
    quant_w = std::max(quant_w, r.quant.size());
  }
  fmt::print("{:<{}}  {:<{}}  {:<{}}  {:>10}  {}\n", "MODEL", repo_w, "FILE", file_w, "QUANT",
             quant_w, "SIZE", "LAST USED");
  uint64_t total = 0;
  for (const Row& r : rows) {
    const std::string file =
        r.parts > 1 ? fmt::format("{} (+{} parts)", r.file, r.parts - 1) : r.file;
    fmt::print("{:<{}}  {:<{}}  {:<{}}  {:>10}  {}\n", r.repo, repo_w, file, file_w, r.quant,
               quant_w, hub::FormatBytes(static_cast<int64_t>(r.size)), When(r.last_used));
    total += r.size;
  }
  fmt::print(stderr, "{} model{}, {} in {}\n", rows.size(), rows.size() == 1 ? "" : "s",
             hub::FormatBytes(static_cast<int64_t>(total)), cache.root().string());
  return 0;
}

}  // namespace

void RegisterList(CLI::App& app, CommandRunner& runner) {
  auto opts = std::make_shared<ListOptions>();
  CLI::App* cmd = app.add_subcommand("list", "List the models in the Hugging Face hub cache");
  cmd->add_flag("--json", opts->json, "JSON instead of a table");
  cmd->add_flag("--all", opts->all, "Every cached file, not only GGUF models");
  cmd->callback([opts, &runner] { runner = [opts] { return RunList(*opts); }; });
}

}  // namespace wick::cli
