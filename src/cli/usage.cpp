// `wick usage [--config FILE] [--since DATE] [--by provider|model|key|day] [--json]`: spend and
// tokens from the usage ledger, as a markdown table or JSON.
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "provider/config.h"
#include "provider/ledger.h"

namespace wick::cli {

namespace {

using std::chrono::system_clock;

struct UsageOptions {
  std::string file;
  std::string since = "30d";
  std::string by = "provider";
  bool json = false;
};

// "YYYY-MM-DD" is that day's UTC midnight; anything else is a duration back from now ("7d").
Result<system_clock::time_point> ParseSince(const std::string& text) {
  int y = 0;
  unsigned m = 0, d = 0;
  char tail = 0;
  if (text.size() == 10 && std::sscanf(text.c_str(), "%4d-%2u-%2u%c", &y, &m, &d, &tail) == 3) {
    std::chrono::year_month_day ymd{std::chrono::year{y}, std::chrono::month{m},
                                    std::chrono::day{d}};
    if (!ymd.ok()) return Error(ErrorCode::kInvalidArgument, "--since " + text + ": no such date");
    // system_clock counts nanoseconds in 64 bits: it ends in 2262.
    if (y < 1970 || y > 2200) {
      return Error(ErrorCode::kOutOfRange,
                   "--since " + text + ": expected a year from 1970 to 2200");
    }
    return system_clock::time_point(std::chrono::sys_days(ymd));
  }
  Result<std::chrono::milliseconds> back = provider::ParseDuration(text);
  if (!back.ok()) {
    return Error(
        ErrorCode::kInvalidArgument,
        "--since " + Quote(text) + ": expected a date (YYYY-MM-DD) or a duration (7d, 24h)");
  }
  // A duration longer than the time since 1970 ("1000000d") means everything, not an overflow.
  system_clock::time_point now = system_clock::now();
  auto since_epoch = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch());
  if (*back >= since_epoch) return system_clock::time_point{};
  return now - *back;
}

// "2024-05-01T00:00:00Z", to the second.
std::string IsoTime(system_clock::time_point time) {
  auto secs = std::chrono::floor<std::chrono::seconds>(time);
  auto day = std::chrono::floor<std::chrono::days>(secs);
  std::chrono::year_month_day ymd{day};
  std::chrono::hh_mm_ss hms{secs - day};
  return fmt::format("{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}Z", static_cast<int>(ymd.year()),
                     static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                     hms.hours().count(), hms.minutes().count(), hms.seconds().count());
}

provider::GroupBy GroupFromName(const std::string& name) {
  if (name == "model") return provider::GroupBy::kModel;
  if (name == "key") return provider::GroupBy::kKey;
  if (name == "day") return provider::GroupBy::kDay;
  return provider::GroupBy::kProvider;
}

// The ledger the config names. Without --config, the default config when it exists, else the
// default ledger path; `wick usage` reads what was recorded even where recording is now off.
Result<provider::LedgerConfig> LedgerFromOptions(const UsageOptions& opts) {
  std::string path = opts.file;
  if (path.empty()) {
    std::string fallback = provider::DefaultConfigPath();
    std::error_code ec;
    if (!fallback.empty() && std::filesystem::exists(fallback, ec)) path = fallback;
  }
  Result<provider::Config> config =
      path.empty() ? provider::ParseConfig("", "(defaults)") : provider::LoadConfig(path);
  if (!config.ok()) return std::move(config).error();
  provider::LedgerConfig ledger = config->ledger;
  ledger.enabled = true;
  return ledger;
}

provider::UsageRow Total(const std::vector<provider::UsageRow>& rows) {
  provider::UsageRow total;
  total.group = "total";
  for (const provider::UsageRow& row : rows) {
    total.requests += row.requests;
    total.prompt_tokens += row.prompt_tokens;
    total.completion_tokens += row.completion_tokens;
    total.cost += row.cost;
    total.cache_hits += row.cache_hits;
    total.errors += row.errors;
  }
  return total;
}

nlohmann::json RowJson(const provider::UsageRow& row, bool with_group) {
  nlohmann::json out = nlohmann::json::object();
  if (with_group) out["group"] = row.group;
  out["requests"] = row.requests;
  out["prompt_tokens"] = row.prompt_tokens;
  out["completion_tokens"] = row.completion_tokens;
  out["cost"] = row.cost;
  out["cache_hits"] = row.cache_hits;
  out["errors"] = row.errors;
  return out;
}

std::string MarkdownCell(const std::string& text) {
  if (text.empty()) return "(none)";
  std::string out;
  for (char c : text) {
    if (c == '|') out += '\\';
    out += c;
  }
  return out;
}

std::string MarkdownLine(const std::string& group, const provider::UsageRow& row) {
  return fmt::format("| {} | {} | {} | {} | {:.4f} | {} | {} |\n", group, row.requests,
                     row.prompt_tokens, row.completion_tokens, row.cost, row.cache_hits,
                     row.errors);
}

int RunUsage(const UsageOptions& opts) {
  Result<system_clock::time_point> since = ParseSince(opts.since);
  if (!since.ok()) return ReportError(since.error().message());
  Result<provider::LedgerConfig> ledger_config = LedgerFromOptions(opts);
  if (!ledger_config.ok()) return ReportError(ledger_config.error().message());

  // A missing SQLite file means nothing was recorded yet: report that rather than create the
  // file (and its folders) as a side effect of reading.
  std::vector<provider::UsageRow> rows;
  std::error_code ec;
  if (!ledger_config->url.empty() || std::filesystem::exists(ledger_config->path, ec)) {
    Result<std::unique_ptr<provider::Ledger>> ledger = provider::OpenLedger(*ledger_config);
    if (!ledger.ok()) return ReportError(ledger.error().message());
    Result<std::vector<provider::UsageRow>> report =
        (*ledger)->Report(*since, GroupFromName(opts.by));
    if (!report.ok()) return ReportError(report.error().message());
    rows = std::move(*report);
  } else {
    std::fprintf(stderr, "wick: no usage recorded yet (%s does not exist)\n",
                 ledger_config->path.c_str());
  }
  provider::UsageRow total = Total(rows);

  std::string text;
  if (opts.json) {
    nlohmann::json out = {{"since", IsoTime(*since)}, {"by", opts.by}};
    out["rows"] = nlohmann::json::array();
    for (const provider::UsageRow& row : rows) out["rows"].push_back(RowJson(row, true));
    out["total"] = RowJson(total, false);
    text = out.dump(2) + "\n";
  } else {
    text = fmt::format("Usage since {}, by {}:\n\n", IsoTime(*since), opts.by);
    text += fmt::format(
        "| {} | requests | prompt tokens | completion tokens | cost USD | cache hits | errors |\n",
        opts.by);
    text += "| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n";
    for (const provider::UsageRow& row : rows) text += MarkdownLine(MarkdownCell(row.group), row);
    text += MarkdownLine("**total**", total);
  }
  std::fwrite(text.data(), 1, text.size(), stdout);
  return std::fflush(stdout) == 0 ? 0 : 1;
}

}  // namespace

void RegisterUsage(CLI::App& app, CommandRunner& runner) {
  auto opts = std::make_shared<UsageOptions>();
  CLI::App* cmd = app.add_subcommand("usage", "Report spend and tokens from the usage ledger");
  cmd->add_option("--config", opts->file,
                  "Config file naming the ledger (default: the default config file if it "
                  "exists, else ~/.local/share/wick/usage.db)");
  cmd->add_option("--since", opts->since,
                  "Start: a UTC date (YYYY-MM-DD) or a duration back from now (7d, 24h)")
      ->capture_default_str();
  cmd->add_option("--by", opts->by, "Group rows by provider, model, key or day")
      ->check(CLI::IsMember({"provider", "model", "key", "day"}))
      ->capture_default_str();
  cmd->add_flag("--json", opts->json, "Print JSON instead of a markdown table");
  cmd->callback([opts, &runner] { runner = [opts] { return RunUsage(*opts); }; });
}

}  // namespace wick::cli
