// `wick serve` over real HTTP on a small shared model: the OpenAI routes, streaming, stop
// strings, limits, n, logprobs, every error shape, auth, disconnects, and many concurrent
// clients whose outputs must equal the same requests alone.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "server/serve_process.h"
#include "test_support.h"

namespace wick::testing {
namespace {

using Json = nlohmann::json;
using namespace std::chrono_literals;

struct Reply {
  int status = 0;
  Json body;
  std::string raw;
};

Reply Post(httplib::Client& cli, const std::string& path, const std::string& body,
           const httplib::Headers& headers = {}) {
  Reply r;
  httplib::Result res = cli.Post(path.c_str(), headers, body, "application/json");
  if (!res) return r;
  r.status = res->status;
  r.raw = res->body;
  r.body = Json::parse(res->body, nullptr, false);
  return r;
}

Reply Get(httplib::Client& cli, const std::string& path) {
  Reply r;
  httplib::Result res = cli.Get(path.c_str());
  if (!res) return r;
  r.status = res->status;
  r.raw = res->body;
  r.body = Json::parse(res->body, nullptr, false);
  return r;
}

// A streamed response: the JSON of each `data:` event, and whether [DONE] ended it.
struct Streamed {
  int status = 0;
  std::vector<Json> events;
  bool done = false;
  std::string text;  // the choices' text (index 0), joined
  std::string raw;
};

// `stop_after`: close the connection after this many events (a client that goes away).
Streamed Stream(httplib::Client& cli, const std::string& path, const Json& body,
                int stop_after = -1) {
  Streamed s;
  std::string buffer;
  httplib::Request req;
  req.method = "POST";
  req.path = path;
  req.body = body.dump();
  req.set_header("Content-Type", "application/json");
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    buffer.append(data, n);
    s.raw.append(data, n);
    for (size_t end; (end = buffer.find("\n\n")) != std::string::npos;) {
      const std::string event = buffer.substr(0, end);
      buffer.erase(0, end + 2);
      if (event.rfind("data: ", 0) != 0) continue;  // comments (": ping")
      const std::string payload = event.substr(6);
      if (payload == "[DONE]") {
        s.done = true;
        continue;
      }
      Json j = Json::parse(payload, nullptr, false);
      for (const Json& c : j.value("choices", Json::array())) {
        if (c.value("index", -1) != 0) continue;
        if (c.contains("delta") && c["delta"].contains("content")) {
          s.text += c["delta"]["content"].get<std::string>();
        }
        if (c.contains("text")) s.text += c["text"].get<std::string>();
      }
      s.events.push_back(std::move(j));
      if (stop_after >= 0 && static_cast<int>(s.events.size()) >= stop_after) return false;
    }
    return true;
  };
  httplib::Result res = cli.send(req);
  if (res) s.status = res->status;
  return s;
}

// The value of a metric line "name value" in /metrics.
double Metric(httplib::Client& cli, const std::string& name) {
  Reply r = Get(cli, "/metrics");
  const size_t at = r.raw.find("\n" + name + " ");
  if (at == std::string::npos) return -1;
  return std::atof(r.raw.c_str() + at + name.size() + 2);
}

// Waits (up to 10 s) until the server has cancelled one more sequence than `before`, no slot is
// busy and no request is open: a sequence that ran to its end instead would not count.
void WaitForCancel(httplib::Client& cli, double before) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while ((Metric(cli, "wick_sequences_cancelled_total") < before + 1 ||
          Metric(cli, "wick_slots_active") != 0 || Metric(cli, "wick_requests_in_flight") != 0) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(Metric(cli, "wick_sequences_cancelled_total"), before + 1);
  EXPECT_EQ(Metric(cli, "wick_slots_active"), 0);
  EXPECT_EQ(Metric(cli, "wick_requests_in_flight"), 0);  // the handler of the gone client ended
}

std::string ModelPath() {
  auto shared = SharedDir();
  return shared ? (*shared / "models/stories260K.gguf").string() : "";
}

Json Chat(const std::string& content, int max_tokens) {
  return {{"messages", {{{"role", "user"}, {"content", content}}}},
          {"max_tokens", max_tokens},
          {"temperature", 0}};
}

Json Completion(const std::string& prompt, int max_tokens) {
  return {{"prompt", prompt}, {"max_tokens", max_tokens}, {"temperature", 0}};
}

class HttpServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (ModelPath().empty()) return;
    server_ = new ServeProcess({"-m", ModelPath(), "--parallel", "4", "--ctx-size", "2048",
                                "--batch-size", "32", "--alias", "stories"});
  }
  static void TearDownTestSuite() {
    if (server_ != nullptr) {
      const int code = server_->Stop();
      EXPECT_EQ(code, 0) << server_->Log();
      delete server_;
      server_ = nullptr;
    }
  }
  void SetUp() override {
    WICK_REQUIRE_SHARED(shared);
    ASSERT_TRUE(server_->ready()) << server_->Log();
    cli_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
    cli_->set_read_timeout(60, 0);
  }

  static ServeProcess* server_;
  std::unique_ptr<httplib::Client> cli_;
};

ServeProcess* HttpServerTest::server_ = nullptr;

TEST_F(HttpServerTest, HealthModelsAndMetrics) {
  EXPECT_EQ(Get(*cli_, "/health").status, 200);
  Reply models = Get(*cli_, "/v1/models");
  ASSERT_EQ(models.status, 200);
  EXPECT_EQ(models.body["object"], "list");
  EXPECT_EQ(models.body["data"][0]["id"], "stories");
  EXPECT_EQ(Get(*cli_, "/v1/models/stories").status, 200);
  Reply metrics = Get(*cli_, "/metrics");
  ASSERT_EQ(metrics.status, 200);
  for (const char* name :
       {"wick_requests_total", "wick_prompt_tokens_total", "wick_completion_tokens_total",
        "wick_time_to_first_token_seconds_bucket", "wick_inter_token_latency_seconds_bucket",
        "wick_queue_depth", "wick_slots_active", "wick_kv_cache_used_cells"}) {
    EXPECT_NE(metrics.raw.find(name), std::string::npos) << name;
  }
}

TEST_F(HttpServerTest, ChatNonStreaming) {
  Reply r = Post(*cli_, "/v1/chat/completions", Chat("Tell me a story", 12).dump());
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["object"], "chat.completion");
  EXPECT_EQ(r.body["model"], "stories");
  const Json& choice = r.body["choices"][0];
  EXPECT_EQ(choice["message"]["role"], "assistant");
  EXPECT_FALSE(choice["message"]["content"].get<std::string>().empty());
  EXPECT_EQ(choice["finish_reason"], "length");
  EXPECT_EQ(r.body["usage"]["completion_tokens"], 12);
  EXPECT_GT(r.body["usage"]["prompt_tokens"].get<int>(), 3);
  EXPECT_EQ(r.body["usage"]["total_tokens"].get<int>(),
            r.body["usage"]["prompt_tokens"].get<int>() + 12);
}

TEST_F(HttpServerTest, StreamingEqualsNonStreaming) {
  for (const char* path : {"/v1/chat/completions", "/v1/completions"}) {
    SCOPED_TRACE(path);
    const bool chat = std::string(path).find("chat") != std::string::npos;
    Json body = chat ? Chat("Once upon a time", 20) : Completion("Once upon a time", 20);
    Reply whole = Post(*cli_, path, body.dump());
    ASSERT_EQ(whole.status, 200) << whole.raw;
    body["stream"] = true;
    body["stream_options"] = {{"include_usage", true}};
    Streamed s = Stream(*cli_, path, body);
    ASSERT_EQ(s.status, 200);
    EXPECT_TRUE(s.done);
    const std::string want = chat
                                 ? whole.body["choices"][0]["message"]["content"].get<std::string>()
                                 : whole.body["choices"][0]["text"].get<std::string>();
    EXPECT_EQ(s.text, want);
    ASSERT_GE(s.events.size(), 3u);
    EXPECT_EQ(s.events.front()["object"], chat ? "chat.completion.chunk" : "text_completion");
    if (chat) {
      EXPECT_EQ(s.events.front()["choices"][0]["delta"]["role"], "assistant");
    }
    const Json& usage = s.events.back();
    EXPECT_TRUE(usage["choices"].empty());
    EXPECT_EQ(usage["usage"]["completion_tokens"], whole.body["usage"]["completion_tokens"]);
    int finishes = 0;
    for (const Json& e : s.events) {
      for (const Json& c : e["choices"]) finishes += c["finish_reason"].is_string() ? 1 : 0;
    }
    EXPECT_EQ(finishes, 1);
  }
}

TEST_F(HttpServerTest, StopStringsAndMaxTokens) {
  Reply full = Post(*cli_, "/v1/completions", Completion("Once upon a time", 40).dump());
  ASSERT_EQ(full.status, 200);
  const std::string text = full.body["choices"][0]["text"];
  const size_t cut = text.find(' ', text.size() / 2);
  ASSERT_NE(cut, std::string::npos) << text;
  Json body = Completion("Once upon a time", 40);
  body["stop"] = text.substr(cut, 3);
  Reply stopped = Post(*cli_, "/v1/completions", body.dump());
  EXPECT_EQ(stopped.body["choices"][0]["text"], text.substr(0, cut));
  EXPECT_EQ(stopped.body["choices"][0]["finish_reason"], "stop");
  body["stream"] = true;
  EXPECT_EQ(Stream(*cli_, "/v1/completions", body).text, text.substr(0, cut));
  body = Completion("Once upon a time", 3);
  Reply limited = Post(*cli_, "/v1/completions", body.dump());
  EXPECT_EQ(limited.body["usage"]["completion_tokens"], 3);
  EXPECT_EQ(limited.body["choices"][0]["finish_reason"], "length");
}

TEST_F(HttpServerTest, ChoicesAndLogprobs) {
  Json body = Completion("Once upon a time", 8);
  body["n"] = 3;
  body["temperature"] = 1.0;
  body["seed"] = 7;
  Reply r = Post(*cli_, "/v1/completions", body.dump());
  ASSERT_EQ(r.status, 200) << r.raw;
  ASSERT_EQ(r.body["choices"].size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(r.body["choices"][i]["index"], i);
  EXPECT_EQ(r.body["usage"]["completion_tokens"], 24);
  EXPECT_EQ(Post(*cli_, "/v1/completions", body.dump()).body["choices"], r.body["choices"]);

  Json chat = Chat("Hello", 5);
  chat["logprobs"] = true;
  chat["top_logprobs"] = 3;
  Reply lp = Post(*cli_, "/v1/chat/completions", chat.dump());
  ASSERT_EQ(lp.status, 200) << lp.raw;
  const Json& content = lp.body["choices"][0]["logprobs"]["content"];
  ASSERT_EQ(content.size(), 5u);
  for (const Json& t : content) {
    EXPECT_LE(t["logprob"].get<double>(), 0.0);
    ASSERT_EQ(t["top_logprobs"].size(), 3u);
    // Greedy: the chosen token is the most likely one.
    EXPECT_EQ(t["top_logprobs"][0]["logprob"], t["logprob"]);
  }
}

TEST_F(HttpServerTest, ErrorsHaveOpenAiShapeAndStatus) {
  auto expect_error = [](const Reply& r, int status, const std::string& param,
                         const std::string& code = "") {
    EXPECT_EQ(r.status, status) << r.raw;
    ASSERT_TRUE(r.body.contains("error")) << r.raw;
    const Json& e = r.body["error"];
    EXPECT_TRUE(e["message"].is_string());
    EXPECT_TRUE(e["type"].is_string());
    if (!param.empty()) {
      EXPECT_EQ(e["param"], param) << r.raw;
    }
    if (!code.empty()) {
      EXPECT_EQ(e["code"], code) << r.raw;
    }
  };
  expect_error(Post(*cli_, "/v1/chat/completions", "{not json"), 400, "");
  Json bad = Chat("hi", 4);
  bad["temperature"] = 5;
  expect_error(Post(*cli_, "/v1/chat/completions", bad.dump()), 400, "temperature");
  bad = Chat("hi", 4);
  bad["tools"] = Json::array({{{"type", "function"}, {"function", {{"name", "f"}}}}});
  bad["tool_choice"] = {{"type", "function"}, {"function", {{"name", "g"}}}};
  expect_error(Post(*cli_, "/v1/chat/completions", bad.dump()), 400, "tool_choice");
  bad = Chat("hi", 4);
  bad["response_format"] = {{"type", "xml"}};
  expect_error(Post(*cli_, "/v1/chat/completions", bad.dump()), 400, "response_format.type");
  expect_error(Post(*cli_, "/v1/completions", R"({"max_tokens": 3})"), 400, "prompt");
  bad = Completion("hi", 4);
  bad["model"] = "gpt-nope";
  expect_error(Post(*cli_, "/v1/completions", bad.dump()), 404, "model", "model_not_found");
  expect_error(Post(*cli_, "/v1/nothing", "{}"), 404, "");
  expect_error(Get(*cli_, "/v1/models/gpt-nope"), 404, "model", "model_not_found");
  std::string long_prompt;
  for (int i = 0; i < 800; ++i) long_prompt += " the dog ran";
  expect_error(Post(*cli_, "/v1/completions", Completion(long_prompt, 4).dump()), 400, "prompt",
               "context_length_exceeded");
  // Unknown fields are ignored.
  Json extra = Completion("hi", 2);
  extra["some_future_field"] = {{"x", 1}};
  EXPECT_EQ(Post(*cli_, "/v1/completions", extra.dump()).status, 200);
}

TEST_F(HttpServerTest, DisconnectMidStreamFreesOnlyThatSlot) {
  Json endless = Completion("Once upon a time", 100000);
  endless["stream"] = true;
  endless["ignore_eos"] = true;
  const double cancelled = Metric(*cli_, "wick_sequences_cancelled_total");
  std::string other;
  std::thread neighbour([&] {
    httplib::Client c("127.0.0.1", server_->port());
    c.set_read_timeout(60, 0);
    Json body = Completion("Lily and Tom", 60);
    body["stream"] = true;
    other = Stream(c, "/v1/completions", body).text;
  });
  Streamed cut = Stream(*cli_, "/v1/completions", endless, /*stop_after=*/5);
  EXPECT_EQ(cut.events.size(), 5u);
  neighbour.join();
  EXPECT_EQ(other, Post(*cli_, "/v1/completions", Completion("Lily and Tom", 60).dump())
                       .body["choices"][0]["text"]);
  // The endless sequence (it would run to the 2048-position context) was cancelled.
  WaitForCancel(*cli_, cancelled);
}

TEST(HttpServerDisconnectTest, DisconnectMidPrefillFreesTheSlot) {
  WICK_REQUIRE_SHARED(shared);
  // A prompt of ~1800 tokens in 32-token chunks: dozens of steps of prefill, then output for a
  // 32768-position context (seconds), unless the client that leaves after a millisecond is
  // noticed.
  ServeProcess server(
      {"-m", ModelPath(), "--parallel", "2", "--ctx-size", "32768", "--batch-size", "32"});
  ASSERT_TRUE(server.ready()) << server.Log();
  httplib::Client cli("127.0.0.1", server.port());
  std::string prompt;
  for (int i = 0; i < 450; ++i) prompt += " the dog";
  Json body = Completion(prompt, 100000);
  body["ignore_eos"] = true;
  const double cancelled = Metric(cli, "wick_sequences_cancelled_total");
  httplib::Client impatient("127.0.0.1", server.port());
  impatient.set_read_timeout(0, 1000);  // gives up (and closes) before the answer
  EXPECT_FALSE(impatient.Post("/v1/completions", body.dump(), "application/json"));
  WaitForCancel(cli, cancelled);
  EXPECT_EQ(Post(cli, "/v1/completions", Completion("hi", 2).dump()).status, 200);
  EXPECT_EQ(server.Stop(), 0) << server.Log();
}

// The server listens before the model is loaded and says so: a FIFO as the model file keeps
// the load waiting (open blocks) for as long as the test likes.
TEST(HttpServerLoadingTest, HealthIs503WhileTheModelLoads) {
  TempDir dir;
  const std::string fifo = dir.File("model.gguf").string();
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  ServeProcess server({"-m", fifo}, 60, /*wait_for_model=*/false);
  ASSERT_TRUE(server.ready()) << server.Log();
  httplib::Client cli("127.0.0.1", server.port());
  Reply health = Get(cli, "/health");
  EXPECT_EQ(health.status, 503);
  EXPECT_TRUE(health.body["error"]["message"].is_string()) << health.raw;
  EXPECT_EQ(Post(cli, "/v1/completions", Completion("hi", 2).dump()).status, 503);
  // An empty "file": the load fails with a clear error and the server exits.
  const int fd = open(fifo.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  close(fd);
  EXPECT_EQ(server.Stop(), 1);
  EXPECT_NE(server.Log().find("wick: error:"), std::string::npos) << server.Log();
}

TEST(HttpServerAuthTest, KeyIsRequiredOnV1Routes) {
  WICK_REQUIRE_SHARED(shared);
  ServeProcess server({"-m", ModelPath(), "--parallel", "1", "--api-key", "sekret"});
  ASSERT_TRUE(server.ready()) << server.Log();
  httplib::Client cli("127.0.0.1", server.port());
  const std::string body = Completion("hi", 2).dump();
  Reply missing = Post(cli, "/v1/completions", body);
  EXPECT_EQ(missing.status, 401);
  EXPECT_EQ(missing.body["error"]["type"], "authentication_error");
  EXPECT_EQ(Post(cli, "/v1/completions", body, {{"Authorization", "Bearer wrong"}}).status, 401);
  EXPECT_EQ(Post(cli, "/v1/completions", body, {{"Authorization", "Bearer sekret"}}).status, 200);
  EXPECT_EQ(Get(cli, "/v1/models").status, 401);
  EXPECT_EQ(Get(cli, "/health").status, 200);
  EXPECT_EQ(server.Stop(), 0) << server.Log();
}

TEST(HttpServerQueueTest, FullQueueIs503) {
  WICK_REQUIRE_SHARED(shared);
  // A long context keeps the busy sequence going for seconds, until the test lets it go.
  ServeProcess server(
      {"-m", ModelPath(), "--parallel", "1", "--queue-size", "0", "--ctx-size", "32768"});
  ASSERT_TRUE(server.ready()) << server.Log();
  Json endless = Completion("Once upon a time", 100000);
  endless["stream"] = true;
  endless["ignore_eos"] = true;
  std::atomic<bool> started{false};
  std::atomic<bool> release{false};
  std::thread busy([&] {
    httplib::Client c("127.0.0.1", server.port());
    httplib::Request req;
    req.method = "POST";
    req.path = "/v1/completions";
    req.body = endless.dump();
    req.content_receiver = [&](const char*, size_t, uint64_t, uint64_t) {
      started = true;
      return !release.load();
    };
    c.send(req);
  });
  while (!started) std::this_thread::sleep_for(5ms);
  httplib::Client cli("127.0.0.1", server.port());
  Reply full = Post(cli, "/v1/completions", Completion("hi", 2).dump());
  EXPECT_EQ(full.status, 503) << full.raw;
  EXPECT_TRUE(full.body["error"]["message"].is_string());
  release = true;
  busy.join();
  EXPECT_EQ(server.Stop(), 0) << server.Log();
}

// At least 32 streaming clients, 200 requests: all complete, each output the same as the
// request alone (greedy), whatever else shares its batch.
TEST(HttpServerConcurrencyTest, ManyClientsGetTheirSoloOutputs) {
  WICK_REQUIRE_SHARED(shared);
  ServeProcess server({"-m", ModelPath(), "--parallel", "8", "--ctx-size", "512", "--batch-size",
                       "48", "--queue-size", "64"});
  ASSERT_TRUE(server.ready()) << server.Log();
  const std::vector<std::string> prompts = {
      "Once upon a time",
      "Lily and Tom went to the park",
      "The little dog was sad because",
      "One day, a big bird",
      "Tim had a red ball. He",
      "Once upon a time, there was a girl named Sue. She liked to play with her toys",
      "The sun was hot and the kids",
      "Mom said no, so Ben",
  };
  auto request = [&](size_t i) {
    const std::string& p = prompts[i % prompts.size()];
    const int max_tokens = 16 + static_cast<int>(i % 5) * 8;
    Json body = (i % 2 == 0) ? Completion(p, max_tokens) : Chat(p, max_tokens);
    body["stream"] = true;
    return body;
  };
  auto path = [](size_t i) { return i % 2 == 0 ? "/v1/completions" : "/v1/chat/completions"; };
  // Alone: one at a time.
  std::map<std::string, std::string> alone;
  {
    httplib::Client cli("127.0.0.1", server.port());
    cli.set_read_timeout(120, 0);
    for (size_t i = 0; i < prompts.size() * 10; ++i) {
      const std::string key = std::string(path(i)) + request(i).dump();
      if (alone.count(key) != 0) continue;
      Streamed s = Stream(cli, path(i), request(i));
      ASSERT_TRUE(s.done);
      alone[key] = s.text;
    }
  }
  constexpr int kClients = 32;
  constexpr size_t kRequests = 200;
  std::atomic<size_t> next{0};
  std::atomic<int> failures{0};
  std::vector<std::string> mismatches(kRequests);
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&] {
      httplib::Client cli("127.0.0.1", server.port());
      cli.set_read_timeout(300, 0);
      for (size_t i = next++; i < kRequests; i = next++) {
        Streamed s = Stream(cli, path(i), request(i));
        if (s.status != 200 || !s.done) {
          ++failures;
          continue;
        }
        const std::string& want = alone[std::string(path(i)) + request(i).dump()];
        if (s.text != want) mismatches[i] = s.text + " != " + want;
      }
    });
  }
  for (std::thread& t : clients) t.join();
  EXPECT_EQ(failures.load(), 0);
  for (size_t i = 0; i < kRequests; ++i) EXPECT_EQ(mismatches[i], "") << "request " << i;
  httplib::Client cli("127.0.0.1", server.port());
  EXPECT_EQ(Metric(cli, "wick_slots_active"), 0);
  EXPECT_EQ(server.Stop(), 0) << server.Log();
}

}  // namespace
}  // namespace wick::testing
