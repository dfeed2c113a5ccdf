// `wick verify [MODEL]`: re-hashes the hub cache's blobs against their names (the sha256 the
// hub gave, or git's sha1 for small files) and reports any mismatch, dangling link or partial
// download. Exit status 1 when something is wrong.
#include <fmt/format.h>
#include <unistd.h>

#include <memory>

#include "cli/commands.h"
#include "hub/download.h"
#include "hub/hub_cache.h"

namespace wick::cli {

namespace {

const char* KindName(hub::VerifyIssue::Kind kind) {
  switch (kind) {
    case hub::VerifyIssue::Kind::kMismatch:
      return "MISMATCH";
    case hub::VerifyIssue::Kind::kDanglingLink:
      return "DANGLING";
    case hub::VerifyIssue::Kind::kIncomplete:
      return "PARTIAL";
    case hub::VerifyIssue::Kind::kUnreadable:
      return "UNREADABLE";
  }
  return "?";
}

int RunVerify(const std::string& model) {
  std::string repo;
  if (!model.empty()) {
    Result<hub::ModelRef> ref = hub::ParseModelRef(model);
    if (!ref.ok()) return ReportError(ref.error().message());
    if (ref->kind != hub::ModelRef::Kind::kHub) return ReportError(model + ": not a hub model");
    repo = ref->repo;
  }
  hub::HubCache cache(hub::HubCacheRoot());
  const bool tty = isatty(STDERR_FILENO) == 1;
  Result<hub::VerifyReport> report =
      cache.Verify(repo, [&](const std::filesystem::path& blob, uint64_t size) {
        if (tty) {
          fmt::print(stderr, "\rchecking {} ({})\033[K", blob.filename().string().substr(0, 16),
                     hub::FormatBytes(static_cast<int64_t>(size)));
        }
      });
  if (tty) fmt::print(stderr, "\r\033[K");
  if (!report.ok()) return ReportError(report.error().message());
  for (const hub::VerifyIssue& issue : report->issues) {
    std::string line =
        fmt::format("{:<10} {} {}", KindName(issue.kind), issue.repo, issue.path.string());
    if (issue.kind == hub::VerifyIssue::Kind::kMismatch) {
      line += fmt::format(": named {} but hashes to {}", issue.expected, issue.actual);
    } else if (!issue.detail.empty()) {
      line += ": " + issue.detail;
    }
    fmt::print("{}\n", line);
  }
  fmt::print(stderr, "wick: checked {} blob{} ({}){}: {}\n", report->blobs_checked,
             report->blobs_checked == 1 ? "" : "s",
             hub::FormatBytes(static_cast<int64_t>(report->bytes_checked)),
             report->blobs_unchecked > 0
                 ? fmt::format(", {} not named by a hash", report->blobs_unchecked)
                 : std::string(),
             report->ok() ? "ok" : fmt::format("{} problem(s)", report->issues.size()));
  return report->ok() ? 0 : 1;
}

}  // namespace

void RegisterVerify(CLI::App& app, CommandRunner& runner) {
  auto model = std::make_shared<std::string>();
  CLI::App* cmd =
      app.add_subcommand("verify", "Re-hash the hub cache's files and report any mismatch");
  cmd->add_option("model", *model, "org/name to check one repo (default: the whole cache)");
  cmd->callback([model, &runner] { runner = [model] { return RunVerify(*model); }; });
}

}  // namespace wick::cli
