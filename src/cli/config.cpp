// `wick config check [--config FILE]` validates a config file; `wick config show` prints the
// effective config (every default filled in, secrets masked).
#include "provider/config.h"

#include <cstdio>
#include <memory>

#include "cli/commands.h"

namespace wick::cli {

namespace {

struct ConfigOptions {
  std::string file;
};

// The file named by --config, else the default one, which must then exist: `check` on a
// missing file passing silently would hide that wick runs without any config.
Result<provider::Config> LoadFromOptions(const ConfigOptions& opts, std::string& path) {
  path = opts.file;
  if (path.empty()) {
    path = provider::DefaultConfigPath();
    if (path.empty()) {
      return Error(ErrorCode::kNotFound,
                   "no --config given and neither $XDG_CONFIG_HOME nor $HOME is set");
    }
  }
  return provider::LoadConfig(path);
}

int RunCheck(const ConfigOptions& opts) {
  std::string path;
  Result<provider::Config> config = LoadFromOptions(opts, path);
  if (!config.ok()) return ReportError(config.error().message());
  for (const std::string& warning : provider::ConfigWarnings(*config)) {
    std::fprintf(stderr, "wick: warning: %s: %s\n", path.c_str(), warning.c_str());
  }
  std::vector<std::string> names = config->ProviderNames();
  std::string list;
  for (const std::string& name : names) list += (list.empty() ? "" : ", ") + name;
  std::printf("%s: ok (%zu provider%s%s%s; strategy %s)\n", path.c_str(), names.size(),
              names.size() == 1 ? "" : "s", names.empty() ? "" : ": ", list.c_str(),
              std::string(provider::StrategyName(config->fallback.strategy)).c_str());
  return std::fflush(stdout) == 0 ? 0 : 1;
}

int RunShow(const ConfigOptions& opts) {
  std::string path;
  Result<provider::Config> config = LoadFromOptions(opts, path);
  if (!config.ok()) return ReportError(config.error().message());
  std::string text = "# " + path + "\n" + provider::ShowConfig(*config);
  std::fwrite(text.data(), 1, text.size(), stdout);
  return std::fflush(stdout) == 0 ? 0 : 1;
}

}  // namespace

void RegisterConfig(CLI::App& app, CommandRunner& runner) {
  auto opts = std::make_shared<ConfigOptions>();
  CLI::App* cmd = app.add_subcommand("config", "Check or show the configuration file");
  cmd->require_subcommand(1);
  CLI::App* check = cmd->add_subcommand("check", "Validate the configuration file");
  CLI::App* show = cmd->add_subcommand("show", "Print the effective configuration, secrets masked");
  for (CLI::App* sub : {check, show}) {
    sub->add_option("--config", opts->file,
                    "Config file (default: $XDG_CONFIG_HOME/wick/config.toml or "
                    "~/.config/wick/config.toml)");
  }
  check->callback([opts, &runner] { runner = [opts] { return RunCheck(*opts); }; });
  show->callback([opts, &runner] { runner = [opts] { return RunShow(*opts); }; });
}

}  // namespace wick::cli
