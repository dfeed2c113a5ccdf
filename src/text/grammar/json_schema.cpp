// JSON Schema to Grammar: one walk over the schema, a rule per construct. $refs become one
// rule each, created before their target is visited, so recursive schemas refer back by name.
// Objects follow llama.cpp's json-schema-to-grammar in spirit: for property k a rule for "the
// members from k on, some member already written", so optional properties leave no stray
// commas.
#include "text/grammar/json_schema.h"

#include <fmt/format.h>

#include <cmath>
#include <functional>
#include <map>
#include <set>

#include "text/grammar/json_rules.h"
#include "text/grammar/regex_grammar.h"

namespace wick::text {
namespace {

using Json = nlohmann::ordered_json;

// Keywords that change which instances are valid. Beside $ref or anyOf they are refused, as
// wick does not intersect schemas.
const std::set<std::string, std::less<>> kValidationKeywords = {
    // clang-format off
    "type", "enum", "const", "properties", "required", "items", "prefixItems", "additionalItems",
    "additionalProperties", "minItems", "maxItems", "minLength", "maxLength", "pattern", "format",
    "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "anyOf", "oneOf", "allOf",
    "multipleOf", "minProperties", "maxProperties", "patternProperties", "propertyNames",
    "dependentRequired", "dependentSchemas", "dependencies", "uniqueItems", "contains",
    "minContains", "maxContains",
    // clang-format on
};

std::string PointerEscape(std::string_view key) {
  std::string out;
  for (char c : key) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

std::string RuleName(std::string_view base, std::string_view part) {
  std::string out(base);
  out += '-';
  for (char c : part) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    out += ok ? c : '-';
  }
  return out;
}

std::string Dump(const Json& value) {
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

bool MatchesType(const Json& value, std::string_view type) {
  if (type == "null") return value.is_null();
  if (type == "boolean") return value.is_boolean();
  if (type == "string") return value.is_string();
  if (type == "object") return value.is_object();
  if (type == "array") return value.is_array();
  if (type == "number") return value.is_number();
  if (type == "integer") {
    if (value.is_number_integer()) return true;
    if (!value.is_number_float()) return false;
    const double d = value.get<double>();
    return std::isfinite(d) && d == std::floor(d);
  }
  return false;
}

// The UTF-8 of a key as code points (keys come from parsed JSON, so they decode cleanly;
// a stray byte is taken as its own value).
std::vector<uint32_t> CodePoints(std::string_view text) {
  std::vector<uint32_t> out;
  for (size_t i = 0; i < text.size();) {
    const auto c = static_cast<uint8_t>(text[i]);
    const int len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : 4;
    if (i + static_cast<size_t>(len) > text.size()) {
      out.push_back(c);
      ++i;
      continue;
    }
    uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1Fu) : len == 3 ? (c & 0x0Fu) : (c & 0x07u);
    for (int k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<uint8_t>(text[i + k]) & 0x3Fu);
    out.push_back(cp);
    i += static_cast<size_t>(len);
  }
  return out;
}

class SchemaConverter {
 public:
  SchemaConverter(Grammar& grammar, const Json& root, std::string prefix,
                  const JsonSchemaOptions& options)
      : g_(grammar), root_(root), rules_(grammar, prefix), options_(options) {}

  Result<GrammarElement> Visit(const Json& schema, const std::string& ptr,
                               const std::string& name) {
    if (schema.is_boolean()) {
      if (schema.get<bool>()) return rules_.Value();
      return Invalid(ptr, "the schema false allows no value");
    }
    if (!schema.is_object()) return Invalid(ptr, "a schema must be an object or a boolean");
    for (const char* keyword : {"not", "if", "then", "else", "$dynamicRef", "$recursiveRef",
                                "unevaluatedProperties", "unevaluatedItems"}) {
      if (schema.contains(keyword)) return Unsupported(ptr + "/" + keyword, "not supported");
    }
    if (schema.contains("$ref")) {
      WICK_RETURN_IF_ERROR(OnlyKeyword(schema, "$ref", ptr));
      if (!schema["$ref"].is_string()) return Invalid(ptr + "/$ref", "must be a string");
      return VisitRef(schema["$ref"].get<std::string>(), ptr, name);
    }
    if (schema.contains("const") || schema.contains("enum")) return VisitEnum(schema, ptr, name);
    if (schema.contains("anyOf") || schema.contains("oneOf")) {
      return VisitAnyOf(schema, ptr, name);
    }
    if (schema.contains("allOf")) return VisitAllOf(schema, ptr, name);

    WICK_ASSIGN_OR_RETURN(std::vector<std::string> types, Types(schema, ptr));
    if (types.empty()) return rules_.Value();
    if (types.size() == 1) return VisitTyped(schema, types[0], ptr, name);
    std::vector<GrammarSequence> alts;
    for (const std::string& type : types) {
      WICK_ASSIGN_OR_RETURN(GrammarElement e, VisitTyped(schema, type, ptr, RuleName(name, type)));
      alts.push_back({e});
    }
    return g_.Choice(name, std::move(alts));
  }

 private:
  Error Invalid(const std::string& ptr, std::string_view message) const {
    return Error(ErrorCode::kInvalidArgument, Message(ptr, message));
  }
  Error Unsupported(const std::string& ptr, std::string_view message) const {
    return Error(ErrorCode::kUnsupported, Message(ptr, message));
  }
  // Keys and values come from the request: control bytes are escaped to keep one line.
  static std::string Message(const std::string& ptr, std::string_view message) {
    const std::string raw = fmt::format("json schema {}: {}", ptr.empty() ? "/" : ptr, message);
    std::string out;
    for (char c : raw) {
      const auto b = static_cast<uint8_t>(c);
      out += b < 0x20 || b == 0x7F ? fmt::format("\\x{:02x}", b) : std::string(1, c);
    }
    return out;
  }

  // Refuses validation keywords beside `keyword` (the intersection would be needed).
  Status OnlyKeyword(const Json& schema, std::string_view keyword, const std::string& ptr) const {
    for (const auto& [key, value] : schema.items()) {
      if (key != keyword && kValidationKeywords.count(key) != 0) {
        return Unsupported(ptr + "/" + PointerEscape(key),
                           fmt::format("keywords beside {} are not supported", keyword));
      }
    }
    return OkStatus();
  }

  // The types the schema allows: `type`, or the types its keywords are about when it has none
  // (a narrower choice than JSON Schema's "anything", but every value it allows is valid).
  Result<std::vector<std::string>> Types(const Json& schema, const std::string& ptr) const {
    std::vector<std::string> types;
    if (schema.contains("type")) {
      const Json& type = schema["type"];
      if (type.is_string()) {
        types.push_back(type.get<std::string>());
      } else if (type.is_array() && !type.empty()) {
        for (const Json& t : type) {
          if (!t.is_string()) return Invalid(ptr + "/type", "must be a string or strings");
          types.push_back(t.get<std::string>());
        }
      } else {
        return Invalid(ptr + "/type", "must be a string or a non-empty list of strings");
      }
      return types;
    }
    auto any = [&](std::initializer_list<const char*> keys) {
      for (const char* key : keys) {
        if (schema.contains(key)) return true;
      }
      return false;
    };
    if (any({"properties", "required", "additionalProperties"})) types.push_back("object");
    if (any({"items", "prefixItems", "additionalItems", "minItems", "maxItems"})) {
      types.push_back("array");
    }
    if (any({"minLength", "maxLength", "pattern", "format"})) types.push_back("string");
    if (any({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"})) {
      types.push_back("number");
    }
    return types;
  }

  Result<GrammarElement> VisitTyped(const Json& schema, const std::string& type,
                                    const std::string& ptr, const std::string& name) {
    if (type == "null") return rules_.Null();
    if (type == "boolean") return rules_.Boolean();
    if (type == "string") return VisitString(schema, ptr, name);
    if (type == "integer" || type == "number") return VisitNumber(schema, type, ptr);
    if (type == "object") return VisitObject(schema, ptr, name);
    if (type == "array") return VisitArray(schema, ptr, name);
    return Invalid(ptr + "/type", fmt::format("unknown type '{}'", type));
  }

  Result<GrammarElement> VisitRef(const std::string& ref, const std::string& ptr,
                                  const std::string& name) {
    if (auto it = refs_.find(ref); it != refs_.end()) return Grammar::Ref(it->second);
    std::string target_ptr;
    if (ref != "#") {
      if (ref.rfind("#/", 0) != 0) {
        return Unsupported(ptr + "/$ref", "only local references (\"#/...\") are supported");
      }
      // A URI fragment: percent-decode, then it is a JSON pointer.
      for (size_t i = 1; i < ref.size(); ++i) {
        auto hex = [](char c) {
          return c >= '0' && c <= '9'                     ? c - '0'
                 : (c | 0x20) >= 'a' && (c | 0x20) <= 'f' ? (c | 0x20) - 'a' + 10
                                                          : -1;
        };
        if (ref[i] == '%' && i + 2 < ref.size() && hex(ref[i + 1]) >= 0 && hex(ref[i + 2]) >= 0) {
          target_ptr += static_cast<char>(hex(ref[i + 1]) * 16 + hex(ref[i + 2]));
          i += 2;
        } else {
          target_ptr += ref[i];
        }
      }
    }
    const Json::json_pointer pointer(target_ptr);
    if (!root_.contains(pointer)) {
      return Invalid(ptr + "/$ref", fmt::format("'{}' does not exist", ref));
    }
    const uint32_t rule =
        g_.AddRule(ref == "#" ? name
                              : RuleName(rules_.prefix().empty() ? "ref" : rules_.prefix(),
                                         target_ptr.substr(target_ptr.rfind('/') + 1)));
    refs_[ref] = rule;
    const std::string rule_name = g_.rules()[rule].name;
    WICK_ASSIGN_OR_RETURN(GrammarElement target, Visit(root_.at(pointer), target_ptr, rule_name));
    g_.AddAlternative(rule, {target});
    return Grammar::Ref(rule);
  }

  Result<GrammarElement> VisitEnum(const Json& schema, const std::string& ptr,
                                   const std::string& name) {
    std::vector<std::string> types;
    if (schema.contains("type")) {
      WICK_ASSIGN_OR_RETURN(types, Types(schema, ptr));
    }
    const bool is_const = schema.contains("const");
    const std::string where = ptr + (is_const ? "/const" : "/enum");
    std::vector<Json> values;
    if (is_const) {
      values.push_back(schema["const"]);
    } else if (schema["enum"].is_array()) {
      values.assign(schema["enum"].begin(), schema["enum"].end());
    } else {
      return Invalid(where, "must be an array");
    }
    std::vector<GrammarSequence> alts;
    for (const Json& value : values) {
      // With `type` beside it, a value of another type is not valid.
      bool typed = types.empty();
      for (const std::string& type : types) typed = typed || MatchesType(value, type);
      if (typed) alts.push_back(g_.Literal(Dump(value)));
    }
    if (alts.empty()) return Invalid(where, "no value is allowed");
    return g_.Choice(RuleName(name, is_const ? "const" : "enum"), std::move(alts));
  }

  Result<GrammarElement> VisitAnyOf(const Json& schema, const std::string& ptr,
                                    const std::string& name) {
    if (schema.contains("anyOf") && schema.contains("oneOf")) {
      return Unsupported(ptr + "/oneOf", "anyOf and oneOf together are not supported");
    }
    // oneOf is taken as anyOf: a value matching two branches is let through.
    const std::string keyword = schema.contains("anyOf") ? "anyOf" : "oneOf";
    WICK_RETURN_IF_ERROR(OnlyKeyword(schema, keyword, ptr));
    const Json& branches = schema[keyword];
    if (!branches.is_array() || branches.empty()) {
      return Invalid(ptr + "/" + keyword, "must be a non-empty array");
    }
    std::vector<GrammarSequence> alts;
    for (size_t i = 0; i < branches.size(); ++i) {
      if (branches[i].is_boolean() && !branches[i].get<bool>()) continue;
      const std::string where = fmt::format("{}/{}/{}", ptr, keyword, i);
      const std::string branch = RuleName(name, std::to_string(i));
      WICK_ASSIGN_OR_RETURN(GrammarElement e, Visit(branches[i], where, branch));
      alts.push_back({e});
    }
    if (alts.empty()) return Invalid(ptr + "/" + keyword, "no branch allows a value");
    return g_.Choice(name, std::move(alts));
  }

  // allOf of object schemas: their properties and required lists merged into one object.
  Result<GrammarElement> VisitAllOf(const Json& schema, const std::string& ptr,
                                    const std::string& name) {
    const Json& parts = schema["allOf"];
    if (!parts.is_array() || parts.empty()) {
      return Invalid(ptr + "/allOf", "must be a non-empty array");
    }
    Json outer = schema;
    outer.erase("allOf");
    bool outer_empty = true;
    for (const auto& [key, value] : outer.items()) {
      outer_empty = outer_empty && kValidationKeywords.count(key) == 0;
    }
    if (parts.size() == 1 && outer_empty) return Visit(parts[0], ptr + "/allOf/0", name);

    Json merged = {{"type", "object"}, {"properties", Json::object()}, {"required", Json::array()}};
    std::vector<std::set<std::string>> closed;  // property sets of parts with additional false
    std::vector<std::pair<Json, std::string>> queue = {{outer, ptr}};
    for (size_t i = 0; i < parts.size(); ++i)
      queue.push_back({parts[i], fmt::format("{}/allOf/{}", ptr, i)});
    for (size_t q = 0; q < queue.size(); ++q) {
      Json part = queue[q].first;
      std::string where = queue[q].second;
      for (int depth = 0; part.is_object() && part.contains("$ref"); ++depth) {
        if (depth > 32) return Unsupported(where, "$ref chain too long");
        WICK_RETURN_IF_ERROR(OnlyKeyword(part, "$ref", where));
        const std::string ref = part["$ref"].is_string() ? part["$ref"].get<std::string>() : "";
        if (ref != "#" && ref.rfind("#/", 0) != 0) {
          return Unsupported(where + "/$ref", "only local references are supported in allOf");
        }
        where = ref.substr(1);
        const Json::json_pointer pointer(where);
        if (!root_.contains(pointer)) return Invalid(where, "does not exist");
        part = root_.at(pointer);
      }
      if (!part.is_object()) return Unsupported(where, "allOf supports object schemas only");
      if (part.contains("allOf")) {
        for (size_t i = 0; i < part["allOf"].size(); ++i) {
          queue.push_back({part["allOf"][i], fmt::format("{}/allOf/{}", where, i)});
        }
      }
      std::set<std::string> own;
      for (const auto& [key, value] : part.items()) {
        if (key == "allOf" || kValidationKeywords.count(key) == 0) continue;
        if (key == "type" && value == "object") continue;
        if (key == "properties" && value.is_object()) {
          for (const auto& [prop, sub] : value.items()) {
            own.insert(prop);
            Json& slot = merged["properties"][prop];
            if (!slot.is_null() && slot != sub) {
              return Unsupported(where + "/properties/" + PointerEscape(prop),
                                 "a property defined differently by two allOf parts");
            }
            slot = sub;
          }
        } else if (key == "required" && value.is_array()) {
          for (const Json& r : value) merged["required"].push_back(r);
        } else if (key == "additionalProperties" && value.is_boolean()) {
          // false is handled below, once the part's own properties are known
        } else {
          return Unsupported(where + "/" + PointerEscape(key),
                             "not supported in a part of allOf (object properties only)");
        }
      }
      if (part.contains("additionalProperties") && part["additionalProperties"] == false) {
        closed.push_back(std::move(own));
      }
    }
    for (const std::set<std::string>& allowed : closed) {
      for (const auto& [prop, sub] : merged["properties"].items()) {
        if (allowed.count(prop) == 0) {
          return Unsupported(ptr + "/allOf",
                             fmt::format("property '{}' is forbidden by a part with "
                                         "additionalProperties false",
                                         prop));
        }
      }
    }
    if (!closed.empty()) merged["additionalProperties"] = false;
    return VisitObject(merged, ptr, name);
  }

  Result<std::optional<int64_t>> NonNegative(const Json& schema, const char* key,
                                             const std::string& ptr) const {
    if (!schema.contains(key)) return std::optional<int64_t>();
    const Json& v = schema[key];
    if (!v.is_number() || !MatchesType(v, "integer") || v.get<double>() < 0) {
      return Invalid(ptr + "/" + key, "must be a non-negative integer");
    }
    return std::optional<int64_t>(static_cast<int64_t>(std::min(v.get<double>(), 1e15)));
  }

  Result<GrammarElement> VisitString(const Json& schema, const std::string& ptr,
                                     const std::string& name) {
    WICK_ASSIGN_OR_RETURN(std::optional<int64_t> min, NonNegative(schema, "minLength", ptr));
    WICK_ASSIGN_OR_RETURN(std::optional<int64_t> max, NonNegative(schema, "maxLength", ptr));
    if (min && max && *min > *max) return Invalid(ptr + "/minLength", "is more than maxLength");
    const bool has_length = min || max;
    const GrammarElement quote = g_.Byte('"');
    if (schema.contains("format") && schema["format"].is_string()) {
      // Formats it does not know are annotations, as JSON Schema has them by default.
      if (auto format = rules_.Format(schema["format"].get<std::string>())) {
        if (has_length || schema.contains("pattern")) {
          return Unsupported(ptr + "/format", "format with a length or pattern is not supported");
        }
        return g_.Choice(name, {{quote, *format, quote}});
      }
    }
    if (schema.contains("pattern")) {
      if (!schema["pattern"].is_string()) return Invalid(ptr + "/pattern", "must be a string");
      if (has_length) {
        return Unsupported(ptr + "/pattern", "pattern with minLength/maxLength is not supported");
      }
      Result<GrammarElement> content = AddRegex(g_, schema["pattern"].get<std::string>(),
                                                RuleName(name, "pattern"), {.json_string = true});
      if (!content.ok()) return Unsupported(ptr + "/pattern", content.error().message());
      return g_.Choice(name, {{quote, *content, quote}});
    }
    return rules_.String(min.value_or(0), max.value_or(-1));
  }

  Result<GrammarElement> VisitNumber(const Json& schema, const std::string& type,
                                     const std::string& ptr) {
    if (schema.contains("multipleOf")) return Unsupported(ptr + "/multipleOf", "not supported");
    std::optional<int64_t> lo;
    std::optional<int64_t> hi;
    auto read = [&](const char* key, double& out) -> Status {
      const Json& v = schema[key];
      if (!v.is_number()) return Invalid(ptr + "/" + key, "must be a number");
      out = std::clamp(v.get<double>(), -1e18, 1e18);
      return OkStatus();
    };
    // Bounds are rounded inwards to integers: for numbers a narrower range, still valid.
    auto raise = [&](int64_t v) { lo = lo ? std::max(*lo, v) : v; };
    auto lower = [&](int64_t v) { hi = hi ? std::min(*hi, v) : v; };
    double v = 0;
    if (schema.contains("minimum")) {
      WICK_RETURN_IF_ERROR(read("minimum", v));
      const bool exclusive = schema.value("exclusiveMinimum", Json()).is_boolean() &&
                             schema["exclusiveMinimum"].get<bool>();  // draft 4
      raise(exclusive ? static_cast<int64_t>(std::floor(v)) + 1
                      : static_cast<int64_t>(std::ceil(v)));
    }
    if (schema.contains("maximum")) {
      WICK_RETURN_IF_ERROR(read("maximum", v));
      const bool exclusive = schema.value("exclusiveMaximum", Json()).is_boolean() &&
                             schema["exclusiveMaximum"].get<bool>();
      lower(exclusive ? static_cast<int64_t>(std::ceil(v)) - 1
                      : static_cast<int64_t>(std::floor(v)));
    }
    if (schema.contains("exclusiveMinimum") && !schema["exclusiveMinimum"].is_boolean()) {
      WICK_RETURN_IF_ERROR(read("exclusiveMinimum", v));
      raise(static_cast<int64_t>(std::floor(v)) + 1);
    }
    if (schema.contains("exclusiveMaximum") && !schema["exclusiveMaximum"].is_boolean()) {
      WICK_RETURN_IF_ERROR(read("exclusiveMaximum", v));
      lower(static_cast<int64_t>(std::ceil(v)) - 1);
    }
    const bool integer = type == "integer";
    if (!lo && !hi) return integer ? rules_.Integer() : rules_.Number();
    Result<GrammarElement> range =
        integer ? rules_.IntegerRange(lo, hi) : rules_.NumberRange(lo, hi);
    if (!range.ok()) return Invalid(ptr, range.error().message());
    return *range;
  }

  Result<GrammarElement> VisitObject(const Json& schema, const std::string& ptr,
                                     const std::string& name);
  Result<GrammarElement> VisitArray(const Json& schema, const std::string& ptr,
                                    const std::string& name);
  GrammarElement ExtraKey(const std::vector<std::string>& declared, const std::string& name);

  Grammar& g_;
  const Json& root_;
  JsonRules rules_;
  JsonSchemaOptions options_;
  std::map<std::string, uint32_t> refs_;
};

Result<GrammarElement> SchemaConverter::VisitObject(const Json& schema, const std::string& ptr,
                                                    const std::string& name) {
  for (const char* keyword :
       {"minProperties", "maxProperties", "patternProperties", "propertyNames", "dependentRequired",
        "dependentSchemas", "dependencies"}) {
    if (schema.contains(keyword)) return Unsupported(ptr + "/" + keyword, "not supported");
  }
  const Json empty = Json::object();
  const Json& properties = schema.contains("properties") ? schema["properties"] : empty;
  if (!properties.is_object()) return Invalid(ptr + "/properties", "must be an object");
  std::set<std::string> required;
  std::vector<std::string> required_order;
  if (schema.contains("required")) {
    if (!schema["required"].is_array()) return Invalid(ptr + "/required", "must be an array");
    for (const Json& r : schema["required"]) {
      if (!r.is_string()) return Invalid(ptr + "/required", "must hold strings");
      if (required.insert(r.get<std::string>()).second) {
        required_order.push_back(r.get<std::string>());
      }
    }
  }
  const Json additional = schema.contains("additionalProperties") ? schema["additionalProperties"]
                                                                  : Json(!options_.strict);
  if (!additional.is_boolean() && !additional.is_object()) {
    return Invalid(ptr + "/additionalProperties", "must be a boolean or a schema");
  }
  const bool closed = additional.is_boolean() && !additional.get<bool>();

  struct Member {
    std::string key;
    GrammarElement kv;
    bool required = false;
  };
  std::vector<Member> members;
  std::vector<std::string> declared;
  auto member = [&](const std::string& key, const GrammarElement& value) {
    GrammarSequence seq = g_.Literal(Dump(Json(key)));
    seq.insert(seq.end(), {rules_.Ws(), g_.Byte(':'), rules_.Ws(), value});
    return g_.Choice(RuleName(name, key) + "-kv", {std::move(seq)});
  };
  for (const auto& [key, sub] : properties.items()) {
    declared.push_back(key);
    const bool is_required = required.count(key) != 0;
    const std::string where = ptr + "/properties/" + PointerEscape(key);
    if (sub.is_boolean() && !sub.get<bool>()) {
      if (is_required) return Invalid(where, "required, but its schema is false");
      continue;
    }
    WICK_ASSIGN_OR_RETURN(GrammarElement value, Visit(sub, where, RuleName(name, key)));
    members.push_back({key, member(key, value), is_required});
  }
  for (const std::string& key : required_order) {
    if (properties.contains(key)) continue;
    if (closed) {
      return Invalid(ptr + "/required",
                     fmt::format("'{}' is required but additionalProperties is false", key));
    }
    const std::string where = ptr + "/additionalProperties";
    WICK_ASSIGN_OR_RETURN(GrammarElement value, Visit(additional, where, RuleName(name, key)));
    declared.push_back(key);
    members.push_back({key, member(key, value), true});
  }
  std::optional<GrammarElement> extra;
  if (!closed) {
    const std::string where = ptr + "/additionalProperties";
    WICK_ASSIGN_OR_RETURN(GrammarElement value, Visit(additional, where, name + "-additional"));
    GrammarSequence seq = {ExtraKey(declared, name), rules_.Ws(), g_.Byte(':'), rules_.Ws(), value};
    extra = g_.Choice(name + "-additional-kv", {std::move(seq)});
  }

  // rest[k]: the members from k on when one has been written already (each after a comma);
  // first[k]: at least one member from k on, none written yet (the first without a comma).
  const size_t n = members.size();
  std::vector<GrammarSequence> rest(n + 1);
  if (extra) {
    const uint32_t rule = g_.AddRule(name + "-rest-extra");
    GrammarSequence next = rules_.Sep();
    next.insert(next.end(), {*extra, Grammar::Ref(rule)});
    g_.AddAlternative(rule, std::move(next));
    g_.AddAlternative(rule, {});
    rest[n] = {Grammar::Ref(rule)};
  }
  std::optional<GrammarElement> first;
  if (extra) first = g_.Choice(name + "-first-extra", {{*extra, rest[n][0]}});
  for (size_t k = n; k-- > 0;) {
    GrammarSequence with = rules_.Sep();
    with.push_back(members[k].kv);
    with.insert(with.end(), rest[k + 1].begin(), rest[k + 1].end());
    std::vector<GrammarSequence> rest_alts = {with};
    if (!members[k].required) rest_alts.push_back(rest[k + 1]);
    rest[k] = {g_.Choice(fmt::format("{}-rest{}", name, k), std::move(rest_alts))};

    GrammarSequence starting = {members[k].kv};
    starting.insert(starting.end(), rest[k + 1].begin(), rest[k + 1].end());
    std::vector<GrammarSequence> first_alts = {starting};
    if (!members[k].required && first) first_alts.push_back({*first});
    first = g_.Choice(fmt::format("{}-first{}", name, k), std::move(first_alts));
  }
  const GrammarElement open = g_.Byte('{');
  const GrammarElement close = g_.Byte('}');
  std::vector<GrammarSequence> alts;
  if (required_order.empty() || !first) alts.push_back({open, rules_.Ws(), close});
  if (first) alts.push_back({open, rules_.Ws(), *first, rules_.Ws(), close});
  return g_.Choice(name, std::move(alts));
}

// A key other than the declared ones: a trie of their characters, where every node may leave
// the trie by a character none of them has there (then anything may follow), or end if no
// declared key ends there. Keys are written in one canonical spelling (the one Dump() uses for
// declared keys), so "\u0061ge" cannot sneak in an "age".
GrammarElement SchemaConverter::ExtraKey(const std::vector<std::string>& declared,
                                         const std::string& name) {
  if (declared.empty()) return rules_.String();
  struct Node {
    std::map<uint32_t, size_t> children;
    bool end = false;
  };
  std::vector<Node> trie(1);
  for (const std::string& key : declared) {
    size_t node = 0;
    for (uint32_t cp : CodePoints(key)) {
      auto it = trie[node].children.find(cp);
      if (it == trie[node].children.end()) {
        trie.push_back({});
        it = trie[node].children.emplace(cp, trie.size() - 1).first;
      }
      node = it->second;
    }
    trie[node].end = true;
  }
  const GrammarElement any_char = JsonStringChar(g_, {}, true);
  const GrammarElement any_tail = g_.Repeat(name + "-key-tail", {any_char}, 0, -1);
  std::vector<uint32_t> rule_of(trie.size());
  for (size_t i = 0; i < trie.size(); ++i)
    rule_of[i] = g_.AddRule(fmt::format("{}-key{}", name, i));
  for (size_t i = 0; i < trie.size(); ++i) {
    const Node& node = trie[i];
    if (!node.end) g_.AddAlternative(rule_of[i], {});
    std::vector<CodepointRange> taken;
    for (const auto& [cp, child] : node.children) {
      g_.AddAlternative(rule_of[i],
                        {JsonStringChar(g_, {{cp, cp}}, false), Grammar::Ref(rule_of[child])});
      taken.push_back({cp, cp});
    }
    g_.AddAlternative(rule_of[i], {JsonStringChar(g_, std::move(taken), true), any_tail});
  }
  const GrammarElement quote = g_.Byte('"');
  return g_.Choice(name + "-key", {{quote, Grammar::Ref(rule_of[0]), quote}});
}

Result<GrammarElement> SchemaConverter::VisitArray(const Json& schema, const std::string& ptr,
                                                   const std::string& name) {
  for (const char* keyword : {"contains", "minContains", "maxContains"}) {
    if (schema.contains(keyword)) return Unsupported(ptr + "/" + keyword, "not supported");
  }
  if (schema.contains("uniqueItems") && schema["uniqueItems"] == true) {
    return Unsupported(ptr + "/uniqueItems", "not supported");
  }
  // prefixItems (or draft 4's items array) for the first items, then items (additionalItems).
  const Json* prefix = nullptr;
  std::string prefix_ptr;
  Json rest = true;
  std::string rest_ptr;
  if (schema.contains("prefixItems")) {
    prefix = &schema["prefixItems"];
    prefix_ptr = ptr + "/prefixItems";
    if (schema.contains("items")) {
      rest = schema["items"];
      rest_ptr = ptr + "/items";
    }
  } else if (schema.contains("items") && schema["items"].is_array()) {
    prefix = &schema["items"];
    prefix_ptr = ptr + "/items";
    if (schema.contains("additionalItems")) {
      rest = schema["additionalItems"];
      rest_ptr = ptr + "/additionalItems";
    }
  } else if (schema.contains("items")) {
    rest = schema["items"];
    rest_ptr = ptr + "/items";
  }
  if (prefix && !prefix->is_array()) return Invalid(prefix_ptr, "must be an array");
  WICK_ASSIGN_OR_RETURN(std::optional<int64_t> min_items, NonNegative(schema, "minItems", ptr));
  WICK_ASSIGN_OR_RETURN(std::optional<int64_t> max_items, NonNegative(schema, "maxItems", ptr));
  const int64_t min = min_items.value_or(0);
  int64_t max = max_items.value_or(-1);

  std::vector<GrammarElement> fixed;
  if (prefix) {
    for (size_t i = 0; i < prefix->size(); ++i) {
      const Json& sub = (*prefix)[i];
      if (sub.is_boolean() && !sub.get<bool>()) break;  // no item may stand at i
      const std::string where = fmt::format("{}/{}", prefix_ptr, i);
      WICK_ASSIGN_OR_RETURN(GrammarElement e, Visit(sub, where, RuleName(name, std::to_string(i))));
      fixed.push_back(e);
    }
  }
  const auto k = static_cast<int64_t>(fixed.size());
  const bool open_ended = !(rest.is_boolean() && !rest.get<bool>()) &&
                          (!prefix || static_cast<int64_t>(prefix->size()) == k);
  if (!open_ended) max = max < 0 ? k : std::min(max, k);
  if (max >= 0 && min > max) return Invalid(ptr + "/minItems", "more items than are allowed");
  std::optional<GrammarElement> item;
  if (open_ended && (max < 0 || max > k)) {
    WICK_ASSIGN_OR_RETURN(GrammarElement e, Visit(rest, rest_ptr, name + "-item"));
    item = e;
  }
  auto element = [&](int64_t i) { return i < k ? fixed[static_cast<size_t>(i)] : *item; };

  // tail(i): the items from index i on, i >= 1 of them written already.
  std::function<GrammarSequence(int64_t)> tail = [&](int64_t i) -> GrammarSequence {
    if (max >= 0 && i >= max) return {};
    if (i >= k) {
      GrammarSequence next = rules_.Sep();
      next.push_back(*item);
      return {
          g_.Repeat(name + "-items", next, std::max<int64_t>(min - i, 0), max < 0 ? -1 : max - i)};
    }
    GrammarSequence body = rules_.Sep();
    body.push_back(element(i));
    const GrammarSequence after = tail(i + 1);
    body.insert(body.end(), after.begin(), after.end());
    std::vector<GrammarSequence> alts = {body};
    if (i >= min) alts.push_back({});
    return {g_.Choice(fmt::format("{}-tail{}", name, i), std::move(alts))};
  };
  const GrammarElement open = g_.Byte('[');
  const GrammarElement close = g_.Byte(']');
  std::vector<GrammarSequence> alts;
  if (min == 0) alts.push_back({open, rules_.Ws(), close});
  if (max != 0) {
    GrammarSequence items = {open, rules_.Ws(), element(0)};
    const GrammarSequence after = tail(1);
    items.insert(items.end(), after.begin(), after.end());
    items.insert(items.end(), {rules_.Ws(), close});
    alts.push_back(std::move(items));
  }
  return g_.Choice(name, std::move(alts));
}

}  // namespace

Result<GrammarElement> AddJsonSchema(Grammar& grammar, const nlohmann::ordered_json& schema,
                                     std::string_view prefix, const JsonSchemaOptions& options) {
  try {
    SchemaConverter converter(grammar, schema, std::string(prefix), options);
    return converter.Visit(schema, "", prefix.empty() ? "root" : std::string(prefix));
  } catch (const nlohmann::json::exception& e) {
    return Error(ErrorCode::kInvalidArgument, fmt::format("json schema: {}", e.what()));
  }
}

Result<GrammarElement> AddJsonSchema(Grammar& grammar, const nlohmann::json& schema,
                                     std::string_view prefix, const JsonSchemaOptions& options) {
  return AddJsonSchema(grammar, nlohmann::ordered_json(schema), prefix, options);
}

Result<Grammar> JsonSchemaGrammar(const nlohmann::ordered_json& schema,
                                  const JsonSchemaOptions& options) {
  Grammar grammar;
  const uint32_t root = grammar.AddRule("root");
  grammar.set_root(root);
  WICK_ASSIGN_OR_RETURN(GrammarElement value, AddJsonSchema(grammar, schema, "", options));
  grammar.AddAlternative(root, {value});
  Status valid = grammar.Validate();
  if (!valid.ok()) return std::move(valid).error().With("json schema");
  return grammar;
}

Result<Grammar> JsonSchemaGrammar(const nlohmann::json& schema, const JsonSchemaOptions& options) {
  return JsonSchemaGrammar(nlohmann::ordered_json(schema), options);
}

Grammar JsonObjectGrammar() {
  Grammar grammar;
  const uint32_t root = grammar.AddRule("root");
  grammar.set_root(root);
  JsonRules rules(grammar, "");
  grammar.AddAlternative(root, {rules.Object()});
  return grammar;
}

}  // namespace wick::text
