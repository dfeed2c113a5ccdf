// Structured output and tool calls over real HTTP, on the small shared model: response_format
// json_schema answers that parse and validate, and forced tool calls answered as
// message.tool_calls (streamed as delta.tool_calls) with finish_reason "tool_calls". Three
// ways in, which must answer alike: `wick serve -m` (the direct path), `wick serve -m --config`
// (the router's local provider) and a router whose remote provider is the first server (the
// upstream's calls passed through).
#include <gtest/gtest.h>
#include <httplib.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "server/serve_process.h"
#include "test_support.h"

namespace wick::testing {
namespace {

using Json = nlohmann::json;

std::string ModelPath() {
  auto shared = SharedDir();
  return shared ? (*shared / "models/stories260K.gguf").string() : "";
}

// Small enough that the model must finish it well inside max_tokens.
const Json& PersonSchema() {
  static const Json schema = Json::parse(
      R"({"type":"object","properties":{"name":{"type":"string","maxLength":10},)"
      R"("age":{"type":"integer","minimum":0,"maximum":120},"pet":{"enum":["cat","dog"]}},)"
      R"("required":["name","age","pet"]})");
  return schema;
}

void ExpectPerson(const std::string& text) {
  const Json person = Json::parse(text, nullptr, false);
  ASSERT_TRUE(person.is_object()) << text;
  ASSERT_TRUE(person.contains("name") && person["name"].is_string()) << text;
  EXPECT_LE(person["name"].get<std::string>().size(), 10u) << text;
  ASSERT_TRUE(person.contains("age") && person["age"].is_number_integer()) << text;
  EXPECT_GE(person["age"].get<int64_t>(), 0) << text;
  EXPECT_LE(person["age"].get<int64_t>(), 120) << text;
  EXPECT_TRUE(person["pet"] == "cat" || person["pet"] == "dog") << text;
  EXPECT_EQ(person.size(), 3u) << text;  // strict: nothing else
}

Json Chat(int max_tokens = 300) {
  return {{"model", "stories"},
          {"messages", {{{"role", "user"}, {"content", "Who is in the story?"}}}},
          {"max_tokens", max_tokens},
          {"temperature", 0}};
}

Json ForcedCall() {
  Json body = Chat();
  body["tools"] = Json::array(
      {{{"type", "function"},
        {"function",
         {{"name", "describe"}, {"description", "A person"}, {"parameters", PersonSchema()}}}},
       {{"type", "function"}, {"function", {{"name", "noop"}}}}});
  body["tool_choice"] = {{"type", "function"}, {"function", {{"name", "describe"}}}};
  // One call: a model this small would otherwise call again until max_tokens.
  body["parallel_tool_calls"] = false;
  return body;
}

struct Reply {
  int status = 0;
  Json body;
  std::string raw;
};

Reply Post(httplib::Client& cli, const Json& body) {
  Reply r;
  httplib::Result res = cli.Post("/v1/chat/completions", body.dump(), "application/json");
  if (!res) return r;
  r.status = res->status;
  r.raw = res->body;
  r.body = Json::parse(res->body, nullptr, false);
  return r;
}

// A streamed answer put together as a client library does: content joined, tool calls
// assembled by index (arguments concatenated), the finish reason.
struct Assembled {
  int status = 0;
  bool done = false;
  std::string content;
  bool content_null_seen = false;
  Json tool_calls = Json::array();
  std::string finish_reason;
  int tool_call_chunks = 0;
  std::string raw;
};

Assembled StreamChat(httplib::Client& cli, Json body) {
  body["stream"] = true;
  Assembled a;
  std::string buffer;
  httplib::Request req;
  req.method = "POST";
  req.path = "/v1/chat/completions";
  req.body = body.dump();
  req.set_header("Content-Type", "application/json");
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    buffer.append(data, n);
    a.raw.append(data, n);
    for (size_t end; (end = buffer.find("\n\n")) != std::string::npos;) {
      const std::string event = buffer.substr(0, end);
      buffer.erase(0, end + 2);
      if (event.rfind("data: ", 0) != 0) continue;
      if (event == "data: [DONE]") {
        a.done = true;
        continue;
      }
      const Json chunk = Json::parse(event.substr(6), nullptr, false);
      for (const Json& c : chunk.value("choices", Json::array())) {
        const Json& delta = c["delta"];
        if (delta.contains("content")) {
          if (delta["content"].is_null()) {
            a.content_null_seen = true;
          } else {
            a.content += delta["content"].get<std::string>();
          }
        }
        if (delta.contains("tool_calls")) {
          ++a.tool_call_chunks;
          for (const Json& piece : delta["tool_calls"]) {
            const size_t i = piece["index"].get<size_t>();
            while (a.tool_calls.size() <= i) {
              a.tool_calls.push_back({{"function", {{"name", ""}, {"arguments", ""}}}});
            }
            Json& call = a.tool_calls[i];
            if (piece.contains("id")) call["id"] = piece["id"];
            if (piece.contains("type")) call["type"] = piece["type"];
            const Json& f = piece["function"];
            if (f.contains("name")) call["function"]["name"] = f["name"];
            if (f.contains("arguments")) {
              call["function"]["arguments"] = call["function"]["arguments"].get<std::string>() +
                                              f["arguments"].get<std::string>();
            }
          }
        }
        if (!c["finish_reason"].is_null()) a.finish_reason = c["finish_reason"];
      }
    }
    return true;
  };
  httplib::Result res = cli.send(req);
  if (res) a.status = res->status;
  return a;
}

class StructuredOutputTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (ModelPath().empty()) return;
    dir_ = new TempDir();
    direct_ = new ServeProcess({"-m", ModelPath(), "--alias", "stories", "--parallel", "2",
                                "--ctx-size", "2048", "--threads", "1"});
    if (!direct_->ready()) return;
    // The router's local provider.
    const std::string local_config = dir_->File("local.toml").string();
    std::ofstream(local_config) << "[fallback]\nhealth_interval = \"1h\"\n";
    routed_local_ =
        new ServeProcess({"-m", ModelPath(), "--alias", "stories", "--parallel", "2", "--ctx-size",
                          "2048", "--threads", "1", "--config", local_config});
    // A router whose only provider is the direct server, as a remote.
    const std::string remote_config = dir_->File("remote.toml").string();
    std::ofstream(remote_config) << "[[remote]]\nname = \"upstream\"\nprovider = \"wick\"\n"
                                 << "api_endpoint = \"http://127.0.0.1:" << direct_->port()
                                 << "/v1\"\nmodels = [\"stories\"]\nmax_retries = 0\n\n"
                                 << "[fallback]\ntiers = [\"upstream\"]\n"
                                 << "health_interval = \"1h\"\n";
    routed_remote_ = new ServeProcess({"--config", remote_config}, 60, /*wait_for_model=*/false);
    for (int i = 0; i < 300 && routed_remote_->Log().find("routing over") == std::string::npos;
         ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  static void TearDownTestSuite() {
    for (ServeProcess** p : {&routed_remote_, &routed_local_, &direct_}) {
      if (*p == nullptr) continue;
      EXPECT_EQ((*p)->Stop(), 0) << (*p)->Log();
      delete *p;
      *p = nullptr;
    }
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override {
    WICK_REQUIRE_SHARED(shared);
    for (ServeProcess* p : {direct_, routed_local_, routed_remote_}) {
      ASSERT_TRUE(p != nullptr && p->ready()) << (p != nullptr ? p->Log() : "not started");
    }
  }

  // One client per way in, named for the trace.
  static std::vector<std::pair<std::string, std::unique_ptr<httplib::Client>>> Clients() {
    std::vector<std::pair<std::string, std::unique_ptr<httplib::Client>>> out;
    for (auto [name, p] : {std::pair{"direct", direct_}, std::pair{"router/local", routed_local_},
                           std::pair{"router/remote", routed_remote_}}) {
      auto cli = std::make_unique<httplib::Client>("127.0.0.1", p->port());
      cli->set_read_timeout(120, 0);
      out.emplace_back(name, std::move(cli));
    }
    return out;
  }

  static inline TempDir* dir_ = nullptr;
  static inline ServeProcess* direct_ = nullptr;
  static inline ServeProcess* routed_local_ = nullptr;
  static inline ServeProcess* routed_remote_ = nullptr;
};

TEST_F(StructuredOutputTest, JsonSchemaAnswersValidate) {
  Json body = Chat();
  body["response_format"] = {
      {"type", "json_schema"},
      {"json_schema", {{"name", "person"}, {"strict", true}, {"schema", PersonSchema()}}}};
  for (auto& [name, cli] : Clients()) {
    SCOPED_TRACE(name);
    Reply r = Post(*cli, body);
    ASSERT_EQ(r.status, 200) << r.raw;
    const Json& choice = r.body["choices"][0];
    EXPECT_EQ(choice["finish_reason"], "stop") << r.raw;
    ExpectPerson(choice["message"]["content"].get<std::string>());
    EXPECT_FALSE(choice["message"].contains("tool_calls"));

    Assembled s = StreamChat(*cli, body);
    ASSERT_EQ(s.status, 200) << s.raw;
    EXPECT_TRUE(s.done);
    EXPECT_EQ(s.finish_reason, "stop");
    ExpectPerson(s.content);
    // Greedy: the stream says what the whole answer said.
    EXPECT_EQ(s.content, choice["message"]["content"]);
  }
}

TEST_F(StructuredOutputTest, ForcedToolCall) {
  for (auto& [name, cli] : Clients()) {
    SCOPED_TRACE(name);
    Reply r = Post(*cli, ForcedCall());
    ASSERT_EQ(r.status, 200) << r.raw;
    const Json& choice = r.body["choices"][0];
    EXPECT_EQ(choice["finish_reason"], "tool_calls") << r.raw;
    EXPECT_TRUE(choice["message"]["content"].is_null()) << r.raw;
    ASSERT_EQ(choice["message"]["tool_calls"].size(), 1u) << r.raw;
    const Json& call = choice["message"]["tool_calls"][0];
    EXPECT_EQ(call["type"], "function");
    EXPECT_EQ(call["id"].get<std::string>().rfind("call_", 0), 0u) << call;
    EXPECT_EQ(call["function"]["name"], "describe");
    ASSERT_TRUE(call["function"]["arguments"].is_string()) << call;
    ExpectPerson(call["function"]["arguments"].get<std::string>());

    Assembled s = StreamChat(*cli, ForcedCall());
    ASSERT_EQ(s.status, 200) << s.raw;
    EXPECT_TRUE(s.done);
    EXPECT_EQ(s.finish_reason, "tool_calls") << s.raw;
    EXPECT_EQ(s.content, "") << s.raw;
    EXPECT_GE(s.tool_call_chunks, 1);
    ASSERT_EQ(s.tool_calls.size(), 1u) << s.raw;
    EXPECT_EQ(s.tool_calls[0]["type"], "function");
    EXPECT_EQ(s.tool_calls[0]["function"]["name"], "describe");
    EXPECT_EQ(s.tool_calls[0]["function"]["arguments"], call["function"]["arguments"]);
  }
}

TEST_F(StructuredOutputTest, BadRequestsNameTheField) {
  Json unsupported = Chat();
  unsupported["response_format"] = {
      {"type", "json_schema"},
      {"json_schema", {{"name", "n"}, {"schema", {{"type", "number"}, {"multipleOf", 3}}}}}};
  Json missing = ForcedCall();
  missing["tool_choice"]["function"]["name"] = "nowhere";
  for (auto& [name, cli] : Clients()) {
    SCOPED_TRACE(name);
    Reply r = Post(*cli, missing);
    EXPECT_EQ(r.status, 400) << r.raw;
    EXPECT_EQ(r.body["error"]["param"], "tool_choice") << r.raw;
    r = Post(*cli, unsupported);
    EXPECT_EQ(r.status, 400) << r.raw;
    EXPECT_NE(r.raw.find("multipleOf"), std::string::npos) << r.raw;
  }
}

}  // namespace
}  // namespace wick::testing
