// `wick cmd "REQUEST"`: natural language to one shell command for the user's shell, with an
// explanation and a risk rating, from a local model (the default one is pulled on first use)
// or the providers of a config file. Nothing runs unless --run is given and the user confirms
// on the terminal; a dangerous command needs the whole word "yes".
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "cli/cmd_ask.h"
#include "cli/commands.h"
#include "core/ascii.h"
#include "provider/config.h"
#include "shell/command_risk.h"
#include "shell/shell_context.h"

namespace wick::cli {
namespace {

constexpr const char* kDefaultCmdModel = "Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF:q4_k_m";

struct CmdOptions {
  std::vector<std::string> words;
  std::string model;
  std::string config;
  std::string route = "auto";
  std::string shell;
  bool run = false;
  bool json = false;
  bool dry_run = false;
  bool timings = false;
  bool no_cache = false;
  bool offline = false;
  int threads = 0;
  int64_t ctx_size = 0;
  int64_t max_tokens = 256;
  sampling::SamplingParams sampling{.temperature = 0};
};

bool UseColor() {
  return isatty(STDOUT_FILENO) != 0 && std::getenv("NO_COLOR") == nullptr;
}

const char* RiskColor(shell::Risk risk) {
  switch (risk) {
    case shell::Risk::kSafe:
      return "\033[32m";
    case shell::Risk::kCaution:
      return "\033[33m";
    case shell::Risk::kDangerous:
      return "\033[1;31m";
  }
  return "";
}

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
  return out;
}

// Asks on the terminal itself: standard input may be the request.
bool Confirm(shell::Risk risk, const std::vector<std::string>& reasons) {
  FILE* tty = std::fopen("/dev/tty", "r+");
  if (tty == nullptr) {
    std::fprintf(stderr, "wick: not running it: no terminal to confirm on\n");
    return false;
  }
  std::string reason_text;
  for (const std::string& r : reasons) reason_text += (reason_text.empty() ? "" : "; ") + r;
  if (risk == shell::Risk::kDangerous) {
    std::fprintf(
        tty, "This command is DANGEROUS (%s).\nType 'yes' to run it anyway: ", reason_text.c_str());
  } else {
    std::fprintf(tty, "Run it? [y/N] ");
  }
  std::fflush(tty);
  char line[64] = {};
  const bool got = std::fgets(line, sizeof line, tty) != nullptr;
  std::fclose(tty);
  if (!got) return false;
  const std::string answer(TrimAscii(line));
  if (risk == shell::Risk::kDangerous) return answer == "yes";
  return EqualsIgnoreCase(answer, "y") || EqualsIgnoreCase(answer, "yes");
}

void PrintTimings(const CmdTimings& t, double total_ms) {
  std::fprintf(
      stderr,
      "wick: load %.0f ms | system prompt %s %.0f ms | prompt %lld tokens (%lld cached) "
      "%.0f ms | generated %lld tokens %.0f ms (%.1f t/s) | total %.0f ms\n",
      t.load_ms, t.state_restored ? "restored" : "evaluated", t.state_ms,
      static_cast<long long>(t.prompt_tokens), static_cast<long long>(t.cached_tokens), t.prompt_ms,
      static_cast<long long>(t.generated_tokens), t.generate_ms,
      t.generate_ms > 0 ? 1000.0 * static_cast<double>(t.generated_tokens) / t.generate_ms : 0.0,
      total_ms);
}

Result<std::string> RequestText(const CmdOptions& opts) {
  std::string text;
  for (const std::string& w : opts.words) text += (text.empty() ? "" : " ") + w;
  if (text.empty() || text == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }
  text = std::string(TrimAscii(text));
  if (text.empty()) {
    return Error(ErrorCode::kInvalidArgument,
                 "say what the command should do, e.g. wick cmd "
                 "\"find files over 100MB changed this week\"");
  }
  return text;
}

// -m, else --config's (or the default config file's) [local] model or its providers, else
// the default model, pulled on first use.
Result<CmdAnswer> Ask(const CmdOptions& opts, const CmdQuestion& question) {
  std::string config_path = opts.config;
  if (config_path.empty() && opts.model.empty()) {
    const std::string fallback = provider::DefaultConfigPath();
    if (!fallback.empty() && std::ifstream(fallback).good()) config_path = fallback;
  }
  ResolveOptions resolve;
  resolve.offline = opts.offline;
  if (!config_path.empty()) {
    WICK_ASSIGN_OR_RETURN(provider::Config config, provider::LoadConfig(config_path));
    resolve = ResolveOptionsFrom(config.hub);
    resolve.offline = resolve.offline || opts.offline;
    const std::string local = !opts.model.empty() ? opts.model : config.local.model_path;
    if (!local.empty() && opts.route == "auto") {
      return AskLocal(question, {.model = local,
                                 .resolve = resolve,
                                 .threads = opts.threads,
                                 .ctx_size = opts.ctx_size,
                                 .state_cache = !opts.no_cache});
    }
    return AskRouted(question, config_path, opts.model, opts.route, opts.threads);
  }
  return AskLocal(question, {.model = opts.model.empty() ? kDefaultCmdModel : opts.model,
                             .resolve = resolve,
                             .threads = opts.threads,
                             .ctx_size = opts.ctx_size,
                             .state_cache = !opts.no_cache});
}

int RunCmd(const CmdOptions& opts) {
  const auto start = std::chrono::steady_clock::now();
  Result<std::string> request = RequestText(opts);
  if (!request.ok()) return ReportError(request.error().message());
  std::optional<shell::ShellKind> forced;
  if (!opts.shell.empty()) {
    Result<shell::ShellKind> kind = shell::ParseShellKind(opts.shell);
    if (!kind.ok()) return ReportError(kind.error().message());
    forced = *kind;
  }
  const shell::ShellContext context = shell::CurrentShellContext(forced);
  CmdQuestion question{.system = shell::CommandSystemPrompt(context.shell, context.os),
                       .user = shell::CommandUserMessage(context, *request),
                       .max_tokens = opts.max_tokens,
                       .sampling = opts.sampling};
  Result<CmdAnswer> answer = Ask(opts, question);
  if (!answer.ok()) return ReportError(answer.error().message());
  const double total_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  if (opts.timings) PrintTimings(answer->timings, total_ms);
  if (!answer->finished) {
    return ReportError(fmt::format("the answer did not finish within {} tokens (raise -n): {}",
                                   opts.max_tokens, answer->raw.substr(0, 200)));
  }
  const shell::RiskReport risk = shell::RateCommand(answer->cmd);
  const CmdTimings& t = answer->timings;

  if (opts.json) {
    nlohmann::ordered_json out = {{"cmd", answer->cmd},
                                  {"explanation", answer->explanation},
                                  {"risk", std::string(shell::RiskName(risk.risk))},
                                  {"reasons", risk.reasons},
                                  {"shell", context.shell_path},
                                  {"model", answer->model},
                                  {"timings",
                                   {{"load_ms", t.load_ms},
                                    {"state_ms", t.state_ms},
                                    {"prompt_ms", t.prompt_ms},
                                    {"generate_ms", t.generate_ms},
                                    {"total_ms", total_ms},
                                    {"prompt_tokens", t.prompt_tokens},
                                    {"cached_tokens", t.cached_tokens},
                                    {"generated_tokens", t.generated_tokens},
                                    {"state_restored", t.state_restored}}}};
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    const bool color = UseColor();
    std::printf("%s%s%s\n", color ? "\033[1m" : "", answer->cmd.c_str(), color ? "\033[0m" : "");
    std::printf("%s\n", answer->explanation.c_str());
    std::string reasons;
    for (const std::string& r : risk.reasons) reasons += (reasons.empty() ? "" : "; ") + r;
    std::printf("risk: %s%s%s%s\n", color ? RiskColor(risk.risk) : "",
                Upper(shell::RiskName(risk.risk)).c_str(), color ? "\033[0m" : "",
                reasons.empty() ? "" : (" (" + reasons + ")").c_str());
  }
  std::fflush(stdout);
  if (!opts.run || opts.dry_run) return 0;
  if (!Confirm(risk.risk, risk.reasons)) {
    std::fprintf(stderr, "wick: not run\n");
    return 1;
  }
  Result<int> status = shell::RunInShell(context, answer->cmd);
  if (!status.ok()) return ReportError(status.error().message());
  return *status;
}

}  // namespace

void RegisterCmd(CLI::App& app, CommandRunner& runner) {
  auto opts = std::make_shared<CmdOptions>();
  CLI::App* cmd = app.add_subcommand(
      "cmd", "Turn a request in plain words into one shell command, explained and risk-rated");
  cmd->add_option("request", opts->words, "What the command should do ('-' or none: stdin)");
  cmd->add_option("-m,--model", opts->model,
                  std::string("Model file or hub reference (default: the config's, else ") +
                      kDefaultCmdModel + ")");
  cmd->add_option("--config", opts->config, "Providers file (default: the user's config)");
  cmd->add_option("--route", opts->route, "With a config: auto, a provider or provider/model");
  cmd->add_option("--shell", opts->shell, "bash, zsh, fish or sh (default: from $SHELL)");
  cmd->add_flag("--run", opts->run, "Offer to run the command (asks first)");
  cmd->add_flag("--dry-run", opts->dry_run, "Never run anything, even with --run");
  cmd->add_flag("--json", opts->json, "Print a JSON object instead");
  cmd->add_flag("--timings", opts->timings, "Print the latency breakdown on stderr");
  cmd->add_flag("--no-cache", opts->no_cache, "Do not save or restore the system prompt state");
  cmd->add_flag("--offline", opts->offline, "Never ask the hub");
  cmd->add_option("-n,--max-tokens", opts->max_tokens, "Tokens for the answer, at most");
  cmd->add_option("-t,--threads", opts->threads, "Threads (default: physical cores)");
  cmd->add_option("-c,--ctx-size", opts->ctx_size, "Context size (default: 4096)");
  AddSamplingOptions(*cmd, opts->sampling);
  opts->sampling.temperature = 0;  // greedy unless --temp says otherwise
  cmd->callback([opts, &runner] { runner = [opts] { return RunCmd(*opts); }; });
}

}  // namespace wick::cli
