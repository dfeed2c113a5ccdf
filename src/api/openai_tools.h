// Structured output and tool calling in the OpenAI wire format: the request fields
// response_format, tools, tool_choice and parallel_tool_calls, the tool fields of chat
// messages (assistant tool_calls, tool results), and tool calls in responses and stream
// chunks, both built (server) and read (remote providers).
//
// Pure functions over JSON, no I/O; openai_protocol.cpp calls the readers while it parses a
// request, openai_client.cpp the writers and parsers of the upstream side.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"

namespace wick::api {

struct ApiError;
struct CompletionRequest;

enum class ResponseFormatType { kText, kJsonObject, kJsonSchema };

// response_format: {"type": "text"}, {"type": "json_object"} or {"type": "json_schema",
// "json_schema": {"name", "description", "schema", "strict"}}.
struct ResponseFormat {
  ResponseFormatType type = ResponseFormatType::kText;
  std::string name;  // kJsonSchema
  std::string description;
  // kJsonSchema: the schema as sent (an object; {} when absent, which allows any JSON value).
  nlohmann::ordered_json schema = nlohmann::ordered_json::object();
  bool strict = false;
};

enum class ToolChoiceMode { kAuto, kNone, kRequired, kFunction };

// tool_choice: "auto" (the model decides), "none", "required" (at least one call), or
// {"type": "function", "function": {"name"}} (a call of that function).
struct ToolChoice {
  ToolChoiceMode mode = ToolChoiceMode::kAuto;
  std::string name;  // kFunction
};

// One call in a response: {"id", "type": "function", "function": {"name", "arguments"}}.
struct ToolCall {
  std::string id;  // "call_..."
  std::string name;
  std::string arguments;  // a JSON text, as OpenAI sends it (a string, not an object)
};

// One streamed piece of a call: the first piece of call `index` has its id and name, later
// ones only more of its arguments, which the receiver concatenates.
struct ToolCallDelta {
  int index = 0;
  std::string id;
  std::string name;
  std::string arguments;
};

// A new call id: "call_" and 24 random alphanumerics, the shape OpenAI's clients expect.
std::string NewToolCallId();

// --- requests (server side) -------------------------------------------------------------------

// Reads response_format, tools, tool_choice and parallel_tool_calls of a chat request body
// into `request`. False, with `error` a 400 naming the field, when one is malformed: a wrong
// type, a function name that is not [a-zA-Z0-9_-]{1,64} or is given twice, parameters that
// are not an object, a tool_choice naming a function that is not in tools, or "required" or a
// named function without tools.
bool ReadToolFields(const nlohmann::ordered_json& body, CompletionRequest& request,
                    ApiError& error);

// Checks the tool fields of chat message `message` (named `where`, "messages[3]"): an
// assistant's tool_calls must be an array of {"id", "type": "function", "function": {"name",
// "arguments"}} (arguments a string, or an object that some clients send), a tool message's
// tool_call_id a string.
bool CheckMessageToolFields(const nlohmann::ordered_json& message, const std::string& where,
                            ApiError& error);

// The messages as Hugging Face chat templates expect them: each tool call's arguments, a JSON
// string on the wire, parsed into the value it holds (templates iterate over or print it with
// tojson); arguments that are not valid JSON stay strings. Everything else as it was.
nlohmann::ordered_json MessagesForTemplate(const nlohmann::ordered_json& messages);

// The tools as chat templates and grammars read them: [{"type": "function", "function":
// {"name", "description", "parameters"}}], with a description ("") and parameters ({"type":
// "object", "properties": {}}) where the request had none, and "properties" in object
// parameters without them. Empty when there are no tools or tool_choice is "none".
nlohmann::ordered_json ToolsForTemplate(const CompletionRequest& request);

// The request's structured-output fields as they go upstream: response_format (not "text"),
// and with tools: tools, tool_choice (not "auto") and parallel_tool_calls (when sent). An empty
// object when the request has none of them.
nlohmann::ordered_json ToolFieldsJson(const CompletionRequest& request);

// --- responses ----------------------------------------------------------------------------------

// [{"id", "type": "function", "function": {"name", "arguments"}}]
nlohmann::ordered_json ToolCallsJson(const std::vector<ToolCall>& calls);

// delta.tool_calls: [{"index", "id", "type", "function": {"name", "arguments"}}], id, type and
// name only on a call's first piece.
nlohmann::ordered_json ToolCallDeltasJson(const std::vector<ToolCallDelta>& deltas);

// message.tool_calls of a response (nullptr or null: none). Arguments that are an object
// (some servers send them so) are serialized. A wrong structure is kCorrupt naming `where`.
Result<std::vector<ToolCall>> ReadToolCalls(const nlohmann::json* value, const std::string& where);

// delta.tool_calls of a stream chunk; a piece without an index is the position's.
Result<std::vector<ToolCallDelta>> ReadToolCallDeltas(const nlohmann::json* value,
                                                      const std::string& where);

}  // namespace wick::api
