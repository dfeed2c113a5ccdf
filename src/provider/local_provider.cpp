#include "provider/local_provider.h"

#include <fmt/format.h>

#include <random>

#include "core/random.h"
#include "text/grammar/json_schema.h"
#include "text/grammar/tool_call_grammar.h"

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

// Templates that render `tools` get them as a variable; for the rest, the model learns of them
// from the first message (system or not: some templates refuse a system role).
nlohmann::ordered_json WithToolPrompt(nlohmann::ordered_json messages, text::ToolCallFormat format,
                                      const nlohmann::ordered_json& tools) {
  if (messages.empty()) return messages;
  nlohmann::ordered_json& first = messages.front();
  const std::string prompt = text::ToolSystemPrompt(format, tools);
  const std::string content = first.value("content", "");
  first["content"] = content.empty() ? prompt : prompt + "\n\n" + content;
  return messages;
}

// What the template gets: the messages with tool-call arguments as values, and the tools
// (null when there are none, since templates test `tools is not none`).
Result<std::string> RenderChat(const LocalModel& model, const api::CompletionRequest& r) {
  nlohmann::ordered_json messages = api::MessagesForTemplate(r.messages);
  nlohmann::ordered_json tools = api::ToolsForTemplate(r);
  if (tools.empty()) return model.chat_template->Apply(messages, true);
  const std::string& source = model.chat_template->source();
  if (source.find("tools") == std::string::npos) {
    // Our own prompt costs prompt tokens: with a named function, the others cannot be called
    // this turn and are left out of it.
    if (r.tool_choice.mode == api::ToolChoiceMode::kFunction) {
      nlohmann::ordered_json named = nlohmann::ordered_json::array();
      for (const nlohmann::ordered_json& tool : tools) {
        if (tool["function"]["name"] == r.tool_choice.name) named.push_back(tool);
      }
      tools = std::move(named);
    }
    messages = WithToolPrompt(std::move(messages), text::DetectToolCallFormat(source), tools);
    return model.chat_template->Apply(messages, true);
  }
  return model.chat_template->Apply(messages, true, tools);
}

bool ForcesToolCall(const api::CompletionRequest& r) {
  return !r.tools.empty() && (r.tool_choice.mode == api::ToolChoiceMode::kRequired ||
                              r.tool_choice.mode == api::ToolChoiceMode::kFunction);
}

// The grammar a request's output must follow, from the model's cache; null when it is free.
std::variant<std::shared_ptr<text::CompiledGrammar>, api::ApiError> RequestGrammar(
    const LocalModel& model, const api::CompletionRequest& r, const OutputPlan& plan) {
  if (r.endpoint != api::Endpoint::kChat) return nullptr;
  const bool forced = ForcesToolCall(r);
  const api::ResponseFormat& format = r.response_format;
  if (!forced && format.type == api::ResponseFormatType::kText) return nullptr;
  const char* param = forced ? "tools" : "response_format";
  if (model.grammars == nullptr) {
    api::ApiError e = BadRequest(
        fmt::format("'{}' needs constrained decoding, which this model's server was not set "
                    "up for",
                    param),
        param);
    e.status = 500;
    e.type = "server_error";
    return e;
  }
  std::string key;
  std::function<Result<text::Grammar>()> build;
  if (forced) {
    const nlohmann::ordered_json tools = api::ToolsForTemplate(r);
    const std::string forced_name =
        r.tool_choice.mode == api::ToolChoiceMode::kFunction ? r.tool_choice.name : "";
    // A named function is called once (as OpenAI does); "required" may call several when
    // parallel calls are allowed.
    const bool parallel = forced_name.empty() && r.parallel_tool_calls.value_or(true);
    key = fmt::format("tools\n{}\n{}\n{}\n{}", text::ToolCallFormatName(plan.format), forced_name,
                      parallel, tools.dump());
    build = [tools, forced_name, parallel, &plan] {
      return text::ToolCallGrammar(plan.format, tools, forced_name, parallel);
    };
  } else if (format.type == api::ResponseFormatType::kJsonObject) {
    key = "json_object";
    build = [] { return Result<text::Grammar>(text::JsonObjectGrammar()); };
  } else {
    // As written: the order of properties is the order the output follows.
    key = fmt::format("json_schema\n{}\n{}", format.strict, format.schema.dump());
    build = [&format] { return text::JsonSchemaGrammar(format.schema, {.strict = format.strict}); };
  }
  Result<std::shared_ptr<text::CompiledGrammar>> compiled = model.grammars->Get(key, build);
  if (!compiled.ok()) {
    return BadRequest(fmt::format("'{}' cannot be followed: {}", param, compiled.error().message()),
                      param);
  }
  return *compiled;
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
    Result<std::string> text = RenderChat(model, r);
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

std::variant<BuiltRequest, api::ApiError> BuildRequest(const LocalModel& model,
                                                       const api::CompletionRequest& r) {
  BuiltRequest built;
  if (r.endpoint == api::Endpoint::kChat && !r.tools.empty() &&
      r.tool_choice.mode != api::ToolChoiceMode::kNone) {
    built.output.tool_calls = true;
    built.output.format = text::DetectToolCallFormat(model.chat_template->source());
  }
  auto seqs = BuildSequences(model, r);
  if (api::ApiError* e = std::get_if<api::ApiError>(&seqs)) return std::move(*e);
  built.sequences = std::get<std::vector<engine::SequenceParams>>(std::move(seqs));
  auto grammar = RequestGrammar(model, r, built.output);
  if (api::ApiError* e = std::get_if<api::ApiError>(&grammar)) return std::move(*e);
  for (engine::SequenceParams& s : built.sequences) {
    s.grammar = std::get<std::shared_ptr<text::CompiledGrammar>>(grammar);
  }
  return built;
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
  if (model_.grammars == nullptr && model_.tokenizer != nullptr) {
    model_.grammars = std::make_shared<GrammarCache>(model_.tokenizer);
  }
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
  auto built = BuildRequest(model_, request);
  if (api::ApiError* e = std::get_if<api::ApiError>(&built)) {
    Failure f;
    f.kind = e->status >= 500 ? FailureKind::kServerError : FailureKind::kBadRequest;
    f.http_status = e->status;
    f.message = e->message;
    return f;
  }
  auto& seqs = std::get<BuiltRequest>(built).sequences;
  std::vector<ChoiceOutput> outputs(seqs.size(),
                                    ChoiceOutput(std::get<BuiltRequest>(built).output));
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
      const int index = static_cast<int>(i);
      Delta d =
          outputs[i].Push(index, event.text, ConvertLogprobs(*model_.tokenizer, event.logprobs));
      if (event.done) {
        done[i] = true;
        --remaining;
        outcome.usage.prompt_tokens += event.prompt_tokens;
        outcome.usage.completion_tokens += event.completion_tokens;
        outcome.usage.cached_tokens += event.cached_tokens;
        if (event.finish == engine::FinishReason::kError) error = event.error;
        Delta last = outputs[i].Finish(index, event.finish == engine::FinishReason::kCancelled
                                                  ? ""
                                                  : FinishName(event.finish));
        d.text += last.text;
        d.logprobs.insert(d.logprobs.end(), last.logprobs.begin(), last.logprobs.end());
        d.tool_calls = std::move(last.tool_calls);
        d.finish_reason = std::move(last.finish_reason);
      }
      if (stopped || (d.text.empty() && d.logprobs.empty() && d.finish_reason.empty() &&
                      d.tool_calls.empty())) {
        continue;
      }
      sent = sent || !d.text.empty() || !d.tool_calls.empty();
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
