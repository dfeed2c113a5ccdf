// How `wick cmd` gets its answer: the question as a system prompt and a user message, the
// answer constrained to {"cmd": string, "explanation": string}, from a local model (with the
// system prompt's KV state saved to the cache folder and restored on the next call) or
// through the providers of a config file.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/model_resolver.h"
#include "core/error.h"
#include "sampling/sampler_chain.h"

namespace wick::cli {

struct CmdQuestion {
  std::string system;  // fixed per shell and OS: its KV state is cached
  std::string user;    // the request, with the working directory
  int64_t max_tokens = 256;
  sampling::SamplingParams sampling;
};

struct CmdTimings {
  double load_ms = 0;    // resolve, map and set up the model (local) or the routing
  double state_ms = 0;   // restore the system prompt's state, or evaluate and save it
  double prompt_ms = 0;  // the rest of the prompt
  double generate_ms = 0;
  int64_t prompt_tokens = 0;
  int64_t cached_tokens = 0;  // of prompt_tokens, restored instead of evaluated
  int64_t generated_tokens = 0;
  bool state_restored = false;
};

struct CmdAnswer {
  // False: generation stopped at max_tokens before the JSON was whole; `raw` is what came.
  bool finished = true;
  std::string raw;
  std::string cmd;
  std::string explanation;
  std::string model;  // what answered: a file path, or provider (model)
  CmdTimings timings;
};

// The schema every answer follows.
nlohmann::json CmdAnswerSchema();

// Parses the constrained output (or a remote model's reply) into cmd and explanation.
Result<CmdAnswer> ParseCmdAnswer(const std::string& text);

struct LocalCmdOptions {
  std::string model;  // path or hub reference
  ResolveOptions resolve;
  int threads = 0;
  int64_t ctx_size = 0;  // 0: 4096, or the model's when smaller
  bool state_cache = true;
};

Result<CmdAnswer> AskLocal(const CmdQuestion& question, const LocalCmdOptions& options);

// Through the router of `config_path` (its [local] model or its remotes; `route` as a
// request's model field: "auto", a provider, provider/model), with response_format.
Result<CmdAnswer> AskRouted(const CmdQuestion& question, const std::string& config_path,
                            const std::string& model_flag, const std::string& route, int threads);

}  // namespace wick::cli
