#include "provider/remote_provider.h"

#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "provider/fault_server.h"

namespace wick::provider {
namespace {

using std::chrono::milliseconds;
using testing::Fault;
using testing::FaultServer;
using Clock = std::chrono::steady_clock;

RemoteOptions Options(const FaultServer& server) {
  RemoteOptions options;
  options.info.name = "fault";
  options.info.models = {FaultServer::kModel};
  options.endpoint = server.endpoint();
  options.api_key = "secret";
  options.connect_timeout = milliseconds(1000);
  options.first_token_timeout = milliseconds(2000);
  options.total_timeout = milliseconds(10000);
  options.max_retries = 2;
  options.backoff_base = milliseconds(5);
  options.backoff_max = milliseconds(20);
  return options;
}

std::unique_ptr<RemoteProvider> Make(RemoteOptions options) {
  auto provider = RemoteProvider::Create(std::move(options));
  EXPECT_TRUE(provider.ok()) << provider.error().message();
  return std::move(provider).value();
}

api::CompletionRequest Chat() {
  api::CompletionRequest request;
  request.endpoint = api::Endpoint::kChat;
  request.messages = nlohmann::ordered_json::array({{{"role", "user"}, {"content", "hi"}}});
  request.max_tokens = 16;
  return request;
}

struct StreamRun {
  std::vector<Delta> deltas;
  std::variant<Outcome, Failure> result;
  double seconds = 0;

  const Failure& failure() const { return std::get<Failure>(result); }
  bool ok() const { return std::holds_alternative<Outcome>(result); }
  std::string text() const {
    std::string out;
    for (const Delta& d : deltas) out += d.text;
    return out;
  }
};

StreamRun Stream(RemoteProvider& provider, const api::CompletionRequest& request = Chat(),
                 const CancelToken& cancel = CancelToken(), int stop_after = -1) {
  StreamRun run;
  const auto start = Clock::now();
  run.result = provider.Stream(
      request,
      [&](const Delta& d) {
        run.deltas.push_back(d);
        return stop_after < 0 || static_cast<int>(run.deltas.size()) < stop_after;
      },
      cancel);
  run.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return run;
}

std::string Answer(int tokens) {
  std::string out;
  for (int i = 0; i < tokens; ++i) out += FaultServer::Token(i);
  return out;
}

TEST(RemoteProvider, StreamsDeltasInOrderWithUsage) {
  FaultServer server;
  auto provider = Make(Options(server));
  StreamRun run = Stream(*provider);
  ASSERT_TRUE(run.ok()) << run.failure().message;
  ASSERT_EQ(run.deltas.size(), 6u);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(run.deltas[static_cast<size_t>(i)].text, FaultServer::Token(i));
    EXPECT_EQ(run.deltas[static_cast<size_t>(i)].finish_reason, "");
  }
  EXPECT_EQ(run.deltas[5].text, "");
  EXPECT_EQ(run.deltas[5].finish_reason, "stop");
  const Outcome& outcome = std::get<Outcome>(run.result);
  EXPECT_EQ(outcome.usage.prompt_tokens, FaultServer::kPromptTokens);
  EXPECT_EQ(outcome.usage.completion_tokens, 5);
  EXPECT_EQ(outcome.model, FaultServer::kModel);
  EXPECT_EQ(server.requests(), 1);

  // What went over the wire.
  EXPECT_EQ(server.last_authorization(), "Bearer secret");
  const auto body = nlohmann::json::parse(server.last_body());
  EXPECT_EQ(body["model"], FaultServer::kModel);
  EXPECT_EQ(body["messages"][0]["content"], "hi");
  EXPECT_EQ(body["max_tokens"], 16);
  EXPECT_EQ(body["stream"], true);
  EXPECT_EQ(body["stream_options"]["include_usage"], true);
}

TEST(RemoteProvider, ReusesTheConnectionAndServesManyThreads) {
  FaultServer server;
  auto provider = Make(Options(server));
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 5; ++i) {
        StreamRun run = Stream(*provider);
        if (run.ok() && run.text() == Answer(5)) ok.fetch_add(1);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(ok.load(), 40);
  EXPECT_EQ(server.requests(), 40);
}

TEST(RemoteProvider, CompleteOnCompletionsWithSeveralChoices) {
  FaultServer server;
  auto provider = Make(Options(server));
  api::CompletionRequest request;
  request.endpoint = api::Endpoint::kCompletion;
  request.prompts = {std::string("once upon")};
  request.n = 2;
  auto result = provider->Complete(request, CancelToken());
  ASSERT_TRUE(std::holds_alternative<Completion>(result)) << std::get<Failure>(result).message;
  const Completion& completion = std::get<Completion>(result);
  ASSERT_EQ(completion.choices.size(), 2u);
  for (const api::ChoiceResult& c : completion.choices) {
    EXPECT_EQ(c.text, Answer(5));
    EXPECT_EQ(c.finish_reason, "stop");
  }
  EXPECT_EQ(completion.outcome.usage.completion_tokens, 10);
  const auto body = nlohmann::json::parse(server.last_body());
  EXPECT_EQ(body["prompt"], "once upon");
  EXPECT_EQ(body["n"], 2);
  EXPECT_EQ(body["stream"], true);  // upstream always streams, Complete() too
}

TEST(RemoteProvider, HttpStatusesMapToFailureKinds) {
  FaultServer server;
  RemoteOptions options = Options(server);
  options.max_retries = 0;
  auto provider = Make(options);
  const std::string too_long =
      R"({"error":{"message":"This model's maximum context length is 8 tokens","type":)"
      R"("invalid_request_error","param":"messages","code":"context_length_exceeded"}})";
  struct Case {
    Fault fault;
    FailureKind kind;
  };
  const std::vector<Case> cases = {
      {Fault::Status(400, "", too_long), FailureKind::kContextLength},
      {Fault::Status(400), FailureKind::kBadRequest},
      {Fault::Status(401), FailureKind::kBadRequest},
      {Fault::Status(404, "", "not json"), FailureKind::kBadRequest},
      {Fault::Status(429), FailureKind::kRateLimited},
      {Fault::Status(500), FailureKind::kServerError},
      {Fault::Status(502), FailureKind::kServerError},
      {Fault::Status(503), FailureKind::kUnavailable},
  };
  for (const Case& c : cases) {
    server.SetFault(c.fault);
    StreamRun run = Stream(*provider);
    ASSERT_FALSE(run.ok()) << c.fault.status;
    EXPECT_EQ(run.failure().kind, c.kind) << c.fault.status << ": " << run.failure().message;
    EXPECT_EQ(run.failure().http_status, c.fault.status);
    EXPECT_FALSE(run.failure().after_first_token);
    EXPECT_TRUE(run.deltas.empty());
  }
  server.SetFault(Fault::Status(400));
  EXPECT_NE(Stream(*provider).failure().message.find("injected HTTP 400"), std::string::npos);
  EXPECT_EQ(server.requests(), static_cast<int>(cases.size()) + 1);
}

TEST(RemoteProvider, RetriesServerErrorsThenSucceeds) {
  FaultServer server;
  auto provider = Make(Options(server));
  server.SetFault(Fault::Status(500), 2);
  StreamRun run = Stream(*provider);
  ASSERT_TRUE(run.ok()) << run.failure().message;
  EXPECT_EQ(run.text(), Answer(5));
  EXPECT_EQ(server.requests(), 3);
}

TEST(RemoteProvider, GivesUpAfterMaxRetries) {
  FaultServer server;
  auto provider = Make(Options(server));
  server.SetFault(Fault::Status(503));
  StreamRun run = Stream(*provider);
  ASSERT_FALSE(run.ok());
  EXPECT_EQ(run.failure().kind, FailureKind::kUnavailable);
  EXPECT_NE(run.failure().message.find("after 3 attempts"), std::string::npos)
      << run.failure().message;
  EXPECT_EQ(server.requests(), 3);
}

TEST(RemoteProvider, DoesNotRetryBadRequests) {
  FaultServer server;
  auto provider = Make(Options(server));
  server.SetFault(Fault::Status(422));
  EXPECT_EQ(Stream(*provider).failure().kind, FailureKind::kBadRequest);
  EXPECT_EQ(server.requests(), 1);
}

TEST(RemoteProvider, RateLimitHonoursRetryAfter) {
  FaultServer server;
  auto provider = Make(Options(server));
  server.SetFault(Fault::Status(429, "1"), 1);
  StreamRun run = Stream(*provider);
  ASSERT_TRUE(run.ok()) << run.failure().message;
  EXPECT_EQ(server.requests(), 2);
  EXPECT_GE(run.seconds, 0.9);
  EXPECT_LT(run.seconds, 3.0);
}

TEST(RemoteProvider, RetryAfterBeyondTheTotalTimeoutFailsAtOnce) {
  FaultServer server;
  auto provider = Make(Options(server));
  server.SetFault(Fault::Status(429, "120"));
  StreamRun run = Stream(*provider);
  ASSERT_FALSE(run.ok());
  EXPECT_EQ(run.failure().kind, FailureKind::kRateLimited);
  EXPECT_EQ(run.failure().retry_after, milliseconds(120000));
  EXPECT_EQ(server.requests(), 1);
  EXPECT_LT(run.seconds, 1.0);

  // Retry-After as an HTTP date, far in the future.
  server.SetFault(Fault::Status(429, "Fri, 01 Jan 2100 00:00:00 GMT"));
  run = Stream(*provider);
  ASSERT_FALSE(run.ok());
  EXPECT_GT(run.failure().retry_after, milliseconds(int64_t{3600} * 24 * 365 * 1000));
  EXPECT_EQ(server.requests(), 2);
}

TEST(RemoteProvider, DropMidStreamIsNeverRetried) {
  FaultServer server;
  auto provider = Make(Options(server));
  server.SetFault(Fault::DropMidStream(3));
  StreamRun run = Stream(*provider);
  ASSERT_FALSE(run.ok());
  EXPECT_EQ(run.failure().kind, FailureKind::kServerError) << run.failure().message;
  EXPECT_TRUE(run.failure().after_first_token);
  EXPECT_EQ(run.deltas.size(), 3u);
  EXPECT_EQ(run.failure().partial_usage.completion_tokens, 3);
  EXPECT_EQ(run.failure().partial_usage.prompt_tokens, 0);
  EXPECT_EQ(server.requests(), 1);
}

TEST(RemoteProvider, MalformedSseIsMalformedAndNotRetried) {
  FaultServer server;
  auto provider = Make(Options(server));
  server.SetFault(Fault::MalformedSse());
  StreamRun run = Stream(*provider);
  ASSERT_FALSE(run.ok());
  EXPECT_EQ(run.failure().kind, FailureKind::kMalformed);
  EXPECT_NE(run.failure().message.find("invalid JSON"), std::string::npos);
  EXPECT_FALSE(run.failure().after_first_token);
  EXPECT_EQ(server.requests(), 1);
}

TEST(RemoteProvider, WrongUsageIsMalformed) {
  FaultServer server;
  auto provider = Make(Options(server));
  server.SetFault(Fault::WrongUsage());
  StreamRun run = Stream(*provider);
  ASSERT_FALSE(run.ok());
  EXPECT_EQ(run.failure().kind, FailureKind::kMalformed);
  EXPECT_NE(run.failure().message.find("usage"), std::string::npos);
  EXPECT_TRUE(run.failure().after_first_token);
  EXPECT_EQ(server.requests(), 1);
}

TEST(RemoteProvider, StreamWithoutDoneIsMalformed) {
  FaultServer server;
  auto provider = Make(Options(server));
  server.SetFault(Fault::NoDone());
  StreamRun run = Stream(*provider);
  ASSERT_FALSE(run.ok());
  EXPECT_EQ(run.failure().kind, FailureKind::kMalformed);
  EXPECT_NE(run.failure().message.find("[DONE]"), std::string::npos);
  EXPECT_TRUE(run.failure().after_first_token);
  EXPECT_EQ(run.failure().partial_usage.prompt_tokens, FaultServer::kPromptTokens);
  EXPECT_EQ(run.failure().partial_usage.completion_tokens, 5);
}

TEST(RemoteProvider, CancelAbortsAHangWithinASecond) {
  FaultServer server;
  RemoteOptions options = Options(server);
  options.first_token_timeout = milliseconds(30000);
  auto provider = Make(options);
  server.SetFault(Fault::Hang());
  CancelToken cancel;
  std::thread canceller([&] {
    std::this_thread::sleep_for(milliseconds(200));
    cancel.Cancel();
  });
  StreamRun run = Stream(*provider, Chat(), cancel);
  canceller.join();
  ASSERT_FALSE(run.ok());
  EXPECT_EQ(run.failure().kind, FailureKind::kCancelled);
  EXPECT_FALSE(run.failure().after_first_token);
  EXPECT_LT(run.seconds, 1.0);
  EXPECT_EQ(server.requests(), 1);
}

TEST(RemoteProvider, SinkReturningFalseCancels) {
  FaultServer server;
  auto provider = Make(Options(server));
  StreamRun run = Stream(*provider, Chat(), CancelToken(), /*stop_after=*/2);
  ASSERT_FALSE(run.ok());
  EXPECT_EQ(run.failure().kind, FailureKind::kCancelled);
  EXPECT_TRUE(run.failure().after_first_token);
  EXPECT_EQ(run.failure().partial_usage.completion_tokens, 2);
  EXPECT_EQ(server.requests(), 1);
}

TEST(RemoteProvider, FirstTokenTimeoutIsRetriedThenReported) {
  FaultServer server;
  RemoteOptions options = Options(server);
  options.first_token_timeout = milliseconds(300);
  options.max_retries = 1;
  auto provider = Make(options);
  server.SetFault(Fault::SlowFirstToken(milliseconds(3000)));
  StreamRun run = Stream(*provider);
  ASSERT_FALSE(run.ok());
  EXPECT_EQ(run.failure().kind, FailureKind::kTimeout);
  EXPECT_EQ(server.requests(), 2);
  EXPECT_LT(run.seconds, 2.0);

  // A hang (no headers at all) times out the same way.
  server.SetFault(Fault::Hang());
  options.max_retries = 0;
  provider = Make(options);
  run = Stream(*provider);
  EXPECT_EQ(run.failure().kind, FailureKind::kTimeout);
  EXPECT_EQ(server.requests(), 3);
}

TEST(RemoteProvider, SlowFirstTokenWithinTheTimeoutSucceeds) {
  FaultServer server;
  auto provider = Make(Options(server));
  server.SetFault(Fault::SlowFirstToken(milliseconds(300)));
  StreamRun run = Stream(*provider);
  ASSERT_TRUE(run.ok()) << run.failure().message;
  EXPECT_EQ(run.text(), Answer(5));
  EXPECT_GE(run.seconds, 0.25);
}

TEST(RemoteProvider, TotalTimeoutIsNotRetried) {
  FaultServer server;
  RemoteOptions options = Options(server);
  options.first_token_timeout = milliseconds(5000);
  options.total_timeout = milliseconds(400);
  auto provider = Make(options);
  server.SetFault(Fault::Hang());
  StreamRun run = Stream(*provider);
  ASSERT_FALSE(run.ok());
  EXPECT_EQ(run.failure().kind, FailureKind::kTimeout);
  EXPECT_EQ(server.requests(), 1);
  EXPECT_LT(run.seconds, 1.5);
}

TEST(RemoteProvider, ConnectErrorToAClosedPort) {
  std::string endpoint;
  {
    FaultServer gone;
    endpoint = gone.endpoint();
  }
  FaultServer unused;
  RemoteOptions options = Options(unused);
  options.endpoint = endpoint;
  auto provider = Make(options);
  StreamRun run = Stream(*provider);
  ASSERT_FALSE(run.ok());
  EXPECT_EQ(run.failure().kind, FailureKind::kConnect) << run.failure().message;
  EXPECT_NE(run.failure().message.find("after 3 attempts"), std::string::npos);
  EXPECT_LT(run.seconds, 2.0);
  EXPECT_EQ(provider->Probe(), Health::kUnhealthy);
}

TEST(RemoteProvider, ProbeAsksForModels) {
  FaultServer server;
  auto provider = Make(Options(server));
  EXPECT_EQ(provider->Probe(), Health::kHealthy);
  server.SetFault(Fault::Status(503));
  EXPECT_EQ(provider->Probe(), Health::kUnhealthy);
  EXPECT_EQ(server.requests(), 0);  // /models is not a completion request
}

TEST(RemoteProvider, CreateValidatesOptions) {
  RemoteOptions options;
  options.info.name = "x";
  options.endpoint = "ftp://example.com/v1";
  EXPECT_FALSE(RemoteProvider::Create(options).ok());
  options.endpoint = "http://127.0.0.1:1/v1/";
  options.max_retries = -1;
  EXPECT_FALSE(RemoteProvider::Create(options).ok());
  options.max_retries = 0;
  auto ok = RemoteProvider::Create(options);
  ASSERT_TRUE(ok.ok()) << ok.error().message();
  EXPECT_EQ((*ok)->options().endpoint, "http://127.0.0.1:1/v1");
}

TEST(RemoteProvider, Presets) {
  auto hf = PresetOptions("huggingface");
  ASSERT_TRUE(hf.ok());
  EXPECT_EQ(hf->endpoint, "https://router.huggingface.co/v1");
  EXPECT_EQ(hf->api_key_env, "HF_TOKEN");
  auto openai = PresetOptions("openai");
  ASSERT_TRUE(openai.ok());
  EXPECT_EQ(openai->endpoint, "https://api.openai.com/v1");
  EXPECT_EQ(openai->api_key_env, "OPENAI_API_KEY");
  auto wick = PresetOptions("wick");
  ASSERT_TRUE(wick.ok());
  EXPECT_TRUE(wick->endpoint.empty());
  EXPECT_TRUE(wick->api_key_env.empty());
  EXPECT_FALSE(PresetOptions("anthropic").ok());
}

}  // namespace
}  // namespace wick::provider
