// The OpenAI wire format of /v1/chat/completions and /v1/completions: request bodies parsed
// and validated into CompletionRequest, responses and stream chunks built as JSON, and errors
// in OpenAI's shape {"error": {"message", "type", "param", "code"}}.
//
// Pure functions, no I/O: the HTTP server and the remote providers call them; the engine never
// sees JSON.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "api/openai_tools.h"
#include "sampling/sampler_chain.h"

namespace wick::api {

// An error as the API reports it. `param` and `code` are null in the body when empty.
struct ApiError {
  int status = 400;
  std::string message;
  std::string type = "invalid_request_error";  // authentication_error, server_error, ...
  std::string param;
  std::string code;
};

// {"error":{"message":..,"type":..,"param":..|null,"code":..|null}}
nlohmann::ordered_json ErrorBody(const ApiError& error);

enum class Endpoint { kChat, kCompletion };

// One prompt of /v1/completions: text, or token ids given directly.
using PromptInput = std::variant<std::string, std::vector<int32_t>>;

struct CompletionRequest {
  Endpoint endpoint = Endpoint::kChat;
  std::string model;  // as sent; "" when absent
  // kChat: the messages, each {"role", "content": string} with content parts joined, plus any
  // other fields the message had (name, tool_calls...) for the template.
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  // kCompletion: one or more prompts (choices are prompt-major: prompt i, choice j -> index
  // i * n + j).
  std::vector<PromptInput> prompts;
  int64_t max_tokens = -1;  // -1: until end of generation or the context is full
  std::vector<std::string> stop;
  sampling::SamplingParams sampling;
  bool seed_given = false;  // otherwise the server draws a seed per choice
  int n = 1;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  bool logprobs = false;
  int top_logprobs = 0;     // 0..20 (chat), 0..5 (completions: the "logprobs" integer)
  bool ignore_eos = false;  // llama-server's extension for benchmarks: generate past end tokens
  // kChat: structured output and tool calling (openai_tools.h). `tools` holds the validated
  // tool definitions as sent.
  ResponseFormat response_format;
  nlohmann::ordered_json tools = nlohmann::ordered_json::array();
  ToolChoice tool_choice;
  std::optional<bool> parallel_tool_calls;  // as sent; OpenAI's default is true
};

struct ParseLimits {
  int64_t n_vocab = 0;  // logit_bias keys and prompt token ids must be below it
  int max_n = 16;       // largest accepted n
};

// Parses and validates a request body. Errors are 400s whose message names the field (and
// `param` is set to it): malformed JSON, a wrong type, a value out of range, a missing
// required field, or a field that would change the result but is not supported (the legacy
// functions and function_call, echo, suffix, best_of > 1, images in content). Unknown fields
// are ignored.
std::variant<CompletionRequest, ApiError> ParseCompletionRequest(std::string_view body,
                                                                 Endpoint endpoint,
                                                                 const ParseLimits& limits);

// The log-probability of one generated token and the most likely alternatives.
struct TokenLogprob {
  std::string token;  // the token's bytes (may be part of a UTF-8 character)
  float logprob = 0;
  std::vector<std::pair<std::string, float>> top;  // most likely first
};

struct ChoiceResult {
  int index = 0;
  std::string text;
  std::string finish_reason;  // "stop", "length", "tool_calls"
  bool has_logprobs = false;
  std::vector<TokenLogprob> logprobs;
  std::vector<ToolCall> tool_calls;  // chat: message.tool_calls (content is null when empty)
};

struct Usage {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t cached_tokens = 0;  // prompt_tokens_details.cached_tokens
};

// Identity of one response, shared by all its chunks.
struct ResponseMeta {
  std::string id;  // "chatcmpl-..." or "cmpl-..."
  int64_t created = 0;
  std::string model;
  std::string system_fingerprint;  // "" leaves it out
};

// A whole non-streamed response: "chat.completion" or "text_completion".
nlohmann::ordered_json CompletionResponse(Endpoint endpoint, const ResponseMeta& meta,
                                          const std::vector<ChoiceResult>& choices,
                                          const Usage& usage);

// One streamed piece of one choice ("chat.completion.chunk" / "text_completion"). Chat: the
// first chunk of a choice carries delta.role = "assistant" (`first`), later ones delta.content;
// the last has an empty delta and finish_reason. `logprobs` (may be null) covers the tokens of
// `text`. With include_usage every chunk has "usage": null. `tool_calls` (chat; null or empty:
// none) become delta.tool_calls, and a first chunk with them has "content": null.
nlohmann::ordered_json StreamChunk(Endpoint endpoint, const ResponseMeta& meta, int index,
                                   bool first, std::string_view text,
                                   const std::string* finish_reason,
                                   const std::vector<TokenLogprob>* logprobs, bool include_usage,
                                   const std::vector<ToolCallDelta>* tool_calls = nullptr);

// The final usage chunk of a stream with include_usage: "choices": [] and the usage.
nlohmann::ordered_json UsageChunk(Endpoint endpoint, const ResponseMeta& meta, const Usage& usage);

// Serializes for the wire: compact, invalid UTF-8 replaced by U+FFFD (token pieces may hold
// part of a character), never throws.
std::string Dump(const nlohmann::ordered_json& value);

// "data: <json>\n\n"
std::string SseEvent(const nlohmann::ordered_json& value);

}  // namespace wick::api
