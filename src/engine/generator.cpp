#include "engine/generator.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <optional>

#include "engine/constrained_sampling.h"
#include "engine/eog_ban.h"
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
  // A sliding-window cache may keep nothing of the prefix.
  shared = static_cast<size_t>(cache_.Truncate(static_cast<int64_t>(shared)));
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

// The state of one generation between its steps.
struct Generator::Running {
  explicit Running(const Tokenizer& tokenizer, sampling::SamplerChain chain,
                   const GenerateParams& params)
      : sampler(std::move(chain)),
        detok(tokenizer),
        stops(params.stop),
        max_tokens(params.max_tokens) {
    if (params.grammar != nullptr) grammar.emplace(params.grammar);
  }

  sampling::SamplerChain sampler;
  Detokenizer detok;
  StopMatcher stops;
  std::optional<text::GrammarMatcher> grammar;
  ConstrainedSampler constrained;
  std::vector<float> logits;  // of the last evaluated position: the next token's
  int64_t max_tokens = -1;
  bool cancelled = false;
};

Generator::Generator(model::LlamaModel& model, const Tokenizer& tokenizer, model::Backend& backend,
                     model::KvCache& cache)
    : model_(model), tokenizer_(tokenizer), backend_(backend), cache_(cache) {}

Generator::~Generator() = default;

Result<GenerateStats> Generator::Generate(const GenerateParams& params, const TextSink& sink,
                                          const std::function<void()>& on_start) {
  WICK_RETURN_IF_ERROR(Start(params, on_start));
  while (true) {
    WICK_ASSIGN_OR_RETURN(GenerateStep step, Step());
    if (!step.text.empty() && !sink(step.text) && !step.done) {
      Cancel();
      WICK_ASSIGN_OR_RETURN(step, Step());  // the cancelled end: nothing more to send
      break;
    }
    if (step.done) break;
  }
  return stats_;
}

Status Generator::Start(const GenerateParams& params, const std::function<void()>& on_start) {
  running_.reset();
  if (params.prompt.empty()) {
    return Error(ErrorCode::kInvalidArgument, "the prompt is empty");
  }
  sampling::SamplingParams sampling_params = params.sampling;
  if (params.ignore_eos) BanEndOfGeneration(tokenizer_, sampling_params);
  WICK_ASSIGN_OR_RETURN(sampling::SamplerChain sampler,
                        sampling::SamplerChain::Create(sampling_params));
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
    reused = cache_.Truncate(reused);
    cached_.resize(static_cast<size_t>(reused));
  }

  if (on_start) on_start();
  stats_ = GenerateStats{};
  stats_.prompt_tokens = n_prompt;
  stats_.reused_tokens = reused;
  auto running = std::make_unique<Running>(tokenizer_, std::move(sampler), params);
  running->logits.resize(static_cast<size_t>(model_.hparams().n_vocab));
  const auto start = std::chrono::steady_clock::now();
  WICK_RETURN_IF_ERROR(
      Evaluate(std::span<const int32_t>(prompt).subspan(static_cast<size_t>(reused)),
               running->logits.data()));
  stats_.prompt_ms = MsSince(start);
  for (int32_t t : prompt) running->sampler.Accept(t);
  running_ = std::move(running);
  return OkStatus();
}

void Generator::Cancel() {
  if (running_) running_->cancelled = true;
}

Result<GenerateStep> Generator::Step() {
  if (!running_) {
    return Error(ErrorCode::kInvalidArgument, "no generation is running (call Start first)");
  }
  Running& r = *running_;
  const auto start = std::chrono::steady_clock::now();
  // Time spent between steps (a browser's event loop) is not generation time.
  struct Timer {
    GenerateStats& stats;
    std::chrono::steady_clock::time_point start;
    ~Timer() { stats.generate_ms += MsSince(start); }
  } timer{stats_, start};

  GenerateStep step;
  if (r.cancelled) return Finish(std::move(step), StopReason::kCancelled);
  if (r.max_tokens >= 0 && stats_.generated_tokens >= r.max_tokens) {
    return Finish(std::move(step), StopReason::kMaxTokens);
  }
  Result<int32_t> sampled =
      r.constrained.Sample(r.sampler, r.grammar ? &*r.grammar : nullptr, r.logits);
  if (!sampled.ok()) {
    running_.reset();
    return std::move(sampled).error();
  }
  const int32_t token = *sampled;
  r.sampler.Accept(token);
  if (r.grammar) {
    if (Status s = r.grammar->Advance(token); !s.ok()) {
      running_.reset();
      return std::move(s).error();
    }
  }
  if (tokenizer_.IsEog(token)) return Finish(std::move(step), StopReason::kEog);
  ++stats_.generated_tokens;
  step.token = token;
  bool stopped = false;
  step.text = r.stops.Push(r.detok.Push(token), stopped);
  if (stopped) return Finish(std::move(step), StopReason::kStopString);
  // A whole sentence of the grammar: nothing may follow.
  if (r.grammar && r.grammar->IsComplete()) return Finish(std::move(step), StopReason::kEog);
  // A full context ends generation like the token limit does.
  if (cache_.n_past() >= cache_.n_ctx() ||
      (r.max_tokens >= 0 && stats_.generated_tokens >= r.max_tokens)) {
    return Finish(std::move(step), StopReason::kMaxTokens);
  }
  if (Status s = Evaluate({&token, 1}, r.logits.data()); !s.ok()) {
    running_.reset();
    return std::move(s).error();
  }
  return step;
}

GenerateStep Generator::Finish(GenerateStep step, StopReason reason) {
  Running& r = *running_;
  if (reason != StopReason::kStopString && reason != StopReason::kCancelled) {
    bool stopped = false;
    std::string rest = r.stops.Push(r.detok.Flush(), stopped);
    if (!stopped) rest += r.stops.Flush();
    step.text += rest;
  }
  stats_.stop = reason;
  step.done = true;
  running_.reset();
  return step;
}

}  // namespace wick::engine
