#include "engine/generator.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

namespace wick::engine {

namespace {

double MsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

// Holds back text that could be the start of a stop string, and cuts at the first full one.
class StopMatcher {
 public:
  explicit StopMatcher(const std::vector<std::string>& stop) : stop_(stop) {}

  // Adds text; returns what is final. Sets `stopped` when a stop string has appeared.
  std::string Push(std::string_view text, bool& stopped) {
    pending_ += text;
    size_t cut = std::string::npos;
    for (const std::string& s : stop_) {
      if (!s.empty()) cut = std::min(cut, pending_.find(s));
    }
    if (cut != std::string::npos) {
      stopped = true;
      std::string out = pending_.substr(0, cut);
      pending_.clear();
      return out;
    }
    // Keep the longest tail that is a prefix of some stop string.
    size_t keep = 0;
    for (const std::string& s : stop_) {
      for (size_t len = std::min(s.size() - 1, pending_.size()); len > keep; --len) {
        if (pending_.compare(pending_.size() - len, len, s, 0, len) == 0) {
          keep = len;
          break;
        }
      }
    }
    std::string out = pending_.substr(0, pending_.size() - keep);
    pending_.erase(0, pending_.size() - keep);
    return out;
  }
  std::string Flush() { return std::exchange(pending_, {}); }

 private:
  const std::vector<std::string>& stop_;
  std::string pending_;
};

}  // namespace

Status Generator::Evaluate(std::span<const int32_t> tokens, float* logits) {
  if (static_cast<int64_t>(cached_.size()) != cache_.n_past()) cached_.clear();  // filled elsewhere
  WICK_RETURN_IF_ERROR(model_.Forward(tokens, cache_, backend_, logits, true));
  if (cached_.size() + tokens.size() == static_cast<size_t>(cache_.n_past())) {
    cached_.insert(cached_.end(), tokens.begin(), tokens.end());
  }
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
  start = std::chrono::steady_clock::now();
  stats.stop = StopReason::kMaxTokens;
  while (params.max_tokens < 0 || stats.generated_tokens < params.max_tokens) {
    WICK_ASSIGN_OR_RETURN(int32_t token, sampler.Sample(logits));
    sampler.Accept(token);
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
