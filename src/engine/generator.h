// Generation for one sequence: tokenize the prompt, run it through the model in one batch,
// then sample token by token, streaming complete UTF-8 text to a callback, until an
// end-of-generation token, a stop string, the token limit, the context limit or a cancel.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "model/backend.h"
#include "model/kv_cache.h"
#include "model/llama.h"
#include "sampling/sampler_chain.h"
#include "text/grammar/grammar_matcher.h"
#include "text/tokenizer.h"

namespace wick::engine {

enum class StopReason { kEog, kStopString, kMaxTokens, kCancelled };

struct GenerateParams {
  std::string prompt;
  int64_t max_tokens = -1;             // -1: until EOG or the context is full
  std::vector<std::string> stop = {};  // generation ends before the first occurrence of any
  sampling::SamplingParams sampling = {};
  bool add_special = true;
  bool parse_special = false;
  bool ignore_eos = false;  // end-of-generation tokens are sampled around (benchmarks)
  // Keep the longest prefix of the cache that equals the new prompt's tokens and evaluate
  // only the rest (chat: each turn re-renders the whole conversation). Otherwise the prompt
  // is appended after whatever the cache holds.
  bool reuse_prefix = false;
  // Constrained decoding: only output this grammar allows; generation ends when it is whole.
  std::shared_ptr<text::CompiledGrammar> grammar = {};
};

struct GenerateStats {
  int64_t prompt_tokens = 0;
  int64_t reused_tokens = 0;  // of prompt_tokens, found in the cache (reuse_prefix)
  int64_t generated_tokens = 0;
  double prompt_ms = 0;
  double generate_ms = 0;
  StopReason stop = StopReason::kMaxTokens;
};

// Receives text as it becomes final (never half a UTF-8 character, never a prefix of a stop
// string that might still complete). Returning false cancels generation.
using TextSink = std::function<bool(std::string_view text)>;

// What one Generator::Step produced.
struct GenerateStep {
  std::string text;    // final text (as a TextSink would receive it), possibly empty
  int32_t token = -1;  // the token sampled, -1 when none was (the end, a cancel)
  bool done = false;   // the generation ended; Generator::stats() says why
};

class Generator {
 public:
  Generator(model::LlamaModel& model, const Tokenizer& tokenizer, model::Backend& backend,
            model::KvCache& cache);
  ~Generator();
  Generator(const Generator&) = delete;
  Generator& operator=(const Generator&) = delete;

  // Errors: an empty prompt, a prompt that does not fit the context, invalid sampling
  // parameters, a failing forward pass.
  // `on_start`, if given, runs once the prompt is known to fit, before it is evaluated.
  Result<GenerateStats> Generate(const GenerateParams& params, const TextSink& sink,
                                 const std::function<void()>& on_start = {});

  // The same generation a token at a time, for callers that must get back to an event loop
  // between tokens (the browser build). Start checks and evaluates the prompt (errors as
  // Generate's); each Step samples one token and evaluates it. After the step that reports
  // `done`, stats() holds the result and the next Start may follow. Errors end the generation.
  Status Start(const GenerateParams& params, const std::function<void()>& on_start = {});
  Result<GenerateStep> Step();
  // Ends the running generation at its next Step (which reports done, kCancelled).
  void Cancel();
  bool running() const { return running_ != nullptr; }
  const GenerateStats& stats() const { return stats_; }

  // Evaluates `tokens` without sampling, keeping the longest prefix the cache already holds
  // and dropping whatever followed it: builds a state to save (a system prompt) that a later
  // reuse_prefix Generate continues from. Errors: more tokens than the context holds, a
  // failing forward pass.
  Status Prefill(std::span<const int32_t> tokens);

  // Declares that the cache's n_past() positions hold `tokens` (it was filled elsewhere, e.g.
  // by LoadPromptState), so reuse_prefix generation evaluates only what follows them.
  // Errors: a token count other than the cache's n_past().
  Status RestoreState(std::vector<int32_t> tokens);

  // The tokens whose keys and values the cache holds (empty when it was filled elsewhere).
  std::span<const int32_t> cached_tokens() const { return cached_; }

 private:
  struct Running;

  // Runs `tokens` through the model after the cache's contents and records them.
  Status Evaluate(std::span<const int32_t> tokens, float* logits);
  // Ends the running generation; flushes held-back text into `step` unless it was cut short.
  GenerateStep Finish(GenerateStep step, StopReason reason);

  model::LlamaModel& model_;
  const Tokenizer& tokenizer_;
  model::Backend& backend_;
  model::KvCache& cache_;
  // The tokens whose keys and values the cache holds, position by position (when the cache
  // was only ever filled through this generator).
  std::vector<int32_t> cached_;
  std::unique_ptr<Running> running_;  // between Start and the last Step
  GenerateStats stats_;
};

}  // namespace wick::engine
