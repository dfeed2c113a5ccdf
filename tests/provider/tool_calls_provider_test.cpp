// Tool calls through the providers: pieces assembled into calls, kept by the response cache and
// replayed by the router, passed through from an OpenAI-compatible upstream (streamed in
// pieces, or as a whole JSON answer), and the shaping of local output (held-back text, calls
// parsed when the sequence ends).
#include <gtest/gtest.h>
#include <httplib.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "io/gguf_file.h"
#include "model/backend.h"
#include "provider/clock.h"
#include "provider/local_output.h"
#include "provider/local_provider.h"
#include "provider/remote_provider.h"
#include "provider/response_cache.h"
#include "provider/router.h"
#include "test_support.h"

namespace wick::provider {
namespace {

using namespace std::chrono_literals;
using Json = nlohmann::json;

api::ToolCallDelta Piece(int index, std::string id, std::string name, std::string arguments) {
  return {.index = index,
          .id = std::move(id),
          .name = std::move(name),
          .arguments = std::move(arguments)};
}

TEST(AppendDeltaTest, AssemblesToolCallsByIndex) {
  std::vector<api::ChoiceResult> choices;
  Delta a;
  a.tool_calls = {Piece(0, "call_a", "get_weather", ""), Piece(1, "call_b", "get_time", "{}")};
  Delta b;
  b.tool_calls = {Piece(0, "", "", R"({"city":)")};
  Delta c;
  c.tool_calls = {Piece(0, "", "", R"("Paris"})")};
  c.finish_reason = "tool_calls";
  for (const Delta* d : {&a, &b, &c}) AppendDelta(choices, *d, false);
  ASSERT_EQ(choices.size(), 1u);
  ASSERT_EQ(choices[0].tool_calls.size(), 2u);
  EXPECT_EQ(choices[0].tool_calls[0].id, "call_a");
  EXPECT_EQ(choices[0].tool_calls[0].name, "get_weather");
  EXPECT_EQ(choices[0].tool_calls[0].arguments, R"({"city":"Paris"})");
  EXPECT_EQ(choices[0].tool_calls[1].arguments, "{}");
  EXPECT_EQ(choices[0].finish_reason, "tool_calls");
  EXPECT_EQ(choices[0].text, "");

  // Whole calls as pieces and back.
  std::vector<api::ChoiceResult> again;
  Delta whole;
  whole.tool_calls = ToolCallDeltas(choices[0].tool_calls);
  AppendDelta(again, whole, false);
  ASSERT_EQ(again[0].tool_calls.size(), 2u);
  EXPECT_EQ(again[0].tool_calls[0].arguments, R"({"city":"Paris"})");
  EXPECT_EQ(again[0].tool_calls[1].id, "call_b");
}

// ---- response cache ----

api::CompletionRequest ChatRequest() {
  api::CompletionRequest r;
  r.messages = nlohmann::ordered_json::array({{{"role", "user"}, {"content", "weather?"}}});
  r.sampling.temperature = 0;
  r.max_tokens = 32;
  return r;
}

nlohmann::ordered_json WeatherTools() {
  return nlohmann::ordered_json::parse(
      R"([{"type":"function","function":{"name":"get_weather","parameters":{"type":"object",)"
      R"("properties":{"city":{"type":"string"}},"required":["city"]}}}])");
}

TEST(ToolCallCacheTest, KeysAndEncoding) {
  api::CompletionRequest plain = ChatRequest();
  api::CompletionRequest tools = plain;
  tools.tools = WeatherTools();
  api::CompletionRequest forced = tools;
  forced.tool_choice = {.mode = api::ToolChoiceMode::kFunction, .name = "get_weather"};
  api::CompletionRequest json = plain;
  json.response_format.type = api::ResponseFormatType::kJsonObject;
  const std::set<std::string> keys = {
      ResponseCache::Key("p/m", plain), ResponseCache::Key("p/m", tools),
      ResponseCache::Key("p/m", forced), ResponseCache::Key("p/m", json)};
  EXPECT_EQ(keys.size(), 4u);
  // A request without them keeps the form it had before they existed.
  EXPECT_EQ(ResponseCache::CanonicalJson("p/m", plain).find("structured"), std::string::npos);

  Completion c;
  api::ChoiceResult choice;
  choice.finish_reason = "tool_calls";
  choice.tool_calls = {{.id = "call_1", .name = "get_weather", .arguments = R"({"city":"Oslo"})"}};
  c.choices = {choice};
  c.outcome.model = "m";
  std::optional<Completion> back = ResponseCache::Decode(ResponseCache::Encode(c));
  ASSERT_TRUE(back.has_value());
  ASSERT_EQ(back->choices.size(), 1u);
  ASSERT_EQ(back->choices[0].tool_calls.size(), 1u);
  EXPECT_EQ(back->choices[0].tool_calls[0].id, "call_1");
  EXPECT_EQ(back->choices[0].tool_calls[0].name, "get_weather");
  EXPECT_EQ(back->choices[0].tool_calls[0].arguments, R"({"city":"Oslo"})");
  EXPECT_EQ(back->choices[0].finish_reason, "tool_calls");
  EXPECT_GT(ResponseCache::SizeOf("k", c), ResponseCache::SizeOf("k", Completion{}));
}

// A provider that calls a tool: the name first, then the arguments in pieces.
class ToolCallingProvider : public Provider {
 public:
  ToolCallingProvider() {
    info_.name = "tooly";
    info_.models = {"tm"};
    info_.context_length = 4096;
  }
  const ProviderInfo& info() const override { return info_; }
  Health Probe() override { return Health::kHealthy; }
  int calls() const { return calls_.load(); }

  std::variant<Outcome, Failure> Stream(const api::CompletionRequest& request,
                                        const DeltaSink& sink, const CancelToken&) override {
    ++calls_;
    last_tools_ = request.tools;
    std::vector<Delta> deltas(3);
    deltas[0].tool_calls = {Piece(0, "call_x", "get_weather", "")};
    deltas[1].tool_calls = {Piece(0, "", "", R"({"city":)")};
    deltas[2].tool_calls = {Piece(0, "", "", R"("Rome"})")};
    deltas[2].finish_reason = "tool_calls";
    for (const Delta& d : deltas) {
      if (!sink(d)) {
        Failure f;
        f.kind = FailureKind::kCancelled;
        return f;
      }
    }
    return Outcome{.usage = {.prompt_tokens = 5, .completion_tokens = 9, .cached_tokens = 0},
                   .model = "tm"};
  }

  nlohmann::ordered_json last_tools_;

 private:
  ProviderInfo info_;
  std::atomic<int> calls_{0};
};

TEST(ToolCallRouterTest, PassesCallsThroughAndReplaysThemFromTheCache) {
  ManualClock clock{std::chrono::system_clock::time_point(std::chrono::seconds(1'775'084'400))};
  Config config;
  config.fallback.tiers = {"tooly"};
  config.fallback.health_interval = 0ms;
  config.performance.cache_enabled = true;
  config.performance.stream_chunk_size = 2;  // would cut text; tool calls stay whole
  auto owned = std::make_unique<ToolCallingProvider>();
  ToolCallingProvider* provider = owned.get();
  std::vector<std::unique_ptr<Provider>> providers;
  providers.push_back(std::move(owned));
  Router router(config, std::move(providers), nullptr, clock);

  api::CompletionRequest request = ChatRequest();
  request.tools = WeatherTools();
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE(round);
    std::vector<api::ChoiceResult> choices;
    int pieces = 0;
    CancelToken cancel;
    auto result = router.Stream(
        request, "",
        [&](const Delta& d) {
          pieces += static_cast<int>(d.tool_calls.size());
          AppendDelta(choices, d, false);
          return true;
        },
        cancel);
    ASSERT_TRUE(std::holds_alternative<RouteInfo>(result))
        << std::get<RouteError>(result).error.message;
    EXPECT_EQ(std::get<RouteInfo>(result).cache_hit, round == 1);
    ASSERT_EQ(choices.size(), 1u);
    ASSERT_EQ(choices[0].tool_calls.size(), 1u);
    EXPECT_EQ(choices[0].tool_calls[0].id, "call_x");
    EXPECT_EQ(choices[0].tool_calls[0].name, "get_weather");
    EXPECT_EQ(choices[0].tool_calls[0].arguments, R"({"city":"Rome"})");
    EXPECT_EQ(choices[0].finish_reason, "tool_calls");
    EXPECT_EQ(pieces, round == 0 ? 3 : 1);  // the replay sends each call whole
  }
  EXPECT_EQ(provider->calls(), 1);
  EXPECT_EQ(provider->last_tools_, request.tools);
}

// ---- remote ----

// An OpenAI-compatible upstream that calls get_weather: streamed in pieces as OpenAI does, or,
// when `json` is set, as one JSON answer (a server that ignores stream: true).
class ToolUpstream {
 public:
  explicit ToolUpstream(bool json) {
    server_.Post("/v1/chat/completions", [this, json](const httplib::Request& req,
                                                      httplib::Response& res) {
      {
        std::lock_guard lock(mu_);
        body_ = req.body;
      }
      api::ResponseMeta meta{
          .id = "chatcmpl-up", .created = 1, .model = "up", .system_fingerprint = ""};
      api::Usage usage{.prompt_tokens = 9, .completion_tokens = 12, .cached_tokens = 0};
      const std::string finish = "tool_calls";
      if (json) {
        api::ChoiceResult c;
        c.finish_reason = finish;
        c.tool_calls = {
            {.id = "call_up1", .name = "get_weather", .arguments = R"({"city":"Lima"})"},
            {.id = "call_up2", .name = "get_weather", .arguments = R"({"city":"Quito"})"}};
        res.set_content(api::Dump(api::CompletionResponse(api::Endpoint::kChat, meta, {c}, usage)),
                        "application/json");
        return;
      }
      std::string sse;
      auto chunk = [&](bool first, std::vector<api::ToolCallDelta> calls, const std::string* f) {
        sse += api::SseEvent(
            api::StreamChunk(api::Endpoint::kChat, meta, 0, first, "", f, nullptr, true, &calls));
      };
      chunk(true, {Piece(0, "call_up1", "get_weather", "")}, nullptr);
      chunk(false, {Piece(0, "", "", R"({"ci)")}, nullptr);
      chunk(false, {Piece(0, "", "", R"(ty":"Lima"})")}, nullptr);
      chunk(false, {Piece(1, "call_up2", "get_weather", R"({"city":"Quito"})")}, nullptr);
      chunk(false, {}, &finish);
      sse += api::SseEvent(api::UsageChunk(api::Endpoint::kChat, meta, usage));
      sse += "data: [DONE]\n\n";
      res.set_content(sse, "text/event-stream");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(1ms);
  }
  ~ToolUpstream() {
    server_.stop();
    thread_.join();
  }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1"; }
  std::string body() {
    std::lock_guard lock(mu_);
    return body_;
  }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::string body_;
};

TEST(RemoteToolCallsTest, PassesToolsUpAndCallsBack) {
  for (bool json : {false, true}) {
    SCOPED_TRACE(json ? "json answer" : "stream");
    ToolUpstream upstream(json);
    RemoteOptions options;
    options.info.name = "up";
    options.info.models = {"up"};
    options.endpoint = upstream.endpoint();
    options.max_retries = 0;
    auto provider = RemoteProvider::Create(std::move(options));
    ASSERT_TRUE(provider.ok()) << provider.error().message();

    api::CompletionRequest request = ChatRequest();
    request.messages.push_back(nlohmann::ordered_json::parse(
        R"({"role":"assistant","content":"","tool_calls":[{"id":"call_0","type":"function",)"
        R"("function":{"name":"get_weather","arguments":"{\"city\":\"Bern\"}"}}]})"));
    request.messages.push_back(nlohmann::ordered_json::parse(
        R"({"role":"tool","tool_call_id":"call_0","content":"12C"})"));
    request.tools = WeatherTools();
    request.tool_choice = {.mode = api::ToolChoiceMode::kRequired, .name = ""};
    request.parallel_tool_calls = true;
    request.response_format.type = api::ResponseFormatType::kJsonObject;
    CancelToken cancel;
    auto result = (*provider)->Complete(request, cancel);
    ASSERT_TRUE(std::holds_alternative<Completion>(result)) << std::get<Failure>(result).message;
    const Completion& c = std::get<Completion>(result);
    ASSERT_EQ(c.choices.size(), 1u);
    EXPECT_EQ(c.choices[0].finish_reason, "tool_calls");
    ASSERT_EQ(c.choices[0].tool_calls.size(), 2u);
    EXPECT_EQ(c.choices[0].tool_calls[0].id, "call_up1");
    EXPECT_EQ(c.choices[0].tool_calls[0].name, "get_weather");
    EXPECT_EQ(c.choices[0].tool_calls[0].arguments, R"({"city":"Lima"})");
    EXPECT_EQ(c.choices[0].tool_calls[1].id, "call_up2");
    EXPECT_EQ(c.choices[0].tool_calls[1].arguments, R"({"city":"Quito"})");
    EXPECT_EQ(c.outcome.usage.completion_tokens, 12);

    const Json sent = Json::parse(upstream.body());
    EXPECT_EQ(sent["tools"], Json(request.tools));
    EXPECT_EQ(sent["tool_choice"], "required");
    EXPECT_EQ(sent["parallel_tool_calls"], true);
    EXPECT_EQ(sent["response_format"], Json::parse(R"({"type":"json_object"})"));
    EXPECT_EQ(sent["messages"][1]["tool_calls"][0]["function"]["arguments"], R"({"city":"Bern"})");
    EXPECT_EQ(sent["messages"][2]["tool_call_id"], "call_0");
  }
}

// ---- local output shaping ----

// Runs `pieces` through one ChoiceOutput: the text that went out while streaming, and the
// final delta.
std::pair<std::string, Delta> Shape(OutputPlan plan, const std::vector<std::string>& pieces,
                                    const std::string& finish = "stop") {
  ChoiceOutput out(plan);
  std::string streamed;
  for (const std::string& p : pieces) streamed += out.Push(0, p, {}).text;
  return {streamed, out.Finish(0, finish)};
}

TEST(ChoiceOutputTest, PlainTextPassesThrough) {
  auto [streamed, last] = Shape({}, {"Hello", " <tool_call>", " world"});
  EXPECT_EQ(streamed, "Hello <tool_call> world");
  EXPECT_EQ(last.text, "");
  EXPECT_TRUE(last.tool_calls.empty());
  EXPECT_EQ(last.finish_reason, "stop");
}

TEST(ChoiceOutputTest, HermesCallsAreHeldAndParsed) {
  const OutputPlan hermes{.tool_calls = true, .format = text::ToolCallFormat::kHermes};
  auto [streamed, last] =
      Shape(hermes, {"Checking", ".\n<tool", "_call>\n{\"name\": \"get_weather\", ",
                     "\"arguments\": {\"city\": \"Paris\"}}\n</tool_call>"});
  EXPECT_EQ(streamed, "Checking.\n");
  EXPECT_EQ(last.text, "");
  ASSERT_EQ(last.tool_calls.size(), 1u);
  EXPECT_EQ(last.tool_calls[0].name, "get_weather");
  EXPECT_EQ(last.tool_calls[0].arguments, R"({"city":"Paris"})");
  EXPECT_EQ(last.tool_calls[0].id.rfind("call_", 0), 0u);
  EXPECT_EQ(last.finish_reason, "tool_calls");

  // Text that only looked like a call for a while goes out after all.
  auto [text, end] = Shape(hermes, {"a <tool", "box> b"});
  EXPECT_EQ(text, "a <toolbox> b");
  EXPECT_EQ(end.text, "");
  // Held text that is not a call is content when the sequence ends; a cut-off sequence keeps
  // finish_reason "length".
  auto [held, cut] = Shape(hermes, {"x <tool_call>{\"name\": "}, "length");
  EXPECT_EQ(held + cut.text, "x <tool_call>{\"name\": ");
  EXPECT_TRUE(cut.tool_calls.empty());
  EXPECT_EQ(cut.finish_reason, "length");
}

TEST(ChoiceOutputTest, WholeMessageFormatsAndCancel) {
  const OutputPlan llama{.tool_calls = true, .format = text::ToolCallFormat::kLlama3};
  auto [streamed, last] = Shape(llama, {"{\"name\": \"f\", ", "\"parameters\": {\"a\": 1}}"});
  EXPECT_EQ(streamed, "");
  ASSERT_EQ(last.tool_calls.size(), 1u);
  EXPECT_EQ(last.tool_calls[0].arguments, R"({"a":1})");
  auto [prose, end] = Shape(llama, {"It is ", "sunny {probably}"});
  EXPECT_EQ(prose, "It is sunny {probably}");
  EXPECT_TRUE(end.tool_calls.empty());
  // Cancelled: what was held goes nowhere.
  auto [nothing, cancelled] = Shape(llama, {"{\"name\": \"f\", \"parameters\": {}}"}, "");
  EXPECT_EQ(nothing + cancelled.text, "");
  EXPECT_TRUE(cancelled.tool_calls.empty());
  EXPECT_EQ(cancelled.finish_reason, "");
}

TEST(ChoiceOutputTest, LogprobsWaitWithTheirText) {
  const OutputPlan hermes{.tool_calls = true, .format = text::ToolCallFormat::kHermes};
  ChoiceOutput out(hermes);
  api::TokenLogprob lp;
  lp.token = "<";
  Delta held = out.Push(0, "<", {lp});
  EXPECT_EQ(held.text, "");
  EXPECT_TRUE(held.logprobs.empty());
  lp.token = "p>";
  Delta released = out.Push(0, "p>", {lp});
  EXPECT_EQ(released.text, "<p>");
  EXPECT_EQ(released.logprobs.size(), 2u);
}

// ---- local, with a real model ----

// stories260K has no chat template: ChatML, which knows nothing of tools (the generic format,
// with the tools described in the first message, which makes long prompts for its
// character-sized vocabulary: hence the context of 2048).
class LocalToolsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WICK_REQUIRE_SHARED(shared);
    Result<GgufFile> file = GgufFile::Open(shared / "models/stories260K.gguf");
    ASSERT_TRUE(file.ok());
    file_ = std::make_unique<GgufFile>(std::move(*file));
    tokenizer_ = std::move(*Tokenizer::FromGguf(*file_));
    model_ = std::make_unique<model::LlamaModel>(std::move(*model::LlamaModel::Load(*file_)));
    chat_template_ = std::make_unique<ChatTemplate>(*ChatTemplate::FromGguf(*file_, *tokenizer_));
    engine_ = std::move(*engine::BatchEngine::Create(
        *model_, *tokenizer_, backend_,
        {.n_parallel = 2, .n_ctx = 2048, .kv_type = DType::kF16, .n_batch = 64, .queue_size = 8}));
    grammars_ = std::make_shared<GrammarCache>(tokenizer_.get());
    local_ = LocalModel{.id = "stories",
                        .tokenizer = tokenizer_.get(),
                        .chat_template = chat_template_.get(),
                        .engine = engine_.get(),
                        .price = {},
                        .grammars = grammars_};
    provider_ = std::make_unique<LocalProvider>(local_);
  }

  static api::CompletionRequest Request(int64_t max_tokens = 200) {
    api::CompletionRequest r = ChatRequest();
    r.max_tokens = max_tokens;
    return r;
  }

  Completion MustComplete(const api::CompletionRequest& r) {
    CancelToken cancel;
    auto result = provider_->Complete(r, cancel);
    if (auto* f = std::get_if<Failure>(&result)) {
      ADD_FAILURE() << f->message;
      return {};
    }
    return std::get<Completion>(std::move(result));
  }

  std::unique_ptr<GgufFile> file_;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::unique_ptr<model::LlamaModel> model_;
  std::unique_ptr<ChatTemplate> chat_template_;
  model::CpuBackend backend_{2};
  std::unique_ptr<engine::BatchEngine> engine_;
  std::shared_ptr<GrammarCache> grammars_;
  LocalModel local_;
  std::unique_ptr<LocalProvider> provider_;
};

// Small enough that the model must finish it well inside max_tokens.
const char* kPersonSchema =
    R"({"type":"object","properties":{"name":{"type":"string","maxLength":10},)"
    R"("age":{"type":"integer","minimum":0,"maximum":120},"pet":{"enum":["cat","dog"]}},)"
    R"("required":["name","age","pet"]})";

void ExpectPerson(const std::string& text) {
  const Json person = Json::parse(text, nullptr, false);
  ASSERT_TRUE(person.is_object()) << text;
  ASSERT_TRUE(person.contains("name") && person["name"].is_string()) << text;
  EXPECT_LE(person["name"].get<std::string>().size(), 10u) << text;
  ASSERT_TRUE(person.contains("age") && person["age"].is_number_integer()) << text;
  EXPECT_GE(person["age"].get<int64_t>(), 0);
  EXPECT_LE(person["age"].get<int64_t>(), 120);
  EXPECT_TRUE(person["pet"] == "cat" || person["pet"] == "dog") << text;
  EXPECT_EQ(person.size(), 3u) << text;  // strict: nothing else
}

TEST_F(LocalToolsTest, JsonSchemaResponseFormat) {
  api::CompletionRequest r = Request();
  r.response_format.type = api::ResponseFormatType::kJsonSchema;
  r.response_format.name = "person";
  r.response_format.schema = nlohmann::ordered_json::parse(kPersonSchema);
  r.response_format.strict = true;
  r.n = 2;
  r.seed_given = true;
  r.sampling.temperature = 1.0f;
  const Completion c = MustComplete(r);
  ASSERT_EQ(c.choices.size(), 2u);
  for (const api::ChoiceResult& choice : c.choices) {
    EXPECT_EQ(choice.finish_reason, "stop");
    ExpectPerson(choice.text);
    EXPECT_TRUE(choice.tool_calls.empty());
  }
  // The same schema again is the cached grammar.
  EXPECT_EQ(grammars_->size(), 1u);
  MustComplete(r);
  EXPECT_EQ(grammars_->size(), 1u);
  EXPECT_GE(grammars_->hits(), 1u);
}

TEST_F(LocalToolsTest, JsonObjectResponseFormat) {
  api::CompletionRequest r = Request(400);
  r.response_format.type = api::ResponseFormatType::kJsonObject;
  const Completion c = MustComplete(r);
  ASSERT_EQ(c.choices.size(), 1u);
  const std::string& text = c.choices[0].text;
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.front(), '{') << text;
  // A finished answer is a whole object; one cut off by max_tokens is still a prefix of one.
  if (c.choices[0].finish_reason == "stop") {
    EXPECT_TRUE(Json::parse(text, nullptr, false).is_object()) << text;
  }
}

TEST_F(LocalToolsTest, ForcedToolCall) {
  api::CompletionRequest r = Request();
  r.tools = nlohmann::ordered_json::array(
      {{{"type", "function"},
        {"function",
         {{"name", "describe"}, {"parameters", nlohmann::ordered_json::parse(kPersonSchema)}}}},
       {{"type", "function"}, {"function", {{"name", "noop"}}}}});
  r.tool_choice = {.mode = api::ToolChoiceMode::kFunction, .name = "describe"};
  r.parallel_tool_calls = false;
  for (bool stream : {false, true}) {
    SCOPED_TRACE(stream ? "stream" : "whole");
    std::vector<Delta> deltas;
    CancelToken cancel;
    auto result = provider_->Stream(
        r,
        [&](const Delta& d) {
          deltas.push_back(d);
          return true;
        },
        cancel);
    ASSERT_TRUE(std::holds_alternative<Outcome>(result)) << std::get<Failure>(result).message;
    std::vector<api::ChoiceResult> choices;
    for (const Delta& d : deltas) AppendDelta(choices, d, false);
    ASSERT_EQ(choices.size(), 1u);
    EXPECT_EQ(choices[0].finish_reason, "tool_calls");
    EXPECT_EQ(choices[0].text, "");
    ASSERT_EQ(choices[0].tool_calls.size(), 1u);
    EXPECT_EQ(choices[0].tool_calls[0].name, "describe");
    EXPECT_EQ(choices[0].tool_calls[0].id.rfind("call_", 0), 0u);
    ExpectPerson(choices[0].tool_calls[0].arguments);
    // Nothing of the call went out as text on the way.
    for (const Delta& d : deltas) EXPECT_EQ(d.text, "");
  }

  // "required" with one tool that takes nothing: a call of it, arguments {}.
  r.tool_choice = {.mode = api::ToolChoiceMode::kRequired, .name = ""};
  r.tools.erase(0);
  const Completion c = MustComplete(r);
  ASSERT_EQ(c.choices[0].tool_calls.size(), 1u);
  EXPECT_EQ(c.choices[0].tool_calls[0].name, "noop");
  EXPECT_EQ(c.choices[0].tool_calls[0].arguments, "{}");
}

TEST_F(LocalToolsTest, ToolsReachThePromptUnlessToolChoiceIsNone) {
  api::CompletionRequest plain = Request();
  api::CompletionRequest tools = plain;
  tools.tools = WeatherTools();
  api::CompletionRequest none = tools;
  none.tool_choice.mode = api::ToolChoiceMode::kNone;
  const auto count = [&](const api::CompletionRequest& r) {
    return provider_->CountPromptTokens(r).value_or(-1);
  };
  EXPECT_GT(count(tools), count(plain) + 10);  // the tool list was added to the prompt
  EXPECT_EQ(count(none), count(plain));
  // Previous calls and their results render (arguments as values, not strings).
  api::CompletionRequest convo = tools;
  convo.messages.push_back(nlohmann::ordered_json::parse(
      R"({"role":"assistant","content":"","tool_calls":[{"id":"c","type":"function",)"
      R"("function":{"name":"get_weather","arguments":"{\"city\":\"Bern\"}"}}]})"));
  convo.messages.push_back(
      nlohmann::ordered_json::parse(R"({"role":"tool","tool_call_id":"c","content":"12C"})"));
  EXPECT_GT(count(convo), count(tools));
}

TEST_F(LocalToolsTest, UnsupportedSchemaIsABadRequest) {
  api::CompletionRequest r = Request();
  r.response_format.type = api::ResponseFormatType::kJsonSchema;
  r.response_format.name = "x";
  r.response_format.schema = nlohmann::ordered_json::parse(R"({"type":"number","multipleOf":3})");
  auto built = BuildRequest(local_, r);
  ASSERT_TRUE(std::holds_alternative<api::ApiError>(built));
  const api::ApiError& e = std::get<api::ApiError>(built);
  EXPECT_EQ(e.status, 400);
  EXPECT_EQ(e.param, "response_format");
  EXPECT_NE(e.message.find("multipleOf"), std::string::npos) << e.message;
  CancelToken cancel;
  auto failed = provider_->Complete(r, cancel);
  ASSERT_TRUE(std::holds_alternative<Failure>(failed));
  EXPECT_EQ(std::get<Failure>(failed).kind, FailureKind::kBadRequest);

  // Without a grammar cache nothing can be constrained: a server error, said plainly.
  LocalModel bare = local_;
  bare.grammars = nullptr;
  auto refused = BuildRequest(bare, r);
  ASSERT_TRUE(std::holds_alternative<api::ApiError>(refused));
  EXPECT_EQ(std::get<api::ApiError>(refused).status, 500);
}

// ---- real chat templates ----

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// A conversation with a call and its result (ids of 9 characters, which Mistral's template
// insists on) renders with the tool-calling templates of the shared set: the tools are listed, and
// the call's arguments are written as JSON, not as a JSON string inside JSON (what a template makes
// of arguments left as the wire's string).
TEST(ToolTemplatesTest, ConversationsWithCallsRender) {
  WICK_REQUIRE_SHARED(shared);
  api::CompletionRequest r = ChatRequest();
  r.tools = WeatherTools();
  r.messages.push_back(nlohmann::ordered_json::parse(
      R"({"role":"assistant","content":null,"tool_calls":[{"id":"abcdefghi",)"
      R"("type":"function","function":{"name":"get_weather","arguments":"{\"city\": \"Paris\"}"}}]})"));
  r.messages.push_back(nlohmann::ordered_json::parse(
      R"({"role":"tool","tool_call_id":"abcdefghi","name":"get_weather","content":"18C"})"));
  int rendered = 0;
  for (const char* name :
       {"Qwen-Qwen2.5-7B-Instruct", "NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use",
        "meta-llama-Llama-3.1-8B-Instruct", "mistralai-Mistral-Nemo-Instruct-2407"}) {
    SCOPED_TRACE(name);
    const std::filesystem::path path = shared / "templates" / (std::string(name) + ".jinja");
    if (!std::filesystem::exists(path)) continue;
    Result<ChatTemplate> tmpl = ChatTemplate::FromSource(ReadFile(path), "<s>", "</s>");
    ASSERT_TRUE(tmpl.ok()) << tmpl.error().message();
    Result<std::string> text =
        tmpl->Apply(api::MessagesForTemplate(r.messages), true, api::ToolsForTemplate(r));
    ASSERT_TRUE(text.ok()) << text.error().message();
    EXPECT_NE(text->find("get_weather"), std::string::npos) << *text;
    EXPECT_NE(text->find("\"city\""), std::string::npos) << *text;
    EXPECT_EQ(text->find("\\\"city"), std::string::npos) << *text;  // not double-encoded
    EXPECT_NE(text->find("18C"), std::string::npos) << *text;
    ++rendered;
  }
  EXPECT_GT(rendered, 0);
}

}  // namespace
}  // namespace wick::provider
