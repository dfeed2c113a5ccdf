#include "provider/local_provider.h"

#include <fmt/format.h>

#include <random>

#include "core/random.h"
namespace wick::provider {

namespace {

api::ApiError BadRequest(std::string message, std::string param) {
  api::ApiError e;
  e.status = 400;
  e.message = std::move(message);
  e.param = std::move(param);
  return e;
}

uint64_t RandomSeed() {
  return RandomU64();
}

}  // namespace

const char* FinishName(engine::FinishReason reason) {
  return reason == engine::FinishReason::kLength ? "length" : "stop";
}

std::vector<api::TokenLogprob> ConvertLogprobs(const Tokenizer& tokenizer,
                                               const std::vector<engine::TokenLogprob>& in) {
  std::vector<api::TokenLogprob> out;
  out.reserve(in.size());
  for (const engine::TokenLogprob& t : in) {
    api::TokenLogprob lp;
    lp.token = tokenizer.TokenPiece(t.token);
    lp.logprob = t.logprob;
    for (const auto& [id, p] : t.top) lp.top.emplace_back(tokenizer.TokenPiece(id), p);
    out.push_back(std::move(lp));
  }
  return out;
}

std::variant<std::vector<engine::SequenceParams>, api::ApiError> BuildSequences(
    const LocalModel& model, const api::CompletionRequest& r) {
  const bool chat = r.endpoint == api::Endpoint::kChat;
  std::vector<std::vector<int32_t>> prompts;
  if (chat) {
    Result<std::string> text = model.chat_template->Apply(r.messages, true);
    if (!text.ok()) {
      return BadRequest("the chat template failed: " + text.error().message(), "messages");
    }
    // A template that writes the BOS text itself must not get a second one.
    const std::string& bos = model.chat_template->bos_token();
    const bool has_bos = !bos.empty() && text->rfind(bos, 0) == 0;
    prompts.push_back(
        model.tokenizer->Encode(*text, {.add_special = !has_bos, .parse_special = true}));
  } else {
    for (const api::PromptInput& p : r.prompts) {
      if (const auto* text = std::get_if<std::string>(&p)) {
        prompts.push_back(
            model.tokenizer->Encode(*text, {.add_special = true, .parse_special = true}));
      } else {
        prompts.push_back(std::get<std::vector<int32_t>>(p));
      }
    }
  }
  if (static_cast<int64_t>(prompts.size()) * r.n > kMaxChoices) {
    return BadRequest(fmt::format("{} prompts x n = {} would start {} sequences; at most {} per "
                                  "request",
                                  prompts.size(), r.n, prompts.size() * r.n, kMaxChoices),
                      "n");
  }
  std::vector<engine::SequenceParams> seqs;
  for (const std::vector<int32_t>& prompt : prompts) {
    if (prompt.empty()) return BadRequest("the prompt has no tokens", chat ? "messages" : "prompt");
    for (int j = 0; j < r.n; ++j) {
      engine::SequenceParams s;
      s.prompt = prompt;
      s.max_tokens = r.max_tokens;
      s.stop = r.stop;
      s.sampling = r.sampling;
      // Choices of one request must differ: each its own seed, reproducible when one is given.
      s.sampling.seed = r.seed_given ? r.sampling.seed + static_cast<uint64_t>(j) : RandomSeed();
      s.top_logprobs = r.logprobs ? r.top_logprobs : -1;
      s.ignore_eos = r.ignore_eos;
      seqs.push_back(std::move(s));
    }
  }
  return seqs;
}

api::ApiError ContextLengthError(const api::CompletionRequest& request, int64_t n_ctx,
                                 size_t prompt_tokens, const std::string& detail) {
  const bool chat = request.endpoint == api::Endpoint::kChat;
  api::ApiError e = BadRequest(
      fmt::format("This model's maximum context length is {} tokens. However, your {} resulted "
                  "in {} tokens. ({})",
                  n_ctx, chat ? "messages" : "prompt", prompt_tokens, detail),
      chat ? "messages" : "prompt");
  e.code = "context_length_exceeded";
  return e;
}

LocalProvider::LocalProvider(LocalModel model, std::string name) : model_(std::move(model)) {
  info_.name = std::move(name);
  info_.models = {model_.id};
  info_.context_length = model_.engine->options().n_ctx;
  info_.price = model_.price;
  info_.local = true;
}

std::optional<int64_t> LocalProvider::CountPromptTokens(
    const api::CompletionRequest& request) const {
  auto seqs = BuildSequences(model_, request);
  if (!std::holds_alternative<std::vector<engine::SequenceParams>>(seqs)) return std::nullopt;
  int64_t total = 0;
  for (const engine::SequenceParams& s : std::get<0>(seqs)) {
    total += static_cast<int64_t>(s.prompt.size());
  }
  return total;
}

std::variant<Outcome, Failure> LocalProvider::Stream(const api::CompletionRequest& request,
                                                     const DeltaSink& sink,
                                                     const CancelToken& cancel) {
  auto built = BuildSequences(model_, request);
  if (api::ApiError* e = std::get_if<api::ApiError>(&built)) {
    Failure f;
    f.kind = FailureKind::kBadRequest;
    f.http_status = 400;
    f.message = e->message;
    return f;
  }
  auto& seqs = std::get<std::vector<engine::SequenceParams>>(built);
  const size_t n_prompt = seqs.front().prompt.size();
  Result<std::vector<std::shared_ptr<engine::SequenceHandle>>> submitted =
      model_.engine->Submit(std::move(seqs));
  if (!submitted.ok()) {
    const Error& err = submitted.error();
    Failure f;
    f.message = err.message();
    if (err.code() == ErrorCode::kOutOfRange) {
      f.kind = FailureKind::kContextLength;
      f.http_status = 400;
      f.message =
          ContextLengthError(request, info_.context_length, n_prompt, err.message()).message;
    } else if (err.code() == ErrorCode::kUnavailable) {
      f.kind = FailureKind::kUnavailable;
      f.http_status = 503;
    } else {
      f.kind = FailureKind::kBadRequest;
      f.http_status = 400;
    }
    return f;
  }
  std::vector<std::shared_ptr<engine::SequenceHandle>>& handles = *submitted;
  auto cancel_all = [&] {
    for (auto& h : handles) h->Cancel();
  };
  Outcome outcome;
  outcome.model = model_.id;
  bool sent = false;
  bool stopped = false;  // by the sink or the cancel token
  std::string error;
  std::vector<bool> done(handles.size(), false);
  size_t remaining = handles.size();
  const auto wait =
      handles.size() == 1 ? std::chrono::milliseconds(50) : std::chrono::milliseconds(2);
  while (remaining > 0) {
    if (cancel.cancelled() && !stopped) {
      stopped = true;
      cancel_all();
    }
    for (size_t i = 0; i < handles.size(); ++i) {
      if (done[i]) continue;
      engine::SequenceEvent event = handles[i]->Next(wait);
      Delta d;
      d.index = static_cast<int>(i);
      d.text = std::move(event.text);
      d.logprobs = ConvertLogprobs(*model_.tokenizer, event.logprobs);
      if (event.done) {
        done[i] = true;
        --remaining;
        outcome.usage.prompt_tokens += event.prompt_tokens;
        outcome.usage.completion_tokens += event.completion_tokens;
        outcome.usage.cached_tokens += event.cached_tokens;
        if (event.finish == engine::FinishReason::kError) error = event.error;
        if (event.finish != engine::FinishReason::kCancelled)
          d.finish_reason = FinishName(event.finish);
      }
      if (stopped || (d.text.empty() && d.logprobs.empty() && d.finish_reason.empty())) continue;
      sent = sent || !d.text.empty();
      if (!sink(d)) {
        stopped = true;
        cancel_all();
      }
    }
  }
  if (stopped || !error.empty()) {
    Failure f;
    f.kind = error.empty() ? FailureKind::kCancelled : FailureKind::kServerError;
    f.http_status = error.empty() ? 0 : 500;
    f.message = error.empty() ? "cancelled" : error;
    f.after_first_token = sent;
    f.partial_usage = outcome.usage;
    return f;
  }
  return outcome;
}

}  // namespace wick::provider
