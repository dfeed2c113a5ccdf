#include "text/tool_calls.h"

#include <utility>

namespace wick::text {
namespace {

using Json = nlohmann::ordered_json;

constexpr std::string_view kHermesOpen = "<tool_call>";
constexpr std::string_view kHermesClose = "</tool_call>";
constexpr std::string_view kMistralMarker = "[TOOL_CALLS]";
constexpr std::string_view kPythonTag = "<|python_tag|>";

bool IsSpace(char c) {
  return c == ' ' || c == '\n' || c == '\t' || c == '\r';
}

std::string_view TrimLeft(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  return s;
}

std::string_view Trim(std::string_view s) {
  s = TrimLeft(s);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

// Just past the JSON object or array opening at s[pos], by matching brackets outside strings;
// npos when it never closes. Whether it is valid JSON is the parser's business.
size_t JsonEnd(std::string_view s, size_t pos) {
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (size_t i = pos; i < s.size(); ++i) {
    const char c = s[i];
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
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      if (--depth == 0) return i + 1;
    }
  }
  return std::string_view::npos;
}

std::string Compact(const Json& value) {
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

// One call object: {"name", "arguments" | "parameters"}, or OpenAI's {"type": "function",
// "function": {...}}. Arguments may be an object or a string holding one (some models encode
// them twice). Where the call is the whole message, the arguments key is required, so that a
// JSON answer that merely has a "name" is not taken for a call.
bool CallFromJson(const Json& value, bool require_arguments, ParsedToolCall& out) {
  if (!value.is_object()) return false;
  if (auto function = value.find("function");
      function != value.end() && function->is_object() && !value.contains("name")) {
    return CallFromJson(*function, require_arguments, out);
  }
  auto name = value.find("name");
  if (name == value.end() || !name->is_string() || name->get_ref<const std::string&>().empty()) {
    return false;
  }
  auto arguments = value.find("arguments");
  if (arguments == value.end()) arguments = value.find("parameters");
  std::string text = "{}";
  if (arguments != value.end()) {
    if (arguments->is_object()) {
      text = Compact(*arguments);
    } else if (arguments->is_string()) {
      Json inner = Json::parse(arguments->get_ref<const std::string&>(), nullptr, false);
      if (!inner.is_object()) return false;
      text = Compact(inner);
    } else {
      return false;
    }
  } else if (require_arguments) {
    return false;
  }
  out.name = name->get<std::string>();
  out.arguments_json = std::move(text);
  return true;
}

// `s` holds nothing but calls: objects or arrays of them, separated by whitespace, ',' or ';'.
// All or nothing: false (and `out` untouched) unless every part is a call.
bool ParseCallSequence(std::string_view s, bool require_arguments,
                       std::vector<ParsedToolCall>& out) {
  s = Trim(s);
  std::vector<ParsedToolCall> calls;
  size_t i = 0;
  while (i < s.size()) {
    if (IsSpace(s[i]) || (!calls.empty() && (s[i] == ',' || s[i] == ';'))) {
      ++i;
      continue;
    }
    if (s[i] != '{' && s[i] != '[') return false;
    const size_t end = JsonEnd(s, i);
    if (end == std::string_view::npos) return false;
    const Json value = Json::parse(s.substr(i, end - i), nullptr, false);
    if (value.is_discarded()) return false;
    if (value.is_array()) {
      if (value.empty()) return false;
      for (const Json& item : value) {
        ParsedToolCall call;
        if (!CallFromJson(item, require_arguments, call)) return false;
        calls.push_back(std::move(call));
      }
    } else {
      ParsedToolCall call;
      if (!CallFromJson(value, require_arguments, call)) return false;
      calls.push_back(std::move(call));
    }
    i = end;
  }
  if (calls.empty()) return false;
  for (ParsedToolCall& call : calls) out.push_back(std::move(call));
  return true;
}

// <tool_call> blocks anywhere in the text; one without its closing tag runs to the end. A block
// that does not hold calls stays in the content as written. Returns whether any tag was seen.
bool ParseHermes(std::string_view text, ParsedToolCalls& out) {
  size_t pos = 0;
  bool tagged = false;
  while (pos < text.size()) {
    const size_t open = text.find(kHermesOpen, pos);
    if (open == std::string_view::npos) break;
    tagged = true;
    out.content.append(text.substr(pos, open - pos));
    const size_t body = open + kHermesOpen.size();
    const size_t close = text.find(kHermesClose, body);
    const size_t end = close == std::string_view::npos ? text.size() : close + kHermesClose.size();
    const std::string_view inside =
        text.substr(body, (close == std::string_view::npos ? text.size() : close) - body);
    if (!ParseCallSequence(inside, /*require_arguments=*/false, out.calls)) {
      out.content.append(text.substr(open, end - open));
    }
    pos = end;
  }
  if (pos < text.size()) out.content.append(text.substr(pos));
  return tagged;
}

// The earliest offset from which the end of `text` is a proper prefix of `marker`.
size_t PartialMarkerStart(std::string_view text, std::string_view marker) {
  const size_t first = text.size() >= marker.size() ? text.size() - marker.size() + 1 : 0;
  for (size_t i = first; i < text.size(); ++i) {
    if (marker.substr(0, text.size() - i) == text.substr(i)) return i;
  }
  return text.size();
}

// Whether the output so far, from its first non-space byte, may still become a message that
// is only calls (a JSON object or array, or `tag` followed by one).
bool MayBeWholeMessageCall(std::string_view text, std::string_view tag) {
  const std::string_view t = TrimLeft(text);
  if (t.empty() || t.front() == '{' || t.front() == '[') return true;
  if (tag.empty()) return false;
  return t.size() >= tag.size() ? t.substr(0, tag.size()) == tag : tag.substr(0, t.size()) == t;
}

std::string ToolList(const Json& tools) {
  std::string out;
  for (const Json& tool : tools) {
    auto function = tool.find("function");
    out += Compact(function != tool.end() ? *function : tool);
    out += "\n";
  }
  return out;
}

}  // namespace

const char* ToolCallFormatName(ToolCallFormat format) {
  switch (format) {
    case ToolCallFormat::kHermes:
      return "hermes";
    case ToolCallFormat::kLlama3:
      return "llama3";
    case ToolCallFormat::kMistral:
      return "mistral";
    case ToolCallFormat::kGeneric:
      return "generic";
  }
  return "generic";
}

ToolCallFormat DetectToolCallFormat(std::string_view source) {
  if (source.find(kHermesOpen) != std::string_view::npos) return ToolCallFormat::kHermes;
  if (source.find(kMistralMarker) != std::string_view::npos) return ToolCallFormat::kMistral;
  if (source.find(kPythonTag) != std::string_view::npos ||
      source.find("ipython") != std::string_view::npos) {
    return ToolCallFormat::kLlama3;
  }
  return ToolCallFormat::kGeneric;
}

// Mistral's newer templates (v11+): "[TOOL_CALLS]name[ARGS]{...}", repeated for several
// calls. `s` starts right after the first marker. All or nothing, as ParseCallSequence.
bool ParseMistralArgsCalls(std::string_view s, std::vector<ParsedToolCall>& out) {
  constexpr std::string_view kArgs = "[ARGS]";
  std::vector<ParsedToolCall> calls;
  while (true) {
    const size_t args = s.find(kArgs);
    if (args == std::string_view::npos) return false;
    ParsedToolCall call;
    call.name = std::string(Trim(s.substr(0, args)));
    if (call.name.empty() || call.name.find_first_of("{}[]\"\n") != std::string::npos) {
      return false;
    }
    s = TrimLeft(s.substr(args + kArgs.size()));
    if (s.empty() || s[0] != '{') return false;
    const size_t end = JsonEnd(s, 0);
    if (end == std::string_view::npos) return false;
    const Json arguments = Json::parse(s.substr(0, end), nullptr, false);
    if (!arguments.is_object()) return false;
    call.arguments_json = Compact(arguments);
    calls.push_back(std::move(call));
    s = TrimLeft(s.substr(end));
    if (s.empty()) break;
    if (s.substr(0, kMistralMarker.size()) != kMistralMarker) return false;
    s.remove_prefix(kMistralMarker.size());
  }
  for (ParsedToolCall& call : calls) out.push_back(std::move(call));
  return true;
}

ParsedToolCalls ParseToolCalls(ToolCallFormat format, std::string_view text) {
  ParsedToolCalls out;
  switch (format) {
    case ToolCallFormat::kHermes:
      ParseHermes(text, out);
      break;
    case ToolCallFormat::kGeneric:
      if (!ParseHermes(text, out) &&
          ParseCallSequence(text, /*require_arguments=*/true, out.calls)) {
        out.content.clear();
      }
      break;
    case ToolCallFormat::kLlama3: {
      std::string_view rest = TrimLeft(text);
      if (rest.substr(0, kPythonTag.size()) == kPythonTag) rest.remove_prefix(kPythonTag.size());
      if (!ParseCallSequence(rest, /*require_arguments=*/true, out.calls)) out.content = text;
      break;
    }
    case ToolCallFormat::kMistral: {
      const size_t marker = text.find(kMistralMarker);
      if (marker != std::string_view::npos) {
        const std::string_view rest = text.substr(marker + kMistralMarker.size());
        if (ParseCallSequence(rest, /*require_arguments=*/false, out.calls) ||
            ParseMistralArgsCalls(rest, out.calls)) {
          out.content = text.substr(0, marker);
        } else {
          out.content = text;
        }
      } else if (!ParseCallSequence(text, /*require_arguments=*/true, out.calls)) {
        out.content = text;
      }
      break;
    }
  }
  if (!out.calls.empty()) out.content = std::string(Trim(out.content));
  return out;
}

size_t ToolCallHoldFrom(ToolCallFormat format, std::string_view text) {
  size_t hold = text.size();
  switch (format) {
    case ToolCallFormat::kLlama3:
      return MayBeWholeMessageCall(text, kPythonTag) ? 0 : text.size();
    case ToolCallFormat::kMistral: {
      if (MayBeWholeMessageCall(text, "")) return 0;
      const size_t marker = text.find(kMistralMarker);
      hold = marker != std::string_view::npos ? marker : PartialMarkerStart(text, kMistralMarker);
      break;
    }
    case ToolCallFormat::kHermes:
    case ToolCallFormat::kGeneric: {
      if (format == ToolCallFormat::kGeneric && MayBeWholeMessageCall(text, "")) return 0;
      const size_t open = text.find(kHermesOpen);
      hold = open != std::string_view::npos ? open : PartialMarkerStart(text, kHermesOpen);
      break;
    }
  }
  // Leading whitespace is held too, so that a message that turns out to be only calls has no
  // content at all.
  return TrimLeft(text.substr(0, hold)).empty() ? 0 : hold;
}

std::string ToolSystemPrompt(ToolCallFormat format, const Json& tools) {
  // Short: it is spent on every request's prompt.
  std::string out = "You can call these functions (parameters as JSON Schema):\n";
  out += ToolList(tools);
  out += "To call one, answer ";
  switch (format) {
    case ToolCallFormat::kLlama3:
      out += "only {\"name\": <name>, \"parameters\": <arguments object>}";
      break;
    case ToolCallFormat::kMistral:
      out += "[TOOL_CALLS][{\"name\": <name>, \"arguments\": <arguments object>}]";
      break;
    case ToolCallFormat::kHermes:
    case ToolCallFormat::kGeneric:
      out += "<tool_call>\n{\"name\": <name>, \"arguments\": <arguments object>}\n</tool_call>";
      break;
  }
  return out;
}

}  // namespace wick::text
