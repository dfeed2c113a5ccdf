// Tool calls in generated text: the format each real chat template implies, calls parsed out of
// every format (surrounding text, several calls, malformed JSON left as content), what a stream
// holds back, and the forced-call grammars: sentences they generate parse back into calls of the
// tools with arguments that fit the schema.
#include "text/tool_calls.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "test_support.h"
#include "text/grammar/grammar_matcher.h"
#include "text/grammar/tool_call_grammar.h"

namespace wick::text {
namespace {

using Json = nlohmann::json;

std::string ReadText(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void ExpectCalls(const ParsedToolCalls& parsed,
                 const std::vector<std::pair<std::string, std::string>>& calls) {
  ASSERT_EQ(parsed.calls.size(), calls.size()) << "content: " << parsed.content;
  for (size_t i = 0; i < calls.size(); ++i) {
    EXPECT_EQ(parsed.calls[i].name, calls[i].first) << i;
    EXPECT_EQ(parsed.calls[i].arguments_json, calls[i].second) << i;
  }
}

// ---- detection ----

TEST(ToolCallFormatTest, DetectedFromTheRealTemplates) {
  WICK_REQUIRE_SHARED(shared);
  const std::filesystem::path dir = shared / "templates";
  if (!std::filesystem::is_directory(dir)) GTEST_SKIP() << "no " << dir;
  const std::map<std::string, ToolCallFormat> expected = {
      {"Qwen-Qwen2.5-7B-Instruct", ToolCallFormat::kHermes},
      {"NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use", ToolCallFormat::kHermes},
      {"meta-llama-Llama-3.1-8B-Instruct", ToolCallFormat::kLlama3},
      {"meta-llama-Llama-3.2-3B-Instruct", ToolCallFormat::kLlama3},
      {"mistralai-Mistral-Nemo-Instruct-2407", ToolCallFormat::kMistral},
      {"google-gemma-2-2b-it", ToolCallFormat::kGeneric},
      {"microsoft-Phi-3.5-mini-instruct", ToolCallFormat::kGeneric},
  };
  for (const auto& [name, format] : expected) {
    const std::filesystem::path path = dir / (name + ".jinja");
    if (!std::filesystem::exists(path)) continue;
    EXPECT_EQ(ToolCallFormatName(DetectToolCallFormat(ReadText(path))),
              std::string(ToolCallFormatName(format)))
        << name;
  }
  EXPECT_EQ(DetectToolCallFormat(""), ToolCallFormat::kGeneric);
}

// ---- parsing ----

TEST(ParseToolCallsTest, Hermes) {
  ExpectCalls(ParseToolCalls(ToolCallFormat::kHermes,
                             "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": "
                             "\"Paris\", \"unit\": \"c\"}}\n</tool_call>"),
              {{"get_weather", R"({"city":"Paris","unit":"c"})"}});
  // Text around it, several calls, arguments as a string, a missing closing tag at the end.
  const ParsedToolCalls parsed = ParseToolCalls(
      ToolCallFormat::kHermes,
      "Let me check both.\n<tool_call>\n{\"name\": \"a\", \"arguments\": {}}\n</tool_call>\n"
      "<tool_call>{\"name\": \"b\", \"arguments\": \"{\\\"x\\\": 1}\"}</tool_call>\n"
      "<tool_call>\n{\"name\": \"c\"}");
  ExpectCalls(parsed, {{"a", "{}"}, {"b", R"({"x":1})"}, {"c", "{}"}});
  EXPECT_EQ(parsed.content, "Let me check both.");
}

TEST(ParseToolCallsTest, HermesMalformedStaysContent) {
  const std::string broken =
      "Sure.<tool_call>\n{\"name\": \"a\", \"arguments\": {\"x\": }\n</tool_call>";
  const ParsedToolCalls parsed = ParseToolCalls(ToolCallFormat::kHermes, broken);
  EXPECT_TRUE(parsed.calls.empty());
  EXPECT_EQ(parsed.content, broken);
  // One good block beside a bad one: the good one is a call, the bad one stays as written.
  const ParsedToolCalls mixed =
      ParseToolCalls(ToolCallFormat::kHermes,
                     "<tool_call>{\"name\": \"a\", \"arguments\": {}}</tool_call>"
                     "<tool_call>{\"arguments\": {}}</tool_call>");
  ExpectCalls(mixed, {{"a", "{}"}});
  EXPECT_EQ(mixed.content, "<tool_call>{\"arguments\": {}}</tool_call>");
  for (const char* text :
       {"", "plain answer", "{\"name\": \"a\", \"arguments\": {}}", "<tool_call>\n</tool_call>",
        "<tool_call>[1, 2]</tool_call>", "<tool_call>{\"name\": 3, \"arguments\": {}}</tool_call>",
        "<tool_call>{\"name\": \"a\", \"arguments\": [1]}</tool_call>"}) {
    const ParsedToolCalls p = ParseToolCalls(ToolCallFormat::kHermes, text);
    EXPECT_TRUE(p.calls.empty()) << text;
    EXPECT_EQ(p.content, text);
  }
}

TEST(ParseToolCallsTest, Llama3) {
  ExpectCalls(ParseToolCalls(ToolCallFormat::kLlama3,
                             R"({"name": "get_weather", "parameters": {"city": "Paris"}})"),
              {{"get_weather", R"({"city":"Paris"})"}});
  ExpectCalls(ParseToolCalls(ToolCallFormat::kLlama3,
                             "<|python_tag|>{\"name\": \"f\", \"parameters\": {\"a\": [1, 2]}}"),
              {{"f", R"({"a":[1,2]})"}});
  ExpectCalls(ParseToolCalls(ToolCallFormat::kLlama3,
                             "\n{\"name\": \"f\", \"parameters\": {}}; {\"name\": \"g\", "
                             "\"arguments\": {\"b\": true}}\n"),
              {{"f", "{}"}, {"g", R"({"b":true})"}});
  // Only a whole message is a call; JSON that merely has a name is an answer.
  for (const char* text :
       {"The call would be {\"name\": \"f\", \"parameters\": {}}",
        "{\"name\": \"f\", \"parameters\": {}} and more", "{\"name\": \"Bob\", \"age\": 3}",
        "{\"name\": \"f\", \"parameters\": {", "no call"}) {
    const ParsedToolCalls p = ParseToolCalls(ToolCallFormat::kLlama3, text);
    EXPECT_TRUE(p.calls.empty()) << text;
    EXPECT_EQ(p.content, text);
  }
}

TEST(ParseToolCallsTest, Mistral) {
  const ParsedToolCalls parsed = ParseToolCalls(
      ToolCallFormat::kMistral,
      "Checking. [TOOL_CALLS][{\"name\": \"a\", \"arguments\": {\"x\": 1}}, {\"name\": \"b\", "
      "\"arguments\": {}, \"id\": \"abc123def\"}]");
  ExpectCalls(parsed, {{"a", R"({"x":1})"}, {"b", "{}"}});
  EXPECT_EQ(parsed.content, "Checking.");
  // The marker is a control token the detokenizer drops: a bare array is the same call.
  ExpectCalls(ParseToolCalls(ToolCallFormat::kMistral, R"([{"name": "a", "arguments": {}}])"),
              {{"a", "{}"}});
  for (const char* text : {"[TOOL_CALLS][{\"name\": \"a\", \"arguments\": {}", "[1, 2, 3]",
                           "[link](http://x)", "[TOOL_CALLS]not json"}) {
    const ParsedToolCalls p = ParseToolCalls(ToolCallFormat::kMistral, text);
    EXPECT_TRUE(p.calls.empty()) << text;
    EXPECT_EQ(p.content, text);
  }
}

TEST(ParseToolCallsTest, MistralArgsSyntax) {
  // Newer Mistral templates: [TOOL_CALLS]name[ARGS]{...}, repeated for several calls.
  const ParsedToolCalls parsed = ParseToolCalls(
      ToolCallFormat::kMistral,
      "Sure. [TOOL_CALLS]get_weather[ARGS]{\"city\": \"Paris\"}[TOOL_CALLS]search[ARGS]{}");
  ExpectCalls(parsed, {{"get_weather", R"({"city":"Paris"})"}, {"search", "{}"}});
  EXPECT_EQ(parsed.content, "Sure.");
  for (const char* text : {"[TOOL_CALLS]get_weather[ARGS]{\"city\": ", "[TOOL_CALLS][ARGS]{}",
                           "[TOOL_CALLS]f[ARGS][1]", "[TOOL_CALLS]f[ARGS]{} trailing text"}) {
    const ParsedToolCalls p = ParseToolCalls(ToolCallFormat::kMistral, text);
    EXPECT_TRUE(p.calls.empty()) << text;
    EXPECT_EQ(p.content, text);
  }
}

TEST(ParseToolCallsTest, Generic) {
  ExpectCalls(ParseToolCalls(ToolCallFormat::kGeneric,
                             "<tool_call>{\"name\": \"a\", \"arguments\": {}}</tool_call>"),
              {{"a", "{}"}});
  ExpectCalls(
      ParseToolCalls(ToolCallFormat::kGeneric, R"( {"name": "a", "arguments": {"q": "x"}} )"),
      {{"a", R"({"q":"x"})"}});
  ExpectCalls(
      ParseToolCalls(ToolCallFormat::kGeneric,
                     R"({"type": "function", "function": {"name": "a", "arguments": "{}"}})"),
      {{"a", "{}"}});
  const ParsedToolCalls answer = ParseToolCalls(ToolCallFormat::kGeneric, R"({"name": "Bob"})");
  EXPECT_TRUE(answer.calls.empty());
  EXPECT_EQ(answer.content, R"({"name": "Bob"})");
}

// ---- streaming ----

// Feeds `text` a byte at a time the way a stream sees it and returns what went out before the
// end (the held-back rest is parsed when the output ends).
std::string StreamedBeforeEnd(ToolCallFormat format, const std::string& text) {
  size_t emitted = 0;
  for (size_t n = 1; n <= text.size(); ++n) {
    const size_t hold = ToolCallHoldFrom(format, std::string_view(text).substr(0, n));
    EXPECT_GE(hold, emitted) << "went back at " << n;
    emitted = std::max(emitted, hold);
  }
  return text.substr(0, emitted);
}

TEST(ToolCallHoldTest, HoldsWhatCouldBeACall) {
  EXPECT_EQ(StreamedBeforeEnd(ToolCallFormat::kHermes, "Hello there, <b>world</b>"),
            "Hello there, <b>world</b>");
  EXPECT_EQ(StreamedBeforeEnd(ToolCallFormat::kHermes, "Hi <tool"), "Hi ");
  EXPECT_EQ(StreamedBeforeEnd(ToolCallFormat::kHermes,
                              "Let me see.\n<tool_call>\n{\"name\": \"a\"}\n</tool_call>"),
            "Let me see.\n");
  EXPECT_EQ(StreamedBeforeEnd(ToolCallFormat::kHermes, "\n\n<tool_call>"), "");
  EXPECT_EQ(StreamedBeforeEnd(ToolCallFormat::kLlama3, "{\"name\": \"a\"}"), "");
  EXPECT_EQ(StreamedBeforeEnd(ToolCallFormat::kLlama3, "<|python_tag|>{}"), "");
  EXPECT_EQ(StreamedBeforeEnd(ToolCallFormat::kLlama3, "The answer is {x}"), "The answer is {x}");
  EXPECT_EQ(StreamedBeforeEnd(ToolCallFormat::kMistral, "Ok [TOOL_CALLS][{}]"), "Ok ");
  EXPECT_EQ(StreamedBeforeEnd(ToolCallFormat::kMistral, "[{}]"), "");
  EXPECT_EQ(StreamedBeforeEnd(ToolCallFormat::kGeneric, "{\"name\": 1}"), "");
  EXPECT_EQ(StreamedBeforeEnd(ToolCallFormat::kGeneric, "Sure: <tool_call>"), "Sure: ");
  EXPECT_EQ(ToolCallHoldFrom(ToolCallFormat::kHermes, ""), 0u);
}

TEST(ToolSystemPromptTest, ListsTheToolsAndTheFormat) {
  const nlohmann::ordered_json tools = nlohmann::ordered_json::parse(
      R"([{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}])");
  const std::string hermes = ToolSystemPrompt(ToolCallFormat::kHermes, tools);
  EXPECT_NE(hermes.find(R"({"name":"get_weather","parameters":{"type":"object"}})"),
            std::string::npos)
      << hermes;
  EXPECT_NE(hermes.find("<tool_call>"), std::string::npos);
  EXPECT_NE(ToolSystemPrompt(ToolCallFormat::kLlama3, tools).find("\"parameters\""),
            std::string::npos);
  EXPECT_NE(ToolSystemPrompt(ToolCallFormat::kMistral, tools).find("[TOOL_CALLS]"),
            std::string::npos);
}

// ---- grammars ----

// Random sentences of a grammar: alternatives drawn at random, and past a depth the shortest
// one (by a fixpoint of each rule's shortest sentence), so that recursion ends.
class SentenceGenerator {
 public:
  SentenceGenerator(const Grammar& grammar, uint32_t seed) : g_(grammar), rng_(seed) {
    constexpr size_t kInf = size_t{1} << 40;
    shortest_.assign(g_.rules().size(), kInf);
    for (bool changed = true; changed;) {
      changed = false;
      for (size_t r = 0; r < g_.rules().size(); ++r) {
        for (const GrammarSequence& alt : g_.rules()[r].alternatives) {
          const size_t len = Length(alt);
          if (len < shortest_[r]) {
            shortest_[r] = len;
            changed = true;
          }
        }
      }
    }
  }

  std::string Sentence() {
    std::string out;
    Expand(g_.root(), 0, out);
    return out;
  }

 private:
  size_t Length(const GrammarSequence& seq) const {
    size_t total = 0;
    for (const GrammarElement& e : seq) {
      total += e.kind == GrammarElement::Kind::kBytes ? 1 : shortest_[e.index];
      total = std::min(total, size_t{1} << 40);
    }
    return total;
  }

  void Expand(uint32_t rule, int depth, std::string& out) {
    const std::vector<GrammarSequence>& alts = g_.rules()[rule].alternatives;
    size_t pick = std::uniform_int_distribution<size_t>(0, alts.size() - 1)(rng_);
    if (depth > 12) {
      for (size_t i = 0; i < alts.size(); ++i) {
        if (Length(alts[i]) < Length(alts[pick])) pick = i;
      }
    }
    for (const GrammarElement& e : alts[pick]) {
      if (e.kind == GrammarElement::Kind::kRule) {
        Expand(e.index, depth + 1, out);
        continue;
      }
      const ByteSet& set = g_.byte_sets()[e.index];
      std::vector<uint8_t> bytes;
      for (int b = 0; b < 256; ++b) {
        if (set.Has(static_cast<uint8_t>(b))) bytes.push_back(static_cast<uint8_t>(b));
      }
      out.push_back(static_cast<char>(
          bytes[std::uniform_int_distribution<size_t>(0, bytes.size() - 1)(rng_)]));
    }
  }

  const Grammar& g_;
  std::mt19937 rng_;
  std::vector<size_t> shortest_;
};

const Json& Tools() {
  static const Json tools = Json::parse(R"([
    {"type": "function", "function": {"name": "get_weather", "parameters": {
      "type": "object",
      "properties": {"city": {"type": "string", "maxLength": 12},
                     "unit": {"enum": ["celsius", "fahrenheit"]},
                     "days": {"type": "integer", "minimum": 1, "maximum": 7}},
      "required": ["city", "unit"]}}},
    {"type": "function", "function": {"name": "get_time"}}
  ])");
  return tools;
}

// The arguments fit get_weather's schema (what the grammar promises).
void ExpectWeatherArguments(const std::string& arguments) {
  const Json args = Json::parse(arguments, nullptr, false);
  ASSERT_TRUE(args.is_object()) << arguments;
  ASSERT_TRUE(args.contains("city") && args["city"].is_string()) << arguments;
  ASSERT_TRUE(args.contains("unit")) << arguments;
  EXPECT_TRUE(args["unit"] == "celsius" || args["unit"] == "fahrenheit") << arguments;
  for (const auto& [key, value] : args.items()) {
    EXPECT_TRUE(key == "city" || key == "unit" || key == "days") << arguments;
    if (key == "days") {
      EXPECT_TRUE(value.is_number_integer() && value >= 1 && value <= 7) << arguments;
    }
  }
}

TEST(ToolCallGrammarTest, GeneratedCallsParseBackForEveryFormat) {
  for (ToolCallFormat format : {ToolCallFormat::kHermes, ToolCallFormat::kLlama3,
                                ToolCallFormat::kMistral, ToolCallFormat::kGeneric}) {
    SCOPED_TRACE(ToolCallFormatName(format));
    for (bool parallel : {false, true}) {
      Result<Grammar> grammar = ToolCallGrammar(format, Tools(), "", parallel);
      ASSERT_TRUE(grammar.ok()) << grammar.error().message();
      SentenceGenerator gen(*grammar, 7);
      int calls = 0;
      for (int i = 0; i < 40; ++i) {
        const std::string text = gen.Sentence();
        Result<bool> accepted = GrammarAcceptsText(*grammar, text);
        ASSERT_TRUE(accepted.ok() && *accepted) << text;
        const ParsedToolCalls parsed = ParseToolCalls(format, text);
        ASSERT_FALSE(parsed.calls.empty()) << text;
        EXPECT_EQ(parsed.content, "") << text;
        if (!parallel) {
          EXPECT_EQ(parsed.calls.size(), 1u) << text;
        }
        for (const ParsedToolCall& call : parsed.calls) {
          ++calls;
          if (call.name == "get_weather") {
            ExpectWeatherArguments(call.arguments_json);
          } else {
            EXPECT_EQ(call.name, "get_time");
            EXPECT_EQ(call.arguments_json, "{}");
          }
        }
      }
      EXPECT_GE(calls, 40);
    }
  }
}

TEST(ToolCallGrammarTest, ForcedNameAndTheExactText) {
  Result<Grammar> grammar = ToolCallGrammar(ToolCallFormat::kHermes, Tools(), "get_weather", false);
  ASSERT_TRUE(grammar.ok()) << grammar.error().message();
  auto accepts = [&](const std::string& text) {
    Result<bool> r = GrammarAcceptsText(*grammar, text);
    return r.ok() && *r;
  };
  EXPECT_TRUE(accepts(
      "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"unit\": "
      "\"celsius\"}}\n</tool_call>"));
  EXPECT_FALSE(accepts("<tool_call>\n{\"name\": \"get_time\", \"arguments\": {}}\n</tool_call>"));
  EXPECT_FALSE(accepts(  // a property the schema does not have
      "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"unit\": "
      "\"celsius\", \"wind\": 1}}\n</tool_call>"));
  EXPECT_FALSE(accepts(  // one call only without parallel calls
      "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"A\", \"unit\": "
      "\"celsius\"}}\n</tool_call>\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": "
      "{\"city\": \"B\", \"unit\": \"celsius\"}}\n</tool_call>"));

  Result<Grammar> llama = ToolCallGrammar(ToolCallFormat::kLlama3, Tools(), "get_time", true);
  ASSERT_TRUE(llama.ok());
  EXPECT_TRUE(*GrammarAcceptsText(*llama, R"({"name": "get_time", "parameters": {}})"));
  Result<Grammar> mistral = ToolCallGrammar(ToolCallFormat::kMistral, Tools(), "", true);
  ASSERT_TRUE(mistral.ok());
  EXPECT_TRUE(*GrammarAcceptsText(
      *mistral,
      R"([{"name": "get_time", "arguments": {}}, {"name": "get_time", "arguments": {}}])"));
}

TEST(ToolCallGrammarTest, Errors) {
  Result<Grammar> missing = ToolCallGrammar(ToolCallFormat::kHermes, Tools(), "nope", false);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message().find("nope"), std::string::npos);
  EXPECT_FALSE(ToolCallGrammar(ToolCallFormat::kHermes, Json::array(), "", false).ok());
  const Json bad = Json::parse(
      R"([{"type":"function","function":{"name":"f","parameters":{"type":"number","multipleOf":3}}}])");
  Result<Grammar> unsupported = ToolCallGrammar(ToolCallFormat::kHermes, bad, "", false);
  ASSERT_FALSE(unsupported.ok());
  EXPECT_NE(unsupported.error().message().find("tools[0].function.parameters"), std::string::npos)
      << unsupported.error().message();
}

}  // namespace
}  // namespace wick::text
