// `wick serve --config` end to end, on loopback: plain `wick serve` processes as remote wick
// providers, a fault-injecting OpenAI-compatible server as another, and the router in its own
// process: fallback order, headers, streaming, a drop mid-stream (an error event, never a
// second answer), a backend that goes away and its circuit breaker, provider rate limits, the
// cache, API keys with budgets, /v1/models, /metrics, and the ledger rows of streamed, cancelled
// and failed requests. (Monthly budgets need a clock: the unit tests inject one.)
#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <thread>

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

// A `wick serve` backend of the 260K-parameter model. One thread: the model gains nothing from
// more, and threads that wait for each other crawl on a machine busy with other tests.
std::vector<std::string> BackendArgs() {
  const std::string model = Shared("models/stories260K.gguf");
  return {"-m", model, "--alias", "stories", "--parallel", "2", "--threads", "1"};
}

// `wick serve --config CONFIG`, remote-only: ready once it routes.
std::unique_ptr<ServeProcess> StartRouter(const std::string& config) {
  auto p = std::make_unique<ServeProcess>(std::vector<std::string>{"--config", config}, 60,
                                          /*wait_for_model=*/false);
  for (int i = 0; i < 200 && p->Log().find("routing over") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return p;
}

// Polls `done` every 10 ms until it holds or `limit` passes; whether it held.
bool Eventually(const std::function<bool()>& done,
                std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

// The value of the Prometheus sample whose line starts with `series` (the name and its labels,
// or the start of them); nullopt when there is none.
std::optional<double> Metric(const std::string& metrics, const std::string& series) {
  std::istringstream in(metrics);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(series, 0) == 0) return std::stod(line.substr(line.rfind(' ') + 1));
  }
  return std::nullopt;
}

std::string Metrics(int port) {
  httplib::Result res = httplib::Client("127.0.0.1", port).Get("/metrics");
  return res ? res->body : "";
}

// `wick usage --config CONFIG --by provider --json`.
Json Usage(const std::string& config) {
  CommandResult usage = RunWick({"usage", "--config", config, "--by", "provider", "--json"});
  EXPECT_EQ(usage.exit_code, 0) << usage.err;
  Json report = Json::parse(usage.out, nullptr, /*allow_exceptions=*/false);
  return report.is_discarded() ? Json::object() : report;
}

// The usage row of one provider in a `wick usage --json` report (an empty object if absent).
Json UsageOf(const Json& report, const std::string& provider) {
  if (report.contains("rows")) {
    for (const Json& row : report["rows"]) {
      if (row.value("group", "") == provider) return row;
    }
  }
  return Json::object();
}

// One row of the SQLite ledger, as far as these tests look at it.
struct LedgerRow {
  std::string provider;
  int status = 0;
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  double cost = 0;
  bool cache_hit = false;
  std::string fallback_path;
};

// Every row of the SQLite ledger at `db`, oldest first, read with the sqlite3 shell (this test
// does not link SQLite, and `wick usage` reports neither statuses nor fallback paths); nullopt
// without a sqlite3 on PATH.
std::optional<std::vector<LedgerRow>> LedgerRows(const std::string& db) {
  static const bool have_shell = std::system("command -v sqlite3 >/dev/null 2>&1") == 0;
  if (!have_shell) return std::nullopt;
  const std::string command =
      "sqlite3 -readonly -separator '|' '" + db +
      "' 'SELECT provider, status, prompt_tokens, completion_tokens, cost, cache_hit, "
      "fallback_path FROM usage ORDER BY id' 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return std::nullopt;
  std::string out;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, pipe)) > 0;) out.append(buf, n);
  const int status = pclose(pipe);
  EXPECT_EQ(status, 0) << out;
  std::vector<LedgerRow> rows;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    std::vector<std::string> f;
    std::istringstream fields(line);
    for (std::string field; std::getline(fields, field, '|');) f.push_back(field);
    if (line.back() == '|') f.emplace_back();  // an empty fallback path
    if (f.size() != 7) {
      ADD_FAILURE() << "unexpected ledger line: " << line;
      continue;
    }
    rows.push_back({.provider = f[0],
                    .status = std::stoi(f[1]),
                    .prompt_tokens = std::stoll(f[2]),
                    .completion_tokens = std::stoll(f[3]),
                    .cost = std::stod(f[4]),
                    .cache_hit = f[5] == "1",
                    .fallback_path = f[6]});
  }
  return rows;
}

// A streamed request, read event by event.
struct Streamed {
  httplib::Error error = httplib::Error::Unknown;  // Success when a response came back whole
  int status = 0;
  httplib::Headers headers;
  std::string raw;
  std::vector<Json> events;  // the JSON data events, in order ([DONE] left out)
  std::string text;          // the text of choice 0, put together
  int text_chunks = 0;       // events with text
  bool done = false;         // data: [DONE] arrived

  bool ok() const { return error == httplib::Error::Success; }
  std::string Header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

// POSTs `body` with stream: true to `path`; with `abort_after` > 0 the client hangs up once
// that many chunks with text have arrived.
Streamed PostStream(httplib::Client& cli, Json body, int abort_after = 0,
                    const std::string& path = "/v1/completions") {
  body["stream"] = true;
  Streamed s;
  std::string pending;
  httplib::Request req;
  req.method = "POST";
  req.path = path;
  req.body = body.dump();
  req.set_header("Content-Type", "application/json");
  req.content_receiver = [&](const char* d, size_t n, uint64_t, uint64_t) {
    s.raw.append(d, n);
    pending.append(d, n);
    for (size_t end; (end = pending.find("\n\n")) != std::string::npos;) {
      const std::string event = pending.substr(0, end);
      pending.erase(0, end + 2);
      if (event.rfind("data: ", 0) != 0) continue;  // a ": ping" comment
      const std::string data = event.substr(6);
      if (data == "[DONE]") {
        s.done = true;
        continue;
      }
      Json json = Json::parse(data, nullptr, /*allow_exceptions=*/false);
      if (json.is_discarded()) {
        ADD_FAILURE() << "not JSON: " << data;
        continue;
      }
      if (json.contains("choices") && !json["choices"].empty()) {
        const Json& choice = json["choices"][0];
        std::string piece;
        if (choice.contains("text") && choice["text"].is_string()) {
          piece = choice["text"];
        } else if (choice.contains("delta") && choice["delta"].contains("content") &&
                   choice["delta"]["content"].is_string()) {
          piece = choice["delta"]["content"];
        }
        if (!piece.empty()) {
          s.text += piece;
          ++s.text_chunks;
        }
      }
      s.events.push_back(std::move(json));
      if (abort_after > 0 && s.text_chunks >= abort_after) return false;
    }
    return true;
  };
  httplib::Result res = cli.send(req);
  s.error = res.error();
  if (res) {
    s.status = res->status;
    s.headers = res->headers;
  }
  return s;
}

class RouterHttpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WICK_REQUIRE_SHARED(shared);
    backend_ = std::make_unique<ServeProcess>(BackendArgs());
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

  // A config file of `body` (remotes and [fallback]) with this test's ledger.
  std::string WriteCustomConfig(const std::string& name, const std::string& body) {
    const std::string path = dir_.File(name).string();
    std::ofstream out(path);
    out << body << "\n[ledger]\npath = \"" << dir_.File(name + ".db").string() << "\"\n";
    return path;
  }

  std::string FlakyRemote(const std::string& extra = "") const {
    return "[[remote]]\nname = \"flaky\"\nprovider = \"openai-compatible\"\n"
           "api_endpoint = \"" +
           fault_->endpoint() +
           "\"\nmodels = [\"stories\"]\nmax_retries = 0\nprice_input = 0.5\n"
           "price_output = 0.5\n" +
           extra + "\n";
  }

  std::string BackendRemote() const {
    return "[[remote]]\nname = \"backend\"\nprovider = \"wick\"\napi_endpoint = "
           "\"http://127.0.0.1:" +
           std::to_string(backend_->port()) +
           "/v1\"\nmodels = [\"stories\"]\nmax_retries = 0\nprice_input = 1.0\n"
           "price_output = 2.0\n\n";
  }

  static std::string Fallback(const std::string& tiers) {
    return "[fallback]\ntiers = [" + tiers +
           "]\ncircuit_failures = 100\nhealth_interval = \"1h\"\n\n";
  }

  std::unique_ptr<ServeProcess> Router(const std::string& config) { return StartRouter(config); }

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

  // The two tokens sent before the drop are charged to the provider that sent them, in a row
  // that says the request failed; the backend was never asked.
  const Json report = Usage(WriteConfig());
  EXPECT_EQ(report["total"]["requests"], 1) << report.dump();
  const Json flaky = UsageOf(report, "flaky");
  EXPECT_EQ(flaky.value("requests", 0), 1) << report.dump();
  EXPECT_GE(flaky.value("completion_tokens", 0), 2) << report.dump();
  EXPECT_GT(flaky.value("cost", 0.0), 0.0) << report.dump();
  EXPECT_EQ(flaky.value("errors", 0), 1) << report.dump();
  EXPECT_EQ(UsageOf(report, "backend").value("requests", 0), 0) << report.dump();
  if (auto rows = LedgerRows(dir_.File("usage.db").string())) {
    ASSERT_EQ(rows->size(), 1u);
    EXPECT_EQ(rows->at(0).provider, "flaky");
    EXPECT_EQ(rows->at(0).status, 502);
    EXPECT_EQ(rows->at(0).completion_tokens, 2);
    EXPECT_EQ(rows->at(0).fallback_path, "flaky");
  }
}

// A client that hangs up mid-stream: the router stops the backend's generation, and what was
// generated until then is charged, in a row with status 499; the partial answer is not cached.
TEST_F(RouterHttpTest, ACancelledStreamIsChargedAndNotCached) {
  const std::string config =
      WriteCustomConfig("cancel.toml", BackendRemote() + Fallback("\"backend\""));
  auto router = Router(config);
  ASSERT_TRUE(router->ready()) << router->Log();
  // A seed makes the answer repeatable: asked directly, it runs its whole length, so a
  // stream cut after two chunks is cut while the backend is still generating.
  constexpr int kMaxTokens = 200;
  const Json body = {{"prompt", "Once upon a time"},
                     {"max_tokens", kMaxTokens},
                     {"temperature", 0.8},
                     {"seed", 11}};
  // A whole answer takes tens of milliseconds, but seconds on a machine busy with other tests.
  httplib::Client direct_cli("127.0.0.1", backend_->port());
  direct_cli.set_read_timeout(60);
  httplib::Result direct = direct_cli.Post("/v1/completions", body.dump(), "application/json");
  ASSERT_TRUE(direct);
  ASSERT_EQ(Json::parse(direct->body)["usage"]["completion_tokens"], kMaxTokens) << direct->body;
  const std::string whole = Json::parse(direct->body)["choices"][0]["text"];

  httplib::Client cli("127.0.0.1", router->port());
  cli.set_read_timeout(60);
  Streamed s = PostStream(cli, body, /*abort_after=*/2);
  EXPECT_EQ(s.error, httplib::Error::Canceled);
  EXPECT_EQ(s.text_chunks, 2);
  EXPECT_EQ(whole.rfind(s.text, 0), 0u) << s.text;  // the start of the same answer

  // The router notices the hang-up on its next write, cancels the backend and records the row.
  Json report;
  ASSERT_TRUE(Eventually([&] {
    report = Usage(config);
    return report.contains("total") && report["total"].value("requests", 0) == 1;
  })) << report.dump()
      << router->Log();
  const Json row = UsageOf(report, "backend");
  EXPECT_GT(row.value("completion_tokens", 0), 0) << report.dump();
  EXPECT_GE(row.value("completion_tokens", 0), s.text_chunks) << report.dump();
  EXPECT_LT(row.value("completion_tokens", 0), kMaxTokens) << report.dump();
  EXPECT_GT(row.value("cost", 0.0), 0.0) << report.dump();
  EXPECT_EQ(row.value("errors", 0), 1) << report.dump();
  if (auto rows = LedgerRows(dir_.File("cancel.toml.db").string())) {
    ASSERT_EQ(rows->size(), 1u);
    EXPECT_EQ(rows->at(0).provider, "backend");
    EXPECT_EQ(rows->at(0).status, 499);
    EXPECT_GT(rows->at(0).prompt_tokens, 0);  // the backend read the prompt: it is charged
    EXPECT_FALSE(rows->at(0).cache_hit);
  }
  // A client's cancel is not the provider's failure: its circuit stays closed.
  const std::string metrics = Metrics(router->port());
  EXPECT_EQ(Metric(metrics, "wick_provider_failures_total{provider=\"backend\"}"), 0.0) << metrics;
  EXPECT_EQ(Metric(metrics, "wick_provider_circuit_open{provider=\"backend\","), 0.0) << metrics;

  // The same request again is a miss (the half answer was not kept) and gets the whole answer;
  // then it is a hit.
  httplib::Result again = cli.Post("/v1/completions", body.dump(), "application/json");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 200) << again->body;
  EXPECT_EQ(again->get_header_value("X-Wick-Cache"), "miss");
  EXPECT_EQ(Json::parse(again->body)["choices"][0]["text"], whole);
  httplib::Result hit = cli.Post("/v1/completions", body.dump(), "application/json");
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->get_header_value("X-Wick-Cache"), "hit");
  EXPECT_EQ(router->Stop(), 0) << router->Log();
}

// A provider past its requests per minute: the only tier, so the client gets a 429 with
// Retry-After and OpenAI's error shape; the provider itself was never asked.
TEST_F(RouterHttpTest, ARateLimitedProviderAloneAnswers429WithRetryAfter) {
  const std::string config =
      WriteCustomConfig("limited.toml", FlakyRemote("rate_limit = 2\n") + Fallback("\"flaky\""));
  auto router = Router(config);
  ASSERT_TRUE(router->ready()) << router->Log();
  httplib::Client cli("127.0.0.1", router->port());
  // Not cacheable (temperature 0.8, no seed): each request goes to a provider.
  auto request = [&] {
    return cli.Post("/v1/completions",
                    Json{{"prompt", "Once"}, {"max_tokens", 4}, {"temperature", 0.8}}.dump(),
                    "application/json");
  };
  for (int i = 0; i < 2; ++i) {
    httplib::Result ok = request();
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->status, 200) << ok->body;
    EXPECT_EQ(ok->get_header_value("X-Wick-Provider"), "flaky");
  }
  httplib::Result over = request();
  ASSERT_TRUE(over);
  EXPECT_EQ(over->status, 429) << over->body;
  const std::string retry_after = over->get_header_value("Retry-After");
  ASSERT_FALSE(retry_after.empty());
  ASSERT_EQ(retry_after.find_first_not_of("0123456789"), std::string::npos) << retry_after;
  EXPECT_GT(std::stoi(retry_after), 0);
  EXPECT_LE(std::stoi(retry_after), 60);  // one request's refill at 2 a minute: 30 s
  const Json error = Json::parse(over->body, nullptr, false);
  ASSERT_TRUE(error.contains("error")) << over->body;
  EXPECT_EQ(error["error"]["code"], "rate_limit_exceeded") << over->body;
  EXPECT_EQ(error["error"]["type"], "rate_limit_error") << over->body;
  EXPECT_NE(error["error"]["message"].get<std::string>().find("flaky"), std::string::npos);
  EXPECT_EQ(fault_->requests(), 2);
  const std::string metrics = Metrics(router->port());
  EXPECT_EQ(Metric(metrics, "wick_provider_requests_total{provider=\"flaky\"}"), 2.0) << metrics;
  EXPECT_EQ(router->Stop(), 0) << router->Log();
  const Json report = Usage(config);
  EXPECT_EQ(report["total"]["requests"], 3) << report.dump();
  EXPECT_EQ(report["total"]["errors"], 1) << report.dump();
}

// With another tier behind it, the rate-limited provider is skipped instead.
TEST_F(RouterHttpTest, ARateLimitedProviderIsSkippedForTheNextTier) {
  const std::string config =
      WriteCustomConfig("limited2.toml", FlakyRemote("rate_limit = 2\n") + BackendRemote() +
                                             Fallback("\"flaky\", \"backend\""));
  auto router = Router(config);
  ASSERT_TRUE(router->ready()) << router->Log();
  httplib::Client cli("127.0.0.1", router->port());
  std::vector<std::string> answered;
  for (int i = 0; i < 3; ++i) {
    httplib::Result res = cli.Post(
        "/v1/completions", Json{{"prompt", "Once"}, {"max_tokens", 4}, {"temperature", 0.8}}.dump(),
        "application/json");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200) << res->body;
    EXPECT_TRUE(res->get_header_value("Retry-After").empty());
    answered.push_back(res->get_header_value("X-Wick-Provider"));
  }
  EXPECT_EQ(answered, (std::vector<std::string>{"flaky", "flaky", "backend"}));
  EXPECT_EQ(fault_->requests(), 2);
  EXPECT_EQ(router->Stop(), 0) << router->Log();
  const Json report = Usage(config);
  EXPECT_EQ(UsageOf(report, "flaky").value("requests", 0), 2) << report.dump();
  EXPECT_EQ(UsageOf(report, "backend").value("requests", 0), 1) << report.dump();
  EXPECT_EQ(report["total"]["errors"], 0) << report.dump();
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

// Two `wick serve` processes as remote wick providers, tiers backend-a then backend-b, with a
// circuit breaker that opens after two failures and stays open for the test's length.
class TwoBackendsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WICK_REQUIRE_SHARED(shared);
    for (auto* backend : {&a_, &b_}) {
      *backend = std::make_unique<ServeProcess>(BackendArgs());
      ASSERT_TRUE((*backend)->ready()) << (*backend)->Log();
    }
  }

  std::string WriteConfig() {
    const std::string path = dir_.File("wick.toml").string();
    std::ofstream out(path);
    for (const auto& [name, backend] :
         {std::pair{"backend-a", a_.get()}, {"backend-b", b_.get()}}) {
      out << "[[remote]]\nname = \"" << name << "\"\nprovider = \"wick\"\n"
          << "api_endpoint = \"http://127.0.0.1:" << backend->port() << "/v1\"\n"
          << "models = [\"stories\"]\nmax_retries = 0\nprice_input = 1.0\nprice_output = 2.0\n\n";
    }
    out << "[fallback]\ntiers = [\"backend-a\", \"backend-b\"]\ncircuit_failures = 2\n"
        << "circuit_cooldown = \"1h\"\nhealth_interval = \"1h\"\n\n"
        << "[ledger]\npath = \"" << dir_.File("usage.db").string() << "\"\n";
    return path;
  }

  static Json Body(const std::string& prompt, int max_tokens = 6) {
    return {{"prompt", prompt}, {"max_tokens", max_tokens}, {"temperature", 0}};
  }

  // What backend-b answers itself.
  std::string Direct(const Json& body) {
    httplib::Result res = httplib::Client("127.0.0.1", b_->port())
                              .Post("/v1/completions", body.dump(), "application/json");
    if (!res || res->status != 200) return "<no answer>";
    return Json::parse(res->body)["choices"][0]["text"];
  }

  TempDir dir_;
  std::unique_ptr<ServeProcess> a_, b_;
};

TEST_F(TwoBackendsTest, ADeadBackendFallsThroughUntilItsCircuitOpens) {
  const std::string config = WriteConfig();
  auto router = StartRouter(config);
  ASSERT_TRUE(router->ready()) << router->Log();
  httplib::Client cli("127.0.0.1", router->port());
  const std::string a = "wick_provider_requests_total{provider=\"backend-a\"}";
  const std::string a_failures = "wick_provider_failures_total{provider=\"backend-a\"}";
  const std::string a_open = "wick_provider_circuit_open{provider=\"backend-a\",";

  // Both up: the first tier answers.
  httplib::Result first =
      cli.Post("/v1/completions", Body("Once upon a time").dump(), "application/json");
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 200) << first->body;
  EXPECT_EQ(first->get_header_value("X-Wick-Provider"), "backend-a");

  // backend-a dies: its port refuses connections (at once, on loopback), and backend-b answers
  // what it would answer itself. Different prompts, so that none is answered from the cache.
  a_->Kill();
  const Json second_body = Body("Lily went to the park");
  httplib::Result second = cli.Post("/v1/completions", second_body.dump(), "application/json");
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, 200) << second->body;
  EXPECT_EQ(second->get_header_value("X-Wick-Provider"), "backend-b");
  EXPECT_GT(std::stod(second->get_header_value("X-Wick-Cost")), 0.0);
  EXPECT_EQ(Json::parse(second->body)["choices"][0]["text"], Direct(second_body));
  std::string metrics = Metrics(router->port());
  EXPECT_EQ(Metric(metrics, a_failures), 1.0) << metrics;
  EXPECT_EQ(Metric(metrics, a_open), 0.0) << metrics;  // one failure of two

  // The second failure in a row, streamed: the usage chunk names both providers tried.
  Json third_body = Body("The cat sat", 8);
  third_body["stream_options"] = {{"include_usage", true}};
  Streamed third = PostStream(cli, third_body);
  ASSERT_TRUE(third.ok()) << httplib::to_string(third.error);
  EXPECT_EQ(third.status, 200) << third.raw;
  EXPECT_EQ(third.Header("X-Wick-Provider"), "backend-b");
  EXPECT_TRUE(third.done) << third.raw;
  EXPECT_EQ(third.text, Direct(Body("The cat sat", 8)));
  ASSERT_FALSE(third.events.empty());
  const Json& usage = third.events.back();
  ASSERT_TRUE(usage.contains("x_wick")) << third.raw;
  EXPECT_EQ(usage["x_wick"]["provider"], "backend-b");
  EXPECT_EQ(usage["x_wick"]["path"], (Json{"backend-a", "backend-b"})) << third.raw;
  EXPECT_GT(usage["usage"]["completion_tokens"].get<int>(), 0) << third.raw;

  // Two failures: backend-a's circuit is open.
  metrics = Metrics(router->port());
  EXPECT_EQ(Metric(metrics, a_open), 1.0) << metrics;
  EXPECT_NE(metrics.find("wick_provider_circuit_open{provider=\"backend-a\",state=\"open\"} 1"),
            std::string::npos)
      << metrics;
  EXPECT_EQ(Metric(metrics, a_failures), 2.0) << metrics;
  EXPECT_EQ(Metric(metrics, a), 3.0) << metrics;
  EXPECT_EQ(Metric(metrics, "wick_provider_circuit_open{provider=\"backend-b\","), 0.0);

  // Open: backend-a is not even tried any more.
  Json fourth_body = Body("A big dog", 7);
  fourth_body["stream_options"] = {{"include_usage", true}};
  Streamed fourth = PostStream(cli, fourth_body);
  ASSERT_TRUE(fourth.ok()) << httplib::to_string(fourth.error);
  EXPECT_EQ(fourth.status, 200) << fourth.raw;
  ASSERT_FALSE(fourth.events.empty());
  EXPECT_EQ(fourth.events.back()["x_wick"]["path"], (Json{"backend-b"})) << fourth.raw;
  httplib::Result fifth =
      cli.Post("/v1/completions", Body("One day", 5).dump(), "application/json");
  ASSERT_TRUE(fifth);
  EXPECT_EQ(fifth->status, 200) << fifth->body;
  EXPECT_EQ(fifth->get_header_value("X-Wick-Provider"), "backend-b");
  metrics = Metrics(router->port());
  EXPECT_EQ(Metric(metrics, a), 3.0) << metrics;
  EXPECT_EQ(Metric(metrics, a_failures), 2.0) << metrics;
  EXPECT_EQ(Metric(metrics, "wick_provider_requests_total{provider=\"backend-b\"}"), 4.0);
  EXPECT_EQ(Metric(metrics, "wick_provider_fallbacks_total{provider=\"backend-a\"}"), 2.0);
  EXPECT_EQ(router->Stop(), 0) << router->Log();

  // The ledger: one row per request, each charged to whoever answered.
  const Json report = Usage(config);
  EXPECT_EQ(report["total"]["requests"], 5) << report.dump();
  EXPECT_EQ(report["total"]["errors"], 0) << report.dump();
  EXPECT_EQ(UsageOf(report, "backend-a").value("requests", 0), 1) << report.dump();
  EXPECT_EQ(UsageOf(report, "backend-b").value("requests", 0), 4) << report.dump();
  EXPECT_GT(UsageOf(report, "backend-b").value("cost", 0.0), 0.0) << report.dump();
  if (auto rows = LedgerRows(dir_.File("usage.db").string())) {
    std::vector<std::string> paths;
    for (const LedgerRow& r : *rows) paths.push_back(r.fallback_path);
    EXPECT_EQ(
        paths,
        (std::vector<std::string>{
            "backend-a", "backend-a>backend-b", "backend-a>backend-b", "backend-b",
            "backend-b"}));  // The streamed answers' rows hold the usage their streams reported.
    ASSERT_EQ(rows->size(), 5u);
    EXPECT_EQ(rows->at(2).provider, "backend-b");
    EXPECT_EQ(rows->at(2).status, 200);
    EXPECT_EQ(rows->at(2).prompt_tokens, usage["usage"]["prompt_tokens"].get<int64_t>());
    EXPECT_EQ(rows->at(2).completion_tokens, usage["usage"]["completion_tokens"].get<int64_t>());
    EXPECT_NEAR(rows->at(2).cost, usage["x_wick"]["cost"].get<double>(), 1e-12);
  }
}

}  // namespace
}  // namespace wick::testing
