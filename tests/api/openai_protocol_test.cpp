#include "api/openai_protocol.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace wick::api {
namespace {

using Json = nlohmann::json;

constexpr float kInf = std::numeric_limits<float>::infinity();

ParseLimits Limits() {
  ParseLimits limits;
  limits.n_vocab = 1000;
  limits.max_n = 16;
  return limits;
}

// A valid chat body with `extra` fields appended.
std::string Chat(const std::string& extra = "") {
  std::string body = R"({"messages":[{"role":"user","content":"hi"}])";
  if (!extra.empty()) body += "," + extra;
  return body + "}";
}

std::string Completion(const std::string& extra = "") {
  std::string body = R"({"prompt":"hi")";
  if (!extra.empty()) body += "," + extra;
  return body + "}";
}

CompletionRequest MustParse(const std::string& body, Endpoint endpoint = Endpoint::kChat,
                            const ParseLimits& limits = Limits()) {
  auto parsed = ParseCompletionRequest(body, endpoint, limits);
  if (const auto* error = std::get_if<ApiError>(&parsed)) {
    ADD_FAILURE() << body << " -> " << error->message;
    return CompletionRequest{};
  }
  return std::get<CompletionRequest>(std::move(parsed));
}

ApiError MustFail(const std::string& body, Endpoint endpoint = Endpoint::kChat,
                  const ParseLimits& limits = Limits()) {
  auto parsed = ParseCompletionRequest(body, endpoint, limits);
  if (!std::holds_alternative<ApiError>(parsed)) {
    ADD_FAILURE() << body << " was accepted";
    return ApiError{};
  }
  return std::get<ApiError>(parsed);
}

// A 400 invalid_request_error with `param` whose message holds `fragment`.
void ExpectRejected(const std::string& body, const std::string& param, const std::string& fragment,
                    Endpoint endpoint = Endpoint::kChat, const ParseLimits& limits = Limits()) {
  SCOPED_TRACE(body);
  const ApiError error = MustFail(body, endpoint, limits);
  EXPECT_EQ(error.status, 400);
  EXPECT_EQ(error.type, "invalid_request_error");
  EXPECT_EQ(error.param, param);
  EXPECT_NE(error.message.find(fragment), std::string::npos) << error.message;
}

// ---- body ----

TEST(ParseRequestTest, MalformedJsonIs400WithTheParserReason) {
  const ApiError error = MustFail(R"({"messages": [)");
  EXPECT_EQ(error.status, 400);
  EXPECT_EQ(error.param, "");
  EXPECT_EQ(error.message.rfind("invalid JSON in the request body: ", 0), 0u) << error.message;
  EXPECT_NE(error.message.find("unexpected end of input"), std::string::npos) << error.message;
  EXPECT_EQ(error.message.find("[json.exception"), std::string::npos) << error.message;
}

TEST(ParseRequestTest, EmptyBodyAndInvalidUtf8AreInvalidJson) {
  EXPECT_EQ(MustFail("").status, 400);
  const ApiError error = MustFail("{\"model\":\"\xff\"," + Chat().substr(1));
  EXPECT_EQ(error.status, 400);
  EXPECT_EQ(error.message.rfind("invalid JSON", 0), 0u) << error.message;
}

TEST(ParseRequestTest, NumberTooLargeForADoubleIsInvalidJson) {
  const ApiError error = MustFail(Chat(R"("temperature":1e400)"));
  EXPECT_EQ(error.status, 400);
  EXPECT_EQ(error.message.rfind("invalid JSON", 0), 0u) << error.message;
}

TEST(ParseRequestTest, DeepNestingIsRejectedBeforeParsing) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  const ApiError error = MustFail(Chat(R"("user":)" + deep));
  EXPECT_EQ(error.status, 400);
  EXPECT_NE(error.message.find("nested deeper than"), std::string::npos) << error.message;
  // Brackets inside strings do not count.
  MustParse(Chat(R"("user":")" + std::string(1000, '[') + "\""));
}

TEST(ParseRequestTest, BodyMustBeAnObject) {
  ExpectRejected(R"([{"role":"user","content":"hi"}])", "", "must be a JSON object");
  ExpectRejected("42", "", "must be a JSON object");
}

TEST(ParseRequestTest, DefaultsAreLlamaServers) {
  const CompletionRequest r = MustParse(Chat());
  EXPECT_EQ(r.endpoint, Endpoint::kChat);
  EXPECT_EQ(r.model, "");
  EXPECT_EQ(r.max_tokens, -1);
  EXPECT_TRUE(r.stop.empty());
  EXPECT_EQ(r.sampling.temperature, 0.8f);
  EXPECT_EQ(r.sampling.top_k, 40);
  EXPECT_EQ(r.sampling.top_p, 0.95f);
  EXPECT_EQ(r.sampling.min_p, 0.05f);
  EXPECT_EQ(r.sampling.repeat_penalty, 1.0f);
  EXPECT_EQ(r.sampling.repeat_last_n, 64);
  EXPECT_EQ(r.sampling.presence_penalty, 0.0f);
  EXPECT_EQ(r.sampling.frequency_penalty, 0.0f);
  EXPECT_EQ(r.sampling.seed, sampling::kDefaultSeed);
  EXPECT_TRUE(r.sampling.logit_bias.empty());
  EXPECT_FALSE(r.seed_given);
  EXPECT_EQ(r.n, 1);
  EXPECT_FALSE(r.stream);
  EXPECT_FALSE(r.include_usage);
  EXPECT_FALSE(r.logprobs);
  EXPECT_EQ(r.top_logprobs, 0);
}

TEST(ParseRequestTest, ModelIsKeptAsSent) {
  EXPECT_EQ(MustParse(Chat(R"("model":"Qwen/Qwen2.5-0.5B")")).model, "Qwen/Qwen2.5-0.5B");
  EXPECT_EQ(MustParse(Chat(R"("model":null)")).model, "");
  ExpectRejected(Chat(R"("model":7)"), "model", "'model' must be a string");
}

TEST(ParseRequestTest, UnknownAndHarmlessFieldsAreIgnored) {
  MustParse(Chat(R"("user":"u1","metadata":{"a":"b"},"store":false,"service_tier":"auto",)"
                 R"("parallel_tool_calls":true,"something_new":[1,2])"));
  MustParse(Completion(R"("user":"u1","tools":[{"type":"function"}])"), Endpoint::kCompletion);
}

// ---- messages ----

TEST(ParseMessagesTest, MessagesAreRequiredNonEmptyArrayOfObjects) {
  ExpectRejected(R"({"model":"m"})", "messages", "'messages' is required");
  ExpectRejected(R"({"messages":null})", "messages", "'messages' is required");
  ExpectRejected(R"({"messages":"hi"})", "messages", "'messages' must be an array");
  ExpectRejected(R"({"messages":[]})", "messages", "'messages' must not be empty");
  ExpectRejected(R"({"messages":[{"role":"user","content":"a"},"b"]})", "messages[1]",
                 "'messages[1]' must be an object");
}

TEST(ParseMessagesTest, RoleMustBeAKnownString) {
  const std::string two = R"({"role":"system","content":"s"},{"role":"user","content":"u"},)";
  ExpectRejected(R"({"messages":[)" + two + R"({"role":"wizard","content":"x"}]})",
                 "messages[2].role", "'messages[2].role' must be one of");
  ExpectRejected(R"({"messages":[)" + two + R"({"role":1,"content":"x"}]})", "messages[2].role",
                 "'messages[2].role' must be a string");
  ExpectRejected(R"({"messages":[{"content":"x"}]})", "messages[0].role",
                 "'messages[0].role' is required");
  const CompletionRequest r = MustParse(
      R"({"messages":[{"role":"system","content":"a"},{"role":"developer","content":"b"},)"
      R"({"role":"user","content":"c"},{"role":"assistant","content":"d"},)"
      R"({"role":"tool","content":"e","tool_call_id":"call_1"}]})");
  ASSERT_EQ(r.messages.size(), 5u);
  EXPECT_EQ(r.messages[1]["role"], "developer");
  EXPECT_EQ(r.messages[4]["content"], "e");
}

TEST(ParseMessagesTest, ContentPartsAreJoinedWithoutSeparator) {
  const CompletionRequest r =
      MustParse(R"({"messages":[{"role":"user","content":[{"type":"text","text":"Hello, "},)"
                R"({"type":"text","text":"world"}]}]})");
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(r.messages[0]["content"], "Hello, world");
  EXPECT_EQ(MustParse(R"({"messages":[{"role":"user","content":[]}]})").messages[0]["content"], "");
}

TEST(ParseMessagesTest, ImageAndOtherPartsAreRejected) {
  ExpectRejected(R"({"messages":[{"role":"user","content":"a"},{"role":"user","content":[)"
                 R"({"type":"text","text":"what is this?"},)"
                 R"({"type":"image_url","image_url":{"url":"https://x/y.png"}}]}]})",
                 "messages[1].content", "'image_url' is not supported");
  ExpectRejected(R"({"messages":[{"role":"user","content":[{"type":"input_audio"}]}]})",
                 "messages[0].content", "'input_audio' is not supported");
  ExpectRejected(R"({"messages":[{"role":"user","content":["text"]}]})", "messages[0].content",
                 "'messages[0].content[0]' must be an object");
  ExpectRejected(R"({"messages":[{"role":"user","content":[{"text":"x"}]}]})",
                 "messages[0].content", "'messages[0].content[0].type' must be a string");
  ExpectRejected(R"({"messages":[{"role":"user","content":[{"type":"text","text":5}]}]})",
                 "messages[0].content", "'messages[0].content[0].text' must be a string");
}

TEST(ParseMessagesTest, NullContentOnlyForAssistant) {
  const CompletionRequest r = MustParse(
      R"({"messages":[{"role":"user","content":"q"},)"
      R"({"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function",)"
      R"("function":{"name":"f","arguments":"{}"}}]},)"
      R"({"role":"assistant"}]})");
  ASSERT_EQ(r.messages.size(), 3u);
  EXPECT_EQ(r.messages[1]["content"], "");
  EXPECT_EQ(r.messages[2]["content"], "");
  ExpectRejected(R"({"messages":[{"role":"user","content":null}]})", "messages[0].content",
                 "'messages[0].content' is required");
  ExpectRejected(R"({"messages":[{"role":"system"}]})", "messages[0].content",
                 "'messages[0].content' is required");
  ExpectRejected(R"({"messages":[{"role":"user","content":42}]})", "messages[0].content",
                 "'messages[0].content' must be a string or an array");
}

TEST(ParseMessagesTest, OtherFieldsAreKeptInOrder) {
  const CompletionRequest r = MustParse(
      R"({"messages":[{"role":"assistant","content":null,"name":"bot",)"
      R"("tool_calls":[{"id":"call_1","type":"function","function":{"name":"f","arguments":"{}"}}]},)"
      R"({"role":"tool","tool_call_id":"call_1","content":[{"type":"text","text":"42"}]}]})");
  EXPECT_EQ(
      r.messages.dump(),
      R"([{"role":"assistant","content":"","name":"bot",)"
      R"("tool_calls":[{"id":"call_1","type":"function","function":{"name":"f","arguments":"{}"}}]},)"
      R"({"role":"tool","tool_call_id":"call_1","content":"42"}])");
}

// ---- prompt ----

TEST(ParsePromptTest, PromptForms) {
  const Endpoint kC = Endpoint::kCompletion;
  {
    const CompletionRequest r = MustParse(R"({"prompt":"Once upon"})", kC);
    EXPECT_EQ(r.endpoint, Endpoint::kCompletion);
    ASSERT_EQ(r.prompts.size(), 1u);
    EXPECT_EQ(std::get<std::string>(r.prompts[0]), "Once upon");
  }
  {
    const CompletionRequest r = MustParse(R"({"prompt":["a","b",""]})", kC);
    ASSERT_EQ(r.prompts.size(), 3u);
    EXPECT_EQ(std::get<std::string>(r.prompts[1]), "b");
    EXPECT_EQ(std::get<std::string>(r.prompts[2]), "");
  }
  {
    const CompletionRequest r = MustParse(R"({"prompt":[1,2,999]})", kC);
    ASSERT_EQ(r.prompts.size(), 1u);
    EXPECT_EQ(std::get<std::vector<int32_t>>(r.prompts[0]), (std::vector<int32_t>{1, 2, 999}));
  }
  {
    const CompletionRequest r = MustParse(R"({"prompt":[[5],[0,7]]})", kC);
    ASSERT_EQ(r.prompts.size(), 2u);
    EXPECT_EQ(std::get<std::vector<int32_t>>(r.prompts[0]), (std::vector<int32_t>{5}));
    EXPECT_EQ(std::get<std::vector<int32_t>>(r.prompts[1]), (std::vector<int32_t>{0, 7}));
  }
}

TEST(ParsePromptTest, BadPromptsAreRejected) {
  const Endpoint kC = Endpoint::kCompletion;
  ExpectRejected(R"({"messages":[{"role":"user","content":"x"}]})", "prompt",
                 "'prompt' is required", kC);
  ExpectRejected(R"({"prompt":[]})", "prompt", "'prompt' must not be empty", kC);
  ExpectRejected(R"({"prompt":42})", "prompt", "'prompt' must be a string", kC);
  ExpectRejected(R"({"prompt":["a",1]})", "prompt", "'prompt' must be", kC);
  ExpectRejected(R"({"prompt":[1,"a"]})", "prompt", "only integers", kC);
  ExpectRejected(R"({"prompt":[1,2.5]})", "prompt", "only integers", kC);
  ExpectRejected(R"({"prompt":[true]})", "prompt", "'prompt' must be", kC);
  ExpectRejected(R"({"prompt":[[1],[]]})", "prompt", "empty token array", kC);
  ExpectRejected(R"({"prompt":[[1],"a"]})", "prompt", "'prompt' must be", kC);
}

TEST(ParsePromptTest, TokenIdsMustBeInTheVocabulary) {
  const Endpoint kC = Endpoint::kCompletion;
  ExpectRejected(R"({"prompt":[1,1000]})", "prompt", "token id 1000", kC);
  ExpectRejected(R"({"prompt":[[1],[-1]]})", "prompt", "token id -1", kC);
  ParseLimits unknown_vocab = Limits();
  unknown_vocab.n_vocab = 0;
  const CompletionRequest r = MustParse(R"({"prompt":[2147483647]})", kC, unknown_vocab);
  EXPECT_EQ(std::get<std::vector<int32_t>>(r.prompts[0])[0], 2147483647);
  ExpectRejected(R"({"prompt":[2147483648]})", "prompt", "token id", kC, unknown_vocab);
}

// ---- max_tokens ----

TEST(ParseMaxTokensTest, PositiveIntegerOrNull) {
  EXPECT_EQ(MustParse(Chat(R"("max_tokens":1)")).max_tokens, 1);
  EXPECT_EQ(MustParse(Chat(R"("max_tokens":null)")).max_tokens, -1);
  EXPECT_EQ(MustParse(Chat(R"("max_tokens":18446744073709551615)")).max_tokens,
            std::numeric_limits<int64_t>::max());
  ExpectRejected(Chat(R"("max_tokens":0)"), "max_tokens", "'max_tokens' must be at least 1");
  ExpectRejected(Chat(R"("max_tokens":-5)"), "max_tokens", "'max_tokens' must be at least 1");
  ExpectRejected(Chat(R"("max_tokens":10.0)"), "max_tokens", "'max_tokens' must be an integer");
  ExpectRejected(Chat(R"("max_tokens":"10")"), "max_tokens", "'max_tokens' must be an integer");
  ExpectRejected(Chat(R"("max_completion_tokens":0)"), "max_completion_tokens",
                 "'max_completion_tokens' must be at least 1");
  EXPECT_EQ(MustParse(Completion(R"("max_tokens":7)"), Endpoint::kCompletion).max_tokens, 7);
}

TEST(ParseMaxTokensTest, MaxCompletionTokensWins) {
  EXPECT_EQ(MustParse(Chat(R"("max_tokens":100,"max_completion_tokens":20)")).max_tokens, 20);
  EXPECT_EQ(MustParse(Chat(R"("max_completion_tokens":20,"max_tokens":100)")).max_tokens, 20);
  EXPECT_EQ(MustParse(Chat(R"("max_completion_tokens":30)")).max_tokens, 30);
  // A null one does not override a given max_tokens.
  EXPECT_EQ(MustParse(Chat(R"("max_tokens":100,"max_completion_tokens":null)")).max_tokens, 100);
  // Not a field of the legacy API.
  EXPECT_EQ(
      MustParse(Completion(R"("max_tokens":5,"max_completion_tokens":9)"), Endpoint::kCompletion)
          .max_tokens,
      5);
}

// ---- sampling ----

TEST(ParseSamplingTest, Temperature) {
  EXPECT_EQ(MustParse(Chat(R"("temperature":0)")).sampling.temperature, 0.0f);
  EXPECT_EQ(MustParse(Chat(R"("temperature":2)")).sampling.temperature, 2.0f);
  EXPECT_EQ(MustParse(Chat(R"("temperature":0.25)")).sampling.temperature, 0.25f);
  ExpectRejected(Chat(R"("temperature":2.5)"), "temperature",
                 "'temperature' must be between 0 and 2, got 2.5");
  ExpectRejected(Chat(R"("temperature":-0.1)"), "temperature", "'temperature' must be between");
  ExpectRejected(Chat(R"("temperature":"hot")"), "temperature", "'temperature' must be a number");
  ExpectRejected(Chat(R"("temperature":true)"), "temperature", "'temperature' must be a number");
}

TEST(ParseSamplingTest, TopP) {
  const CompletionRequest half = MustParse(Chat(R"("top_p":0.5)"));
  EXPECT_EQ(half.sampling.top_p, 0.5f);
  EXPECT_EQ(half.sampling.top_k, 40);
  EXPECT_EQ(MustParse(Chat(R"("top_p":1)")).sampling.top_p, 1.0f);
  ExpectRejected(Chat(R"("top_p":1.1)"), "top_p", "'top_p' must be between 0 and 1");
  ExpectRejected(Chat(R"("top_p":-0.1)"), "top_p", "'top_p' must be between 0 and 1");
  ExpectRejected(Chat(R"("top_p":[1])"), "top_p", "'top_p' must be a number");
}

TEST(ParseSamplingTest, TopPZeroKeepsOnlyTheLikeliestToken) {
  for (const char* extra : {R"("top_p":0)", R"("top_p":0,"top_k":50)", R"("top_k":50,"top_p":0)"}) {
    const CompletionRequest r = MustParse(Chat(extra));
    EXPECT_EQ(r.sampling.top_p, 1.0f) << extra;
    EXPECT_EQ(r.sampling.top_k, 1) << extra;
  }
}

TEST(ParseSamplingTest, TopKMinPAndRepeatPenalty) {
  EXPECT_EQ(MustParse(Chat(R"("top_k":0)")).sampling.top_k, 0);
  EXPECT_EQ(MustParse(Chat(R"("top_k":5)")).sampling.top_k, 5);
  ExpectRejected(Chat(R"("top_k":-1)"), "top_k", "'top_k' must be at least 0");
  ExpectRejected(Chat(R"("top_k":1.5)"), "top_k", "'top_k' must be an integer");
  ExpectRejected(Chat(R"("top_k":4294967296)"), "top_k", "'top_k' must be at least 0");

  EXPECT_EQ(MustParse(Chat(R"("min_p":0)")).sampling.min_p, 0.0f);
  EXPECT_EQ(MustParse(Chat(R"("min_p":1)")).sampling.min_p, 1.0f);
  ExpectRejected(Chat(R"("min_p":1.5)"), "min_p", "'min_p' must be between 0 and 1");
  ExpectRejected(Chat(R"("min_p":"a")"), "min_p", "'min_p' must be a number");

  EXPECT_EQ(MustParse(Chat(R"("repeat_penalty":1.1)")).sampling.repeat_penalty, 1.1f);
  EXPECT_EQ(MustParse(Chat(R"("repeat_penalty":3)")).sampling.repeat_penalty, 3.0f);
  ExpectRejected(Chat(R"("repeat_penalty":0)"), "repeat_penalty",
                 "'repeat_penalty' must be greater than 0");
  ExpectRejected(Chat(R"("repeat_penalty":-1)"), "repeat_penalty",
                 "'repeat_penalty' must be greater than 0");
  ExpectRejected(Chat(R"("repeat_penalty":1e300)"), "repeat_penalty",
                 "'repeat_penalty' must be greater than 0");
  ExpectRejected(Chat(R"("repeat_penalty":"x")"), "repeat_penalty",
                 "'repeat_penalty' must be a number");

  EXPECT_EQ(MustParse(Chat(R"("repeat_last_n":0)")).sampling.repeat_last_n, 0);
  EXPECT_EQ(MustParse(Chat(R"("repeat_last_n":128)")).sampling.repeat_last_n, 128);
  ExpectRejected(Chat(R"("repeat_last_n":-1)"), "repeat_last_n",
                 "'repeat_last_n' must be at least 0");
}

TEST(ParseSamplingTest, PresenceAndFrequencyPenalties) {
  const CompletionRequest r = MustParse(Chat(R"("presence_penalty":-2,"frequency_penalty":1.5)"));
  EXPECT_EQ(r.sampling.presence_penalty, -2.0f);
  EXPECT_EQ(r.sampling.frequency_penalty, 1.5f);
  EXPECT_EQ(MustParse(Chat(R"("presence_penalty":2)")).sampling.presence_penalty, 2.0f);
  ExpectRejected(Chat(R"("presence_penalty":2.5)"), "presence_penalty",
                 "'presence_penalty' must be between -2 and 2");
  ExpectRejected(Chat(R"("frequency_penalty":-3)"), "frequency_penalty",
                 "'frequency_penalty' must be between -2 and 2");
  ExpectRejected(Chat(R"("frequency_penalty":"1")"), "frequency_penalty",
                 "'frequency_penalty' must be a number");
}

TEST(ParseSamplingTest, SeedKeepsItsBitPattern) {
  const CompletionRequest r = MustParse(Chat(R"("seed":42)"));
  EXPECT_TRUE(r.seed_given);
  EXPECT_EQ(r.sampling.seed, 42u);
  EXPECT_EQ(MustParse(Chat(R"("seed":-1)")).sampling.seed, std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(MustParse(Chat(R"("seed":18446744073709551615)")).sampling.seed,
            std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(MustParse(Chat(R"("seed":-9223372036854775808)")).sampling.seed, uint64_t{1} << 63);
  EXPECT_FALSE(MustParse(Chat(R"("seed":null)")).seed_given);
  ExpectRejected(Chat(R"("seed":1.5)"), "seed", "'seed' must be an integer");
  ExpectRejected(Chat(R"("seed":"42")"), "seed", "'seed' must be an integer");
  // Beyond 2^64 - 1 the JSON number is a double.
  ExpectRejected(Chat(R"("seed":18446744073709551616)"), "seed", "'seed' must be an integer");
}

TEST(ParseSamplingTest, LogitBias) {
  const CompletionRequest r = MustParse(Chat(R"("logit_bias":{"5":10,"7":-100,"999":-0.5})"));
  ASSERT_EQ(r.sampling.logit_bias.size(), 3u);
  EXPECT_EQ(r.sampling.logit_bias.at(5), 10.0f);
  EXPECT_EQ(r.sampling.logit_bias.at(7), -kInf);
  EXPECT_EQ(r.sampling.logit_bias.at(999), -0.5f);
  EXPECT_EQ(MustParse(Chat(R"("logit_bias":{"1":100})")).sampling.logit_bias.at(1), 100.0f);
  EXPECT_TRUE(MustParse(Chat(R"("logit_bias":null)")).sampling.logit_bias.empty());
  EXPECT_TRUE(MustParse(Chat(R"("logit_bias":{})")).sampling.logit_bias.empty());

  ExpectRejected(Chat(R"("logit_bias":{"5":-100.5})"), "logit_bias",
                 "'logit_bias' value for token 5 must be between -100 and 100");
  ExpectRejected(Chat(R"("logit_bias":{"5":101})"), "logit_bias", "between -100 and 100");
  ExpectRejected(Chat(R"("logit_bias":{"5":"1"})"), "logit_bias", "must be a number");
  ExpectRejected(Chat(R"("logit_bias":{"abc":1})"), "logit_bias", "'logit_bias' key 'abc'");
  ExpectRejected(Chat(R"("logit_bias":{" 5":1})"), "logit_bias", "is not a token id");
  ExpectRejected(Chat(R"("logit_bias":{"5x":1})"), "logit_bias", "is not a token id");
  ExpectRejected(Chat(R"("logit_bias":{"":1})"), "logit_bias", "is not a token id");
  ExpectRejected(Chat(R"("logit_bias":{"1000":1})"), "logit_bias", "names token 1000");
  ExpectRejected(Chat(R"("logit_bias":{"-1":1})"), "logit_bias", "names token -1");
  ExpectRejected(Chat(R"("logit_bias":[1])"), "logit_bias", "'logit_bias' must be an object");
}

TEST(ParseSamplingTest, ValidRequestsMakeValidSamplingParams) {
  const CompletionRequest r =
      MustParse(Chat(R"("temperature":0,"top_p":0,"min_p":0,"repeat_penalty":1e-30,)"
                     R"("logit_bias":{"3":-100},"presence_penalty":-2,"seed":-7)"));
  EXPECT_TRUE(sampling::Validate(r.sampling).ok());
}

// ---- stop, n, stream, logprobs ----

TEST(ParseStopTest, StringOrArrayWithEmptiesDropped) {
  EXPECT_EQ(MustParse(Chat(R"("stop":"\n")")).stop, (std::vector<std::string>{"\n"}));
  EXPECT_TRUE(MustParse(Chat(R"("stop":"")")).stop.empty());
  EXPECT_TRUE(MustParse(Chat(R"("stop":null)")).stop.empty());
  EXPECT_EQ(MustParse(Chat(R"("stop":["a","","END"])")).stop,
            (std::vector<std::string>{"a", "END"}));
  std::string sixteen = R"("stop":[)";
  for (int i = 0; i < 16; ++i) sixteen += (i ? ",\"s" : "\"s") + std::to_string(i) + "\"";
  EXPECT_EQ(MustParse(Chat(sixteen + "]")).stop.size(), 16u);
  ExpectRejected(Chat(sixteen + R"(,"x"])"), "stop", "'stop' may hold at most 16 strings, got 17");
  ExpectRejected(Chat(R"("stop":["a",1])"), "stop", "'stop' must be a string or an array");
  ExpectRejected(Chat(R"("stop":5)"), "stop", "'stop' must be a string or an array");
}

TEST(ParseNTest, WithinTheLimit) {
  EXPECT_EQ(MustParse(Chat(R"("n":1)")).n, 1);
  EXPECT_EQ(MustParse(Chat(R"("n":16)")).n, 16);
  ExpectRejected(Chat(R"("n":0)"), "n", "'n' must be between 1 and 16, got 0");
  ExpectRejected(Chat(R"("n":17)"), "n", "'n' must be between 1 and 16, got 17");
  ExpectRejected(Chat(R"("n":"2")"), "n", "'n' must be an integer");
  ParseLimits four = Limits();
  four.max_n = 4;
  EXPECT_EQ(MustParse(Chat(R"("n":4)"), Endpoint::kChat, four).n, 4);
  ExpectRejected(Chat(R"("n":5)"), "n", "between 1 and 4", Endpoint::kChat, four);
}

TEST(ParseStreamTest, StreamAndStreamOptions) {
  EXPECT_TRUE(MustParse(Chat(R"("stream":true)")).stream);
  const CompletionRequest r =
      MustParse(Chat(R"("stream":true,"stream_options":{"include_usage":true,"extra":1})"));
  EXPECT_TRUE(r.stream);
  EXPECT_TRUE(r.include_usage);
  EXPECT_FALSE(MustParse(Chat(R"("stream":true,"stream_options":{})")).include_usage);
  EXPECT_FALSE(MustParse(Chat(R"("stream":false,"stream_options":null)")).stream);
  ExpectRejected(Chat(R"("stream":"yes")"), "stream", "'stream' must be a boolean");
  ExpectRejected(Chat(R"("stream":false,"stream_options":{"include_usage":true})"),
                 "stream_options", "'stream_options' is only allowed when 'stream' is true");
  ExpectRejected(Chat(R"("stream_options":{"include_usage":true})"), "stream_options",
                 "only allowed when 'stream' is true");
  ExpectRejected(Chat(R"("stream":true,"stream_options":true)"), "stream_options",
                 "'stream_options' must be an object");
  ExpectRejected(Chat(R"("stream":true,"stream_options":{"include_usage":1})"),
                 "stream_options.include_usage",
                 "'stream_options.include_usage' must be a boolean");
  EXPECT_TRUE(MustParse(Completion(R"("stream":true,"stream_options":{"include_usage":true})"),
                        Endpoint::kCompletion)
                  .include_usage);
}

TEST(ParseLogprobsTest, ChatBoolAndTopLogprobs) {
  const CompletionRequest r = MustParse(Chat(R"("logprobs":true,"top_logprobs":20)"));
  EXPECT_TRUE(r.logprobs);
  EXPECT_EQ(r.top_logprobs, 20);
  EXPECT_TRUE(MustParse(Chat(R"("logprobs":true)")).logprobs);
  EXPECT_FALSE(MustParse(Chat(R"("logprobs":false)")).logprobs);
  ExpectRejected(Chat(R"("logprobs":true,"top_logprobs":21)"), "top_logprobs",
                 "'top_logprobs' must be between 0 and 20");
  ExpectRejected(Chat(R"("logprobs":true,"top_logprobs":-1)"), "top_logprobs",
                 "'top_logprobs' must be between 0 and 20");
  ExpectRejected(Chat(R"("top_logprobs":3)"), "top_logprobs",
                 "'top_logprobs' is only allowed when 'logprobs' is true");
  ExpectRejected(Chat(R"("logprobs":false,"top_logprobs":0)"), "top_logprobs",
                 "only allowed when 'logprobs' is true");
  ExpectRejected(Chat(R"("logprobs":5)"), "logprobs", "'logprobs' must be a boolean");
}

TEST(ParseLogprobsTest, CompletionIntegerIsTheTopCount) {
  const Endpoint kC = Endpoint::kCompletion;
  const CompletionRequest three = MustParse(Completion(R"("logprobs":3)"), kC);
  EXPECT_TRUE(three.logprobs);
  EXPECT_EQ(three.top_logprobs, 3);
  const CompletionRequest zero = MustParse(Completion(R"("logprobs":0)"), kC);
  EXPECT_TRUE(zero.logprobs);
  EXPECT_EQ(zero.top_logprobs, 0);
  EXPECT_FALSE(MustParse(Completion(R"("logprobs":null)"), kC).logprobs);
  ExpectRejected(Completion(R"("logprobs":6)"), "logprobs", "'logprobs' must be between 0 and 5",
                 kC);
  ExpectRejected(Completion(R"("logprobs":true)"), "logprobs", "'logprobs' must be an integer", kC);
}

// ---- unsupported fields ----

TEST(ParseUnsupportedTest, ChatFieldsThatWouldChangeTheResult) {
  const struct {
    const char* extra;
    const char* param;
  } cases[] = {
      {R"("functions":[{"name":"f"}])", "functions"},
      {R"("function_call":"auto")", "function_call"},
      {R"("audio":{"voice":"alloy","format":"wav"})", "audio"},
      {R"("modalities":["text","audio"])", "modalities"},
      {R"("prediction":{"type":"content","content":"x"})", "prediction"},
  };
  for (const auto& c : cases) {
    ExpectRejected(Chat(c.extra), c.param, "'" + std::string(c.param) + "' is not supported");
  }
}

TEST(ParseUnsupportedTest, ChatHarmlessValuesOfThoseFields) {
  MustParse(Chat(R"("tools":[],"tool_choice":"none","functions":[],"function_call":"none",)"
                 R"("response_format":{"type":"text"},"modalities":["text"],"audio":null,)"
                 R"("prediction":null)"));
  MustParse(Chat(R"("tools":null,"tool_choice":null,"response_format":null)"));
}

TEST(ParseUnsupportedTest, CompletionEchoSuffixBestOf) {
  const Endpoint kC = Endpoint::kCompletion;
  ExpectRejected(Completion(R"("echo":true)"), "echo", "'echo' is not supported", kC);
  ExpectRejected(Completion(R"("suffix":"}")"), "suffix", "'suffix' is not supported", kC);
  ExpectRejected(Completion(R"("best_of":2)"), "best_of", "'best_of' is not supported", kC);
  ExpectRejected(Completion(R"("best_of":0)"), "best_of", "'best_of' must be at least 1", kC);
  ExpectRejected(Completion(R"("echo":"yes")"), "echo", "'echo' must be a boolean", kC);
  ExpectRejected(Completion(R"("suffix":1)"), "suffix", "'suffix' must be a string", kC);
  MustParse(Completion(R"("echo":false,"suffix":"","best_of":1)"), kC);
  MustParse(Completion(R"("echo":null,"suffix":null,"best_of":null)"), kC);
}

// ---- responses ----

ResponseMeta Meta(std::string id = "chatcmpl-abc") {
  ResponseMeta meta;
  meta.id = std::move(id);
  meta.created = 1700000000;
  meta.model = "tiny";
  return meta;
}

Usage SomeUsage() {
  Usage usage;
  usage.prompt_tokens = 9;
  usage.completion_tokens = 3;
  usage.cached_tokens = 4;
  return usage;
}

constexpr const char* kUsageJson =
    R"("usage":{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12,)"
    R"("prompt_tokens_details":{"cached_tokens":4}})";

TokenLogprob Logprob(std::string token, float logprob,
                     std::vector<std::pair<std::string, float>> top = {}) {
  TokenLogprob t;
  t.token = std::move(token);
  t.logprob = logprob;
  t.top = std::move(top);
  return t;
}

TEST(ErrorBodyTest, EmptyParamAndCodeAreNull) {
  ApiError error;
  error.message = "bad";
  EXPECT_EQ(Dump(ErrorBody(error)),
            R"({"error":{"message":"bad","type":"invalid_request_error","param":null,)"
            R"("code":null}})");
  error.status = 404;
  error.type = "not_found_error";
  error.param = "model";
  error.code = "model_not_found";
  EXPECT_EQ(Dump(ErrorBody(error)),
            R"({"error":{"message":"bad","type":"not_found_error","param":"model",)"
            R"("code":"model_not_found"}})");
}

TEST(ErrorBodyTest, ParseErrorsRoundTrip) {
  const Json body = Json::parse(Dump(ErrorBody(MustFail(Chat(R"("n":99)")))));
  EXPECT_EQ(body["error"]["param"], "n");
  EXPECT_EQ(body["error"]["type"], "invalid_request_error");
  EXPECT_TRUE(body["error"]["code"].is_null());
}

TEST(CompletionResponseTest, ChatShapeAndKeyOrder) {
  ChoiceResult choice;
  choice.text = "Hello!";
  choice.finish_reason = "stop";
  const std::string out = Dump(CompletionResponse(Endpoint::kChat, Meta(), {choice}, SomeUsage()));
  EXPECT_EQ(out, std::string(R"({"id":"chatcmpl-abc","object":"chat.completion",)"
                             R"("created":1700000000,"model":"tiny","choices":[{"index":0,)"
                             R"("message":{"role":"assistant","content":"Hello!"},)"
                             R"("logprobs":null,"finish_reason":"stop"}],)") +
                     kUsageJson + "}");
}

TEST(CompletionResponseTest, SystemFingerprintFollowsModel) {
  ResponseMeta meta = Meta();
  meta.system_fingerprint = "fp_wick";
  const nlohmann::ordered_json out =
      CompletionResponse(Endpoint::kChat, meta, {ChoiceResult{}}, SomeUsage());
  std::vector<std::string> keys;
  for (const auto& item : out.items()) keys.push_back(item.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"id", "object", "created", "model",
                                            "system_fingerprint", "choices", "usage"}));
  EXPECT_EQ(out["system_fingerprint"], "fp_wick");
}

TEST(CompletionResponseTest, ChatLogprobs) {
  ChoiceResult choice;
  choice.index = 1;
  choice.text = "Hi";
  choice.finish_reason = "length";
  choice.has_logprobs = true;
  choice.logprobs = {Logprob("Hi", -0.5f, {{"Hi", -0.5f}, {"Hey", -1.25f}})};
  const std::string out = Dump(CompletionResponse(Endpoint::kChat, Meta(), {choice}, Usage()));
  EXPECT_NE(out.find(R"("choices":[{"index":1,"message":{"role":"assistant","content":"Hi"},)"
                     R"("logprobs":{"content":[{"token":"Hi","logprob":-0.5,"bytes":[72,105],)"
                     R"("top_logprobs":[{"token":"Hi","logprob":-0.5,"bytes":[72,105]},)"
                     R"({"token":"Hey","logprob":-1.25,"bytes":[72,101,121]}]}]},)"
                     R"("finish_reason":"length"}])"),
            std::string::npos)
      << out;
}

TEST(CompletionResponseTest, LogprobsAreShortAndNeverInfinite) {
  ChoiceResult choice;
  choice.has_logprobs = true;
  choice.logprobs = {Logprob("a", -0.1f, {{"b", -kInf}}),
                     Logprob("\xe2\x82", -std::numeric_limits<float>::quiet_NaN())};
  const std::string out = Dump(CompletionResponse(Endpoint::kChat, Meta(), {choice}, Usage()));
  EXPECT_NE(out.find(R"("logprob":-0.1,)"), std::string::npos) << out;
  EXPECT_NE(out.find(R"({"token":"b","logprob":-9999.0,)"), std::string::npos) << out;
  const Json parsed = Json::parse(out);  // valid JSON despite -inf, NaN and half a character
  const Json& content = parsed["choices"][0]["logprobs"]["content"];
  EXPECT_EQ(content[1]["logprob"], -9999.0);
  EXPECT_EQ(content[1]["token"], "\xef\xbf\xbd");  // U+FFFD
  EXPECT_EQ(content[1]["bytes"], Json::array({226, 130}));
}

TEST(CompletionResponseTest, TextCompletionShape) {
  ChoiceResult a;
  a.text = "Hello";
  a.finish_reason = "length";
  ChoiceResult b;
  b.index = 1;
  b.text = "Bye";
  b.finish_reason = "stop";
  const std::string out =
      Dump(CompletionResponse(Endpoint::kCompletion, Meta("cmpl-1"), {a, b}, SomeUsage()));
  EXPECT_EQ(out,
            std::string(R"({"id":"cmpl-1","object":"text_completion","created":1700000000,)"
                        R"("model":"tiny","choices":[)"
                        R"({"text":"Hello","index":0,"logprobs":null,"finish_reason":"length"},)"
                        R"({"text":"Bye","index":1,"logprobs":null,"finish_reason":"stop"}],)") +
                kUsageJson + "}");
}

TEST(CompletionResponseTest, TextCompletionLogprobs) {
  ChoiceResult choice;
  choice.text = "Hello";
  choice.finish_reason = "length";
  choice.has_logprobs = true;
  choice.logprobs = {Logprob("He", -0.25f, {{"He", -0.25f}, {"Hi", -2.0f}, {"He", -3.0f}}),
                     Logprob("llo", -0.75f, {{"llo", -0.75f}})};
  const std::string out =
      Dump(CompletionResponse(Endpoint::kCompletion, Meta("cmpl-1"), {choice}, Usage()));
  EXPECT_NE(out.find(R"({"text":"Hello","index":0,"logprobs":{"tokens":["He","llo"],)"
                     R"("token_logprobs":[-0.25,-0.75],)"
                     R"("top_logprobs":[{"He":-0.25,"Hi":-2.0},{"llo":-0.75}],)"
                     R"("text_offset":[0,2]},"finish_reason":"length"})"),
            std::string::npos)
      << out;
}

TEST(StreamChunkTest, ChatDeltas) {
  const std::string stop = "stop";
  EXPECT_EQ(Dump(StreamChunk(Endpoint::kChat, Meta(), 0, true, "", nullptr, nullptr, false)),
            R"({"id":"chatcmpl-abc","object":"chat.completion.chunk","created":1700000000,)"
            R"("model":"tiny","choices":[{"index":0,"delta":{"role":"assistant","content":""},)"
            R"("logprobs":null,"finish_reason":null}]})");
  EXPECT_EQ(Dump(StreamChunk(Endpoint::kChat, Meta(), 2, false, "lo", nullptr, nullptr, false)),
            R"({"id":"chatcmpl-abc","object":"chat.completion.chunk","created":1700000000,)"
            R"("model":"tiny","choices":[{"index":2,"delta":{"content":"lo"},)"
            R"("logprobs":null,"finish_reason":null}]})");
  EXPECT_EQ(Dump(StreamChunk(Endpoint::kChat, Meta(), 0, false, "", &stop, nullptr, false)),
            R"({"id":"chatcmpl-abc","object":"chat.completion.chunk","created":1700000000,)"
            R"("model":"tiny","choices":[{"index":0,"delta":{},)"
            R"("logprobs":null,"finish_reason":"stop"}]})");
  // Text that arrives with the finish (a held-back partial stop string) is not lost.
  const Json last =
      Json::parse(Dump(StreamChunk(Endpoint::kChat, Meta(), 0, false, "!", &stop, nullptr, false)));
  EXPECT_EQ(last["choices"][0]["delta"], Json({{"content", "!"}}));
  EXPECT_EQ(last["choices"][0]["finish_reason"], "stop");
  // A choice that ends at once still introduces the assistant.
  const Json only =
      Json::parse(Dump(StreamChunk(Endpoint::kChat, Meta(), 0, true, "", &stop, nullptr, false)));
  EXPECT_EQ(only["choices"][0]["delta"], Json({{"role", "assistant"}, {"content", ""}}));
}

TEST(StreamChunkTest, ChatUsageNullAndLogprobs) {
  ResponseMeta meta = Meta();
  meta.system_fingerprint = "fp";
  const std::vector<TokenLogprob> logprobs = {Logprob("a", -1.5f, {{"a", -1.5f}})};
  EXPECT_EQ(Dump(StreamChunk(Endpoint::kChat, meta, 0, false, "a", nullptr, &logprobs, true)),
            R"({"id":"chatcmpl-abc","object":"chat.completion.chunk","created":1700000000,)"
            R"("model":"tiny","system_fingerprint":"fp","choices":[{"index":0,)"
            R"("delta":{"content":"a"},"logprobs":{"content":[{"token":"a","logprob":-1.5,)"
            R"("bytes":[97],"top_logprobs":[{"token":"a","logprob":-1.5,"bytes":[97]}]}]},)"
            R"("finish_reason":null}],"usage":null})");
}

TEST(StreamChunkTest, TextCompletion) {
  const std::string length = "length";
  EXPECT_EQ(Dump(StreamChunk(Endpoint::kCompletion, Meta("cmpl-1"), 3, true, "Hi", nullptr, nullptr,
                             false)),
            R"({"id":"cmpl-1","object":"text_completion","created":1700000000,"model":"tiny",)"
            R"("choices":[{"text":"Hi","index":3,"logprobs":null,"finish_reason":null}]})");
  const std::vector<TokenLogprob> logprobs = {Logprob("a", -1.0f), Logprob("bc", -2.0f)};
  EXPECT_EQ(Dump(StreamChunk(Endpoint::kCompletion, Meta("cmpl-1"), 0, false, "abc", &length,
                             &logprobs, true)),
            R"({"id":"cmpl-1","object":"text_completion","created":1700000000,"model":"tiny",)"
            R"("choices":[{"text":"abc","index":0,"logprobs":{"tokens":["a","bc"],)"
            R"("token_logprobs":[-1.0,-2.0],"top_logprobs":[{},{}],"text_offset":[0,1]},)"
            R"("finish_reason":"length"}],"usage":null})");
}

TEST(UsageChunkTest, EmptyChoicesAndUsage) {
  EXPECT_EQ(Dump(UsageChunk(Endpoint::kChat, Meta(), SomeUsage())),
            std::string(R"({"id":"chatcmpl-abc","object":"chat.completion.chunk",)"
                        R"("created":1700000000,"model":"tiny","choices":[],)") +
                kUsageJson + "}");
  EXPECT_EQ(Dump(UsageChunk(Endpoint::kCompletion, Meta("cmpl-1"), SomeUsage())),
            std::string(R"({"id":"cmpl-1","object":"text_completion","created":1700000000,)"
                        R"("model":"tiny","choices":[],)") +
                kUsageJson + "}");
}

TEST(DumpTest, InvalidUtf8IsReplacedNotThrown) {
  nlohmann::ordered_json value = {{"text", "ok \xe2\x82"}, {"\xff", 1}};
  EXPECT_EQ(Dump(value), "{\"text\":\"ok \xef\xbf\xbd\",\"\xef\xbf\xbd\":1}");
  EXPECT_EQ(Dump(nlohmann::ordered_json("caf\xc3\xa9")), "\"caf\xc3\xa9\"");
}

TEST(DumpTest, SseEventFraming) {
  EXPECT_EQ(SseEvent(nlohmann::ordered_json{{"a", 1}}), "data: {\"a\":1}\n\n");
}

}  // namespace
}  // namespace wick::api
