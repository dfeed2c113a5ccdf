// The engine as a Provider: streamed deltas, the non-streaming call built on them, usage,
// failures (context length, bad request, cancel) and exact prompt token counts.
#include "provider/local_provider.h"

#include <gtest/gtest.h>

#include "io/gguf_file.h"
#include "model/backend.h"
#include "test_support.h"

namespace wick::provider {
namespace {

class LocalProviderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WICK_REQUIRE_SHARED(shared);
    Result<GgufFile> file = GgufFile::Open(shared / "models/stories260K.gguf");
    ASSERT_TRUE(file.ok());
    file_ = std::make_unique<GgufFile>(std::move(*file));
    tokenizer_ = std::move(*Tokenizer::FromGguf(*file_));
    model_ = std::make_unique<model::LlamaModel>(std::move(*model::LlamaModel::Load(*file_)));
    chat_template_ = std::make_unique<ChatTemplate>(*ChatTemplate::FromGguf(*file_, *tokenizer_));
    engine_ = std::move(*engine::BatchEngine::Create(
        *model_, *tokenizer_, backend_,
        {.n_parallel = 2, .n_ctx = 256, .kv_type = DType::kF16, .n_batch = 64, .queue_size = 8}));
    provider_ = std::make_unique<LocalProvider>(LocalModel{.id = "stories",
                                                           .tokenizer = tokenizer_.get(),
                                                           .chat_template = chat_template_.get(),
                                                           .engine = engine_.get(),
                                                           .price = {.input = 1, .output = 2}});
  }

  static api::CompletionRequest TextRequest(const std::string& prompt, int64_t max_tokens) {
    api::CompletionRequest r;
    r.endpoint = api::Endpoint::kCompletion;
    r.prompts = {prompt};
    r.max_tokens = max_tokens;
    r.sampling.temperature = 0;
    return r;
  }

  std::unique_ptr<GgufFile> file_;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::unique_ptr<model::LlamaModel> model_;
  std::unique_ptr<ChatTemplate> chat_template_;
  model::CpuBackend backend_{2};
  std::unique_ptr<engine::BatchEngine> engine_;
  std::unique_ptr<LocalProvider> provider_;
};

TEST_F(LocalProviderTest, InfoStreamAndComplete) {
  EXPECT_EQ(provider_->info().name, "local");
  EXPECT_EQ(provider_->info().models, std::vector<std::string>{"stories"});
  EXPECT_EQ(provider_->info().context_length, 256);
  EXPECT_TRUE(provider_->info().local);
  EXPECT_DOUBLE_EQ(provider_->info().price.Cost(1'000'000, 500'000), 2.0);
  EXPECT_EQ(provider_->Probe(), Health::kHealthy);

  CancelToken cancel;
  std::string streamed;
  int finishes = 0;
  auto outcome = provider_->Stream(
      TextRequest("Once upon a time", 12),
      [&](const Delta& d) {
        EXPECT_EQ(d.index, 0);
        streamed += d.text;
        finishes += d.finish_reason.empty() ? 0 : 1;
        return true;
      },
      cancel);
  ASSERT_TRUE(std::holds_alternative<Outcome>(outcome));
  EXPECT_EQ(std::get<Outcome>(outcome).usage.completion_tokens, 12);
  EXPECT_EQ(std::get<Outcome>(outcome).model, "stories");
  EXPECT_EQ(finishes, 1);
  const auto prompt_tokens = provider_->CountPromptTokens(TextRequest("Once upon a time", 12));
  ASSERT_TRUE(prompt_tokens.has_value());
  EXPECT_EQ(std::get<Outcome>(outcome).usage.prompt_tokens, *prompt_tokens);

  auto whole = provider_->Complete(TextRequest("Once upon a time", 12), cancel);
  ASSERT_TRUE(std::holds_alternative<Completion>(whole));
  const Completion& c = std::get<Completion>(whole);
  ASSERT_EQ(c.choices.size(), 1u);
  EXPECT_EQ(c.choices[0].text, streamed);
  EXPECT_EQ(c.choices[0].finish_reason, "length");

  api::CompletionRequest two = TextRequest("Once upon a time", 4);
  two.n = 2;
  auto both = provider_->Complete(two, cancel);
  ASSERT_TRUE(std::holds_alternative<Completion>(both));
  EXPECT_EQ(std::get<Completion>(both).choices.size(), 2u);
  EXPECT_EQ(std::get<Completion>(both).outcome.usage.completion_tokens, 8);
}

TEST_F(LocalProviderTest, Failures) {
  CancelToken cancel;
  std::string long_prompt;
  for (int i = 0; i < 200; ++i) long_prompt += " the dog ran";
  auto too_long = provider_->Complete(TextRequest(long_prompt, 4), cancel);
  ASSERT_TRUE(std::holds_alternative<Failure>(too_long));
  EXPECT_EQ(std::get<Failure>(too_long).kind, FailureKind::kContextLength);
  EXPECT_NE(std::get<Failure>(too_long).message.find("maximum context length is 256"),
            std::string::npos);

  api::CompletionRequest bad = TextRequest("x", 4);
  bad.n = 17;
  auto refused = provider_->Complete(bad, cancel);
  ASSERT_TRUE(std::holds_alternative<Failure>(refused));
  EXPECT_EQ(std::get<Failure>(refused).kind, FailureKind::kBadRequest);

  // A sink that stops after the first piece: cancelled, after the first token, usage kept.
  api::CompletionRequest endless = TextRequest("Once upon a time", -1);
  endless.ignore_eos = true;
  auto stopped = provider_->Stream(
      endless, [](const Delta&) { return false; }, cancel);
  ASSERT_TRUE(std::holds_alternative<Failure>(stopped));
  const Failure& f = std::get<Failure>(stopped);
  EXPECT_EQ(f.kind, FailureKind::kCancelled);
  EXPECT_TRUE(f.after_first_token);
  EXPECT_GE(f.partial_usage.completion_tokens, 1);
  EXPECT_EQ(engine_->Stats().active, 0);

  CancelToken cancelled;
  cancelled.Cancel();
  auto never = provider_->Stream(
      endless, [](const Delta&) { return true; }, cancelled);
  ASSERT_TRUE(std::holds_alternative<Failure>(never));
  EXPECT_EQ(std::get<Failure>(never).kind, FailureKind::kCancelled);
}

}  // namespace
}  // namespace wick::provider
