// Tool calls in a model's own words: which format a chat template's model writes them in, and
// the calls read back out of generated text, with whatever else the model said left as
// content.
//
//   kHermes   (Qwen2.5, Hermes 2 Pro): <tool_call>\n{"name": .., "arguments": {..}}\n</tool_call>
//             once per call, after optional text.
//   kLlama3   (Llama 3.1+): {"name": .., "parameters": {..}} as the whole message, optionally
//             after <|python_tag|>.
//   kMistral  [TOOL_CALLS][{"name": .., "arguments": {..}}, ..]; the marker is a control token
//             that the detokenizer drops, so a message that is only such an array counts too.
//   kGeneric  templates that know no format: the Hermes tags, or a message that is only a
//             call object ({"name", "arguments"}) or an array of them.
//
// Parsing never fails: text that is not a well-formed call (malformed JSON, no name) stays
// content.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace wick::text {

enum class ToolCallFormat { kHermes, kLlama3, kMistral, kGeneric };

const char* ToolCallFormatName(ToolCallFormat format);

// By what the template source writes: "<tool_call>" (Hermes), "[TOOL_CALLS]" (Mistral),
// "<|python_tag|>" or the "ipython" role (Llama 3); anything else is kGeneric.
ToolCallFormat DetectToolCallFormat(std::string_view chat_template_source);

struct ParsedToolCall {
  std::string name;
  std::string arguments_json;  // compact JSON text of the arguments ("{}" when none)
};

struct ParsedToolCalls {
  // The text that is not a call; trimmed of surrounding whitespace when calls were found.
  std::string content;
  std::vector<ParsedToolCall> calls;
};

ParsedToolCalls ParseToolCalls(ToolCallFormat format, std::string_view text);

// For streaming: the offset in `text` (a prefix of the output, from its start) from which it
// could still be, or already is, a tool call, so the text from there on must be held back until
// the output ends; text.size() when all of it can go out. Non-decreasing as the text grows.
size_t ToolCallHoldFrom(ToolCallFormat format, std::string_view text);

// For templates that do not render `tools` themselves: a system prompt listing the tools
// ([{"type": "function", "function": {...}}]) and how to call them in `format`.
std::string ToolSystemPrompt(ToolCallFormat format, const nlohmann::ordered_json& tools);

}  // namespace wick::text
