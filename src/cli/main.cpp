// The `wick` command line: parses the subcommand and hands over to it.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <exception>

#include "cli/commands.h"

namespace wick::cli {

int ReportError(const std::string& message) {
  std::fprintf(stderr, "wick: error: %s\n", message.c_str());
  return 1;
}

}  // namespace wick::cli

int main(int argc, char** argv) {
  CLI::App app{"wick: run large language models locally, fast"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "wick 0.1.0");
  bool verbose = false;
  app.add_flag("-v,--verbose", verbose, "Log more detail");

  wick::cli::CommandRunner runner;
  wick::cli::RegisterRun(app, runner);
  wick::cli::RegisterInspect(app, runner);
  wick::cli::RegisterTokenize(app, runner);
  wick::cli::RegisterLogits(app, runner);
  wick::cli::RegisterPerplexity(app, runner);
  wick::cli::RegisterBench(app, runner);
  wick::cli::RegisterChat(app, runner);
  wick::cli::RegisterCmd(app, runner);
  wick::cli::RegisterTemplate(app, runner);
  wick::cli::RegisterServe(app, runner);
  wick::cli::RegisterConfig(app, runner);
  wick::cli::RegisterUsage(app, runner);
  wick::cli::RegisterPull(app, runner);
  wick::cli::RegisterList(app, runner);
  wick::cli::RegisterRm(app, runner);
  wick::cli::RegisterVerify(app, runner);
  wick::cli::RegisterSynth(app, runner);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  spdlog::set_level(verbose ? spdlog::level::debug : spdlog::level::warn);
  try {
    return runner ? runner() : 2;
  } catch (const std::exception& e) {
    // Library calls report through Result; this only catches allocation failures and
    // the like, so the process still ends with one line rather than a crash.
    return wick::cli::ReportError(e.what());
  }
}
