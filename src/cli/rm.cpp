// `wick rm MODEL`: deletes a model from the hub cache. `org/name` removes the whole repo;
// `org/name:QUANT` or `org/name:FILE.gguf` removes those files (a split model's every part)
// from every cached revision, and each blob no other revision still uses.
#include <fmt/format.h>

#include <memory>
#include <set>

#include "cli/commands.h"
#include "hub/download.h"
#include "hub/hub_cache.h"

namespace wick::cli {

namespace {

int RunRm(const std::string& model) {
  Result<hub::ModelRef> ref = hub::ParseModelRef(model);
  if (!ref.ok()) return ReportError(ref.error().message());
  if (ref->kind != hub::ModelRef::Kind::kHub) {
    return ReportError(model + ": not a hub model (wick rm removes models from the hub cache)");
  }
  hub::HubCache cache(hub::HubCacheRoot());
  Result<std::vector<hub::CachedRepo>> repos = cache.List();
  if (!repos.ok()) return ReportError(repos.error().message());
  const hub::CachedRepo* repo = nullptr;
  for (const hub::CachedRepo& r : *repos) {
    if (r.repo == ref->repo) repo = &r;
  }
  if (repo == nullptr) return ReportError(ref->repo + " is not in the hub cache");
  if (ref->Spec().empty()) {
    Result<uint64_t> freed = cache.RemoveRepo(ref->repo);
    if (!freed.ok()) return ReportError(freed.error().message());
    fmt::print(stderr, "wick: removed {} ({} freed)\n", ref->repo,
               hub::FormatBytes(static_cast<int64_t>(*freed)));
    return 0;
  }
  // The files the reference means, in each cached snapshot (the same choice `wick run` makes).
  std::set<std::string> files;
  for (const hub::CachedSnapshot& snap : repo->snapshots) {
    Result<hub::Selection> chosen =
        hub::SelectGguf(cache.SnapshotFiles(ref->repo, snap.commit), ref->Spec());
    if (!chosen.ok()) continue;
    for (const hub::RepoFile& f : chosen->files) files.insert(f.path);
  }
  if (files.empty()) return ReportError(model + " matches no cached file of " + ref->repo);
  uint64_t freed = 0;
  for (const std::string& file : files) {
    Result<uint64_t> n = cache.RemoveFile(ref->repo, file);
    if (!n.ok()) return ReportError(n.error().message());
    freed += *n;
    fmt::print(stderr, "wick: removed {} {}\n", ref->repo, file);
  }
  fmt::print(stderr, "wick: {} freed\n", hub::FormatBytes(static_cast<int64_t>(freed)));
  return 0;
}

}  // namespace

void RegisterRm(CLI::App& app, CommandRunner& runner) {
  auto model = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand("rm", "Delete a model from the Hugging Face hub cache");
  cmd->add_option("model", *model, "org/name (the whole repo), org/name:QUANT or :FILE.gguf")
      ->required();
  cmd->callback([model, &runner] { runner = [model] { return RunRm(*model); }; });
}

}  // namespace wick::cli
