// JSON Schema to Grammar: for a dozen schemas, valid texts accepted and invalid ones refused
// (through the reference recognizer), random sentences of each grammar parsed and checked by a
// small validator, integer ranges checked exhaustively, and unsupported keywords refused with
// the JSON pointer at fault.
#include "text/grammar/json_schema.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <regex>

#include "text/grammar_reference.h"

namespace wick {
namespace {

using nlohmann::json;
using testing::ReferenceAccepts;
using text::Grammar;

// --- a small validator, for the keywords the tests use ------------------------------------

size_t CodePointCount(const std::string& s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<uint8_t>(c) & 0xC0) != 0x80;
  return n;
}

bool HasType(const json& v, const std::string& type) {
  if (type == "null") return v.is_null();
  if (type == "boolean") return v.is_boolean();
  if (type == "string") return v.is_string();
  if (type == "object") return v.is_object();
  if (type == "array") return v.is_array();
  if (type == "number") return v.is_number();
  if (type == "integer") {
    return v.is_number_integer() ||
           (v.is_number_float() && std::floor(v.get<double>()) == v.get<double>());
  }
  return false;
}

bool FormatOk(const std::string& format, const std::string& s) {
  static const std::string date = R"(\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01]))";
  static const std::string time = R"(([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d+)?(Z|[+-]\d\d:\d\d))";
  if (format == "date") return std::regex_match(s, std::regex(date));
  if (format == "time") return std::regex_match(s, std::regex(time));
  if (format == "date-time") return std::regex_match(s, std::regex(date + "T" + time));
  if (format == "uuid") {
    return std::regex_match(s, std::regex("[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}"));
  }
  return true;
}

bool Valid(const json& s, const json& v, const json& root) {
  if (s.is_boolean()) return s.get<bool>();
  if (s.contains("$ref")) {
    const std::string ref = s["$ref"];
    return Valid(root.at(json::json_pointer(ref.substr(1))), v, root);
  }
  if (s.contains("const") && v != s["const"]) return false;
  if (s.contains("enum")) {
    bool found = false;
    for (const json& e : s["enum"]) found = found || e == v;
    if (!found) return false;
  }
  if (s.contains("anyOf")) {
    bool any = false;
    for (const json& sub : s["anyOf"]) any = any || Valid(sub, v, root);
    if (!any) return false;
  }
  if (s.contains("oneOf")) {
    int count = 0;
    for (const json& sub : s["oneOf"]) count += Valid(sub, v, root);
    if (count != 1) return false;
  }
  if (s.contains("allOf")) {
    for (const json& sub : s["allOf"]) {
      if (!Valid(sub, v, root)) return false;
    }
  }
  if (s.contains("type")) {
    bool typed = false;
    if (s["type"].is_string()) typed = HasType(v, s["type"]);
    for (const json& t : s["type"].is_array() ? s["type"] : json::array()) {
      typed = typed || HasType(v, t);
    }
    if (!typed) return false;
  }
  if (v.is_string()) {
    const std::string str = v;
    if (s.contains("minLength") && CodePointCount(str) < s["minLength"]) return false;
    if (s.contains("maxLength") && CodePointCount(str) > s["maxLength"]) return false;
    if (s.contains("pattern") &&
        !std::regex_search(str, std::regex(s["pattern"].get<std::string>()))) {
      return false;
    }
    if (s.contains("format") && !FormatOk(s["format"], str)) return false;
  }
  if (v.is_number()) {
    const double d = v.get<double>();
    if (s.contains("minimum") && d < s["minimum"].get<double>()) return false;
    if (s.contains("maximum") && d > s["maximum"].get<double>()) return false;
    if (s.contains("exclusiveMinimum") && d <= s["exclusiveMinimum"].get<double>()) return false;
    if (s.contains("exclusiveMaximum") && d >= s["exclusiveMaximum"].get<double>()) return false;
  }
  if (v.is_object()) {
    const json props = s.value("properties", json::object());
    for (const json& r : s.value("required", json::array())) {
      if (!v.contains(r.get<std::string>())) return false;
    }
    for (const auto& [key, value] : v.items()) {
      if (props.contains(key)) {
        if (!Valid(props[key], value, root)) return false;
      } else if (s.contains("additionalProperties") &&
                 !Valid(s["additionalProperties"], value, root)) {
        return false;
      }
    }
  }
  if (v.is_array()) {
    if (s.contains("minItems") && v.size() < s["minItems"]) return false;
    if (s.contains("maxItems") && v.size() > s["maxItems"]) return false;
    const json prefix = s.value("prefixItems", json::array());
    for (size_t i = 0; i < v.size(); ++i) {
      const json& item_schema = i < prefix.size() ? prefix[i] : s.value("items", json(true));
      if (!Valid(item_schema, v[i], root)) return false;
    }
  }
  return true;
}

// --- cases ---------------------------------------------------------------------------------

struct SchemaCase {
  std::string name;
  std::string schema;
  std::vector<std::string> valid;
  std::vector<std::string> invalid;
  bool strict = false;
};

std::vector<SchemaCase> Cases() {
  return {
      {"person",
       R"({"type": "object", "properties": {"name": {"type": "string"},
           "age": {"type": "integer", "minimum": 0, "maximum": 150}, "email": {"type": "string"}},
           "required": ["name", "age"], "additionalProperties": false})",
       {R"({"name":"Al","age":30})", R"({"name": "Al", "age": 30, "email": "a@b.c"})",
        "{\n  \"name\": \"x\",\n  \"age\": 0\n}", R"({"name":"\u00e9\"\\\/\b\f\n\r\t","age":150})",
        R"({ "name" : "café 😀" , "age" : 7 })", R"({"name":"\ud83d\ude00","age":1})"},
       {R"({"name":"Al"})",
        R"({"name":"Al","age":30,"extra":1})",
        R"({"name":"Al","age":-1})",
        R"({"name":"Al","age":151})",
        R"({"name":"Al","age":"30"})",
        R"({"name":"Al","age":30,})",
        R"( {"name":"Al","age":30})",
        R"({"name":"Al","age":30} )",
        R"({"name":"Al",,"age":30})",
        R"({"name":"A\q","age":1})",
        R"({"name":"Al","age":30.5})",
        R"({"name":"Al","age":01})",
        R"({"name":"A\u12","age":1})",
        R"({"name":"\ud800","age":1})",
        "{\"name\":\"a\nb\",\"age\":1}",
        R"({"name":"Al","age":30,"email":"x","email":"y"})",
        R"({"name":"Al"  ,"age":30})",
        "{\"name\":\"\xff\",\"age\":1}",
        R"({"name":"Al","age":30}{})",
        ""}},
      {"optional properties and commas",
       R"({"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "boolean"},
           "c": {"type": "null"}, "d": {"type": "string"}}, "required": ["c"],
           "additionalProperties": false})",
       {R"({"c":null})", R"({"a":1,"c":null})", R"({"b":true,"c":null,"d":"x"})",
        R"({"a":1,"b":false,"c":null,"d":""})", R"({"c":null,"d":"z"})"},
       {"{}", R"({"a":1})", R"({,"c":null})", R"({"c":null,})", R"({"a":1,,"c":null})",
        R"({"a":1 "c":null})", R"({"c":null,"a":1})", R"({"c":nul})", R"({"c":null,"e":1})"}},
      {"open object",
       R"({"type": "object", "properties": {"x": {"type": "number"}, "y": {"type": "number"}}})",
       {"{}", R"({"x":1})", R"({"y":-2.5e3})", R"({"x":1,"y":2})", R"({"x":1,"z":[1,{"q":null}]})",
        R"({"other":"v"})", R"({"x":0.5,"y":2,"p":1,"q":2})", R"({"xx":1,"":2,"y1":3})",
        R"({"x": 1 })", "{ }"},
       {R"({"x":"1"})", R"({"x":1,})", R"({"x":1,"x":2})", R"({"y":1,"y":2})", R"({"x":01})",
        R"({"x":1.})", R"({"x":.5})", R"({"x":1e})", R"({"x":+1})", R"({"\u0078":1})",
        R"({"x":1,"p":1,"y":2})", "{  }", "[]"}},
      {"array of short strings",
       R"({"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 3},
           "minItems": 1, "maxItems": 3})",
       {R"(["a"])", R"(["abc","d"])", R"(["a","b","c"])", R"(["\u00e9\n"])", R"(["😀😀😀"])",
        R"([ "a" , "b" ])", "[\n  \"a\",\n  \"bb\"\n]", R"(["\ud83d\ude00\"\\"])"},
       {"[]", R"(["a","b","c","d"])", R"([""])", R"(["abcd"])", R"(["a",])", R"([,"a"])",
        R"(["a" "b"])", "[1]", R"(["\x"])", R"(["😀😀😀😀"])", R"(["\u00e9\n\t!"])"}},
      {"enum and const",
       R"({"type": "object", "properties": {"color": {"enum": ["red", "green", null, 42]},
           "kind": {"const": "fixed"}, "tag": {"type": "string", "enum": ["a\"b", "é", 3]}},
           "required": ["color", "kind"], "additionalProperties": false})",
       {R"({"color":"red","kind":"fixed"})", R"({"color":null,"kind":"fixed"})",
        R"({"color":42,"kind":"fixed","tag":"a\"b"})",
        R"({"color":"green","kind":"fixed","tag":"é"})"},
       {R"({"color":"Red","kind":"fixed"})", R"({"color":"red","kind":"other"})",
        R"({"color":43,"kind":"fixed"})", R"({"color":"red","kind":"fixed","tag":3})",
        R"({"color":"red","kind":"fixed","tag":"\u00e9"})", R"({"color":"red"})"}},
      {"anyOf and type lists",
       R"({"anyOf": [{"type": "integer"}, {"type": "string", "maxLength": 2},
           {"type": "array", "items": {"type": ["boolean", "null"]}, "maxItems": 2}]})",
       {"5", "-12", R"("ab")", R"("")", "[]", "[true,null]", "[ false ]"},
       {R"("abc")", "[1]", "[true,true,true]", "1.5", "{}", "true", "null", " 5"}},
      {"recursive tree",
       R"({"$defs": {"node": {"type": "object", "properties": {"value": {"type": "integer"},
           "children": {"type": "array", "items": {"$ref": "#/$defs/node"}}},
           "required": ["value"], "additionalProperties": false}}, "$ref": "#/$defs/node"})",
       {R"({"value":1})", R"({"value":1,"children":[]})",
        R"({"value":1,"children":[{"value":2,"children":[{"value":3}]},{"value":4}]})"},
       {R"({"value":1,"children":[{}]})", R"({"value":1,"children":[{"value":"x"}]})",
        R"({"children":[]})", R"({"value":1,"children":[{"value":2},]})"}},
      {"patterns",
       R"({"type": "object", "properties": {"code": {"type": "string", "pattern": "^[A-Z]{3}-\\d{2,4}$"},
           "slug": {"type": "string", "pattern": "^[a-z]+(-[a-z]+)*$"},
           "has": {"type": "string", "pattern": "ab+c|^q"}},
           "required": ["code", "slug", "has"], "additionalProperties": false})",
       {R"({"code":"ABC-12","slug":"a-bc","has":"abbc"})",
        R"({"code":"XYZ-1234","slug":"abc","has":"xx\"abcyy"})",
        R"({"code":"XYZ-1234","slug":"abc","has":"q\\"})"},
       {R"({"code":"AB-12","slug":"a","has":"abc"})", R"({"code":"ABC-1","slug":"a","has":"abc"})",
        R"({"code":"ABC-12345","slug":"a","has":"abc"})",
        R"({"code":"ABC-12","slug":"a--b","has":"abc"})",
        R"({"code":"ABC-12","slug":"-a","has":"abc"})",
        R"({"code":"ABC-12","slug":"a","has":"ac"})",
        R"({"code":"ABC-12","slug":"a","has":"xq"})"}},
      {"integer ranges",
       R"({"type": "object", "properties": {"a": {"type": "integer", "minimum": -15, "maximum": 123},
           "b": {"type": "integer", "exclusiveMinimum": 0}, "c": {"type": "integer", "maximum": -1000}},
           "required": ["a", "b", "c"], "additionalProperties": false})",
       {R"({"a":-15,"b":1,"c":-1000})", R"({"a":123,"b":9999999999999999,"c":-123456})",
        R"({"a":0,"b":10,"c":-1001})", R"({"a":99,"b":100,"c":-9999})"},
       {R"({"a":-16,"b":1,"c":-1000})", R"({"a":124,"b":1,"c":-1000})",
        R"({"a":007,"b":1,"c":-1000})", R"({"a":1,"b":0,"c":-1000})", R"({"a":1,"b":-1,"c":-1000})",
        R"({"a":1,"b":1,"c":-999})", R"({"a":1,"b":1,"c":0})", R"({"a":1.0,"b":1,"c":-1000})"}},
      {"tuples and nested objects",
       R"({"type": "object", "properties": {
           "point": {"type": "array", "prefixItems": [{"type": "number"}, {"type": "number"}],
                     "items": false, "minItems": 2},
           "meta": {"type": "object", "properties": {"tags": {"type": "array",
                    "items": {"type": "string"}, "maxItems": 2}}, "additionalProperties": false}},
           "required": ["point"], "additionalProperties": false})",
       {R"({"point":[1,2]})", R"({"point":[1.5,-2],"meta":{}})",
        R"({"point":[0,0],"meta":{"tags":["a","b"]}})", R"({"point":[0,0],"meta":{"tags":[]}})"},
       {R"({"point":[1]})", R"({"point":[1,2,3]})",
        R"({"point":[1,2],"meta":{"tags":["a","b","c"]}})", R"({"point":[1,2],"meta":{"x":1}})",
        R"({"point":[1,"2"]})"}},
      {"strict mode",
       R"({"type": "object", "properties": {"a": {"type": "boolean"}}, "required": ["a"]})",
       {R"({"a":true})"},
       {R"({"a":true,"b":1})", R"({})"},
       true},
      {"formats",
       R"({"type": "object", "properties": {"d": {"type": "string", "format": "date"},
           "t": {"type": "string", "format": "date-time"}, "u": {"type": "string", "format": "uuid"},
           "e": {"type": "string", "format": "email"}},
           "required": ["d", "t", "u"], "additionalProperties": false})",
       {R"({"d":"2024-02-29","t":"2024-12-31T23:59:59Z","u":"123e4567-e89b-12d3-a456-426614174000"})",
        R"({"d":"1999-01-01","t":"2024-01-01T00:00:00.123+02:00","u":"00000000-0000-0000-0000-000000000000","e":"x"})"},
       {R"({"d":"2024-13-01","t":"2024-12-31T23:59:59Z","u":"123e4567-e89b-12d3-a456-426614174000"})",
        R"({"d":"2024-12-01","t":"2024-12-31 23:59:59Z","u":"123e4567-e89b-12d3-a456-426614174000"})",
        R"({"d":"2024-12-01","t":"2024-12-31T23:59:59Z","u":"123e4567e89b12d3a456426614174000"})"}},
      {"allOf",
       R"({"$defs": {"base": {"type": "object", "properties": {"id": {"type": "integer"}},
           "required": ["id"]}},
           "allOf": [{"$ref": "#/$defs/base"}, {"properties": {"note": {"type": "string"}}}]})",
       {R"({"id":1})", R"({"id":1,"note":"n"})", R"({"id":1,"x":"y","zz":[]})",
        R"({"id":1,"idx":1})"},
       {R"({"note":"n"})", R"({"id":"1"})", R"({"id":1,"id":"2"})",
        R"({"id":1,"note":"n","note":"m"})"}},
      {"additional properties schema",
       R"({"type": "object", "properties": {"id": {"type": "integer"}}, "required": ["id"],
           "additionalProperties": {"type": "string"}})",
       {R"({"id":1})", R"({"id":1,"x":"y","i":""})", R"({"id":1,"idx":"1","\"":"q"})"},
       {R"({"id":1,"x":2})", R"({"id":1,"id":"2"})", R"({"x":"y","id":1})"}},
      {"number range",
       R"({"type": "number", "minimum": 0, "maximum": 10})",
       {"0", "10", "5.5", "9.999", "0.001"},
       {"-1", "10.5", "-0.5", "11", "1e1", "-0"}},
  };
}

Grammar MustCompile(const SchemaCase& c) {
  text::JsonSchemaOptions options;
  options.strict = c.strict;
  // Ordered, so that properties keep the order they are written in.
  Result<Grammar> grammar =
      text::JsonSchemaGrammar(nlohmann::ordered_json::parse(c.schema), options);
  EXPECT_TRUE(grammar.ok()) << c.name << ": " << grammar.error().message();
  return grammar.ok() ? std::move(grammar).value() : Grammar();
}

TEST(JsonSchemaTest, ValidTextsAcceptedInvalidOnesRefused) {
  for (const SchemaCase& c : Cases()) {
    SCOPED_TRACE(c.name);
    const Grammar g = MustCompile(c);
    const json schema = json::parse(c.schema);
    for (const std::string& text : c.valid) {
      const json value = json::parse(text, nullptr, false);
      ASSERT_FALSE(value.is_discarded()) << "test data: " << text;
      ASSERT_TRUE(Valid(schema, value, schema)) << "test data: " << text;
      EXPECT_TRUE(ReferenceAccepts(g, text)) << text;
    }
    for (const std::string& text : c.invalid) EXPECT_FALSE(ReferenceAccepts(g, text)) << text;
  }
}

TEST(JsonSchemaTest, RandomSentencesParseAndValidate) {
  std::mt19937 rng(2024);
  for (const SchemaCase& c : Cases()) {
    SCOPED_TRACE(c.name);
    const Grammar g = MustCompile(c);
    const json schema = json::parse(c.schema);
    for (int i = 0; i < 150; ++i) {
      const std::string text = testing::RandomSentence(g, rng, 40, 300);
      const json value = json::parse(text, nullptr, false);
      ASSERT_FALSE(value.is_discarded()) << text;
      EXPECT_TRUE(Valid(schema, value, schema)) << text;
    }
  }
}

TEST(JsonSchemaTest, IntegerRangesAreExact) {
  const std::vector<std::pair<int64_t, int64_t>> ranges = {
      {0, 0}, {-5, -5}, {7, 7000}, {-1234, -56}, {-999, 999}, {10, 99}, {-1, 0}, {1, 1000000}};
  for (const auto& [lo, hi] : ranges) {
    SCOPED_TRACE(::testing::Message() << lo << ".." << hi);
    Result<Grammar> g =
        text::JsonSchemaGrammar(json{{"type", "integer"}, {"minimum", lo}, {"maximum", hi}});
    ASSERT_TRUE(g.ok()) << g.error().message();
    for (int64_t v = -2100; v <= 10100; ++v) {
      if (ReferenceAccepts(*g, std::to_string(v)) != (v >= lo && v <= hi)) {
        ADD_FAILURE() << v;
        break;
      }
    }
    EXPECT_EQ(ReferenceAccepts(*g, std::to_string(hi)), true);
    EXPECT_EQ(ReferenceAccepts(*g, std::to_string(hi + 1)), false);
    EXPECT_FALSE(ReferenceAccepts(*g, "-0"));
    EXPECT_FALSE(ReferenceAccepts(*g, "0" + std::to_string(lo > 0 ? lo : 1)));
  }
  Result<Grammar> open = text::JsonSchemaGrammar(json{{"type", "integer"}, {"minimum", 3}});
  ASSERT_TRUE(open.ok());
  EXPECT_TRUE(ReferenceAccepts(*open, "9999999999999999"));
  EXPECT_FALSE(ReferenceAccepts(*open, "99999999999999999"));  // 17 digits
  EXPECT_FALSE(ReferenceAccepts(*open, "2"));
}

TEST(JsonSchemaTest, AnyJsonObject) {
  const Grammar g = text::JsonObjectGrammar();
  ASSERT_TRUE(g.Validate().ok());
  for (const char* ok : {"{}", R"({"a":[1,{"b":null}],"c":"d"})", "{\n  \"k\": -1.5e-3\n}"}) {
    EXPECT_TRUE(ReferenceAccepts(g, ok)) << ok;
  }
  for (const char* bad : {"[]", "\"x\"", R"({"a"})", R"({"a":1,})", " {}", "{} ", "{'a':1}"}) {
    EXPECT_FALSE(ReferenceAccepts(g, bad)) << bad;
  }
  std::mt19937 rng(5);
  for (int i = 0; i < 100; ++i) {
    const std::string text = testing::RandomSentence(g, rng, 25, 300);
    const json value = json::parse(text, nullptr, false);
    ASSERT_FALSE(value.is_discarded()) << text;
    EXPECT_TRUE(value.is_object()) << text;
  }
  // The empty schema and true: any value.
  for (const json& schema : {json::object(), json(true)}) {
    Result<Grammar> any = text::JsonSchemaGrammar(schema);
    ASSERT_TRUE(any.ok());
    for (const char* ok : {"1", "\"s\"", "null", "[1,[2]]", "{\"a\":{}}"}) {
      EXPECT_TRUE(ReferenceAccepts(*any, ok)) << ok;
    }
  }
}

TEST(JsonSchemaTest, PropertiesKeepTheOrderOfAnOrderedSchema) {
  const auto schema = nlohmann::ordered_json::parse(
      R"({"type": "object", "properties": {"zeta": {"type": "integer"}, "alpha": {"type": "integer"}},
          "required": ["zeta", "alpha"]})");
  Result<Grammar> g = text::JsonSchemaGrammar(schema);
  ASSERT_TRUE(g.ok());
  EXPECT_TRUE(ReferenceAccepts(*g, R"({"zeta":1,"alpha":2})"));
  EXPECT_FALSE(ReferenceAccepts(*g, R"({"alpha":2,"zeta":1})"));
}

TEST(JsonSchemaTest, UnsupportedKeywordsNameTheirPointer) {
  struct Case {
    std::string schema;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {R"({"properties": {"age": {"type": "integer", "multipleOf": 5}}})",
       "/properties/age/multipleOf: not supported"},
      {R"({"type": "array", "uniqueItems": true})", "/uniqueItems: not supported"},
      {R"({"type": "object", "patternProperties": {"^x": {}}})",
       "/patternProperties: not supported"},
      {R"({"not": {"type": "string"}})", "/not: not supported"},
      {R"({"items": {"if": {}, "then": {}}})", "/items/if: not supported"},
      {R"({"$ref": "other.json#/x"})", "/$ref: only local references"},
      {R"({"$ref": "#/$defs/missing"})", "/$ref: '#/$defs/missing' does not exist"},
      {R"({"properties": {"p": {"type": "string", "pattern": "(a)\\1"}}})",
       "/properties/p/pattern: pattern offset 3: backreferences are not supported"},
      {R"({"properties": {"p": {"type": "string", "pattern": "(?=a)b"}}})",
       "/properties/p/pattern: pattern offset 0: lookaround"},
      {R"({"type": "string", "pattern": "a", "maxLength": 3})", "/pattern: pattern with"},
      {R"({"type": "strange"})", "/type: unknown type 'strange'"},
      {R"({"type": "object", "properties": {"a~b/c": {"type": "integer", "minimum": 5, "maximum": 1}}})",
       "/properties/a~0b~1c: no integer lies in [5, 1]"},
      {R"({"type": "object", "additionalProperties": false, "required": ["x"]})",
       "/required: 'x' is required but additionalProperties is false"},
      {R"({"$ref": "#/$defs/a", "type": "string", "$defs": {"a": {}}})",
       "/type: keywords beside $ref are not supported"},
      {R"({"anyOf": [{"type": "string"}], "minLength": 2})", "/minLength: keywords beside anyOf"},
      {R"({"type": "array", "minItems": 3, "maxItems": 2})", "/minItems: more items than"},
      {R"({"type": "string", "minLength": -1})", "/minLength: must be a non-negative integer"},
      {"false", "/: the schema false allows no value"},
      {R"({"allOf": [{"properties": {"a": {}}}], "additionalProperties": {"type": "string"}})",
       "/additionalProperties: not supported in a part of allOf"},
      {R"({"$defs": {"a": {"anyOf": [{"$ref": "#/$defs/a"}, {"type": "null"}]}}, "$ref": "#/$defs/a"})",
       "left-recursive"},
  };
  for (const Case& c : cases) {
    Result<Grammar> g = text::JsonSchemaGrammar(json::parse(c.schema));
    ASSERT_FALSE(g.ok()) << c.schema;
    EXPECT_NE(g.error().message().find(c.expected), std::string::npos)
        << c.schema << "\n -> " << g.error().message();
  }
}

TEST(JsonSchemaTest, LongStringsStaySmall) {
  Result<Grammar> g = text::JsonSchemaGrammar(
      json::parse(R"({"type": "string", "minLength": 2, "maxLength": 100})"));
  ASSERT_TRUE(g.ok());
  EXPECT_LT(g->rules().size(), 200u);
  EXPECT_TRUE(ReferenceAccepts(*g, "\"" + std::string(100, 'x') + "\""));
  EXPECT_FALSE(ReferenceAccepts(*g, "\"" + std::string(101, 'x') + "\""));
  EXPECT_FALSE(ReferenceAccepts(*g, "\"x\""));
}

}  // namespace
}  // namespace wick
