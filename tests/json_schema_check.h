// A small JSON Schema validator for tests: checks an instance against the keywords our test
// schemas use (type, properties, required, additionalProperties, enum, const, items,
// prefixItems, minItems/maxItems, minLength/maxLength in code points, minimum/maximum,
// anyOf/oneOf/allOf, $ref to #/$defs, #/definitions and #, pattern via std::regex). Written
// independently of the grammar compiler so that it can catch the compiler's mistakes.
#pragma once

#include <nlohmann/json.hpp>
#include <regex>
#include <string>

namespace wick::testing {

class JsonSchemaCheck {
 public:
  explicit JsonSchemaCheck(nlohmann::json root) : root_(std::move(root)) {}

  // "" when `value` is valid, else where and why not.
  std::string Check(const nlohmann::json& value) const { return Check(root_, value, "$"); }

 private:
  static size_t CodePoints(const std::string& s) {
    size_t n = 0;
    for (const char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    return n;
  }

  static bool HasType(const std::string& type, const nlohmann::json& v) {
    if (type == "object") return v.is_object();
    if (type == "array") return v.is_array();
    if (type == "string") return v.is_string();
    if (type == "integer") return v.is_number_integer() || v.is_number_unsigned();
    if (type == "number") return v.is_number();
    if (type == "boolean") return v.is_boolean();
    if (type == "null") return v.is_null();
    return false;
  }

  const nlohmann::json& Resolve(const std::string& ref) const {
    if (ref == "#") return root_;
    return root_.at(nlohmann::json::json_pointer(ref.substr(1)));
  }

  std::string Check(const nlohmann::json& s, const nlohmann::json& v, const std::string& at) const {
    if (s.is_boolean()) return s.get<bool>() ? "" : at + ": schema false";
    if (s.contains("$ref")) {
      std::string e = Check(Resolve(s["$ref"].get<std::string>()), v, at);
      if (!e.empty()) return e;
    }
    if (s.contains("type")) {
      bool ok = false;
      if (s["type"].is_array()) {
        for (const auto& t : s["type"]) ok = ok || HasType(t.get<std::string>(), v);
      } else {
        ok = HasType(s["type"].get<std::string>(), v);
      }
      if (!ok) return at + ": not of type " + s["type"].dump();
    }
    if (s.contains("enum")) {
      bool found = false;
      for (const auto& e : s["enum"]) found = found || e == v;
      if (!found) return at + ": not in enum";
    }
    if (s.contains("const") && s["const"] != v) return at + ": not the const";
    for (const char* key : {"anyOf", "oneOf"}) {
      if (!s.contains(key)) continue;
      bool any = false;
      for (const auto& sub : s[key]) any = any || Check(sub, v, at).empty();
      if (!any) return at + ": matches none of " + key;
    }
    if (s.contains("allOf")) {
      for (const auto& sub : s["allOf"]) {
        std::string e = Check(sub, v, at);
        if (!e.empty()) return e;
      }
    }
    if (v.is_string()) {
      const size_t n = CodePoints(v.get<std::string>());
      if (s.contains("minLength") && n < s["minLength"].get<size_t>()) return at + ": too short";
      if (s.contains("maxLength") && n > s["maxLength"].get<size_t>()) return at + ": too long";
      if (s.contains("pattern") &&
          !std::regex_search(v.get<std::string>(), std::regex(s["pattern"].get<std::string>()))) {
        return at + ": does not match " + s["pattern"].get<std::string>();
      }
    }
    if (v.is_number()) {
      if (s.contains("minimum") && v.get<double>() < s["minimum"].get<double>()) {
        return at + ": below minimum";
      }
      if (s.contains("maximum") && v.get<double>() > s["maximum"].get<double>()) {
        return at + ": above maximum";
      }
    }
    if (v.is_array()) {
      if (s.contains("minItems") && v.size() < s["minItems"].get<size_t>()) {
        return at + ": too few items";
      }
      if (s.contains("maxItems") && v.size() > s["maxItems"].get<size_t>()) {
        return at + ": too many items";
      }
      size_t first = 0;
      if (s.contains("prefixItems")) {
        for (; first < s["prefixItems"].size() && first < v.size(); ++first) {
          std::string e =
              Check(s["prefixItems"][first], v[first], at + "[" + std::to_string(first) + "]");
          if (!e.empty()) return e;
        }
      }
      if (s.contains("items")) {
        for (size_t i = first; i < v.size(); ++i) {
          std::string e = Check(s["items"], v[i], at + "[" + std::to_string(i) + "]");
          if (!e.empty()) return e;
        }
      }
    }
    if (v.is_object()) {
      if (s.contains("required")) {
        for (const auto& r : s["required"]) {
          if (!v.contains(r.get<std::string>())) return at + ": missing " + r.get<std::string>();
        }
      }
      const nlohmann::json props = s.value("properties", nlohmann::json::object());
      for (const auto& [key, value] : v.items()) {
        if (props.contains(key)) {
          std::string e = Check(props[key], value, at + "." + key);
          if (!e.empty()) return e;
        } else if (s.contains("additionalProperties")) {
          std::string e = Check(s["additionalProperties"], value, at + "." + key);
          if (!e.empty()) return e;
        }
      }
    }
    return "";
  }

  nlohmann::json root_;
};

}  // namespace wick::testing
