#include "text/grammar/tool_call_grammar.h"

#include <fmt/format.h>

#include <string>
#include <utility>
#include <vector>

#include "text/grammar/json_schema.h"

namespace wick::text {
namespace {

void Append(GrammarSequence& to, const GrammarSequence& more) {
  to.insert(to.end(), more.begin(), more.end());
}

}  // namespace

Result<Grammar> ToolCallGrammar(ToolCallFormat format, const nlohmann::ordered_json& tools,
                                std::string_view forced_name, bool allow_parallel) {
  using Json = nlohmann::ordered_json;
  if (!tools.is_array()) return Error(ErrorCode::kInvalidArgument, "tools must be an array");
  Grammar g;
  const uint32_t root = g.AddRule("root");
  const std::string arguments_key = format == ToolCallFormat::kLlama3 ? "parameters" : "arguments";
  std::vector<GrammarSequence> calls;
  for (size_t i = 0; i < tools.size(); ++i) {
    const Json& tool = tools[i];
    const Json* function = &tool;
    if (tool.is_object() && tool.contains("function")) function = &tool["function"];
    if (!function->is_object() || !function->contains("name") || !(*function)["name"].is_string()) {
      return Error(ErrorCode::kInvalidArgument,
                   fmt::format("tools[{}].function.name must be a string", i));
    }
    const std::string& name = (*function)["name"].get_ref<const std::string&>();
    if (!forced_name.empty() && name != forced_name) continue;
    Json parameters = {{"type", "object"}, {"properties", Json::object()}};
    if (auto p = function->find("parameters"); p != function->end() && !p->is_null()) {
      parameters = *p;
    }
    Result<GrammarElement> arguments =
        AddJsonSchema(g, parameters, fmt::format("tool{}", i), {.strict = true});
    if (!arguments.ok()) {
      return std::move(arguments).error().With(fmt::format("tools[{}].function.parameters", i));
    }
    // The spacing models of these families write, so that constrained and free output agree.
    GrammarSequence call = g.Literal(
        fmt::format("{{\"name\": {}, \"{}\": ", nlohmann::json(name).dump(), arguments_key));
    call.push_back(*arguments);
    Append(call, g.Literal("}"));
    calls.push_back(std::move(call));
  }
  if (calls.empty()) {
    return Error(ErrorCode::kInvalidArgument,
                 forced_name.empty()
                     ? std::string("there is no tool to call")
                     : fmt::format("the function {} is not among the tools", Quote(forced_name)));
  }
  const GrammarElement call = g.Choice("call", std::move(calls));

  GrammarSequence sentence;
  switch (format) {
    case ToolCallFormat::kHermes:
    case ToolCallFormat::kGeneric: {
      GrammarSequence block = g.Literal("<tool_call>\n");
      block.push_back(call);
      Append(block, g.Literal("\n</tool_call>"));
      sentence = block;
      if (allow_parallel) {
        GrammarSequence more = g.Literal("\n");
        Append(more, block);
        sentence.push_back(g.Repeat("more-calls", more, 0, -1));
      }
      break;
    }
    case ToolCallFormat::kLlama3:
      sentence = {call};
      break;
    case ToolCallFormat::kMistral: {
      sentence = g.Literal("[");
      sentence.push_back(call);
      if (allow_parallel) {
        GrammarSequence more = g.Literal(", ");
        more.push_back(call);
        sentence.push_back(g.Repeat("more-calls", more, 0, -1));
      }
      Append(sentence, g.Literal("]"));
      break;
    }
  }
  g.AddAlternative(root, std::move(sentence));
  g.set_root(root);
  WICK_RETURN_IF_ERROR(g.Validate());
  return g;
}

Result<Grammar> ToolCallGrammar(ToolCallFormat format, const nlohmann::json& tools,
                                std::string_view forced_name, bool allow_parallel) {
  return ToolCallGrammar(format, nlohmann::ordered_json(tools), forced_name, allow_parallel);
}

}  // namespace wick::text
