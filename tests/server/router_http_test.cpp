// `wick serve --config` end to end, on loopback: a plain `wick serve` as a remote wick
// provider, a fault-injecting OpenAI-compatible server as another, and the router in a third
// process: fallback order, headers, streaming, a drop mid-stream (an error event, never a
// second answer), the cache, API keys with budgets, /v1/models, /metrics and the ledger.
#include <gtest/gtest.h>
#include <httplib.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "provider/fault_server.h"
#include "server/serve_process.h"
#include "test_support.h"

namespace wick::testing {
namespace {

using Json = nlohmann::json;
using provider::testing::Fault;

std::string Shared(const std::string& rel) {
  auto shared = SharedDir();
  return shared ? (*shared / rel).string() : "";
}

class RouterHttpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WICK_REQUIRE_SHARED(shared);
    backend_ = std::make_unique<ServeProcess>(std::vector<std::string>{
        "-m", Shared("models/stories260K.gguf"), "--alias", "stories", "--parallel", "2"});
    ASSERT_TRUE(backend_->ready()) << backend_->Log();
    fault_ = std::make_unique<provider::testing::FaultServer>();
  }

  // The router's config: the fault server first, then the real wick, a budget and a key.
  std::string WriteConfig(const std::string& extra = "") {
    const std::string path = dir_.File("wick.toml").string();
    std::ofstream out(path);
    out << "[[remote]]\nname = \"flaky\"\nprovider = \"openai-compatible\"\n"
        << "api_endpoint = \"" << fault_->endpoint() << "\"\nmodels = [\"stories\"]\n"
        << "max_retries = 0\nprice_input = 0.5\nprice_output = 0.5\n\n"
        << "[[remote]]\nname = \"backend\"\nprovider = \"wick\"\n"
        << "api_endpoint = \"http://127.0.0.1:" << backend_->port() << "/v1\"\n"
        << "models = [\"stories\"]\nprice_input = 1.0\nprice_output = 2.0\n\n"
        << "[fallback]\ntiers = [\"flaky\", \"backend\"]\ncircuit_failures = 100\n"
        << "health_interval = \"1h\"\n\n"
        << "[ledger]\npath = \"" << dir_.File("usage.db").string() << "\"\n\n"
        << extra;
    return path;
  }

  std::unique_ptr<ServeProcess> Router(const std::string& config) {
    auto p = std::make_unique<ServeProcess>(std::vector<std::string>{"--config", config}, 60,
                                            /*wait_for_model=*/false);
    // Remote-only: ready once it routes.
    for (int i = 0; i < 200 && p->Log().find("routing over") == std::string::npos; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return p;
  }

  static std::string Body(int max_tokens = 6) {
    return Json{{"prompt", "Once upon a time"}, {"max_tokens", max_tokens}, {"temperature", 0}}
        .dump();
  }

  TempDir dir_;
  std::unique_ptr<ServeProcess> backend_;
  std::unique_ptr<provider::testing::FaultServer> fault_;
};

TEST_F(RouterHttpTest, FallsBackPastAFailingProviderAndSaysWhoAnswered) {
  auto router = Router(WriteConfig());
  ASSERT_TRUE(router->ready()) << router->Log();
  httplib::Client cli("127.0.0.1", router->port());
  fault_->SetFault(Fault::Status(500), -1);
  httplib::Result res = cli.Post("/v1/completions", Body(), "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(res->get_header_value("X-Wick-Provider"), "backend");
  EXPECT_EQ(res->get_header_value("X-Wick-Cache"), "miss");
  EXPECT_GT(std::stod(res->get_header_value("X-Wick-Cost")), 0.0);
  EXPECT_EQ(fault_->requests(), 1);
  const std::string direct = Json::parse(httplib::Client("127.0.0.1", backend_->port())
                                             .Post("/v1/completions", Body(), "application/json")
                                             ->body)["choices"][0]["text"];
  EXPECT_EQ(Json::parse(res->body)["choices"][0]["text"], direct);

  // The same deterministic request again: from the cache, nobody asked.
  httplib::Result cached = cli.Post("/v1/completions", Body(), "application/json");
  EXPECT_EQ(cached->get_header_value("X-Wick-Cache"), "hit");
  EXPECT_EQ(Json::parse(cached->body)["choices"][0]["text"], direct);
  EXPECT_EQ(fault_->requests(), 1);

  // A healthy first tier answers itself.
  fault_->SetFault(Fault::None(), -1);
  httplib::Result first = cli.Post("/v1/completions", Body(7), "application/json");
  EXPECT_EQ(first->get_header_value("X-Wick-Provider"), "flaky");

  Json models = Json::parse(cli.Get("/v1/models")->body);
  std::vector<std::string> ids;
  for (const Json& m : models["data"]) ids.push_back(m["id"]);
  EXPECT_EQ(ids, (std::vector<std::string>{"auto", "flaky/stories", "backend/stories"}));
  const std::string metrics = cli.Get("/metrics")->body;
  EXPECT_NE(metrics.find("wick_provider_failures_total{provider=\"flaky\"} 1"), std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("wick_cache_hits_total 1"), std::string::npos);
  EXPECT_EQ(router->Stop(), 0) << router->Log();

  CommandResult usage = RunWick({"usage", "--config", WriteConfig(), "--by", "provider", "--json"});
  ASSERT_EQ(usage.exit_code, 0) << usage.err;
  Json report = Json::parse(usage.out);
  EXPECT_EQ(report["total"]["requests"], 3) << usage.out;
}

TEST_F(RouterHttpTest, ADropMidStreamEndsTheStreamWithAnErrorNotAnotherAnswer) {
  auto router = Router(WriteConfig());
  ASSERT_TRUE(router->ready()) << router->Log();
  fault_->SetFault(Fault::DropMidStream(2), -1);
  httplib::Client cli("127.0.0.1", router->port());
  std::string raw;
  httplib::Request req;
  req.method = "POST";
  req.path = "/v1/completions";
  Json body = Json::parse(Body());
  body["stream"] = true;
  req.body = body.dump();
  req.content_receiver = [&](const char* d, size_t n, uint64_t, uint64_t) {
    raw.append(d, n);
    return true;
  };
  httplib::Result res = cli.send(req);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("X-Wick-Provider"), "flaky");
  EXPECT_NE(raw.find(provider::testing::FaultServer::Token(1)), std::string::npos) << raw;
  EXPECT_NE(raw.find("\"error\""), std::string::npos) << raw;
  EXPECT_EQ(raw.find("Once upon"), std::string::npos);  // no splice of the backend's answer
  EXPECT_EQ(router->Stop(), 0) << router->Log();
}

// `wick run --config` needs no local model: the prompt goes through the same router.
TEST_F(RouterHttpTest, RunRoutesWithoutALocalModel) {
  fault_->SetFault(Fault::Status(503), -1);
  CommandResult r = RunWick(
      {"run", "--config", WriteConfig(), "-p", "Once upon a time", "-n", "6", "--temp", "0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string direct = Json::parse(httplib::Client("127.0.0.1", backend_->port())
                                             .Post("/v1/completions", Body(), "application/json")
                                             ->body)["choices"][0]["text"];
  EXPECT_EQ(r.out, direct + "\n");
  EXPECT_NE(r.err.find("tried flaky > backend"), std::string::npos) << r.err;
  r = RunWick({"run", "--config", WriteConfig(), "-p", "x", "--route", "nobody"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("model_not_found"), std::string::npos) << r.err;
}

// `wick chat --config`: each turn a chat request through the router, the conversation kept.
TEST_F(RouterHttpTest, ChatRoutesTurnsAndKeepsTheConversation) {
  fault_->SetFault(Fault::Status(500), -1);
  const std::string saved = dir_.File("conv.json").string();
  CommandResult r =
      RunWickWithInput({"chat", "--config", WriteConfig(), "-n", "5", "--temp", "0", "--timings"},
                       "Hello\nAnd then?\n/save " + saved + "\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::ifstream in(saved);
  const Json conversation = Json::parse(in);
  ASSERT_EQ(conversation.size(), 4u);
  EXPECT_EQ(conversation[2]["content"], "And then?");
  EXPECT_EQ(conversation[3]["role"], "assistant");
  EXPECT_NE(r.err.find("wick: backend (stories)"), std::string::npos) << r.err;
}

TEST_F(RouterHttpTest, KeysAndBudgets) {
  setenv("WICK_TEST_TEAM_KEY", "team-secret", 1);
  auto router = Router(WriteConfig(
      "[[keys]]\nname = \"team\"\nkey_env = \"WICK_TEST_TEAM_KEY\"\ndaily_budget = 0.00003\n"));
  ASSERT_TRUE(router->ready()) << router->Log();
  fault_->SetFault(Fault::Status(500), -1);
  httplib::Client cli("127.0.0.1", router->port());
  EXPECT_EQ(cli.Post("/v1/completions", Body(), "application/json")->status, 401);
  const httplib::Headers auth = {{"Authorization", "Bearer team-secret"}};
  httplib::Result ok = cli.Post("/v1/completions", auth, Body(), "application/json");
  EXPECT_EQ(ok->status, 200) << ok->body;
  // Spent past the key's daily budget: refused with budget_exceeded.
  Json other = Json::parse(Body(8));
  other["prompt"] = "Lily went to the park";
  httplib::Result over = cli.Post("/v1/completions", auth, other.dump(), "application/json");
  EXPECT_EQ(over->status, 429) << over->body;
  EXPECT_EQ(Json::parse(over->body)["error"]["code"], "budget_exceeded");
  EXPECT_EQ(router->Stop(), 0) << router->Log();
}

}  // namespace
}  // namespace wick::testing
