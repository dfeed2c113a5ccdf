#include "api/openai_client.h"

#include <gtest/gtest.h>

#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "api/openai_protocol.h"

namespace wick::api {
namespace {

using Json = nlohmann::json;

// The builders write ordered_json; the client reads what came over the wire.
Json Wire(const nlohmann::ordered_json& value) {
  return Json::parse(Dump(value));
}

ResponseMeta Meta() {
  ResponseMeta meta;
  meta.id = "chatcmpl-1";
  meta.created = 1;
  meta.model = "m";
  return meta;
}

std::vector<TokenLogprob> SampleLogprobs() {
  TokenLogprob a;
  a.token = "he";
  a.logprob = -0.25f;
  a.top = {{"he", -0.25f}, {"ha", -1.5f}};
  TokenLogprob b;
  b.token = "\xE2\x82";  // part of a UTF-8 character: only "bytes" keeps it exact in chat
  b.logprob = -3.0f;
  b.top = {{"\xE2\x82", -3.0f}, {"x", -4.0f}};
  return {a, b};
}

void ExpectSameLogprobs(const std::vector<TokenLogprob>& got,
                        const std::vector<TokenLogprob>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].logprob, want[i].logprob) << i;
    ASSERT_EQ(got[i].top.size(), want[i].top.size()) << i;
    for (size_t j = 0; j < got[i].top.size(); ++j) {
      EXPECT_EQ(got[i].top[j].second, want[i].top[j].second) << i << "," << j;
    }
  }
}

TEST(OpenAiClient, ChatChunkRoundTrip) {
  const auto logprobs = SampleLogprobs();
  auto chunk = ParseStreamChunk(
      Wire(StreamChunk(Endpoint::kChat, Meta(), 2, true, "hello", nullptr, &logprobs, true)));
  ASSERT_TRUE(chunk.ok()) << chunk.error().message();
  EXPECT_EQ(chunk->model, "m");
  EXPECT_FALSE(chunk->usage.has_value());
  EXPECT_FALSE(chunk->error.has_value());
  ASSERT_EQ(chunk->deltas.size(), 1u);
  EXPECT_EQ(chunk->deltas[0].index, 2);
  EXPECT_EQ(chunk->deltas[0].text, "hello");
  EXPECT_EQ(chunk->deltas[0].finish_reason, "");
  ExpectSameLogprobs(chunk->deltas[0].logprobs, logprobs);
  EXPECT_EQ(chunk->deltas[0].logprobs[1].token, "\xE2\x82");
}

TEST(OpenAiClient, ChatFinishChunkRoundTrip) {
  const std::string finish = "length";
  auto chunk = ParseStreamChunk(
      Wire(StreamChunk(Endpoint::kChat, Meta(), 0, false, "", &finish, nullptr, false)));
  ASSERT_TRUE(chunk.ok()) << chunk.error().message();
  ASSERT_EQ(chunk->deltas.size(), 1u);
  EXPECT_EQ(chunk->deltas[0].text, "");
  EXPECT_EQ(chunk->deltas[0].finish_reason, "length");
  EXPECT_TRUE(chunk->deltas[0].logprobs.empty());
}

TEST(OpenAiClient, CompletionChunkRoundTrip) {
  const auto logprobs = SampleLogprobs();
  const std::string finish = "stop";
  auto chunk = ParseStreamChunk(
      Wire(StreamChunk(Endpoint::kCompletion, Meta(), 1, false, "abc", &finish, &logprobs, false)));
  ASSERT_TRUE(chunk.ok()) << chunk.error().message();
  ASSERT_EQ(chunk->deltas.size(), 1u);
  EXPECT_EQ(chunk->deltas[0].index, 1);
  EXPECT_EQ(chunk->deltas[0].text, "abc");
  EXPECT_EQ(chunk->deltas[0].finish_reason, "stop");
  ExpectSameLogprobs(chunk->deltas[0].logprobs, logprobs);
  EXPECT_EQ(chunk->deltas[0].logprobs[0].token, "he");
  EXPECT_EQ(chunk->deltas[0].logprobs[0].top[1].first, "ha");
}

TEST(OpenAiClient, UsageChunkRoundTrip) {
  Usage usage;
  usage.prompt_tokens = 11;
  usage.completion_tokens = 5;
  usage.cached_tokens = 3;
  for (Endpoint endpoint : {Endpoint::kChat, Endpoint::kCompletion}) {
    auto chunk = ParseStreamChunk(Wire(UsageChunk(endpoint, Meta(), usage)));
    ASSERT_TRUE(chunk.ok()) << chunk.error().message();
    EXPECT_TRUE(chunk->deltas.empty());
    ASSERT_TRUE(chunk->usage.has_value());
    EXPECT_EQ(chunk->usage->prompt_tokens, 11);
    EXPECT_EQ(chunk->usage->completion_tokens, 5);
    EXPECT_EQ(chunk->usage->cached_tokens, 3);
  }
}

TEST(OpenAiClient, ChunkToleratesMissingOptionalFields) {
  auto chunk = ParseStreamChunk(Json::parse(R"({"choices":[{"delta":{"content":"x"}}]})"));
  ASSERT_TRUE(chunk.ok()) << chunk.error().message();
  ASSERT_EQ(chunk->deltas.size(), 1u);
  EXPECT_EQ(chunk->deltas[0].index, 0);
  EXPECT_EQ(chunk->deltas[0].text, "x");
  auto bare = ParseStreamChunk(Json::parse(R"({"id":"x","choices":[{"index":0,"delta":{},
      "finish_reason":null,"logprobs":null}],"usage":null})"));
  ASSERT_TRUE(bare.ok()) << bare.error().message();
  EXPECT_EQ(bare->deltas[0].text, "");
  EXPECT_FALSE(bare->usage.has_value());
}

TEST(OpenAiClient, ChunkWithWrongStructureIsAnError) {
  for (const char* bad : {R"([1,2])", R"({"choices":{}})", R"({"choices":[1]})",
                          R"({"choices":[{"index":"0","delta":{}}]})",
                          R"({"choices":[{"index":0,"delta":{"content":5}}]})",
                          R"({"object":"text_completion","choices":[{"index":0,"text":[]}]})",
                          R"({"choices":[],"usage":{"prompt_tokens":"1"}})"}) {
    auto chunk = ParseStreamChunk(Json::parse(bad));
    EXPECT_FALSE(chunk.ok()) << bad;
    if (!chunk.ok()) {
      EXPECT_FALSE(chunk.error().message().empty());
    }
  }
}

TEST(OpenAiClient, ChunkCarryingAnErrorEvent) {
  ApiError error;
  error.status = 500;
  error.message = "the model crashed";
  error.type = "server_error";
  auto chunk = ParseStreamChunk(Wire(ErrorBody(error)));
  ASSERT_TRUE(chunk.ok());
  ASSERT_TRUE(chunk->error.has_value());
  EXPECT_EQ(chunk->error->message, "the model crashed");
  EXPECT_EQ(chunk->error->type, "server_error");
}

TEST(OpenAiClient, CompletionResponseRoundTrip) {
  Usage usage;
  usage.prompt_tokens = 4;
  usage.completion_tokens = 9;
  for (Endpoint endpoint : {Endpoint::kChat, Endpoint::kCompletion}) {
    std::vector<ChoiceResult> choices(2);
    choices[0].index = 0;
    choices[0].text = "first";
    choices[0].finish_reason = "stop";
    choices[1].index = 1;
    choices[1].text = "second";
    choices[1].finish_reason = "length";
    choices[1].has_logprobs = true;
    choices[1].logprobs = SampleLogprobs();
    auto parsed = ParseCompletion(Wire(CompletionResponse(endpoint, Meta(), choices, usage)));
    ASSERT_TRUE(parsed.ok()) << parsed.error().message();
    EXPECT_EQ(parsed->model, "m");
    ASSERT_TRUE(parsed->usage.has_value());
    EXPECT_EQ(parsed->usage->completion_tokens, 9);
    ASSERT_EQ(parsed->choices.size(), 2u);
    for (size_t i = 0; i < 2; ++i) {
      EXPECT_EQ(parsed->choices[i].index, choices[i].index);
      EXPECT_EQ(parsed->choices[i].text, choices[i].text);
      EXPECT_EQ(parsed->choices[i].finish_reason, choices[i].finish_reason);
      EXPECT_EQ(parsed->choices[i].has_logprobs, choices[i].has_logprobs);
    }
    ExpectSameLogprobs(parsed->choices[1].logprobs, choices[1].logprobs);
  }
  EXPECT_FALSE(ParseCompletion(Json::parse(R"({"choices":5})")).ok());
  EXPECT_FALSE(ParseCompletion(Json::parse(R"({"object":"chat.completion","choices":[{}]})")).ok());
}

TEST(OpenAiClient, RequestJsonRoundTripsThroughTheServerParser) {
  const std::string body = R"({"model":"x","messages":[{"role":"user","content":"hi"}],
      "max_tokens":12,"temperature":0.5,"top_p":0.9,"top_k":7,"min_p":0.1,"stop":["a","b"],
      "seed":-3,"n":2,"logit_bias":{"5":-100,"6":2.5},"logprobs":true,"top_logprobs":3,
      "presence_penalty":0.25,"frequency_penalty":-0.5})";
  auto parsed = ParseCompletionRequest(body, Endpoint::kChat, {});
  ASSERT_TRUE(std::holds_alternative<CompletionRequest>(parsed));
  const CompletionRequest& request = std::get<CompletionRequest>(parsed);
  const auto json = RequestJson(request, "remote-model", true);
  EXPECT_EQ(json["model"], "remote-model");
  EXPECT_EQ(json["max_tokens"], 12);
  EXPECT_EQ(json["temperature"], 0.5);
  EXPECT_EQ(json["top_p"], 0.9);
  EXPECT_EQ(json["top_k"], 7);
  EXPECT_EQ(json["min_p"], 0.1);
  EXPECT_EQ(json["seed"], -3);
  EXPECT_EQ(json["n"], 2);
  EXPECT_EQ(json["logit_bias"]["5"], -100.0);
  EXPECT_EQ(json["logit_bias"]["6"], 2.5);
  EXPECT_EQ(json["logprobs"], true);
  EXPECT_EQ(json["top_logprobs"], 3);
  EXPECT_EQ(json["stream"], true);
  EXPECT_EQ(json["stream_options"]["include_usage"], true);
  EXPECT_FALSE(json.contains("repeat_penalty"));

  // What we send parses back into the same request.
  auto again = ParseCompletionRequest(Dump(json), Endpoint::kChat, {});
  ASSERT_TRUE(std::holds_alternative<CompletionRequest>(again));
  const CompletionRequest& back = std::get<CompletionRequest>(again);
  EXPECT_EQ(back.messages, request.messages);
  EXPECT_EQ(back.max_tokens, request.max_tokens);
  EXPECT_EQ(back.stop, request.stop);
  EXPECT_EQ(back.sampling.seed, request.sampling.seed);
  EXPECT_EQ(back.sampling.temperature, request.sampling.temperature);
  EXPECT_EQ(back.sampling.top_p, request.sampling.top_p);
  EXPECT_EQ(back.sampling.top_k, request.sampling.top_k);
  EXPECT_EQ(back.sampling.logit_bias, request.sampling.logit_bias);
  EXPECT_EQ(back.n, request.n);
  EXPECT_EQ(back.top_logprobs, request.top_logprobs);
}

TEST(OpenAiClient, RequestJsonLeavesOutWickOnlyDefaults) {
  CompletionRequest request;
  request.endpoint = Endpoint::kCompletion;
  request.prompts = {std::vector<int32_t>{1, 2, 3}};
  const auto json = RequestJson(request, "", false);
  EXPECT_FALSE(json.contains("model"));
  EXPECT_EQ(json["prompt"], nlohmann::ordered_json::array({1, 2, 3}));
  EXPECT_FALSE(json.contains("max_tokens"));
  EXPECT_FALSE(json.contains("top_k"));
  EXPECT_FALSE(json.contains("min_p"));
  EXPECT_FALSE(json.contains("seed"));
  EXPECT_FALSE(json.contains("stream"));
  EXPECT_FALSE(json.contains("logprobs"));

  request.prompts = {std::string("a"), std::string("b")};
  request.logprobs = true;
  request.top_logprobs = 2;
  request.sampling.top_k = 1;  // what the parser makes of top_p = 0
  request.sampling.top_p = 1.0f;
  const auto more = RequestJson(request, "m", false);
  EXPECT_EQ(more["prompt"], nlohmann::ordered_json::array({"a", "b"}));
  EXPECT_EQ(more["logprobs"], 2);
  EXPECT_EQ(more["top_p"], 0.0);
  EXPECT_FALSE(more.contains("top_k"));
}

TEST(OpenAiClient, ParseErrorBodyShapes) {
  auto openai = ParseErrorBody(
      R"({"error":{"message":"too long","type":"invalid_request_error","param":"messages",
          "code":"context_length_exceeded"}})",
      400);
  ASSERT_TRUE(openai.has_value());
  EXPECT_EQ(openai->status, 400);
  EXPECT_EQ(openai->message, "too long");
  EXPECT_EQ(openai->param, "messages");
  EXPECT_EQ(openai->code, "context_length_exceeded");

  auto plain = ParseErrorBody(R"({"error":"Model is overloaded"})", 503);
  ASSERT_TRUE(plain.has_value());
  EXPECT_EQ(plain->message, "Model is overloaded");
  EXPECT_EQ(plain->type, "server_error");

  auto detail = ParseErrorBody(R"({"detail":"Not Found"})", 404);
  ASSERT_TRUE(detail.has_value());
  EXPECT_EQ(detail->message, "Not Found");

  EXPECT_FALSE(ParseErrorBody("<html>bad gateway</html>", 502).has_value());
  EXPECT_FALSE(ParseErrorBody(R"({"ok":true})", 500).has_value());
  EXPECT_FALSE(ParseErrorBody("", 500).has_value());
}

}  // namespace
}  // namespace wick::api
