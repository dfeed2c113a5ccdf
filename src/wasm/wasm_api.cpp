// The engine's C API for the WebAssembly build (web/wick-worker.js calls it through cwrap).
// One model per instance: a Web Worker hosts one engine. Everything crosses the boundary as
// UTF-8 JSON so the JavaScript side needs no knowledge of C++ types, and no call throws: a
// failure is {"ok":false,"error":"..."}. Generation runs a token per wick_generate_step call,
// so the worker gets back to its event loop (and sees an abort) between tokens.
#include <emscripten/emscripten.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "engine/bench_run.h"
#include "engine/generator.h"
#include "engine/model_loader.h"
#include "io/gguf_file.h"
#include "kernels/cpu/simd.h"
#include "model/backend.h"
#include "model/kv_cache.h"
#include "model/llama.h"
#include "sampling/top_logits.h"
#include "text/chat_template.h"
#include "text/tokenizer.h"

namespace wick::wasm {
namespace {

using nlohmann::json;

// Without an explicit n_ctx: the training context, but no more than this, so a long-context
// model's KV cache does not take the tab's 4 GiB address space.
constexpr int64_t kDefaultMaxContext = 4096;

// The file's bytes (malloc'ed by JavaScript, owned here) and everything that views them.
struct Session {
  struct FreeBytes {
    void operator()(uint8_t* p) const { std::free(p); }
  };
  std::unique_ptr<uint8_t, FreeBytes> bytes;
  GgufFile file;
  std::unique_ptr<Tokenizer> tokenizer;
  model::LlamaModel model;
  std::optional<ChatTemplate> chat_template;
  std::optional<model::KvCache> cache;
  std::unique_ptr<model::CpuBackend> backend;
  std::unique_ptr<engine::Generator> generator;
  json info;
};

std::unique_ptr<Session>& CurrentSession() {
  static std::unique_ptr<Session> session;
  return session;
}

// The buffer every returned string lives in, until the next call.
const char* Reply(const json& value) {
  static std::string buffer;
  buffer = value.dump(-1, ' ', false, json::error_handler_t::replace);
  return buffer.c_str();
}

const char* Fail(std::string_view message) {
  return Reply({{"ok", false}, {"error", message}});
}

const char* Fail(const Error& error) {
  return Fail(error.message());
}

// Parses a JSON argument; null or empty text is an empty object.
Result<json> ParseArgument(const char* text, std::string_view what) {
  if (text == nullptr || *text == '\0') return json::object();
  json value = json::parse(text, nullptr, false);
  if (value.is_discarded()) {
    return Error(ErrorCode::kInvalidArgument, fmt::format("{}: not valid JSON", what));
  }
  return value;
}

template <typename T>
Result<T> Field(const json& object, std::string_view key, T fallback) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return fallback;
  try {
    return it->get<T>();
  } catch (const json::exception&) {
    return Error(ErrorCode::kInvalidArgument, fmt::format("{}: wrong type", key));
  }
}

uint64_t CountParams(const GgufFile& file) {
  uint64_t total = 0;
  for (const GgufTensorInfo& t : file.tensors()) total += t.n_elements;
  return total;
}

Result<std::unique_ptr<Session>> Load(uint8_t* data, uint32_t size, const json& options) {
  auto session = std::make_unique<Session>();
  session->bytes.reset(data);
  WICK_ASSIGN_OR_RETURN(const std::string name,
                        Field<std::string>(options, "name", std::string("model.gguf")));
  WICK_ASSIGN_OR_RETURN(const int64_t n_ctx_wanted, Field<int64_t>(options, "n_ctx", 0));
  WICK_ASSIGN_OR_RETURN(const int threads, Field<int>(options, "threads", 1));
  if (threads < 1 || threads > 256) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("threads is {}, must be 1..256", threads));
  }
  WICK_ASSIGN_OR_RETURN(session->file, GgufFile::Parse({data, size}, name));
  WICK_ASSIGN_OR_RETURN(engine::ModelAndTokenizer bound,
                        engine::LoadModelAndTokenizer(session->file));
  session->tokenizer = std::move(bound.tokenizer);
  session->model = std::move(bound.model);
  const model::HParams& hp = session->model.hparams();
  Result<ChatTemplate> chat_template = ChatTemplate::FromGguf(session->file, *session->tokenizer);
  if (chat_template.ok()) session->chat_template = std::move(*chat_template);
  const int64_t n_ctx =
      n_ctx_wanted > 0 ? n_ctx_wanted : std::min(hp.n_ctx_train, kDefaultMaxContext);
  WICK_ASSIGN_OR_RETURN(session->cache, model::KvCache::Create(hp, n_ctx));
  session->backend = std::make_unique<model::CpuBackend>(threads);
  session->generator = std::make_unique<engine::Generator>(session->model, *session->tokenizer,
                                                           *session->backend, *session->cache);

  const std::string arch =
      session->file.GetOr<std::string>("general.architecture", "unknown").value_or("unknown");
  session->info = {{"name", name},
                   {"architecture", arch},
                   {"n_params", CountParams(session->file)},
                   {"file_bytes", size},
                   {"n_vocab", hp.n_vocab},
                   {"n_ctx", n_ctx},
                   {"n_ctx_train", hp.n_ctx_train},
                   {"n_layer", hp.n_layer},
                   {"n_embd", hp.n_embd},
                   {"kv_bytes", session->cache->bytes()},
                   {"threads", session->backend->pool().size()},
                   {"simd", kernels::CurrentSimdTarget()},
                   {"chat_template",
                    session->chat_template.has_value() && !session->chat_template->is_fallback()}};
  return session;
}

Result<engine::GenerateParams> GenerateParamsFrom(const char* prompt, const json& p) {
  engine::GenerateParams params;
  params.prompt = prompt == nullptr ? "" : prompt;
  WICK_ASSIGN_OR_RETURN(params.max_tokens, Field<int64_t>(p, "max_tokens", -1));
  sampling::SamplingParams& s = params.sampling;
  WICK_ASSIGN_OR_RETURN(s.temperature, Field<float>(p, "temperature", s.temperature));
  WICK_ASSIGN_OR_RETURN(s.top_p, Field<float>(p, "top_p", s.top_p));
  WICK_ASSIGN_OR_RETURN(s.top_k, Field<int32_t>(p, "top_k", s.top_k));
  WICK_ASSIGN_OR_RETURN(s.min_p, Field<float>(p, "min_p", s.min_p));
  WICK_ASSIGN_OR_RETURN(s.repeat_penalty, Field<float>(p, "repeat_penalty", s.repeat_penalty));
  WICK_ASSIGN_OR_RETURN(const int64_t seed, Field<int64_t>(p, "seed", -1));
  s.seed = seed >= 0 ? static_cast<uint64_t>(seed) : std::random_device{}();
  WICK_ASSIGN_OR_RETURN(params.stop, Field<std::vector<std::string>>(p, "stop", {}));
  WICK_ASSIGN_OR_RETURN(params.add_special, Field<bool>(p, "add_special", true));
  WICK_ASSIGN_OR_RETURN(params.parse_special, Field<bool>(p, "parse_special", false));
  WICK_ASSIGN_OR_RETURN(params.reuse_prefix, Field<bool>(p, "reuse_prefix", false));
  WICK_ASSIGN_OR_RETURN(params.ignore_eos, Field<bool>(p, "ignore_eos", false));
  return params;
}

std::string_view StopName(engine::StopReason reason) {
  switch (reason) {
    case engine::StopReason::kEog:
      return "eos";
    case engine::StopReason::kStopString:
      return "stop";
    case engine::StopReason::kMaxTokens:
      return "length";
    case engine::StopReason::kCancelled:
      return "cancelled";
  }
  return "eos";
}

// One timed pass like `wick bench`: n_prompt random tokens in one batch, then n_gen one by one.
Result<json> Bench(Session& s, int n_prompt, int n_gen) {
  const model::HParams& hp = s.model.hparams();
  if (n_prompt < 0 || n_gen < 0 || n_prompt + n_gen >= s.cache->n_ctx()) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("n_prompt {} + n_gen {} must fit the context of {}", n_prompt, n_gen,
                             s.cache->n_ctx()));
  }
  if (s.generator->running()) s.generator->Cancel();
  std::mt19937 rng(42);
  std::vector<float> logits(static_cast<size_t>(hp.n_vocab));
  const auto run = [&](int pp, int tg) {
    return engine::TimeForwardRun(s.model, *s.backend, *s.cache, logits, rng,
                                  {.n_prompt = pp, .n_gen = tg});
  };
  // A warm-up run sizes every buffer; then prefill and decode are timed separately, each from
  // an empty cache, as llama-bench times pp and tg.
  if (Result<double> warm = run(std::min(n_prompt, 8), std::min(n_gen, 2)); !warm.ok()) {
    return std::move(warm).error();
  }
  WICK_ASSIGN_OR_RETURN(const double pp_ns, run(n_prompt, 0));
  WICK_ASSIGN_OR_RETURN(const double tg_ns, run(0, n_gen));
  s.cache->Clear();
  const double pp_ms = pp_ns / 1e6;
  const double tg_ms = tg_ns / 1e6;
  return json{{"ok", true},
              {"n_prompt", n_prompt},
              {"n_gen", n_gen},
              {"pp_ms", pp_ms},
              {"tg_ms", tg_ms},
              {"pp_tps", pp_ms > 0 ? n_prompt * 1000.0 / pp_ms : 0.0},
              {"tg_tps", tg_ms > 0 ? n_gen * 1000.0 / tg_ms : 0.0},
              {"threads", s.backend->pool().size()},
              {"simd", kernels::CurrentSimdTarget()}};
}

}  // namespace
}  // namespace wick::wasm

using nlohmann::json;
using wick::wasm::CurrentSession;
using wick::wasm::Fail;
using wick::wasm::Reply;

extern "C" {

EMSCRIPTEN_KEEPALIVE const char* wick_load(uint8_t* data, uint32_t size, const char* options_json) {
  CurrentSession().reset();
  wick::Result<json> options = wick::wasm::ParseArgument(options_json, "options");
  if (!options.ok()) {
    std::free(data);
    return Fail(options.error());
  }
  wick::Result<std::unique_ptr<wick::wasm::Session>> session =
      wick::wasm::Load(data, size, *options);  // owns `data` from here, even on failure
  if (!session.ok()) return Fail(session.error());
  CurrentSession() = std::move(*session);
  return Reply({{"ok", true}, {"info", CurrentSession()->info}});
}

EMSCRIPTEN_KEEPALIVE const char* wick_info() {
  if (!CurrentSession()) return Fail("no model is loaded");
  return Reply({{"ok", true}, {"info", CurrentSession()->info}});
}

EMSCRIPTEN_KEEPALIVE const char* wick_tokenize(const char* text, int add_special,
                                               int parse_special) {
  if (!CurrentSession()) return Fail("no model is loaded");
  std::vector<int32_t> tokens = CurrentSession()->tokenizer->Encode(
      text == nullptr ? "" : text,
      {.add_special = add_special != 0, .parse_special = parse_special != 0});
  return Reply({{"ok", true}, {"tokens", tokens}});
}

EMSCRIPTEN_KEEPALIVE const char* wick_chat_prompt(const char* messages_json,
                                                  int add_generation_prompt) {
  auto& session = CurrentSession();
  if (!session) return Fail("no model is loaded");
  if (!session->chat_template) return Fail("the model's chat template could not be read");
  json parsed = json::parse(messages_json == nullptr ? "" : messages_json, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_array()) {
    return Fail("messages: must be a JSON array of {role, content}");
  }
  wick::Result<std::string> prompt = session->chat_template->Apply(
      nlohmann::ordered_json::parse(parsed.dump()), add_generation_prompt != 0);
  if (!prompt.ok()) return Fail(prompt.error());
  return Reply({{"ok", true}, {"prompt", *prompt}});
}

EMSCRIPTEN_KEEPALIVE const char* wick_generate_start(const char* prompt, const char* params_json) {
  auto& session = CurrentSession();
  if (!session) return Fail("no model is loaded");
  wick::Result<json> p = wick::wasm::ParseArgument(params_json, "params");
  if (!p.ok()) return Fail(p.error());
  wick::Result<wick::engine::GenerateParams> params = wick::wasm::GenerateParamsFrom(prompt, *p);
  if (!params.ok()) return Fail(params.error());
  // Without reuse_prefix every generation starts from an empty context, as a completion
  // request does; with it (chat turns) the cache's common prefix is kept.
  if (!params->reuse_prefix) session->cache->Clear();
  if (wick::Status s = session->generator->Start(*params); !s.ok()) {
    // The engine's advice names the command line's option; here the context is a load option.
    std::string message = s.error().message();
    const std::string_view flag = "(raise --ctx-size)";
    if (size_t at = message.find(flag); at != std::string::npos) {
      message.replace(at, flag.size(), "(load the model with a larger nCtx)");
    }
    return Fail(message);
  }
  const wick::engine::GenerateStats& stats = session->generator->stats();
  return Reply({{"ok", true},
                {"prompt_tokens", stats.prompt_tokens},
                {"reused_tokens", stats.reused_tokens}});
}

EMSCRIPTEN_KEEPALIVE const char* wick_generate_step(int n_tokens) {
  auto& session = CurrentSession();
  if (!session) return Fail("no model is loaded");
  wick::engine::Generator& generator = *session->generator;
  json reply = {{"ok", true}, {"done", false}};
  std::string text;
  std::vector<int32_t> tokens;
  for (int i = 0; i < std::max(n_tokens, 1); ++i) {
    wick::Result<wick::engine::GenerateStep> step = generator.Step();
    if (!step.ok()) return Fail(step.error());
    text += step->text;
    if (step->token >= 0) tokens.push_back(step->token);
    if (step->done) {
      const wick::engine::GenerateStats& stats = generator.stats();
      reply["done"] = true;
      reply["stop"] = wick::wasm::StopName(stats.stop);
      reply["stats"] = {{"prompt_tokens", stats.prompt_tokens},
                        {"reused_tokens", stats.reused_tokens},
                        {"generated_tokens", stats.generated_tokens},
                        {"prompt_ms", stats.prompt_ms},
                        {"generate_ms", stats.generate_ms}};
      break;
    }
  }
  reply["text"] = std::move(text);
  reply["tokens"] = std::move(tokens);
  return Reply(reply);
}

EMSCRIPTEN_KEEPALIVE void wick_generate_cancel() {
  if (CurrentSession()) CurrentSession()->generator->Cancel();
}

// The logits of a prompt's last position, best `top` first (as `wick logits --top`), from an
// empty cache: lets a test compare the browser's kernels with the native ones.
EMSCRIPTEN_KEEPALIVE const char* wick_logits(const char* prompt, int add_special, int top) {
  auto& session = CurrentSession();
  if (!session) return Fail("no model is loaded");
  if (session->generator->running()) return Fail("a generation is running");
  const std::vector<int32_t> tokens = session->tokenizer->Encode(
      prompt == nullptr ? "" : prompt, {.add_special = add_special != 0, .parse_special = false});
  if (tokens.empty()) return Fail("the prompt has no tokens");
  if (static_cast<int64_t>(tokens.size()) >= session->cache->n_ctx()) {
    return Fail("the prompt does not fit the context");
  }
  const int64_t n_vocab = session->model.hparams().n_vocab;
  std::vector<float> logits(static_cast<size_t>(n_vocab));
  session->cache->Clear();
  wick::Status status =
      session->model.Forward(tokens, *session->cache, *session->backend, logits.data(), true);
  session->cache->Clear();
  if (!status.ok()) return Fail(status.error());
  json best = json::array();
  for (int32_t id : wick::sampling::TopLogitIds(logits, static_cast<size_t>(std::max(top, 1)))) {
    best.push_back({id, logits[static_cast<size_t>(id)]});
  }
  return Reply({{"ok", true}, {"tokens", tokens}, {"top", best}});
}

EMSCRIPTEN_KEEPALIVE const char* wick_bench(int n_prompt, int n_gen) {
  auto& session = CurrentSession();
  if (!session) return Fail("no model is loaded");
  wick::Result<json> result = wick::wasm::Bench(*session, n_prompt, n_gen);
  if (!result.ok()) return Fail(result.error());
  return Reply(*result);
}

EMSCRIPTEN_KEEPALIVE void wick_unload() {
  CurrentSession().reset();
}

}  // extern "C"
