// Each subcommand lives in its own file and registers itself on the root CLI11 app.
// A command's callback returns the process exit code: 0 success, 1 failure (after one
// "wick: error: ..." line on stderr), 2 bad usage.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>

#include "core/error.h"
#include "sampling/sampler_chain.h"

namespace wick::cli {

using CommandRunner = std::function<int()>;

// Adds `inspect` to `app`; on parse, stores its runner in `runner`.
void RegisterInspect(CLI::App& app, CommandRunner& runner);
void RegisterTokenize(CLI::App& app, CommandRunner& runner);
void RegisterLogits(CLI::App& app, CommandRunner& runner);
void RegisterPerplexity(CLI::App& app, CommandRunner& runner);
void RegisterRun(CLI::App& app, CommandRunner& runner);
void RegisterSynth(CLI::App& app, CommandRunner& runner);
void RegisterBench(CLI::App& app, CommandRunner& runner);
void RegisterChat(CLI::App& app, CommandRunner& runner);
void RegisterCmd(CLI::App& app, CommandRunner& runner);
void RegisterTemplate(CLI::App& app, CommandRunner& runner);
void RegisterServe(CLI::App& app, CommandRunner& runner);
void RegisterConfig(CLI::App& app, CommandRunner& runner);
void RegisterUsage(CLI::App& app, CommandRunner& runner);
void RegisterPull(CLI::App& app, CommandRunner& runner);
void RegisterList(CLI::App& app, CommandRunner& runner);
void RegisterRm(CLI::App& app, CommandRunner& runner);
void RegisterVerify(CLI::App& app, CommandRunner& runner);

// Helpers the subcommands share.

// The text given with -p, or the exact bytes of the file given with -f ("-": standard input).
Result<std::string> ReadTextInput(const std::string& text, const std::string& file);

// --temp, --top-k, --top-p, --min-p, --repeat-penalty, --repeat-last-n, --seed.
void AddSamplingOptions(CLI::App& cmd, sampling::SamplingParams& params);

// Prints "wick: error: <message>" on stderr and returns 1.
int ReportError(const std::string& message);

}  // namespace wick::cli
