#include "cli/cmd_ask.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "cli/loaded_model.h"
#include "cli/routing.h"
#include "engine/generator.h"
#include "engine/prompt_state.h"
#include "model/backend.h"
#include "model/kv_cache.h"
#include "text/chat_template.h"
#include "text/grammar/grammar_matcher.h"
#include "text/grammar/json_schema.h"

namespace wick::cli {
namespace {

using Clock = std::chrono::steady_clock;
double MsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

nlohmann::ordered_json Conversation(const CmdQuestion& q, const std::string& user) {
  return nlohmann::ordered_json::array(
      {{{"role", "system"}, {"content", q.system}}, {{"role", "user"}, {"content", user}}});
}

}  // namespace

nlohmann::json CmdAnswerSchema() {
  return nlohmann::json::parse(R"({
    "type": "object",
    "properties": {"cmd": {"type": "string"}, "explanation": {"type": "string"}},
    "required": ["cmd", "explanation"],
    "additionalProperties": false})");
}

Result<CmdAnswer> ParseCmdAnswer(const std::string& text) {
  const auto json = nlohmann::json::parse(text, nullptr, false);
  if (json.is_discarded() || !json.is_object() || !json.contains("cmd") ||
      !json["cmd"].is_string() || !json.contains("explanation") ||
      !json["explanation"].is_string()) {
    return Error(ErrorCode::kCorrupt,
                 "the model's answer is not {\"cmd\": string, \"explanation\": string}: " +
                     text.substr(0, 200));
  }
  CmdAnswer answer;
  answer.cmd = json["cmd"].get<std::string>();
  answer.explanation = json["explanation"].get<std::string>();
  if (answer.cmd.find_first_not_of(" \t\n") == std::string::npos) {
    // The system prompt asks for an empty command, and the reason, when none fits.
    return Error(ErrorCode::kUnsupported,
                 "no command for that: " + (answer.explanation.empty()
                                                ? std::string("the model gave no reason")
                                                : answer.explanation));
  }
  return answer;
}

Result<CmdAnswer> AskLocal(const CmdQuestion& question, const LocalCmdOptions& options) {
  CmdTimings t;
  const auto load_start = Clock::now();
  WICK_ASSIGN_OR_RETURN(const std::string path, ResolveModel(options.model, options.resolve));
  WICK_ASSIGN_OR_RETURN(std::unique_ptr<LoadedModel> loaded, LoadedModel::Load(path));
  const model::HParams& hp = loaded->model.hparams();
  const int64_t n_ctx =
      options.ctx_size > 0 ? options.ctx_size : std::min<int64_t>(4096, hp.n_ctx_train);
  WICK_ASSIGN_OR_RETURN(model::KvCache cache, model::KvCache::Create(hp, n_ctx, DType::kF16));
  WICK_ASSIGN_OR_RETURN(ChatTemplate chat_template, LoadChatTemplate(*loaded, path, ""));
  model::CpuBackend backend(options.threads);
  engine::Generator generator(loaded->model, *loaded->tokenizer, backend, cache);
  WICK_ASSIGN_OR_RETURN(text::Grammar grammar,
                        text::JsonSchemaGrammar(CmdAnswerSchema(), {.strict = true}));
  WICK_ASSIGN_OR_RETURN(std::shared_ptr<text::CompiledGrammar> compiled,
                        text::CompiledGrammar::Create(std::move(grammar),
                                                      text::VocabTrie::Build(*loaded->tokenizer)));

  WICK_ASSIGN_OR_RETURN(const std::string prompt,
                        chat_template.Apply(Conversation(question, question.user), true));
  const std::string& bos = chat_template.bos_token();
  const EncodeOptions encode{.add_special = bos.empty() || prompt.rfind(bos, 0) != 0,
                             .parse_special = true};
  t.load_ms = MsSince(load_start);

  const auto state_start = Clock::now();
  if (options.state_cache) {
    // The part of the prompt every request shares: renders with two different requests
    // agree up to where the request starts.
    WICK_ASSIGN_OR_RETURN(const std::string a,
                          chat_template.Apply(Conversation(question, "a"), true));
    WICK_ASSIGN_OR_RETURN(const std::string b,
                          chat_template.Apply(Conversation(question, "b"), true));
    const size_t text_common = static_cast<size_t>(
        std::mismatch(a.begin(), a.end(), b.begin(), b.end()).first - a.begin());
    Result<engine::PromptStateKey> key = engine::PromptStateKeyFor(path, DType::kF16, hp);
    if (!key.ok()) {
      std::fprintf(stderr, "wick: warning: no prompt cache: %s\n", key.error().message().c_str());
    } else {
      const std::string state_path =
          engine::PromptStatePath(engine::PromptStateDir(), *key, a.substr(0, text_common));
      std::vector<int32_t> tokens;
      Result<bool> restored = engine::LoadPromptState(state_path, *key, cache, tokens);
      if (!restored.ok()) {
        std::fprintf(stderr, "wick: warning: prompt cache ignored: %s\n",
                     restored.error().message().c_str());
      }
      if (restored.ok() && *restored) {
        WICK_RETURN_IF_ERROR(generator.RestoreState(std::move(tokens)));
        t.state_restored = true;
      } else {
        const std::vector<int32_t> ta = loaded->tokenizer->Encode(a, encode);
        const std::vector<int32_t> tb = loaded->tokenizer->Encode(b, encode);
        const auto shared = static_cast<size_t>(
            std::mismatch(ta.begin(), ta.end(), tb.begin(), tb.end()).first - ta.begin());
        const std::span<const int32_t> prefix(ta.data(), shared);
        WICK_RETURN_IF_ERROR(generator.Prefill(prefix));
        if (Status saved = engine::SavePromptState(state_path, *key, prefix, cache); !saved.ok()) {
          std::fprintf(stderr, "wick: warning: prompt cache not saved: %s\n",
                       saved.error().message().c_str());
        }
      }
    }
  }
  t.state_ms = MsSince(state_start);

  std::string output;
  const engine::GenerateParams params{.prompt = prompt,
                                      .max_tokens = question.max_tokens,
                                      .sampling = question.sampling,
                                      .add_special = encode.add_special,
                                      .parse_special = true,
                                      .reuse_prefix = true,
                                      .grammar = compiled};
  WICK_ASSIGN_OR_RETURN(engine::GenerateStats stats,
                        generator.Generate(params, [&output](std::string_view piece) {
                          output += piece;
                          return true;
                        }));
  t.prompt_ms = stats.prompt_ms;
  t.generate_ms = stats.generate_ms;
  t.prompt_tokens = stats.prompt_tokens;
  t.cached_tokens = stats.reused_tokens;
  t.generated_tokens = stats.generated_tokens;
  CmdAnswer answer;
  if (stats.stop == engine::StopReason::kEog) {
    WICK_ASSIGN_OR_RETURN(answer, ParseCmdAnswer(output));
  } else {
    answer.finished = false;
  }
  answer.raw = std::move(output);
  answer.model = path;
  answer.timings = t;
  return answer;
}

Result<CmdAnswer> AskRouted(const CmdQuestion& question, const std::string& config_path,
                            const std::string& model_flag, const std::string& route, int threads) {
  const auto load_start = Clock::now();
  WICK_ASSIGN_OR_RETURN(std::unique_ptr<CommandRouting> routing,
                        RouteForCommand(config_path, model_flag, 0, threads, ""));
  api::CompletionRequest request;
  request.endpoint = api::Endpoint::kChat;
  request.model = route;
  request.messages = Conversation(question, question.user);
  request.max_tokens = question.max_tokens;
  request.sampling = question.sampling;
  request.seed_given = true;
  request.response_format.type = api::ResponseFormatType::kJsonSchema;
  request.response_format.name = "shell_command";
  request.response_format.schema = CmdAnswerSchema();
  request.response_format.strict = true;
  CmdTimings t;
  t.load_ms = MsSince(load_start);

  const auto start = Clock::now();
  std::string output;
  provider::CancelToken cancel;
  auto result = routing->routing.router->Stream(
      request, "",
      [&output](const provider::Delta& d) {
        if (d.index == 0) output += d.text;
        return true;
      },
      cancel);
  t.generate_ms = MsSince(start);
  if (const auto* e = std::get_if<provider::RouteError>(&result)) {
    return Error(ErrorCode::kUnavailable, RouteErrorMessage(*e));
  }
  const auto& info = std::get<provider::RouteInfo>(result);
  t.prompt_tokens = info.usage.prompt_tokens;
  t.cached_tokens = info.usage.cached_tokens;
  t.generated_tokens = info.usage.completion_tokens;
  WICK_ASSIGN_OR_RETURN(CmdAnswer answer, ParseCmdAnswer(output));
  answer.model = info.provider + " (" + info.model + ")";
  answer.timings = t;
  return answer;
}

}  // namespace wick::cli
