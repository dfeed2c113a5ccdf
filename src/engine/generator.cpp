#include "engine/generator.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <optional>

#include "engine/constrained_sampling.h"
#include "engine/stop_matcher.h"

namespace wick::engine {

namespace {

double MsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

}  // namespace

Status Generator::Evaluate(std::span<const int32_t> tokens, float* logits) {
  if (static_cast<int64_t>(cached_.size()) != cache_.n_past()) cached_.clear();  // filled elsewhere
  WICK_RETURN_IF_ERROR(model_.Forward(tokens, cache_, backend_, logits, true));
  if (cached_.size() + tokens.size() == static_cast<size_t>(cache_.n_past())) {
    cached_.insert(cached_.end(), tokens.begin(), tokens.end());
  }
  return OkStatus();
}

Status Generator::Prefill(std::span<const int32_t> tokens) {
  if (static_cast<int64_t>(tokens.size()) > cache_.n_ctx()) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("the prefix is {} tokens; the context holds {} (raise --ctx-size)",
                             tokens.size(), cache_.n_ctx()));
  }
  if (static_cast<int64_t>(cached_.size()) != cache_.n_past()) cached_.clear();
  size_t shared = 0;
  const size_t limit = std::min(cached_.size(), tokens.size());
  while (shared < limit && cached_[shared] == tokens[shared]) ++shared;
  cache_.Truncate(static_cast<int64_t>(shared));
  cached_.resize(shared);
  if (shared == tokens.size()) return OkStatus();
  std::vector<float> logits(static_cast<size_t>(model_.hparams().n_vocab));
  return Evaluate(tokens.subspan(shared), logits.data());
}

Status Generator::RestoreState(std::vector<int32_t> tokens) {
  if (static_cast<int64_t>(tokens.size()) != cache_.n_past()) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("restoring {} tokens into a cache that holds {} positions",
                             tokens.size(), cache_.n_past()));
  }
  cached_ = std::move(tokens);
  return OkStatus();
}

Result<GenerateStats> Generator::Generate(const GenerateParams& params, const TextSink& sink,
                                          const std::function<void()>& on_start) {
  if (params.prompt.empty()) {
    return Error(ErrorCode::kInvalidArgument, "the prompt is empty");
  }
  WICK_ASSIGN_OR_RETURN(sampling::SamplerChain sampler,
                        sampling::SamplerChain::Create(params.sampling));
  std::vector<int32_t> prompt = tokenizer_.Encode(
      params.prompt, {.add_special = params.add_special, .parse_special = params.parse_special});
  if (prompt.empty()) return Error(ErrorCode::kInvalidArgument, "the prompt has no tokens");
  const auto n_prompt = static_cast<int64_t>(prompt.size());
  int64_t reused = 0;
  if (params.reuse_prefix) {
    if (static_cast<int64_t>(cached_.size()) != cache_.n_past()) cached_.clear();
    // At least the last prompt token is evaluated again: its logits start the reply.
    const auto limit = std::min(cached_.size(), prompt.size() - 1);
    while (static_cast<size_t>(reused) < limit && cached_[reused] == prompt[reused]) ++reused;
    if (n_prompt >= cache_.n_ctx()) {
      return Error(ErrorCode::kInvalidArgument,
                   fmt::format("the prompt is {} tokens; the context holds {} (raise --ctx-size)",
                               n_prompt, cache_.n_ctx()));
    }
  } else if (cache_.n_past() + n_prompt >= cache_.n_ctx()) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("the prompt is {} tokens; the context holds {} (raise --ctx-size)",
                             n_prompt, cache_.n_ctx() - cache_.n_past()));
  }
  if (params.reuse_prefix) {
    cache_.Truncate(reused);
    cached_.resize(static_cast<size_t>(reused));
  }

  if (on_start) on_start();
  GenerateStats stats;
  stats.prompt_tokens = n_prompt;
  stats.reused_tokens = reused;
  const int64_t n_vocab = model_.hparams().n_vocab;
  std::vector<float> logits(static_cast<size_t>(n_vocab));
  auto start = std::chrono::steady_clock::now();
  WICK_RETURN_IF_ERROR(Evaluate(
      std::span<const int32_t>(prompt).subspan(static_cast<size_t>(reused)), logits.data()));
  stats.prompt_ms = MsSince(start);
  for (int32_t t : prompt) sampler.Accept(t);

  Detokenizer detok(tokenizer_);
  StopMatcher stops(params.stop);
  std::optional<text::GrammarMatcher> grammar;
  if (params.grammar != nullptr) grammar.emplace(params.grammar);
  ConstrainedSampler constrained;
  start = std::chrono::steady_clock::now();
  stats.stop = StopReason::kMaxTokens;
  while (params.max_tokens < 0 || stats.generated_tokens < params.max_tokens) {
    WICK_ASSIGN_OR_RETURN(int32_t token,
                          constrained.Sample(sampler, grammar ? &*grammar : nullptr, logits));
    sampler.Accept(token);
    if (grammar) WICK_RETURN_IF_ERROR(grammar->Advance(token));
    if (tokenizer_.IsEog(token)) {
      stats.stop = StopReason::kEog;
      break;
    }
    ++stats.generated_tokens;
    bool stopped = false;
    std::string text = stops.Push(detok.Push(token), stopped);
    if (!text.empty() && !sink(text)) {
      stats.stop = StopReason::kCancelled;
      break;
    }
    if (stopped) {
      stats.stop = StopReason::kStopString;
      break;
    }
    if (grammar && grammar->IsComplete()) {
      stats.stop = StopReason::kEog;  // the output is whole and nothing may follow
      break;
    }
    // A full context ends generation like the token limit does.
    if (cache_.n_past() >= cache_.n_ctx() ||
        (params.max_tokens >= 0 && stats.generated_tokens >= params.max_tokens)) {
      break;
    }
    WICK_RETURN_IF_ERROR(Evaluate({&token, 1}, logits.data()));
  }
  if (stats.stop != StopReason::kStopString && stats.stop != StopReason::kCancelled) {
    bool stopped = false;
    std::string rest = stops.Push(detok.Flush(), stopped);
    if (!stopped) rest += stops.Flush();
    if (!rest.empty()) sink(rest);
  }
  stats.generate_ms = MsSince(start);
  return stats;
}

}  // namespace wick::engine
