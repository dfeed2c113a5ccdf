// The client side of the OpenAI wire format: the request body a remote provider sends for a
// CompletionRequest, and the chunks, responses and errors it gets back, read into the same
// types the server builds them from (openai_protocol.h). Pure functions, no I/O.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/openai_protocol.h"
#include "core/error.h"

namespace wick::api {

// The body of POST /chat/completions (kChat: "messages") or /completions (kCompletion:
// "prompt") for `request`, sent to `model` ("" leaves "model" out).
//
// Sent always: temperature, top_p, presence_penalty, frequency_penalty, n, and "max_tokens"
// (not max_completion_tokens: every OpenAI-compatible server still accepts it) when set.
// Sent when the request has them: stop, seed (seed_given), logit_bias (-inf as -100, OpenAI's
// ban), logprobs (chat: logprobs + top_logprobs; completions: the integer "logprobs").
// top_k, min_p, repeat_penalty and repeat_last_n are not OpenAI fields and api.openai.com
// refuses unknown ones, so they go out only when they differ from wick's defaults (which is
// only when the client set them); top_k = 1 with top_p = 1, what our parser makes of
// top_p = 0, goes out as top_p = 0 instead. Structured output and tools go out as the client
// sent them (ToolFieldsJson), and messages with their tool_calls and tool results as they
// were. With `stream`: "stream": true and "stream_options": {"include_usage": true}, so that
// usage is known even when streaming.
nlohmann::ordered_json RequestJson(const CompletionRequest& request, std::string_view model,
                                   bool stream);

// One choice's piece of a streamed chunk.
struct ChunkDelta {
  int index = 0;
  std::string text;                       // delta.content (chat) or text (completions)
  std::vector<TokenLogprob> logprobs;     // empty when the chunk had none
  std::string finish_reason;              // "" until the choice's last chunk
  std::vector<ToolCallDelta> tool_calls;  // delta.tool_calls (chat)
};

struct ParsedChunk {
  std::vector<ChunkDelta> deltas;
  std::optional<Usage> usage;     // the final usage chunk's (a null "usage" is none)
  std::string model;              // "" when absent
  std::optional<ApiError> error;  // an in-band {"error": ...} event: the stream failed
};

// Reads the JSON of one SSE `data:` line: a chat.completion.chunk or text_completion chunk,
// or an in-band error event. Optional fields may be missing or null; a wrong structure
// (not an object, "choices" not an array, a choice without an integer index, text of the
// wrong type) is a kCorrupt error naming the field.
Result<ParsedChunk> ParseStreamChunk(const nlohmann::json& chunk);

struct ParsedCompletion {
  std::vector<ChoiceResult> choices;  // in index order, as the response listed them
  std::optional<Usage> usage;
  std::string model;
};

// Reads a whole non-streamed chat.completion or text_completion response.
Result<ParsedCompletion> ParseCompletion(const nlohmann::json& response);

// The error of an HTTP error response: OpenAI's {"error": {"message", "type", "param",
// "code"}}, or the looser shapes other servers use ({"error": "text"}, {"message": ...},
// {"detail": ...}). nullopt when `body` is none of these (then the status says it all).
// `status` becomes ApiError::status.
std::optional<ApiError> ParseErrorBody(std::string_view body, int status);

}  // namespace wick::api
