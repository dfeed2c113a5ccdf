#include "api/openai_client.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <exception>
#include <utility>

namespace wick::api {
namespace {

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;

// The shortest decimal that reads back as the same float: 0.8f goes out as 0.8, not as
// 0.800000011920929, which a strict server might range-check differently.
double Shortest(float value) {
  char buffer[32];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  double out = value;
  if (ec == std::errc()) std::from_chars(buffer, end, out);
  return out;
}

Error Corrupt(std::string message) {
  return Error(ErrorCode::kCorrupt, std::move(message));
}

// The field, or nullptr when absent or null: servers write null for "not given".
const Json* Field(const Json& object, const char* name) {
  auto it = object.find(name);
  return it == object.end() || it->is_null() ? nullptr : &*it;
}

bool ReadInt(const Json* value, int64_t& out) {
  if (value == nullptr || !value->is_number_integer()) return false;
  out = value->is_number_unsigned()
            ? static_cast<int64_t>(std::min<uint64_t>(value->get<uint64_t>(), INT64_MAX))
            : value->get<int64_t>();
  return true;
}

// A logprob: a number, or null where a server had none (treated as impossible).
float ReadLogprob(const Json* value) {
  if (value == nullptr || !value->is_number()) return -9999.0f;
  return static_cast<float>(value->get<double>());
}

// A token's exact bytes: "bytes" when it is a valid byte array (the token string itself may
// have had a partial UTF-8 character replaced), else the string.
std::string TokenText(const Json& entry) {
  if (const Json* bytes = Field(entry, "bytes"); bytes != nullptr && bytes->is_array()) {
    std::string out;
    bool valid = true;
    for (const Json& b : *bytes) {
      if (!b.is_number_integer() || b.get<int64_t>() < 0 || b.get<int64_t>() > 255) {
        valid = false;
        break;
      }
      out.push_back(static_cast<char>(b.get<int64_t>()));
    }
    if (valid) return out;
  }
  const Json* token = Field(entry, "token");
  return token != nullptr && token->is_string() ? token->get<std::string>() : std::string();
}

// Chat: {"content": [{"token", "logprob", "bytes", "top_logprobs": [...]}]}.
Result<std::vector<TokenLogprob>> ChatLogprobs(const Json& logprobs, const std::string& where) {
  std::vector<TokenLogprob> out;
  if (!logprobs.is_object()) return Corrupt(fmt::format("'{}' must be an object", where));
  const Json* content = Field(logprobs, "content");
  if (content == nullptr) return out;
  if (!content->is_array()) return Corrupt(fmt::format("'{}.content' must be an array", where));
  for (const Json& entry : *content) {
    if (!entry.is_object()) {
      return Corrupt(fmt::format("'{}.content' must hold objects", where));
    }
    TokenLogprob t;
    t.token = TokenText(entry);
    t.logprob = ReadLogprob(Field(entry, "logprob"));
    if (const Json* top = Field(entry, "top_logprobs"); top != nullptr && top->is_array()) {
      for (const Json& alt : *top) {
        if (alt.is_object()) t.top.emplace_back(TokenText(alt), ReadLogprob(Field(alt, "logprob")));
      }
    }
    out.push_back(std::move(t));
  }
  return out;
}

// Completions: parallel arrays "tokens", "token_logprobs", "top_logprobs" ({token: logprob}
// objects, whose order JSON does not keep, so alternatives are re-sorted most likely first).
Result<std::vector<TokenLogprob>> CompletionLogprobs(const Json& logprobs,
                                                     const std::string& where) {
  std::vector<TokenLogprob> out;
  if (!logprobs.is_object()) return Corrupt(fmt::format("'{}' must be an object", where));
  const Json* tokens = Field(logprobs, "tokens");
  if (tokens == nullptr) return out;
  if (!tokens->is_array()) return Corrupt(fmt::format("'{}.tokens' must be an array", where));
  const Json* values = Field(logprobs, "token_logprobs");
  const Json* tops = Field(logprobs, "top_logprobs");
  for (size_t i = 0; i < tokens->size(); ++i) {
    TokenLogprob t;
    if ((*tokens)[i].is_string()) t.token = (*tokens)[i].get<std::string>();
    if (values != nullptr && values->is_array() && i < values->size()) {
      t.logprob = ReadLogprob(&(*values)[i]);
    }
    if (tops != nullptr && tops->is_array() && i < tops->size() && (*tops)[i].is_object()) {
      for (const auto& [token, value] : (*tops)[i].items()) {
        t.top.emplace_back(token, ReadLogprob(&value));
      }
      std::stable_sort(t.top.begin(), t.top.end(),
                       [](const auto& a, const auto& b) { return a.second > b.second; });
    }
    out.push_back(std::move(t));
  }
  return out;
}

Result<Usage> ReadUsage(const Json& usage) {
  if (!usage.is_object()) return Corrupt("'usage' must be an object");
  Usage out;
  if (!ReadInt(Field(usage, "prompt_tokens"), out.prompt_tokens) ||
      !ReadInt(Field(usage, "completion_tokens"), out.completion_tokens)) {
    return Corrupt("'usage' must hold integer prompt_tokens and completion_tokens");
  }
  if (out.prompt_tokens < 0 || out.completion_tokens < 0) {
    return Corrupt("'usage' holds a negative token count");
  }
  if (const Json* details = Field(usage, "prompt_tokens_details");
      details != nullptr && details->is_object()) {
    ReadInt(Field(*details, "cached_tokens"), out.cached_tokens);
  }
  return out;
}

// A choice's index: required by OpenAI, but some servers leave it out of single-choice
// answers, where the position says the same.
Result<int> ReadIndex(const Json& choice, size_t position, const std::string& where) {
  const Json* index = Field(choice, "index");
  if (index == nullptr) return static_cast<int>(position);
  int64_t value = 0;
  if (!ReadInt(index, value) || value < 0 || value > INT32_MAX) {
    return Corrupt(fmt::format("'{}.index' must be a non-negative integer", where));
  }
  return static_cast<int>(value);
}

Result<std::string> ReadText(const Json* text, const std::string& where) {
  if (text == nullptr) return std::string();
  if (!text->is_string()) return Corrupt(fmt::format("'{}' must be a string", where));
  return text->get<std::string>();
}

Result<std::string> ReadFinish(const Json& choice, const std::string& where) {
  return ReadText(Field(choice, "finish_reason"), where + ".finish_reason");
}

Result<std::vector<TokenLogprob>> ReadLogprobs(const Json& choice, bool chat,
                                               const std::string& where) {
  const Json* logprobs = Field(choice, "logprobs");
  if (logprobs == nullptr) return std::vector<TokenLogprob>();
  return chat ? ChatLogprobs(*logprobs, where + ".logprobs")
              : CompletionLogprobs(*logprobs, where + ".logprobs");
}

std::string ReadModel(const Json& object) {
  const Json* model = Field(object, "model");
  return model != nullptr && model->is_string() ? model->get<std::string>() : std::string();
}

// Chat chunks say so in "object" or by having "delta"; text_completion chunks have "text".
bool IsChat(const Json& object, const Json& choice) {
  const Json* kind = Field(object, "object");
  if (kind != nullptr && kind->is_string()) {
    return kind->get_ref<const std::string&>().rfind("chat.", 0) == 0;
  }
  return choice.contains("delta") || choice.contains("message");
}

std::optional<ApiError> ErrorFromJson(const Json& root, int status) {
  if (!root.is_object()) return std::nullopt;
  ApiError error;
  error.status = status;
  error.type = status >= 500 ? "server_error" : "invalid_request_error";
  auto text = [](const Json* value) {
    if (value == nullptr) return std::string();
    return value->is_string() ? value->get<std::string>() : value->dump();
  };
  if (const Json* inner = Field(root, "error")) {
    if (inner->is_object()) {
      error.message = text(Field(*inner, "message"));
      if (const Json* type = Field(*inner, "type"); type != nullptr && type->is_string()) {
        error.type = type->get<std::string>();
      }
      error.param = text(Field(*inner, "param"));
      error.code = text(Field(*inner, "code"));
    } else {
      error.message = text(inner);
    }
    return error;
  }
  for (const char* name : {"message", "detail"}) {
    if (const Json* message = Field(root, name)) {
      error.message = text(message);
      return error;
    }
  }
  return std::nullopt;
}

}  // namespace

OrderedJson RequestJson(const CompletionRequest& r, std::string_view model, bool stream) {
  const sampling::SamplingParams defaults;
  const sampling::SamplingParams& s = r.sampling;
  OrderedJson body = OrderedJson::object();
  if (!model.empty()) body["model"] = model;
  if (r.endpoint == Endpoint::kChat) {
    body["messages"] = r.messages;
  } else {
    auto one = [](const PromptInput& p) {
      if (const auto* text = std::get_if<std::string>(&p)) return OrderedJson(*text);
      return OrderedJson(std::get<std::vector<int32_t>>(p));
    };
    if (r.prompts.size() == 1) {
      body["prompt"] = one(r.prompts.front());
    } else {
      OrderedJson prompts = OrderedJson::array();
      for (const PromptInput& p : r.prompts) prompts.push_back(one(p));
      body["prompt"] = std::move(prompts);
    }
  }
  if (r.max_tokens >= 0) body["max_tokens"] = r.max_tokens;
  const bool zero_top_p = s.top_k == 1 && s.top_p >= 1.0f;
  body["temperature"] = Shortest(s.temperature);
  body["top_p"] = zero_top_p ? 0.0 : Shortest(s.top_p);
  body["presence_penalty"] = Shortest(s.presence_penalty);
  body["frequency_penalty"] = Shortest(s.frequency_penalty);
  if (!zero_top_p && s.top_k != defaults.top_k) body["top_k"] = s.top_k;
  if (s.min_p != defaults.min_p) body["min_p"] = Shortest(s.min_p);
  if (s.repeat_penalty != defaults.repeat_penalty) {
    body["repeat_penalty"] = Shortest(s.repeat_penalty);
  }
  if (s.repeat_last_n != defaults.repeat_last_n) body["repeat_last_n"] = s.repeat_last_n;
  if (!r.stop.empty()) body["stop"] = r.stop;
  // Negative seeds were kept as their bit pattern; the signed value is what the client sent.
  if (r.seed_given) body["seed"] = static_cast<int64_t>(s.seed);
  // An extension (wick, llama.cpp's server and vLLM read it); sent only when asked for, since
  // OpenAI itself refuses fields it does not know.
  if (r.ignore_eos) body["ignore_eos"] = true;
  if (r.endpoint == Endpoint::kChat) {
    OrderedJson fields = ToolFieldsJson(r);
    for (auto& [name, value] : fields.items()) body[name] = std::move(value);
  }
  body["n"] = r.n;
  if (!s.logit_bias.empty()) {
    OrderedJson bias = OrderedJson::object();
    for (const auto& [id, value] : s.logit_bias) {
      bias[std::to_string(id)] = std::isinf(value) && value < 0 ? -100.0 : Shortest(value);
    }
    body["logit_bias"] = std::move(bias);
  }
  if (r.logprobs) {
    if (r.endpoint == Endpoint::kChat) {
      body["logprobs"] = true;
      body["top_logprobs"] = r.top_logprobs;
    } else {
      body["logprobs"] = r.top_logprobs;
    }
  }
  if (stream) {
    body["stream"] = true;
    body["stream_options"] = OrderedJson{{"include_usage", true}};
  }
  return body;
}

Result<ParsedChunk> ParseStreamChunk(const Json& chunk) {
  if (!chunk.is_object()) return Corrupt("a stream chunk must be a JSON object");
  ParsedChunk out;
  if (chunk.contains("error") && !chunk.contains("choices")) {
    out.error = ErrorFromJson(chunk, 500);
    return out;
  }
  out.model = ReadModel(chunk);
  if (const Json* usage = Field(chunk, "usage")) {
    WICK_ASSIGN_OR_RETURN(out.usage, ReadUsage(*usage));
  }
  const Json* choices = Field(chunk, "choices");
  if (choices == nullptr) return out;
  if (!choices->is_array()) return Corrupt("'choices' must be an array");
  for (size_t i = 0; i < choices->size(); ++i) {
    const Json& choice = (*choices)[i];
    const std::string where = fmt::format("choices[{}]", i);
    if (!choice.is_object()) return Corrupt(fmt::format("'{}' must be an object", where));
    ChunkDelta delta;
    WICK_ASSIGN_OR_RETURN(delta.index, ReadIndex(choice, i, where));
    const bool chat = IsChat(chunk, choice);
    if (chat) {
      if (const Json* d = Field(choice, "delta")) {
        if (!d->is_object()) return Corrupt(fmt::format("'{}.delta' must be an object", where));
        WICK_ASSIGN_OR_RETURN(delta.text, ReadText(Field(*d, "content"), where + ".delta.content"));
        WICK_ASSIGN_OR_RETURN(delta.tool_calls, ReadToolCallDeltas(Field(*d, "tool_calls"),
                                                                   where + ".delta.tool_calls"));
      }
    } else {
      WICK_ASSIGN_OR_RETURN(delta.text, ReadText(Field(choice, "text"), where + ".text"));
    }
    WICK_ASSIGN_OR_RETURN(delta.logprobs, ReadLogprobs(choice, chat, where));
    WICK_ASSIGN_OR_RETURN(delta.finish_reason, ReadFinish(choice, where));
    out.deltas.push_back(std::move(delta));
  }
  return out;
}

Result<ParsedCompletion> ParseCompletion(const Json& response) {
  if (!response.is_object()) return Corrupt("a completion response must be a JSON object");
  ParsedCompletion out;
  out.model = ReadModel(response);
  if (const Json* usage = Field(response, "usage")) {
    WICK_ASSIGN_OR_RETURN(out.usage, ReadUsage(*usage));
  }
  const Json* choices = Field(response, "choices");
  if (choices == nullptr || !choices->is_array()) {
    return Corrupt("a completion response must hold a 'choices' array");
  }
  for (size_t i = 0; i < choices->size(); ++i) {
    const Json& choice = (*choices)[i];
    const std::string where = fmt::format("choices[{}]", i);
    if (!choice.is_object()) return Corrupt(fmt::format("'{}' must be an object", where));
    ChoiceResult result;
    WICK_ASSIGN_OR_RETURN(result.index, ReadIndex(choice, i, where));
    const bool chat = IsChat(response, choice);
    if (chat) {
      const Json* message = Field(choice, "message");
      if (message == nullptr || !message->is_object()) {
        return Corrupt(fmt::format("'{}.message' must be an object", where));
      }
      WICK_ASSIGN_OR_RETURN(result.text,
                            ReadText(Field(*message, "content"), where + ".message.content"));
      WICK_ASSIGN_OR_RETURN(result.tool_calls, ReadToolCalls(Field(*message, "tool_calls"),
                                                             where + ".message.tool_calls"));
    } else {
      WICK_ASSIGN_OR_RETURN(result.text, ReadText(Field(choice, "text"), where + ".text"));
    }
    result.has_logprobs = Field(choice, "logprobs") != nullptr;
    WICK_ASSIGN_OR_RETURN(result.logprobs, ReadLogprobs(choice, chat, where));
    WICK_ASSIGN_OR_RETURN(result.finish_reason, ReadFinish(choice, where));
    out.choices.push_back(std::move(result));
  }
  return out;
}

std::optional<ApiError> ParseErrorBody(std::string_view body, int status) {
  Json root = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) return std::nullopt;
  return ErrorFromJson(root, status);
}

}  // namespace wick::api
