#include "api/openai_tools.h"

#include <fmt/format.h>

#include <set>
#include <utility>

#include "api/openai_protocol.h"
#include "core/random.h"

namespace wick::api {
namespace {

using Json = nlohmann::ordered_json;

// OpenAI's rule for function and schema names.
constexpr size_t kMaxNameLength = 64;
// Past any real number of calls in one answer; a bigger index is a broken stream.
constexpr int64_t kMaxCallIndex = 1'000'000;

bool Fail(ApiError& error, std::string param, std::string message) {
  error = ApiError{};
  error.message = std::move(message);
  error.param = std::move(param);
  return false;
}

// The member, or nullptr when absent or null: OpenAI's clients send null for "not given".
template <typename J>
const J* Member(const J& object, const char* name) {
  auto it = object.find(name);
  return it == object.end() || it->is_null() ? nullptr : &*it;
}

bool ValidName(const std::string& name) {
  if (name.empty() || name.size() > kMaxNameLength) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

// A name member that must be a valid function name; `param` names it in the error.
bool ReadName(const Json& object, const std::string& param, std::string& out, ApiError& error) {
  const Json* name = Member(object, "name");
  if (name == nullptr) return Fail(error, param, fmt::format("'{}' is required", param));
  if (!name->is_string()) return Fail(error, param, fmt::format("'{}' must be a string", param));
  out = name->get<std::string>();
  if (!ValidName(out)) {
    return Fail(
        error, param,
        fmt::format("'{}' must be 1 to 64 letters, digits, '_' or '-', got {}", param, Quote(out)));
  }
  return true;
}

bool OptionalString(const Json& object, const char* name, const std::string& param,
                    std::string* out, ApiError& error) {
  const Json* value = Member(object, name);
  if (value == nullptr) return true;
  if (!value->is_string()) return Fail(error, param, fmt::format("'{}' must be a string", param));
  if (out != nullptr) *out = value->get<std::string>();
  return true;
}

bool OptionalBool(const Json& object, const char* name, const std::string& param, bool* out,
                  ApiError& error) {
  const Json* value = Member(object, name);
  if (value == nullptr) return true;
  if (!value->is_boolean()) return Fail(error, param, fmt::format("'{}' must be a boolean", param));
  if (out != nullptr) *out = value->get<bool>();
  return true;
}

bool ReadResponseFormat(const Json& body, ResponseFormat& out, ApiError& error) {
  const Json* format = Member(body, "response_format");
  if (format == nullptr) return true;
  const std::string param = "response_format";
  if (!format->is_object()) return Fail(error, param, "'response_format' must be an object");
  const Json* type = Member(*format, "type");
  if (type == nullptr || !type->is_string()) {
    return Fail(error, param + ".type", "'response_format.type' must be a string");
  }
  const std::string& name = type->get_ref<const std::string&>();
  if (name == "text") {
    out.type = ResponseFormatType::kText;
    return true;
  }
  if (name == "json_object") {
    out.type = ResponseFormatType::kJsonObject;
    return true;
  }
  if (name != "json_schema") {
    return Fail(error, param + ".type",
                fmt::format("'response_format.type' must be one of text, json_object, "
                            "json_schema, got {}",
                            Quote(name)));
  }
  out.type = ResponseFormatType::kJsonSchema;
  const std::string where = param + ".json_schema";
  const Json* spec = Member(*format, "json_schema");
  if (spec == nullptr) return Fail(error, where, fmt::format("'{}' is required", where));
  if (!spec->is_object()) return Fail(error, where, fmt::format("'{}' must be an object", where));
  if (!ReadName(*spec, where + ".name", out.name, error) ||
      !OptionalString(*spec, "description", where + ".description", &out.description, error) ||
      !OptionalBool(*spec, "strict", where + ".strict", &out.strict, error)) {
    return false;
  }
  if (const Json* schema = Member(*spec, "schema")) {
    if (!schema->is_object()) {
      return Fail(error, where + ".schema", fmt::format("'{}.schema' must be an object", where));
    }
    out.schema = *schema;
  }
  return true;
}

bool ReadTools(const Json& body, Json& out, ApiError& error) {
  const Json* tools = Member(body, "tools");
  if (tools == nullptr) return true;
  if (!tools->is_array()) return Fail(error, "tools", "'tools' must be an array");
  std::set<std::string> names;
  for (size_t i = 0; i < tools->size(); ++i) {
    const Json& tool = (*tools)[i];
    const std::string where = fmt::format("tools[{}]", i);
    if (!tool.is_object()) return Fail(error, where, fmt::format("'{}' must be an object", where));
    const Json* type = Member(tool, "type");
    if (type == nullptr || *type != "function") {
      return Fail(error, where + ".type",
                  fmt::format("'{}.type' must be \"function\" (the only tool type)", where));
    }
    const Json* function = Member(tool, "function");
    if (function == nullptr || !function->is_object()) {
      return Fail(error, where + ".function",
                  fmt::format("'{}.function' must be an object", where));
    }
    const std::string fwhere = where + ".function";
    std::string name;
    if (!ReadName(*function, fwhere + ".name", name, error) ||
        !OptionalString(*function, "description", fwhere + ".description", nullptr, error) ||
        !OptionalBool(*function, "strict", fwhere + ".strict", nullptr, error)) {
      return false;
    }
    if (const Json* parameters = Member(*function, "parameters");
        parameters != nullptr && !parameters->is_object()) {
      return Fail(error, fwhere + ".parameters",
                  fmt::format("'{}.parameters' must be an object (a JSON Schema)", fwhere));
    }
    if (!names.insert(name).second) {
      return Fail(error, fwhere + ".name",
                  fmt::format("'{}.name': the function {} is defined twice", fwhere, Quote(name)));
    }
    out.push_back(tool);
  }
  return true;
}

bool ReadToolChoice(const Json& body, const Json& tools, ToolChoice& out, ApiError& error) {
  const Json* choice = Member(body, "tool_choice");
  if (choice == nullptr) return true;
  constexpr const char* kShape =
      "'tool_choice' must be \"none\", \"auto\", \"required\" or {\"type\": \"function\", "
      "\"function\": {\"name\": ...}}";
  if (choice->is_string()) {
    const std::string& mode = choice->get_ref<const std::string&>();
    if (mode == "none") {
      out.mode = ToolChoiceMode::kNone;
    } else if (mode == "auto") {
      out.mode = ToolChoiceMode::kAuto;
    } else if (mode == "required") {
      out.mode = ToolChoiceMode::kRequired;
    } else {
      return Fail(error, "tool_choice", kShape);
    }
  } else if (choice->is_object()) {
    const Json* type = Member(*choice, "type");
    const Json* function = Member(*choice, "function");
    if (type == nullptr || *type != "function" || function == nullptr || !function->is_object()) {
      return Fail(error, "tool_choice", kShape);
    }
    if (!ReadName(*function, "tool_choice.function.name", out.name, error)) return false;
    out.mode = ToolChoiceMode::kFunction;
  } else {
    return Fail(error, "tool_choice", kShape);
  }
  if ((out.mode == ToolChoiceMode::kRequired || out.mode == ToolChoiceMode::kFunction) &&
      tools.empty()) {
    return Fail(error, "tool_choice",
                "'tool_choice' asks for a tool call, but the request has no 'tools'");
  }
  if (out.mode == ToolChoiceMode::kFunction) {
    for (const Json& tool : tools) {
      if (tool["function"]["name"] == out.name) return true;
    }
    return Fail(error, "tool_choice",
                fmt::format("'tool_choice' names the function {}, which is not in 'tools'",
                            Quote(out.name)));
  }
  return true;
}

Error Corrupt(std::string message) {
  return Error(ErrorCode::kCorrupt, std::move(message));
}

// An optional string of an upstream answer.
Status UpstreamString(const nlohmann::json* value, const std::string& where, std::string& out) {
  if (value == nullptr) return OkStatus();
  if (!value->is_string()) return Corrupt(fmt::format("'{}' must be a string", where));
  out = value->get<std::string>();
  return OkStatus();
}

// A call's arguments: a string, or an object that some servers send instead.
Status UpstreamArguments(const nlohmann::json* value, const std::string& at, std::string& out) {
  if (value != nullptr && value->is_object()) {
    out = value->dump();
    return OkStatus();
  }
  return UpstreamString(value, at + ".function.arguments", out);
}

}  // namespace

std::string NewToolCallId() {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::string id = "call_";
  for (int i = 0; i < 24; ++i) id.push_back(kAlphabet[RandomU64() % (sizeof(kAlphabet) - 1)]);
  return id;
}

bool ReadToolFields(const Json& body, CompletionRequest& request, ApiError& error) {
  if (!ReadResponseFormat(body, request.response_format, error)) return false;
  request.tools = Json::array();
  if (!ReadTools(body, request.tools, error) ||
      !ReadToolChoice(body, request.tools, request.tool_choice, error)) {
    return false;
  }
  bool parallel = true;
  if (Member(body, "parallel_tool_calls") != nullptr) {
    if (!OptionalBool(body, "parallel_tool_calls", "parallel_tool_calls", &parallel, error)) {
      return false;
    }
    request.parallel_tool_calls = parallel;
  }
  return true;
}

bool CheckMessageToolFields(const Json& message, const std::string& where, ApiError& error) {
  if (!OptionalString(message, "tool_call_id", where + ".tool_call_id", nullptr, error)) {
    return false;
  }
  const Json* calls = Member(message, "tool_calls");
  if (calls == nullptr) return true;
  const std::string param = where + ".tool_calls";
  if (message.value("role", "") != "assistant") {
    return Fail(error, param, fmt::format("'{}' is only allowed in assistant messages", param));
  }
  if (!calls->is_array()) return Fail(error, param, fmt::format("'{}' must be an array", param));
  for (size_t j = 0; j < calls->size(); ++j) {
    const Json& call = (*calls)[j];
    const std::string at = fmt::format("{}[{}]", param, j);
    if (!call.is_object()) return Fail(error, param, fmt::format("'{}' must be an object", at));
    if (!OptionalString(call, "id", param, nullptr, error)) return false;
    if (const Json* type = Member(call, "type"); type != nullptr && *type != "function") {
      return Fail(error, param, fmt::format("'{}.type' must be \"function\"", at));
    }
    const Json* function = Member(call, "function");
    if (function == nullptr || !function->is_object()) {
      return Fail(error, param, fmt::format("'{}.function' must be an object", at));
    }
    const Json* name = Member(*function, "name");
    if (name == nullptr || !name->is_string()) {
      return Fail(error, param, fmt::format("'{}.function.name' must be a string", at));
    }
    const Json* arguments = Member(*function, "arguments");
    if (arguments != nullptr && !arguments->is_string() && !arguments->is_object()) {
      return Fail(error, param, fmt::format("'{}.function.arguments' must be a string", at));
    }
  }
  return true;
}

Json MessagesForTemplate(const Json& messages) {
  Json out = messages;
  for (Json& message : out) {
    auto calls = message.find("tool_calls");
    if (calls == message.end() || !calls->is_array()) continue;
    for (Json& call : *calls) {
      auto function = call.find("function");
      if (function == call.end() || !function->is_object()) continue;
      auto arguments = function->find("arguments");
      if (arguments == function->end() || !arguments->is_string()) continue;
      Json parsed = Json::parse(arguments->get_ref<const std::string&>(), nullptr,
                                /*allow_exceptions=*/false);
      if (!parsed.is_discarded()) *arguments = std::move(parsed);
    }
  }
  return out;
}

Json ToolsForTemplate(const CompletionRequest& request) {
  Json out = Json::array();
  if (request.tool_choice.mode == ToolChoiceMode::kNone) return out;
  for (const Json& tool : request.tools) {
    const Json& f = tool["function"];
    // Templates read these without asking whether they are there (Hermes 2 Pro concatenates
    // the description, iterates parameters.properties), so absent ones are filled in.
    Json function = Json::object();
    function["name"] = f["name"];
    const Json* description = Member(f, "description");
    function["description"] = description != nullptr ? *description : Json("");
    const Json* parameters = Member(f, "parameters");
    Json params = parameters != nullptr ? *parameters : Json{{"type", "object"}};
    if (!params.contains("properties") && params.value("type", Json()) == "object") {
      params["properties"] = Json::object();
    }
    function["parameters"] = std::move(params);
    out.push_back(Json{{"type", "function"}, {"function", std::move(function)}});
  }
  return out;
}

Json ToolFieldsJson(const CompletionRequest& r) {
  Json out = Json::object();
  switch (r.response_format.type) {
    case ResponseFormatType::kText:
      break;
    case ResponseFormatType::kJsonObject:
      out["response_format"] = Json{{"type", "json_object"}};
      break;
    case ResponseFormatType::kJsonSchema: {
      Json spec = Json::object();
      spec["name"] = r.response_format.name;
      if (!r.response_format.description.empty()) {
        spec["description"] = r.response_format.description;
      }
      spec["schema"] = r.response_format.schema;
      spec["strict"] = r.response_format.strict;
      out["response_format"] = Json{{"type", "json_schema"}, {"json_schema", std::move(spec)}};
      break;
    }
  }
  if (r.tools.empty()) return out;
  out["tools"] = r.tools;
  switch (r.tool_choice.mode) {
    case ToolChoiceMode::kAuto:
      break;
    case ToolChoiceMode::kNone:
      out["tool_choice"] = "none";
      break;
    case ToolChoiceMode::kRequired:
      out["tool_choice"] = "required";
      break;
    case ToolChoiceMode::kFunction:
      out["tool_choice"] =
          Json{{"type", "function"}, {"function", Json{{"name", r.tool_choice.name}}}};
      break;
  }
  if (r.parallel_tool_calls) out["parallel_tool_calls"] = *r.parallel_tool_calls;
  return out;
}

Json ToolCallsJson(const std::vector<ToolCall>& calls) {
  Json out = Json::array();
  for (const ToolCall& c : calls) {
    out.push_back(Json{{"id", c.id},
                       {"type", "function"},
                       {"function", Json{{"name", c.name}, {"arguments", c.arguments}}}});
  }
  return out;
}

Json ToolCallDeltasJson(const std::vector<ToolCallDelta>& deltas) {
  Json out = Json::array();
  for (const ToolCallDelta& d : deltas) {
    Json item = Json::object();
    item["index"] = d.index;
    Json function = Json::object();
    if (!d.id.empty()) {
      item["id"] = d.id;
      item["type"] = "function";
    }
    if (!d.name.empty()) function["name"] = d.name;
    function["arguments"] = d.arguments;
    item["function"] = std::move(function);
    out.push_back(std::move(item));
  }
  return out;
}

Result<std::vector<ToolCall>> ReadToolCalls(const nlohmann::json* value, const std::string& where) {
  std::vector<ToolCall> out;
  if (value == nullptr || value->is_null()) return out;
  if (!value->is_array()) return Corrupt(fmt::format("'{}' must be an array", where));
  for (size_t i = 0; i < value->size(); ++i) {
    const nlohmann::json& call = (*value)[i];
    const std::string at = fmt::format("{}[{}]", where, i);
    if (!call.is_object()) return Corrupt(fmt::format("'{}' must be an object", at));
    const nlohmann::json* function = Member(call, "function");
    if (function == nullptr || !function->is_object()) {
      return Corrupt(fmt::format("'{}.function' must be an object", at));
    }
    ToolCall c;
    WICK_RETURN_IF_ERROR(UpstreamString(Member(call, "id"), at + ".id", c.id));
    const nlohmann::json* name = Member(*function, "name");
    if (name == nullptr) return Corrupt(fmt::format("'{}.function.name' is missing", at));
    WICK_RETURN_IF_ERROR(UpstreamString(name, at + ".function.name", c.name));
    WICK_RETURN_IF_ERROR(UpstreamArguments(Member(*function, "arguments"), at, c.arguments));
    out.push_back(std::move(c));
  }
  return out;
}

Result<std::vector<ToolCallDelta>> ReadToolCallDeltas(const nlohmann::json* value,
                                                      const std::string& where) {
  std::vector<ToolCallDelta> out;
  if (value == nullptr || value->is_null()) return out;
  if (!value->is_array()) return Corrupt(fmt::format("'{}' must be an array", where));
  for (size_t i = 0; i < value->size(); ++i) {
    const nlohmann::json& call = (*value)[i];
    const std::string at = fmt::format("{}[{}]", where, i);
    if (!call.is_object()) return Corrupt(fmt::format("'{}' must be an object", at));
    ToolCallDelta d;
    d.index = static_cast<int>(i);
    if (const nlohmann::json* index = Member(call, "index")) {
      if (!index->is_number_integer() || index->get<int64_t>() < 0 ||
          index->get<int64_t>() > kMaxCallIndex) {
        return Corrupt(fmt::format("'{}.index' must be a non-negative integer", at));
      }
      d.index = index->get<int>();
    }
    WICK_RETURN_IF_ERROR(UpstreamString(Member(call, "id"), at + ".id", d.id));
    if (const nlohmann::json* function = Member(call, "function")) {
      if (!function->is_object())
        return Corrupt(fmt::format("'{}.function' must be an object", at));
      WICK_RETURN_IF_ERROR(
          UpstreamString(Member(*function, "name"), at + ".function.name", d.name));
      WICK_RETURN_IF_ERROR(UpstreamArguments(Member(*function, "arguments"), at, d.arguments));
    }
    out.push_back(std::move(d));
  }
  return out;
}

}  // namespace wick::api
