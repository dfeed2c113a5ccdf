#include "text/jinja/json.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "text/jinja/py_str.h"
#include "text/unicode.h"

namespace wick::jinja {
namespace {

Result<Value> FromJsonAt(const nlohmann::ordered_json& json, uint32_t depth) {
  if (depth > kMaxValueDepth) {
    return Error(ErrorCode::kUnsupported,
                 "render context nests deeper than " + std::to_string(kMaxValueDepth) + " levels");
  }
  switch (json.type()) {
    case nlohmann::ordered_json::value_t::null:
      return Value::None();
    case nlohmann::ordered_json::value_t::boolean:
      return Value::Bool(json.get<bool>());
    case nlohmann::ordered_json::value_t::number_integer:
      return Value::Int(json.get<int64_t>());
    case nlohmann::ordered_json::value_t::number_unsigned: {
      const auto value = json.get<uint64_t>();
      if (value <= static_cast<uint64_t>(INT64_MAX)) return Value::Int(static_cast<int64_t>(value));
      return Value::Float(static_cast<double>(value));
    }
    case nlohmann::ordered_json::value_t::number_float:
      return Value::Float(json.get<double>());
    case nlohmann::ordered_json::value_t::string:
      return Value::String(json.get<std::string>());
    case nlohmann::ordered_json::value_t::array: {
      std::vector<Value> items;
      items.reserve(json.size());
      for (const auto& item : json) {
        WICK_ASSIGN_OR_RETURN(Value value, FromJsonAt(item, depth + 1));
        items.push_back(std::move(value));
      }
      return Value::List(std::move(items));
    }
    case nlohmann::ordered_json::value_t::object: {
      DictData dict;
      for (const auto& [key, item] : json.items()) {
        WICK_ASSIGN_OR_RETURN(Value value, FromJsonAt(item, depth + 1));
        dict.Set(Value::String(key), std::move(value));
      }
      return Value::Dict(std::move(dict));
    }
    default:
      return Error(ErrorCode::kUnsupported, "render context holds binary data");
  }
}

void AppendJsonString(std::string_view text, bool ensure_ascii, std::string* out) {
  *out += '"';
  size_t pos = 0;
  while (pos < text.size()) {
    const auto byte = static_cast<unsigned char>(text[pos]);
    if (byte >= 0x80) {
      const size_t start = pos;
      const uint32_t cp = text::DecodeUtf8(text, &pos);
      if (!ensure_ascii) {
        *out += text.substr(start, pos - start);
      } else if (cp >= 0x10000) {
        const uint32_t v = cp - 0x10000;
        *out += fmt::format("\\u{:04x}\\u{:04x}", 0xD800 | (v >> 10), 0xDC00 | (v & 0x3FF));
      } else {
        *out += fmt::format("\\u{:04x}", cp);
      }
      continue;
    }
    ++pos;
    switch (byte) {
      case '"':
        *out += "\\\"";
        break;
      case '\\':
        *out += "\\\\";
        break;
      case '\n':
        *out += "\\n";
        break;
      case '\r':
        *out += "\\r";
        break;
      case '\t':
        *out += "\\t";
        break;
      case '\b':
        *out += "\\b";
        break;
      case '\f':
        *out += "\\f";
        break;
      default:
        if (byte < 0x20 || (ensure_ascii && byte == 0x7F)) {
          *out += fmt::format("\\u{:04x}", byte);
        } else {
          *out += static_cast<char>(byte);
        }
    }
  }
  *out += '"';
}

std::string JsonFloat(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "Infinity" : "-Infinity";
  return FormatFloat(value);
}

class JsonWriter {
 public:
  explicit JsonWriter(const JsonOptions& options) : options_(options) {
    item_separator_ = options.item_separator.value_or(options.indent ? "," : ", ");
  }

  Status Write(const Value& value, int level, std::string* out) {
    if (level > static_cast<int>(kMaxValueDepth)) {
      return RenderError("maximum recursion depth exceeded while encoding a JSON object");
    }
    if (out->size() > kMaxStringBytes) {
      return Error(ErrorCode::kUnsupported, "JSON text exceeds the string size limit");
    }
    switch (value.type()) {
      case Value::Type::kNone:
        *out += "null";
        return OkStatus();
      case Value::Type::kBool:
        *out += value.as_bool() ? "true" : "false";
        return OkStatus();
      case Value::Type::kInt:
        *out += std::to_string(value.as_int());
        return OkStatus();
      case Value::Type::kFloat:
        *out += JsonFloat(value.as_float());
        return OkStatus();
      case Value::Type::kString:
        AppendJsonString(value.str(), options_.ensure_ascii, out);
        return OkStatus();
      case Value::Type::kSeq:
        if (value.seq().kind == SeqKind::kList || value.seq().kind == SeqKind::kTuple) {
          return WriteList(value.seq().items, level, out);
        }
        break;
      case Value::Type::kDict:
        return WriteDict(value.dict(), level, out);
      default:
        break;
    }
    return RenderError(fmt::format("Object of type {} is not JSON serializable", TypeName(value)));
  }

 private:
  // The text that starts a new line at `level` (nothing when writing one line).
  Result<std::string> NewLine(int level) const {
    if (!options_.indent) return std::string();
    if (options_.indent->size() * static_cast<size_t>(level) > kMaxStringBytes) {
      return Error(ErrorCode::kUnsupported, "JSON text exceeds the string size limit");
    }
    std::string s = "\n";
    for (int i = 0; i < level; ++i) s += *options_.indent;
    return s;
  }

  Status WriteList(const std::vector<Value>& items, int level, std::string* out) {
    if (items.empty()) {
      *out += "[]";
      return OkStatus();
    }
    *out += '[';
    WICK_ASSIGN_OR_RETURN(const std::string inner, NewLine(level + 1));
    WICK_ASSIGN_OR_RETURN(const std::string outer, NewLine(level));
    *out += inner;
    for (size_t i = 0; i < items.size(); ++i) {
      if (i > 0) *out += item_separator_ + inner;
      WICK_RETURN_IF_ERROR(Write(items[i], level + 1, out));
    }
    *out += outer;
    *out += ']';
    return OkStatus();
  }

  Result<std::string> KeyText(const Value& key) const {
    switch (key.type()) {
      case Value::Type::kString:
        return key.str();
      case Value::Type::kBool:
        return std::string(key.as_bool() ? "true" : "false");
      case Value::Type::kInt:
        return std::to_string(key.as_int());
      case Value::Type::kFloat:
        return JsonFloat(key.as_float());
      case Value::Type::kNone:
        return std::string("null");
      default:
        return RenderError(
            fmt::format("keys must be str, int, float, bool or None, not {}", TypeName(key)));
    }
  }

  Status WriteDict(const DictData& dict, int level, std::string* out) {
    if (dict.empty()) {
      *out += "{}";
      return OkStatus();
    }
    std::vector<const std::pair<Value, Value>*> entries;
    for (const auto& entry : dict.entries()) entries.push_back(&entry);
    if (options_.sort_keys) {
      std::optional<Error> error;
      std::stable_sort(entries.begin(), entries.end(), [&](const auto* a, const auto* b) {
        Result<int> c = Compare(a->first, b->first, "<");
        if (!c.ok()) {
          if (!error) error = c.error();
          return false;
        }
        return *c < 0;
      });
      if (error) return *error;
    }
    *out += '{';
    WICK_ASSIGN_OR_RETURN(const std::string inner, NewLine(level + 1));
    WICK_ASSIGN_OR_RETURN(const std::string outer, NewLine(level));
    *out += inner;
    bool first = true;
    for (const auto* entry : entries) {
      if (!first) *out += item_separator_ + inner;
      first = false;
      WICK_ASSIGN_OR_RETURN(std::string key, KeyText(entry->first));
      AppendJsonString(key, options_.ensure_ascii, out);
      *out += options_.key_separator;
      WICK_RETURN_IF_ERROR(Write(entry->second, level + 1, out));
    }
    *out += outer;
    *out += '}';
    return OkStatus();
  }

  const JsonOptions& options_;
  std::string item_separator_;
};

}  // namespace

Result<Value> FromJson(const nlohmann::ordered_json& json) {
  return FromJsonAt(json, 0);
}

Result<std::string> ToJson(const Value& value, const JsonOptions& options) {
  JsonWriter writer(options);
  std::string out;
  WICK_RETURN_IF_ERROR(writer.Write(value, 0, &out));
  return out;
}

}  // namespace wick::jinja
