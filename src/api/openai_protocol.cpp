#include "api/openai_protocol.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <exception>
#include <limits>
#include <utility>

#include "core/error.h"

namespace wick::api {
namespace {

using Json = nlohmann::ordered_json;

constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
constexpr int32_t kInt32Max = std::numeric_limits<int32_t>::max();

// nlohmann parses iteratively, but copying, comparing and dumping a value recurse, so a body
// of a million '[' would overflow the stack after parsing; no real request nests this deep.
constexpr int kMaxDepth = 256;

// OpenAI allows 4 stop sequences; more are cheap for us and some clients send a few extra.
constexpr size_t kMaxStop = 16;
constexpr int kMaxChatTopLogprobs = 20;
constexpr int kMaxCompletionLogprobs = 5;

// -inf is not JSON (nlohmann would write null, which clients do not expect for a number), so
// a banned or underflowed token reports this instead; exp(-9999) is 0 to any client.
constexpr double kMinLogprob = -9999.0;

ApiError Invalid(std::string param, std::string message) {
  ApiError error;
  error.message = std::move(message);
  error.param = std::move(param);
  return error;
}

// nlohmann's what() starts with "[json.exception.parse_error.101] ", which means nothing to a
// client.
std::string JsonReason(const Json::exception& e) {
  std::string_view what = e.what();
  if (!what.empty() && what.front() == '[') {
    if (size_t end = what.find("] "); end != std::string_view::npos) what.remove_prefix(end + 2);
  }
  return std::string(what);
}

// Brackets outside strings; a malformed body may miscount, but then the parser rejects it.
bool NestsTooDeep(std::string_view body) {
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : body) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxDepth) return true;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return false;
}

// Integers beyond int64 (JSON allows them up to 2^64 - 1) clamp to its maximum, which every
// range check below then treats as "too large" or "no limit".
bool AsInt(const Json& value, int64_t& out) {
  if (value.is_number_unsigned()) {
    out = static_cast<int64_t>(std::min<uint64_t>(value.get<uint64_t>(), kInt64Max));
    return true;
  }
  if (value.is_number_integer()) {
    out = value.get<int64_t>();
    return true;
  }
  return false;
}

std::string RangeMessage(std::string_view name, int64_t lo, int64_t hi, const Json& got) {
  if (hi == kInt64Max || hi == kInt32Max) {
    return fmt::format("'{}' must be at least {}, got {}", name, lo, got.dump());
  }
  return fmt::format("'{}' must be between {} and {}, got {}", name, lo, hi, got.dump());
}

// Reads optional top-level fields of the request body. Each reader returns false after
// recording the first error, so a chain of them joined with && stops at the first problem.
class Reader {
 public:
  explicit Reader(const Json& body) : body_(body) {}

  const ApiError& error() const { return error_; }

  // Always false, so that a check can `return Fail(...)`.
  bool Fail(std::string param, std::string message) {
    error_ = Invalid(std::move(param), std::move(message));
    return false;
  }

  // The field, or nullptr when absent or null: OpenAI's clients send null for "not given".
  const Json* Get(const char* name) const {
    auto it = body_.find(name);
    return it == body_.end() || it->is_null() ? nullptr : &*it;
  }

  bool Bool(const char* name, bool& out) {
    const Json* value = Get(name);
    if (value == nullptr) return true;
    if (!value->is_boolean()) return Fail(name, fmt::format("'{}' must be a boolean", name));
    out = value->get<bool>();
    return true;
  }

  bool String(const char* name, std::string& out) {
    const Json* value = Get(name);
    if (value == nullptr) return true;
    if (!value->is_string()) return Fail(name, fmt::format("'{}' must be a string", name));
    out = value->get<std::string>();
    return true;
  }

  template <typename T>
  bool Int(const char* name, int64_t lo, int64_t hi, T& out) {
    const Json* value = Get(name);
    if (value == nullptr) return true;
    int64_t v = 0;
    if (!AsInt(*value, v)) return Fail(name, fmt::format("'{}' must be an integer", name));
    if (v < lo || v > hi) return Fail(name, RangeMessage(name, lo, hi, *value));
    out = static_cast<T>(v);
    return true;
  }

  // A number (integer or not) in [lo, hi].
  bool Number(const char* name, double lo, double hi, float& out) {
    const Json* value = Get(name);
    if (value == nullptr) return true;
    if (!value->is_number()) return Fail(name, fmt::format("'{}' must be a number", name));
    const double v = value->get<double>();
    if (!(v >= lo && v <= hi)) {
      return Fail(
          name, fmt::format("'{}' must be between {} and {}, got {}", name, lo, hi, value->dump()));
    }
    out = static_cast<float>(v);
    return true;
  }

  // Fields that would change the result in ways this server cannot honour are refused rather
  // than ignored, so a client never gets an answer to a question it did not ask.
  bool Unsupported(const char* name, std::string_view why) {
    return Fail(name, fmt::format("'{}' is not supported by this server{}", name, why));
  }

 private:
  const Json& body_;
  ApiError error_;
};

// ---- messages (chat) ----

bool IsKnownRole(const std::string& role) {
  return role == "system" || role == "developer" || role == "user" || role == "assistant" ||
         role == "tool";
}

// `content` as one string: text parts are concatenated without a separator, as OpenAI feeds
// them to the model; any other part (image_url, input_audio, file, refusal) is refused.
bool ReadContent(Reader& r, const Json* content, bool nullable, const std::string& param,
                 std::string& out) {
  if (content == nullptr || content->is_null()) {
    if (nullable) return true;
    return r.Fail(param, fmt::format("'{}' is required", param));
  }
  if (content->is_string()) {
    out = content->get<std::string>();
    return true;
  }
  if (!content->is_array()) {
    return r.Fail(param, fmt::format("'{}' must be a string or an array of content parts", param));
  }
  for (size_t j = 0; j < content->size(); ++j) {
    const Json& part = (*content)[j];
    const std::string where = fmt::format("{}[{}]", param, j);
    if (!part.is_object()) return r.Fail(param, fmt::format("'{}' must be an object", where));
    auto type = part.find("type");
    if (type == part.end() || !type->is_string()) {
      return r.Fail(param, fmt::format("'{}.type' must be a string", where));
    }
    if (type->get_ref<const std::string&>() != "text") {
      return r.Fail(param, fmt::format("'{}': content part type {} is not supported by this "
                                       "server (text only)",
                                       where, Quote(type->get_ref<const std::string&>())));
    }
    auto text = part.find("text");
    if (text == part.end() || !text->is_string()) {
      return r.Fail(param, fmt::format("'{}.text' must be a string", where));
    }
    out += text->get_ref<const std::string&>();
  }
  return true;
}

bool ReadMessages(Reader& r, CompletionRequest& request) {
  const Json* messages = r.Get("messages");
  if (messages == nullptr) return r.Fail("messages", "'messages' is required");
  if (!messages->is_array()) return r.Fail("messages", "'messages' must be an array");
  if (messages->empty()) return r.Fail("messages", "'messages' must not be empty");
  request.messages = Json::array();
  for (size_t i = 0; i < messages->size(); ++i) {
    const Json& message = (*messages)[i];
    const std::string where = fmt::format("messages[{}]", i);
    if (!message.is_object()) return r.Fail(where, fmt::format("'{}' must be an object", where));
    auto role = message.find("role");
    if (role == message.end() || role->is_null()) {
      return r.Fail(where + ".role", fmt::format("'{}.role' is required", where));
    }
    if (!role->is_string()) {
      return r.Fail(where + ".role", fmt::format("'{}.role' must be a string", where));
    }
    if (!IsKnownRole(role->get_ref<const std::string&>())) {
      return r.Fail(where + ".role",
                    fmt::format("'{}.role' must be one of system, developer, user, assistant, "
                                "tool, got {}",
                                where, Quote(role->get_ref<const std::string&>())));
    }
    // An assistant turn that only called tools has no content; it renders as empty.
    const bool nullable = role->get_ref<const std::string&>() == "assistant";
    auto content = message.find("content");
    std::string text;
    if (!ReadContent(r, content == message.end() ? nullptr : &*content, nullable,
                     where + ".content", text)) {
      return false;
    }
    ApiError tool_error;
    if (!CheckMessageToolFields(message, where, tool_error)) {
      return r.Fail(tool_error.param, tool_error.message);
    }
    Json normalized = message;
    normalized["content"] = std::move(text);
    request.messages.push_back(std::move(normalized));
  }
  return true;
}

// ---- prompt (completions) ----

bool ReadTokens(Reader& r, const Json& array, const ParseLimits& limits,
                std::vector<int32_t>& out) {
  const int64_t end = limits.n_vocab > 0 ? limits.n_vocab : int64_t{kInt32Max} + 1;
  out.reserve(array.size());
  for (const Json& item : array) {
    int64_t id = 0;
    if (!AsInt(item, id)) {
      return r.Fail("prompt", "'prompt' token arrays must hold only integers");
    }
    if (id < 0 || id >= end) {
      return r.Fail("prompt", fmt::format("'prompt' holds token id {}, outside the vocabulary "
                                          "(0..{})",
                                          item.dump(), end - 1));
    }
    out.push_back(static_cast<int32_t>(id));
  }
  return true;
}

bool ReadPrompt(Reader& r, const ParseLimits& limits, CompletionRequest& request) {
  constexpr const char* kShape =
      "'prompt' must be a string, an array of strings, an array of token ids or an array of "
      "token id arrays";
  const Json* prompt = r.Get("prompt");
  if (prompt == nullptr) return r.Fail("prompt", "'prompt' is required");
  if (prompt->is_string()) {
    request.prompts.emplace_back(prompt->get<std::string>());
    return true;
  }
  if (!prompt->is_array()) return r.Fail("prompt", kShape);
  if (prompt->empty()) return r.Fail("prompt", "'prompt' must not be empty");
  const Json& head = prompt->front();
  if (head.is_number()) {
    std::vector<int32_t> tokens;
    if (!ReadTokens(r, *prompt, limits, tokens)) return false;
    request.prompts.emplace_back(std::move(tokens));
    return true;
  }
  for (const Json& item : *prompt) {
    if (head.is_string() && item.is_string()) {
      request.prompts.emplace_back(item.get<std::string>());
    } else if (head.is_array() && item.is_array()) {
      if (item.empty()) return r.Fail("prompt", "'prompt' must not hold an empty token array");
      std::vector<int32_t> tokens;
      if (!ReadTokens(r, item, limits, tokens)) return false;
      request.prompts.emplace_back(std::move(tokens));
    } else {
      return r.Fail("prompt", kShape);
    }
  }
  return true;
}

// ---- generation settings ----

bool ReadMaxTokens(Reader& r, Endpoint endpoint, CompletionRequest& request) {
  int64_t max_tokens = -1;
  int64_t max_completion_tokens = -1;
  if (!r.Int("max_tokens", 1, kInt64Max, max_tokens)) return false;
  // max_completion_tokens replaced max_tokens in the chat API; a null one does not override.
  if (endpoint == Endpoint::kChat &&
      !r.Int("max_completion_tokens", 1, kInt64Max, max_completion_tokens)) {
    return false;
  }
  request.max_tokens = max_completion_tokens != -1 ? max_completion_tokens : max_tokens;
  return true;
}

bool ReadSeed(Reader& r, CompletionRequest& request) {
  const Json* seed = r.Get("seed");
  if (seed == nullptr) return true;
  if (seed->is_number_unsigned()) {
    request.sampling.seed = seed->get<uint64_t>();
  } else if (seed->is_number_integer()) {
    // Negative seeds keep their bit pattern, so each distinct value is a distinct seed.
    request.sampling.seed = static_cast<uint64_t>(seed->get<int64_t>());
  } else {
    return r.Fail("seed", "'seed' must be an integer");
  }
  request.seed_given = true;
  return true;
}

bool ReadSampling(Reader& r, CompletionRequest& request) {
  sampling::SamplingParams& s = request.sampling;
  float top_p = s.top_p;
  const bool ok =
      r.Number("temperature", 0.0, 2.0, s.temperature) && r.Number("top_p", 0.0, 1.0, top_p) &&
      r.Int("top_k", 0, kInt32Max, s.top_k) && r.Number("min_p", 0.0, 1.0, s.min_p) &&
      r.Int("repeat_last_n", 0, kInt32Max, s.repeat_last_n) &&
      r.Number("presence_penalty", -2.0, 2.0, s.presence_penalty) &&
      r.Number("frequency_penalty", -2.0, 2.0, s.frequency_penalty) && ReadSeed(r, request);
  if (!ok) return false;
  if (const Json* penalty = r.Get("repeat_penalty")) {
    if (!penalty->is_number()) return r.Fail("repeat_penalty", "'repeat_penalty' must be a number");
    // The penalty divides logits, so it must stay a positive, finite float.
    const auto v = static_cast<float>(penalty->get<double>());
    if (!(v > 0.0f && std::isfinite(v))) {
      return r.Fail("repeat_penalty",
                    "'repeat_penalty' must be greater than 0, got " + penalty->dump());
    }
    s.repeat_penalty = v;
  }
  // OpenAI accepts top_p = 0, the smallest nucleus: only the most likely token. Our top-p
  // sampler wants (0, 1], so the same choice is made by top-k = 1 with top-p off.
  if (top_p == 0.0f) {
    s.top_p = 1.0f;
    s.top_k = 1;
  } else {
    s.top_p = top_p;
  }
  return true;
}

bool ReadLogitBias(Reader& r, const ParseLimits& limits, CompletionRequest& request) {
  const Json* bias = r.Get("logit_bias");
  if (bias == nullptr) return true;
  if (!bias->is_object()) {
    return r.Fail("logit_bias", "'logit_bias' must be an object mapping token ids to numbers");
  }
  const int64_t end = limits.n_vocab > 0 ? limits.n_vocab : int64_t{kInt32Max} + 1;
  for (const auto& [key, value] : bias->items()) {
    int64_t id = -1;
    const char* first = key.data();
    const char* last = key.data() + key.size();
    auto [ptr, ec] = std::from_chars(first, last, id);
    if (key.empty() || ec != std::errc() || ptr != last) {
      return r.Fail("logit_bias",
                    fmt::format("'logit_bias' key {} is not a token id", Quote(key, 32)));
    }
    if (id < 0 || id >= end) {
      return r.Fail("logit_bias", fmt::format("'logit_bias' names token {}, outside the "
                                              "vocabulary (0..{})",
                                              id, end - 1));
    }
    if (!value.is_number()) {
      return r.Fail("logit_bias",
                    fmt::format("'logit_bias' value for token {} must be a number", id));
    }
    const double v = value.get<double>();
    if (!(v >= -100.0 && v <= 100.0)) {
      return r.Fail("logit_bias",
                    fmt::format("'logit_bias' value for token {} must be between -100 and 100, "
                                "got {}",
                                id, value.dump()));
    }
    // OpenAI documents -100 as a ban; -inf makes it one whatever the logits are.
    request.sampling.logit_bias[static_cast<int32_t>(id)] =
        v <= -100.0 ? -std::numeric_limits<float>::infinity() : static_cast<float>(v);
  }
  return true;
}

bool ReadStop(Reader& r, CompletionRequest& request) {
  const Json* stop = r.Get("stop");
  if (stop == nullptr) return true;
  constexpr const char* kShape = "'stop' must be a string or an array of strings";
  // An empty stop string would end generation before the first token.
  if (stop->is_string()) {
    if (!stop->get_ref<const std::string&>().empty())
      request.stop.push_back(stop->get<std::string>());
    return true;
  }
  if (!stop->is_array()) return r.Fail("stop", kShape);
  if (stop->size() > kMaxStop) {
    return r.Fail(
        "stop", fmt::format("'stop' may hold at most {} strings, got {}", kMaxStop, stop->size()));
  }
  for (const Json& item : *stop) {
    if (!item.is_string()) return r.Fail("stop", kShape);
    if (!item.get_ref<const std::string&>().empty())
      request.stop.push_back(item.get<std::string>());
  }
  return true;
}

bool ReadStream(Reader& r, CompletionRequest& request) {
  if (!r.Bool("stream", request.stream) || !r.Bool("ignore_eos", request.ignore_eos)) return false;
  const Json* options = r.Get("stream_options");
  if (options == nullptr) return true;
  if (!options->is_object()) return r.Fail("stream_options", "'stream_options' must be an object");
  if (!request.stream) {
    return r.Fail("stream_options", "'stream_options' is only allowed when 'stream' is true");
  }
  auto include_usage = options->find("include_usage");
  if (include_usage == options->end() || include_usage->is_null()) return true;
  if (!include_usage->is_boolean()) {
    return r.Fail("stream_options.include_usage",
                  "'stream_options.include_usage' must be a boolean");
  }
  request.include_usage = include_usage->get<bool>();
  return true;
}

bool ReadLogprobs(Reader& r, Endpoint endpoint, CompletionRequest& request) {
  if (endpoint == Endpoint::kCompletion) {
    // The legacy API's `logprobs` is the number of alternatives; 0 still reports the chosen
    // token's own logprob.
    int top = -1;
    if (!r.Int("logprobs", 0, kMaxCompletionLogprobs, top)) return false;
    if (top >= 0) {
      request.logprobs = true;
      request.top_logprobs = top;
    }
    return true;
  }
  if (!r.Bool("logprobs", request.logprobs)) return false;
  if (!r.Int("top_logprobs", 0, kMaxChatTopLogprobs, request.top_logprobs)) return false;
  if (r.Get("top_logprobs") != nullptr && !request.logprobs) {
    return r.Fail("top_logprobs", "'top_logprobs' is only allowed when 'logprobs' is true");
  }
  return true;
}

bool RejectUnsupported(Reader& r, Endpoint endpoint) {
  auto non_empty = [&](const char* name) {
    const Json* v = r.Get(name);
    return v != nullptr && !(v->is_array() && v->empty());
  };
  auto other_than = [&](const char* name, const Json& allowed) {
    const Json* v = r.Get(name);
    return v != nullptr && *v != allowed;
  };
  if (endpoint == Endpoint::kChat) {
    if (non_empty("functions")) {
      return r.Unsupported("functions", " (the legacy function calling; use 'tools')");
    }
    if (other_than("function_call", "none")) {
      return r.Unsupported("function_call",
                           " (the legacy function calling; use 'tool_choice'; only \"none\" is "
                           "accepted)");
    }
    if (r.Get("audio") != nullptr) return r.Unsupported("audio", " (text output only)");
    if (other_than("modalities", Json::array({"text"}))) {
      return r.Unsupported("modalities", " (only [\"text\"] is accepted)");
    }
    if (r.Get("prediction") != nullptr) {
      return r.Unsupported("prediction", " (no predicted outputs)");
    }
    return true;
  }
  bool echo = false;
  std::string suffix;
  int64_t best_of = 1;
  if (!r.Bool("echo", echo) || !r.String("suffix", suffix) ||
      !r.Int("best_of", 1, kInt64Max, best_of)) {
    return false;
  }
  if (echo) return r.Unsupported("echo", " (the prompt is not returned)");
  if (!suffix.empty()) return r.Unsupported("suffix", " (no fill-in-the-middle)");
  if (best_of > 1) return r.Unsupported("best_of", " (only 1 is accepted)");
  return true;
}

std::variant<CompletionRequest, ApiError> Parse(std::string_view body, Endpoint endpoint,
                                                const ParseLimits& limits) {
  if (NestsTooDeep(body)) {
    return Invalid("", fmt::format("invalid JSON in the request body: nested deeper than {} "
                                   "levels",
                                   kMaxDepth));
  }
  Json root;
  try {
    root = Json::parse(body);
  } catch (const Json::exception& e) {
    return Invalid("", "invalid JSON in the request body: " + JsonReason(e));
  }
  if (!root.is_object()) return Invalid("", "the request body must be a JSON object");

  CompletionRequest request;
  request.endpoint = endpoint;
  Reader r(root);
  const bool ok =
      r.String("model", request.model) &&
      (endpoint == Endpoint::kChat ? ReadMessages(r, request) : ReadPrompt(r, limits, request)) &&
      ReadMaxTokens(r, endpoint, request) && ReadSampling(r, request) &&
      ReadLogitBias(r, limits, request) && ReadStop(r, request) &&
      r.Int("n", 1, limits.max_n, request.n) && ReadStream(r, request) &&
      ReadLogprobs(r, endpoint, request) && RejectUnsupported(r, endpoint);
  if (!ok) return r.error();
  if (endpoint == Endpoint::kChat) {
    ApiError error;
    if (!ReadToolFields(root, request, error)) return error;
  }
  return request;
}

// ---- responses ----

// The shortest decimal that reads back as the same float, so -0.1f is written -0.1 rather
// than -0.10000000149011612.
double LogprobValue(float logprob) {
  if (!(logprob >= kMinLogprob)) return kMinLogprob;  // also NaN
  char buffer[32];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), logprob);
  double value = logprob;
  if (ec == std::errc()) std::from_chars(buffer, end, value);
  return value;
}

Json Bytes(std::string_view token) {
  Json bytes = Json::array();
  for (unsigned char c : token) bytes.push_back(int{c});
  return bytes;
}

Json ChatLogprobEntry(const std::string& token, float logprob) {
  return Json{{"token", token}, {"logprob", LogprobValue(logprob)}, {"bytes", Bytes(token)}};
}

Json ChatLogprobs(const std::vector<TokenLogprob>& logprobs) {
  Json content = Json::array();
  for (const TokenLogprob& t : logprobs) {
    Json entry = ChatLogprobEntry(t.token, t.logprob);
    Json top = Json::array();
    for (const auto& [token, logprob] : t.top) top.push_back(ChatLogprobEntry(token, logprob));
    entry["top_logprobs"] = std::move(top);
    content.push_back(std::move(entry));
  }
  return Json{{"content", std::move(content)}};
}

// The legacy shape: parallel arrays. text_offset counts bytes from the start of the text the
// tokens belong to (the choice's text, or the chunk's text when streaming).
Json CompletionLogprobs(const std::vector<TokenLogprob>& logprobs) {
  Json tokens = Json::array();
  Json token_logprobs = Json::array();
  Json top_logprobs = Json::array();
  Json text_offset = Json::array();
  size_t offset = 0;
  for (const TokenLogprob& t : logprobs) {
    tokens.push_back(t.token);
    token_logprobs.push_back(LogprobValue(t.logprob));
    Json top = Json::object();
    // Two tokens can print alike (e.g. partial UTF-8); the likelier one keeps the key.
    for (const auto& [token, logprob] : t.top) {
      if (!top.contains(token)) top[token] = LogprobValue(logprob);
    }
    top_logprobs.push_back(std::move(top));
    text_offset.push_back(offset);
    offset += t.token.size();
  }
  return Json{{"tokens", std::move(tokens)},
              {"token_logprobs", std::move(token_logprobs)},
              {"top_logprobs", std::move(top_logprobs)},
              {"text_offset", std::move(text_offset)}};
}

const char* ObjectName(Endpoint endpoint, bool chunk) {
  if (endpoint == Endpoint::kCompletion) return "text_completion";
  return chunk ? "chat.completion.chunk" : "chat.completion";
}

Json Envelope(Endpoint endpoint, bool chunk, const ResponseMeta& meta) {
  Json out = Json::object();
  out["id"] = meta.id;
  out["object"] = ObjectName(endpoint, chunk);
  out["created"] = meta.created;
  out["model"] = meta.model;
  if (!meta.system_fingerprint.empty()) out["system_fingerprint"] = meta.system_fingerprint;
  return out;
}

Json UsageJson(const Usage& usage) {
  return Json{{"prompt_tokens", usage.prompt_tokens},
              {"completion_tokens", usage.completion_tokens},
              {"total_tokens", usage.prompt_tokens + usage.completion_tokens},
              {"prompt_tokens_details", Json{{"cached_tokens", usage.cached_tokens}}}};
}

}  // namespace

Json ErrorBody(const ApiError& error) {
  Json inner = Json::object();
  inner["message"] = error.message;
  inner["type"] = error.type;
  inner["param"] = error.param.empty() ? Json() : Json(error.param);
  inner["code"] = error.code.empty() ? Json() : Json(error.code);
  return Json{{"error", std::move(inner)}};
}

std::variant<CompletionRequest, ApiError> ParseCompletionRequest(std::string_view body,
                                                                 Endpoint endpoint,
                                                                 const ParseLimits& limits) {
  try {
    return Parse(body, endpoint, limits);
  } catch (const std::exception& e) {
    // Only running out of memory (or a bug) gets here; the client is not at fault.
    ApiError error;
    error.status = 500;
    error.type = "server_error";
    error.message = std::string("internal error while reading the request: ") + e.what();
    return error;
  }
}

Json CompletionResponse(Endpoint endpoint, const ResponseMeta& meta,
                        const std::vector<ChoiceResult>& choices, const Usage& usage) {
  Json out = Envelope(endpoint, false, meta);
  Json list = Json::array();
  for (const ChoiceResult& c : choices) {
    Json choice = Json::object();
    if (endpoint == Endpoint::kChat) {
      choice["index"] = c.index;
      Json message = Json{{"role", "assistant"}, {"content", c.text}};
      if (!c.tool_calls.empty()) {
        if (c.text.empty()) message["content"] = nullptr;
        message["tool_calls"] = ToolCallsJson(c.tool_calls);
      }
      choice["message"] = std::move(message);
      choice["logprobs"] = c.has_logprobs ? ChatLogprobs(c.logprobs) : Json();
    } else {
      choice["text"] = c.text;
      choice["index"] = c.index;
      choice["logprobs"] = c.has_logprobs ? CompletionLogprobs(c.logprobs) : Json();
    }
    choice["finish_reason"] = c.finish_reason;
    list.push_back(std::move(choice));
  }
  out["choices"] = std::move(list);
  out["usage"] = UsageJson(usage);
  return out;
}

Json StreamChunk(Endpoint endpoint, const ResponseMeta& meta, int index, bool first,
                 std::string_view text, const std::string* finish_reason,
                 const std::vector<TokenLogprob>* logprobs, bool include_usage,
                 const std::vector<ToolCallDelta>* tool_calls) {
  Json out = Envelope(endpoint, true, meta);
  Json choice = Json::object();
  if (endpoint == Endpoint::kChat) {
    choice["index"] = index;
    const bool calls = tool_calls != nullptr && !tool_calls->empty();
    Json delta = Json::object();
    if (first) {
      delta["role"] = "assistant";
      // OpenAI's first chunk of a tool call has "content": null.
      delta["content"] = calls && text.empty() ? Json() : Json(text);
    } else if (!text.empty() || (finish_reason == nullptr && !calls)) {
      delta["content"] = text;
    }
    if (calls) delta["tool_calls"] = ToolCallDeltasJson(*tool_calls);
    choice["delta"] = std::move(delta);
    choice["logprobs"] = logprobs != nullptr ? ChatLogprobs(*logprobs) : Json();
  } else {
    choice["text"] = text;
    choice["index"] = index;
    choice["logprobs"] = logprobs != nullptr ? CompletionLogprobs(*logprobs) : Json();
  }
  choice["finish_reason"] = finish_reason != nullptr ? Json(*finish_reason) : Json();
  out["choices"] = Json::array({std::move(choice)});
  if (include_usage) out["usage"] = nullptr;
  return out;
}

Json UsageChunk(Endpoint endpoint, const ResponseMeta& meta, const Usage& usage) {
  Json out = Envelope(endpoint, true, meta);
  out["choices"] = Json::array();
  out["usage"] = UsageJson(usage);
  return out;
}

std::string Dump(const Json& value) {
  try {
    return value.dump(-1, ' ', false, Json::error_handler_t::replace);
  } catch (const std::exception&) {
    // Only allocation can fail here; a fixed error is still valid JSON for the client.
    return R"({"error":{"message":"the response could not be serialized","type":"server_error",)"
           R"("param":null,"code":null}})";
  }
}

std::string SseEvent(const Json& value) {
  return "data: " + Dump(value) + "\n\n";
}

}  // namespace wick::api
