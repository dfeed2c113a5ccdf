// The engine in this process as a Provider: requests are rendered with the model's chat
// template, tokenized and run on the BatchEngine, each choice its own sequence.
#pragma once

#include <string>
#include <variant>
#include <vector>

#include "engine/batch_engine.h"
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
};

// Most sequences one request may start (prompts x n).
inline constexpr int kMaxChoices = 16;

// The engine sequences of a request: each prompt rendered (chat: the template, with the
// generation prompt) and tokenized, n choices each with their own seed (seed + j when one is
// given, random otherwise). Errors are 400s naming the field.
std::variant<std::vector<engine::SequenceParams>, api::ApiError> BuildSequences(
    const LocalModel& model, const api::CompletionRequest& request);

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
