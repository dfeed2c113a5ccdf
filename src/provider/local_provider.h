// The engine in this process as a Provider: requests are rendered with the model's chat
// template, tokenized and run on the BatchEngine, each choice its own sequence. Structured
// output (response_format) and forced tool calls are constrained decoding with a grammar;
// tool calls are read back out of the text in the model's format (local_output.h).
#pragma once

#include <string>
#include <variant>
#include <vector>

#include "engine/batch_engine.h"
#include "provider/grammar_cache.h"
#include "provider/local_output.h"
#include "provider/provider.h"
#include "text/chat_template.h"
#include "text/tokenizer.h"

namespace wick::provider {

// The loaded model a LocalProvider serves; everything must outlive the provider.
struct LocalModel {
  std::string id;  // the model name clients use
  const Tokenizer* tokenizer = nullptr;
  const ChatTemplate* chat_template = nullptr;
  engine::BatchEngine* engine = nullptr;
  Price price;  // usually zero
  // The model's compiled grammars and vocabulary trie, shared by every request to it; null:
  // LocalProvider makes one (the trie built on first use), and BuildRequest refuses requests
  // that need a grammar.
  std::shared_ptr<GrammarCache> grammars = {};
};

// Most sequences one request may start (prompts x n).
inline constexpr int kMaxChoices = 16;

// The engine sequences of a request: each prompt rendered (chat: the template, with the
// generation prompt and the tools unless tool_choice is "none") and tokenized, n choices each
// with their own seed (seed + j when one is given, random otherwise). No grammar yet: enough
// to count the prompt's tokens. Errors are 400s naming the field.
std::variant<std::vector<engine::SequenceParams>, api::ApiError> BuildSequences(
    const LocalModel& model, const api::CompletionRequest& request);

// A request ready to run: its sequences, constrained by the grammar of its response_format or
// forced tool call, and how their text becomes the answer.
struct BuiltRequest {
  std::vector<engine::SequenceParams> sequences;
  OutputPlan output;
};

// BuildSequences, then the grammar (from the model's GrammarCache) and the output plan. A
// schema the grammar cannot express is a 400 naming response_format or tools.
std::variant<BuiltRequest, api::ApiError> BuildRequest(const LocalModel& model,
                                                       const api::CompletionRequest& request);

// "stop" or "length", as OpenAI's finish_reason names how a sequence ended.
const char* FinishName(engine::FinishReason reason);

// The engine's log-probabilities with the tokens spelt out (their bytes).
std::vector<api::TokenLogprob> ConvertLogprobs(const Tokenizer& tokenizer,
                                               const std::vector<engine::TokenLogprob>& in);

// The 400 context_length_exceeded error, in OpenAI's words.
api::ApiError ContextLengthError(const api::CompletionRequest& request, int64_t n_ctx,
                                 size_t prompt_tokens, const std::string& detail);

class LocalProvider : public Provider {
 public:
  LocalProvider(LocalModel model, std::string name = "local");

  const ProviderInfo& info() const override { return info_; }
  std::variant<Outcome, Failure> Stream(const api::CompletionRequest& request,
                                        const DeltaSink& sink, const CancelToken& cancel) override;
  Health Probe() override { return Health::kHealthy; }  // in process: up while it exists
  std::optional<int64_t> CountPromptTokens(const api::CompletionRequest& request) const override;

 private:
  LocalModel model_;
  ProviderInfo info_;
};

}  // namespace wick::provider
