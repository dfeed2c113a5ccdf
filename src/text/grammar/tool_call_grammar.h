// The grammar of a forced tool call (tool_choice "required" or a named function): exactly the
// text the model's format calls a tool with, each call's arguments constrained by the tool's
// `parameters` schema (strict: no properties beyond those declared), so that what is generated
// always parses back (ParseToolCalls) into calls of known tools with valid arguments.
//
//   kHermes, kGeneric: <tool_call>\n{"name": "get_weather", "arguments": {...}}\n</tool_call>
//                      (more blocks after "\n" when parallel calls are allowed)
//   kLlama3:           {"name": "get_weather", "parameters": {...}} (one call per message)
//   kMistral:          [{"name": "get_weather", "arguments": {...}}, ...] without the
//                      [TOOL_CALLS] marker, a control token that constrained decoding cannot
//                      produce (the parser takes the bare array).
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

#include "core/error.h"
#include "text/grammar/grammar.h"
#include "text/tool_calls.h"

namespace wick::text {

// `tools`: [{"type": "function", "function": {"name", "parameters"}}] (parameters may be
// absent: no arguments). `forced_name` "" allows any of the tools. Errors: no tool to call, or
// a parameters schema the grammar cannot express (naming tools[i].function.parameters).
// Arguments follow the order of the schema's properties, so an ordered_json keeps the order
// the client wrote (and the model saw in its prompt).
Result<Grammar> ToolCallGrammar(ToolCallFormat format, const nlohmann::ordered_json& tools,
                                std::string_view forced_name, bool allow_parallel);
Result<Grammar> ToolCallGrammar(ToolCallFormat format, const nlohmann::json& tools,
                                std::string_view forced_name, bool allow_parallel);

}  // namespace wick::text
