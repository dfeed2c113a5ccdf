// Structured output and tool calling on the wire: every accepted form of response_format,
// tools, tool_choice and parallel_tool_calls and the 400s naming the field, the tool fields of
// messages, tool calls in responses and chunks, and their round trip through the client side.
#include "api/openai_tools.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "api/openai_client.h"
#include "api/openai_protocol.h"

namespace wick::api {
namespace {

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;

constexpr const char* kWeather =
    R"({"type":"function","function":{"name":"get_weather","description":"Weather now",)"
    R"("parameters":{"type":"object","properties":{"city":{"type":"string"}},)"
    R"("required":["city"]}}})";
constexpr const char* kTime = R"({"type":"function","function":{"name":"get_time"}})";

std::string Chat(const std::string& extra) {
  return R"({"messages":[{"role":"user","content":"hi"}],)" + extra + "}";
}

std::string WithTools(const std::string& extra = "") {
  std::string tools = std::string(R"("tools":[)") + kWeather + "," + kTime + "]";
  return Chat(extra.empty() ? tools : tools + "," + extra);
}

CompletionRequest MustParse(const std::string& body, Endpoint endpoint = Endpoint::kChat) {
  auto parsed = ParseCompletionRequest(body, endpoint, {.n_vocab = 1000, .max_n = 16});
  if (const auto* error = std::get_if<ApiError>(&parsed)) {
    ADD_FAILURE() << body << " -> " << error->message;
    return CompletionRequest{};
  }
  return std::get<CompletionRequest>(std::move(parsed));
}

void ExpectRejected(const std::string& body, const std::string& param,
                    const std::string& fragment) {
  SCOPED_TRACE(body);
  auto parsed = ParseCompletionRequest(body, Endpoint::kChat, {.n_vocab = 1000, .max_n = 16});
  ASSERT_TRUE(std::holds_alternative<ApiError>(parsed)) << "accepted";
  const ApiError& error = std::get<ApiError>(parsed);
  EXPECT_EQ(error.status, 400);
  EXPECT_EQ(error.type, "invalid_request_error");
  EXPECT_EQ(error.param, param);
  EXPECT_NE(error.message.find(fragment), std::string::npos) << error.message;
}

// ---- response_format ----

TEST(ResponseFormatTest, AcceptedForms) {
  EXPECT_EQ(MustParse(Chat(R"("model":"m")")).response_format.type, ResponseFormatType::kText);
  EXPECT_EQ(MustParse(Chat(R"("response_format":{"type":"text"})")).response_format.type,
            ResponseFormatType::kText);
  EXPECT_EQ(MustParse(Chat(R"("response_format":{"type":"json_object"})")).response_format.type,
            ResponseFormatType::kJsonObject);
  const CompletionRequest r =
      MustParse(Chat(R"("response_format":{"type":"json_schema","json_schema":{"name":"person-1",)"
                     R"("description":"A person","strict":true,"schema":{"type":"object",)"
                     R"("properties":{"name":{"type":"string"},"age":{"type":"integer"}}}}})"));
  const ResponseFormat& f = r.response_format;
  EXPECT_EQ(f.type, ResponseFormatType::kJsonSchema);
  EXPECT_EQ(f.name, "person-1");
  EXPECT_EQ(f.description, "A person");
  EXPECT_TRUE(f.strict);
  // The schema keeps its order: properties come out in the order the client wrote them.
  EXPECT_EQ(
      f.schema.dump(),
      R"({"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"}}})");
  const CompletionRequest loose = MustParse(
      Chat(R"("response_format":{"type":"json_schema","json_schema":{"name":"x","strict":null}})"));
  EXPECT_FALSE(loose.response_format.strict);
  EXPECT_EQ(loose.response_format.schema, OrderedJson::object());
}

TEST(ResponseFormatTest, Rejected) {
  ExpectRejected(Chat(R"("response_format":"json_object")"), "response_format",
                 "'response_format' must be an object");
  ExpectRejected(Chat(R"("response_format":{})"), "response_format.type",
                 "'response_format.type' must be a string");
  ExpectRejected(Chat(R"("response_format":{"type":"yaml"})"), "response_format.type",
                 "must be one of text, json_object, json_schema");
  ExpectRejected(Chat(R"("response_format":{"type":"json_schema"})"), "response_format.json_schema",
                 "'response_format.json_schema' is required");
  ExpectRejected(Chat(R"("response_format":{"type":"json_schema","json_schema":[]})"),
                 "response_format.json_schema", "must be an object");
  ExpectRejected(Chat(R"("response_format":{"type":"json_schema","json_schema":{"schema":{}}})"),
                 "response_format.json_schema.name",
                 "'response_format.json_schema.name' is required");
  ExpectRejected(Chat(R"("response_format":{"type":"json_schema","json_schema":{"name":"a b"}})"),
                 "response_format.json_schema.name", "letters, digits");
  ExpectRejected(Chat(R"("response_format":{"type":"json_schema","json_schema":)"
                      R"({"name":"x","schema":"{}"}})"),
                 "response_format.json_schema.schema", "must be an object");
  ExpectRejected(Chat(R"("response_format":{"type":"json_schema","json_schema":)"
                      R"({"name":"x","strict":"yes"}})"),
                 "response_format.json_schema.strict", "must be a boolean");
}

// ---- tools, tool_choice, parallel_tool_calls ----

TEST(ToolsTest, ToolsAreKeptAsSent) {
  const CompletionRequest r = MustParse(WithTools());
  ASSERT_EQ(r.tools.size(), 2u);
  EXPECT_EQ(r.tools[0], OrderedJson::parse(kWeather));
  EXPECT_EQ(r.tools[1], OrderedJson::parse(kTime));
  EXPECT_EQ(r.tool_choice.mode, ToolChoiceMode::kAuto);
  EXPECT_FALSE(r.parallel_tool_calls.has_value());
  EXPECT_TRUE(MustParse(Chat(R"("tools":null)")).tools.empty());
  // The legacy completions endpoint has no tools; the field is ignored there as before.
  EXPECT_TRUE(MustParse(R"({"prompt":"x","tools":[1]})", Endpoint::kCompletion).tools.empty());
}

TEST(ToolsTest, ToolChoiceForms) {
  EXPECT_EQ(MustParse(WithTools(R"("tool_choice":"none")")).tool_choice.mode,
            ToolChoiceMode::kNone);
  EXPECT_EQ(MustParse(WithTools(R"("tool_choice":"auto")")).tool_choice.mode,
            ToolChoiceMode::kAuto);
  EXPECT_EQ(MustParse(WithTools(R"("tool_choice":"required")")).tool_choice.mode,
            ToolChoiceMode::kRequired);
  const CompletionRequest named =
      MustParse(WithTools(R"("tool_choice":{"type":"function","function":{"name":"get_time"}})"));
  EXPECT_EQ(named.tool_choice.mode, ToolChoiceMode::kFunction);
  EXPECT_EQ(named.tool_choice.name, "get_time");
  // Without tools, "none" and "auto" change nothing.
  MustParse(Chat(R"("tools":[],"tool_choice":"none")"));
  MustParse(Chat(R"("tool_choice":"auto")"));
}

TEST(ToolsTest, ParallelToolCalls) {
  EXPECT_EQ(MustParse(WithTools(R"("parallel_tool_calls":false)")).parallel_tool_calls, false);
  EXPECT_EQ(MustParse(WithTools(R"("parallel_tool_calls":true)")).parallel_tool_calls, true);
  ExpectRejected(WithTools(R"("parallel_tool_calls":"no")"), "parallel_tool_calls",
                 "'parallel_tool_calls' must be a boolean");
}

TEST(ToolsTest, ToolsRejected) {
  ExpectRejected(Chat(R"("tools":{})"), "tools", "'tools' must be an array");
  ExpectRejected(Chat(R"("tools":[1])"), "tools[0]", "'tools[0]' must be an object");
  ExpectRejected(Chat(R"("tools":[{"function":{"name":"f"}}])"), "tools[0].type",
                 "must be \"function\"");
  ExpectRejected(Chat(R"("tools":[{"type":"retrieval","function":{"name":"f"}}])"), "tools[0].type",
                 "must be \"function\"");
  ExpectRejected(Chat(R"("tools":[{"type":"function"}])"), "tools[0].function",
                 "'tools[0].function' must be an object");
  ExpectRejected(Chat(R"("tools":[{"type":"function","function":{}}])"), "tools[0].function.name",
                 "'tools[0].function.name' is required");
  ExpectRejected(Chat(R"("tools":[{"type":"function","function":{"name":7}}])"),
                 "tools[0].function.name", "must be a string");
  ExpectRejected(Chat(R"("tools":[{"type":"function","function":{"name":"get weather"}}])"),
                 "tools[0].function.name", "1 to 64 letters");
  ExpectRejected(Chat(R"("tools":[{"type":"function","function":{"name":")" + std::string(65, 'a') +
                      R"("}}])"),
                 "tools[0].function.name", "1 to 64 letters");
  ExpectRejected(Chat(std::string(R"("tools":[)") + kTime + "," + kTime + "]"),
                 "tools[1].function.name", "defined twice");
  ExpectRejected(Chat(R"("tools":[{"type":"function","function":{"name":"f","parameters":"{}"}}])"),
                 "tools[0].function.parameters", "must be an object");
  ExpectRejected(Chat(R"("tools":[{"type":"function","function":{"name":"f","description":1}}])"),
                 "tools[0].function.description", "must be a string");
  ExpectRejected(Chat(R"("tools":[{"type":"function","function":{"name":"f","strict":1}}])"),
                 "tools[0].function.strict", "must be a boolean");
}

TEST(ToolsTest, ToolChoiceRejected) {
  ExpectRejected(WithTools(R"("tool_choice":"any")"), "tool_choice", "'tool_choice' must be");
  ExpectRejected(WithTools(R"("tool_choice":3)"), "tool_choice", "'tool_choice' must be");
  ExpectRejected(WithTools(R"("tool_choice":{"type":"function"})"), "tool_choice",
                 "'tool_choice' must be");
  ExpectRejected(WithTools(R"("tool_choice":{"type":"function","function":{"name":"nope"}})"),
                 "tool_choice", "'nope', which is not in 'tools'");
  ExpectRejected(WithTools(R"("tool_choice":{"type":"function","function":{}})"),
                 "tool_choice.function.name", "is required");
  ExpectRejected(Chat(R"("tool_choice":"required")"), "tool_choice", "has no 'tools'");
  ExpectRejected(Chat(R"("tools":[],"tool_choice":{"type":"function","function":{"name":"f"}})"),
                 "tool_choice", "has no 'tools'");
  // The legacy fields stay refused, with a pointer to the new ones.
  ExpectRejected(Chat(R"("functions":[{"name":"f"}])"), "functions", "use 'tools'");
}

// ---- messages ----

TEST(ToolMessagesTest, AssistantToolCallsAndToolResults) {
  const CompletionRequest r = MustParse(
      R"({"messages":[{"role":"user","content":"weather?"},)"
      R"({"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function",)"
      R"("function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},)"
      R"({"role":"tool","tool_call_id":"call_1","content":"18C"}]})");
  ASSERT_EQ(r.messages.size(), 3u);
  EXPECT_EQ(r.messages[1]["content"], "");
  // Kept as sent, for remote providers: arguments remain a string.
  EXPECT_EQ(r.messages[1]["tool_calls"][0]["function"]["arguments"], R"({"city":"Paris"})");
  EXPECT_EQ(r.messages[2]["tool_call_id"], "call_1");
}

TEST(ToolMessagesTest, Rejected) {
  auto with_call = [](const std::string& call) {
    return R"({"messages":[{"role":"assistant","content":null,"tool_calls":)" + call + "}]}";
  };
  ExpectRejected(with_call("{}"), "messages[0].tool_calls", "must be an array");
  ExpectRejected(with_call("[1]"), "messages[0].tool_calls",
                 "'messages[0].tool_calls[0]' must be an object");
  ExpectRejected(with_call(R"([{"id":"c","type":"function"}])"), "messages[0].tool_calls",
                 "'messages[0].tool_calls[0].function' must be an object");
  ExpectRejected(with_call(R"([{"id":"c","type":"code","function":{"name":"f"}}])"),
                 "messages[0].tool_calls", "'messages[0].tool_calls[0].type' must be");
  ExpectRejected(with_call(R"([{"id":"c","function":{"arguments":"{}"}}])"),
                 "messages[0].tool_calls", "'messages[0].tool_calls[0].function.name'");
  ExpectRejected(with_call(R"([{"id":"c","function":{"name":"f","arguments":5}}])"),
                 "messages[0].tool_calls", "arguments' must be a string");
  ExpectRejected(with_call(R"([{"id":7,"function":{"name":"f"}}])"), "messages[0].tool_calls",
                 "must be a string");
  ExpectRejected(R"({"messages":[{"role":"user","content":"x","tool_calls":[]}]})",
                 "messages[0].tool_calls", "only allowed in assistant messages");
  ExpectRejected(R"({"messages":[{"role":"tool","content":"x","tool_call_id":1}]})",
                 "messages[0].tool_call_id", "must be a string");
  // Arguments sent as an object (some clients do) are accepted.
  MustParse(with_call(R"([{"id":"c","function":{"name":"f","arguments":{"a":1}}}])"));
}

TEST(ToolMessagesTest, MessagesForTemplateParsesArguments) {
  const OrderedJson messages = OrderedJson::parse(
      R"([{"role":"assistant","content":"","tool_calls":[)"
      R"({"id":"a","type":"function","function":{"name":"f","arguments":"{\"x\":[1,2]}"}},)"
      R"({"id":"b","type":"function","function":{"name":"g","arguments":"not json"}}]},)"
      R"({"role":"tool","tool_call_id":"a","content":"{\"ok\":true}"}])");
  const OrderedJson out = MessagesForTemplate(messages);
  EXPECT_EQ(out[0]["tool_calls"][0]["function"]["arguments"], OrderedJson::parse(R"({"x":[1,2]})"));
  EXPECT_EQ(out[0]["tool_calls"][1]["function"]["arguments"], "not json");
  EXPECT_EQ(out[1], messages[1]);  // a tool result's content stays text
  EXPECT_EQ(out[0]["tool_calls"][0]["id"], "a");
}

TEST(ToolMessagesTest, ToolsForTemplate) {
  CompletionRequest r = MustParse(WithTools());
  const OrderedJson tools = ToolsForTemplate(r);
  ASSERT_EQ(tools.size(), 2u);
  EXPECT_EQ(tools[0], OrderedJson::parse(kWeather));
  EXPECT_EQ(tools[1]["function"]["parameters"],
            OrderedJson::parse(R"({"type":"object","properties":{}})"));
  r.tool_choice.mode = ToolChoiceMode::kNone;
  EXPECT_TRUE(ToolsForTemplate(r).empty());
}

// ---- upstream requests ----

TEST(ToolFieldsJsonTest, RoundTripsThroughTheServerParser) {
  const std::string body = WithTools(
      R"("tool_choice":{"type":"function","function":{"name":"get_weather"}},)"
      R"("parallel_tool_calls":false,"response_format":{"type":"json_schema","json_schema":)"
      R"({"name":"w","schema":{"type":"object"},"strict":true}})");
  const CompletionRequest r = MustParse(body);
  const OrderedJson sent = RequestJson(r, "up", true);
  EXPECT_EQ(sent["tools"], r.tools);
  EXPECT_EQ(sent["tool_choice"]["function"]["name"], "get_weather");
  EXPECT_EQ(sent["parallel_tool_calls"], false);
  EXPECT_EQ(sent["response_format"]["json_schema"]["strict"], true);
  const CompletionRequest back = MustParse(Dump(sent));
  EXPECT_EQ(back.tools, r.tools);
  EXPECT_EQ(back.tool_choice.mode, ToolChoiceMode::kFunction);
  EXPECT_EQ(back.tool_choice.name, "get_weather");
  EXPECT_EQ(back.parallel_tool_calls, false);
  EXPECT_EQ(back.response_format.type, ResponseFormatType::kJsonSchema);
  EXPECT_EQ(back.response_format.schema, r.response_format.schema);
  EXPECT_TRUE(back.response_format.strict);

  // Nothing is added to a request without them.
  const OrderedJson plain = RequestJson(MustParse(Chat(R"("model":"m")")), "up", false);
  for (const char* field : {"tools", "tool_choice", "parallel_tool_calls", "response_format"}) {
    EXPECT_FALSE(plain.contains(field)) << field;
  }
  EXPECT_EQ(RequestJson(MustParse(Chat(R"("response_format":{"type":"json_object"})")), "", false)
                .at("response_format"),
            OrderedJson::parse(R"({"type":"json_object"})"));
  // Messages with calls and results go upstream exactly as the client wrote them.
  const CompletionRequest convo =
      MustParse(R"({"messages":[{"role":"assistant","content":null,"tool_calls":[{"id":"c","type":)"
                R"("function","function":{"name":"f","arguments":"{}"}}]},)"
                R"({"role":"tool","tool_call_id":"c","content":"1"}]})");
  EXPECT_EQ(RequestJson(convo, "", false)["messages"], convo.messages);
}

// ---- responses and chunks ----

ResponseMeta Meta() {
  ResponseMeta meta;
  meta.id = "chatcmpl-1";
  meta.created = 1;
  meta.model = "m";
  return meta;
}

TEST(ToolCallResponseTest, NonStreamedMessageAndRoundTrip) {
  ChoiceResult c;
  c.finish_reason = "tool_calls";
  c.tool_calls = {{.id = "call_a", .name = "get_weather", .arguments = R"({"city":"Paris"})"},
                  {.id = "call_b", .name = "get_time", .arguments = "{}"}};
  const OrderedJson out = CompletionResponse(Endpoint::kChat, Meta(), {c}, Usage{});
  const OrderedJson& message = out["choices"][0]["message"];
  EXPECT_TRUE(message["content"].is_null());
  EXPECT_EQ(out["choices"][0]["finish_reason"], "tool_calls");
  EXPECT_EQ(message["tool_calls"].dump(),
            R"([{"id":"call_a","type":"function","function":{"name":"get_weather",)"
            R"("arguments":"{\"city\":\"Paris\"}"}},{"id":"call_b","type":"function",)"
            R"("function":{"name":"get_time","arguments":"{}"}}])");

  Result<ParsedCompletion> parsed = ParseCompletion(Json::parse(Dump(out)));
  ASSERT_TRUE(parsed.ok()) << parsed.error().message();
  ASSERT_EQ(parsed->choices.size(), 1u);
  const ChoiceResult& back = parsed->choices[0];
  EXPECT_EQ(back.text, "");
  EXPECT_EQ(back.finish_reason, "tool_calls");
  ASSERT_EQ(back.tool_calls.size(), 2u);
  EXPECT_EQ(back.tool_calls[0].id, "call_a");
  EXPECT_EQ(back.tool_calls[0].name, "get_weather");
  EXPECT_EQ(back.tool_calls[0].arguments, R"({"city":"Paris"})");
  EXPECT_EQ(back.tool_calls[1].name, "get_time");

  // Text beside the calls stays; a choice without calls has no tool_calls member.
  c.text = "Let me look.";
  EXPECT_EQ(
      CompletionResponse(Endpoint::kChat, Meta(), {c}, Usage{})["choices"][0]["message"]["content"],
      "Let me look.");
  ChoiceResult plain;
  plain.finish_reason = "stop";
  const OrderedJson p = CompletionResponse(Endpoint::kChat, Meta(), {plain}, Usage{});
  EXPECT_EQ(p["choices"][0]["message"]["content"], "");
  EXPECT_FALSE(p["choices"][0]["message"].contains("tool_calls"));
}

TEST(ToolCallResponseTest, StreamChunksAndRoundTrip) {
  const std::vector<ToolCallDelta> head = {
      {.index = 0, .id = "call_a", .name = "f", .arguments = ""}};
  const OrderedJson first =
      StreamChunk(Endpoint::kChat, Meta(), 0, true, "", nullptr, nullptr, false, &head);
  const OrderedJson& delta = first["choices"][0]["delta"];
  EXPECT_EQ(delta["role"], "assistant");
  EXPECT_TRUE(delta.contains("content") && delta["content"].is_null());
  EXPECT_EQ(delta["tool_calls"].dump(),
            R"([{"index":0,"id":"call_a","type":"function","function":{"name":"f",)"
            R"("arguments":""}}])");

  const std::vector<ToolCallDelta> more = {
      {.index = 0, .id = "", .name = "", .arguments = R"({"x":)"}};
  const OrderedJson second =
      StreamChunk(Endpoint::kChat, Meta(), 0, false, "", nullptr, nullptr, false, &more);
  EXPECT_EQ(second["choices"][0]["delta"].dump(),
            R"({"tool_calls":[{"index":0,"function":{"arguments":"{\"x\":"}}]})");

  std::vector<ToolCallDelta> got;
  for (const OrderedJson& chunk : {first, second}) {
    Result<ParsedChunk> parsed = ParseStreamChunk(Json::parse(Dump(chunk)));
    ASSERT_TRUE(parsed.ok()) << parsed.error().message();
    ASSERT_EQ(parsed->deltas.size(), 1u);
    for (const ToolCallDelta& d : parsed->deltas[0].tool_calls) got.push_back(d);
  }
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].id, "call_a");
  EXPECT_EQ(got[0].name, "f");
  EXPECT_EQ(got[0].arguments, "");
  EXPECT_EQ(got[1].index, 0);
  EXPECT_EQ(got[1].id, "");
  EXPECT_EQ(got[1].arguments, R"({"x":)");

  // The finish chunk of a tool call: empty delta, finish_reason "tool_calls".
  const std::string finish = "tool_calls";
  const OrderedJson last =
      StreamChunk(Endpoint::kChat, Meta(), 0, false, "", &finish, nullptr, false, nullptr);
  EXPECT_EQ(last["choices"][0]["delta"], OrderedJson::object());
  EXPECT_EQ(last["choices"][0]["finish_reason"], "tool_calls");
}

TEST(ToolCallResponseTest, UpstreamShapesAndErrors) {
  // Arguments as an object (some servers) are serialized; a missing index is the position.
  const Json list = Json::parse(R"([{"function":{"arguments":{"a":1}}},{"index":3,"id":"x"}])");
  Result<std::vector<ToolCallDelta>> deltas = ReadToolCallDeltas(&list, "d");
  ASSERT_TRUE(deltas.ok()) << deltas.error().message();
  ASSERT_EQ(deltas->size(), 2u);
  EXPECT_EQ((*deltas)[0].index, 0);
  EXPECT_EQ((*deltas)[0].arguments, R"({"a":1})");
  EXPECT_EQ((*deltas)[1].index, 3);
  EXPECT_EQ((*deltas)[1].id, "x");

  for (const char* bad : {R"({})", R"([1])", R"([{"index":-1}])", R"([{"index":"0"}])",
                          R"([{"id":5}])", R"([{"function":"f"}])", R"([{"function":{"name":1}}])",
                          R"([{"function":{"arguments":1}}])"}) {
    const Json value = Json::parse(bad);
    Result<std::vector<ToolCallDelta>> r =
        ReadToolCallDeltas(&value, "choices[0].delta.tool_calls");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code(), ErrorCode::kCorrupt);
    EXPECT_NE(r.error().message().find("choices[0].delta.tool_calls"), std::string::npos)
        << r.error().message();
  }
  for (const char* bad : {R"({})", R"([{"id":"a"}])", R"([{"function":{"arguments":"{}"}}])",
                          R"([{"function":{"name":"f","arguments":[1]}}])"}) {
    const Json value = Json::parse(bad);
    EXPECT_FALSE(ReadToolCalls(&value, "message.tool_calls").ok()) << bad;
  }
  const Json object_arguments =
      Json::parse(R"([{"id":"a","function":{"name":"f","arguments":{}}}])");
  Result<std::vector<ToolCall>> calls = ReadToolCalls(&object_arguments, "m");
  ASSERT_TRUE(calls.ok());
  EXPECT_EQ((*calls)[0].arguments, "{}");
}

TEST(ToolCallResponseTest, NewToolCallIdsAreDistinct) {
  std::set<std::string> ids;
  for (int i = 0; i < 100; ++i) {
    const std::string id = NewToolCallId();
    ASSERT_EQ(id.rfind("call_", 0), 0u) << id;
    ASSERT_EQ(id.size(), 29u) << id;
    ids.insert(id);
  }
  EXPECT_EQ(ids.size(), 100u);
}

}  // namespace
}  // namespace wick::api
