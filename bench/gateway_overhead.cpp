// What wick's gateway adds end to end over HTTP: a mock OpenAI-compatible provider that answers
// at once and `wick serve --config` (in this process: the HTTP server, the router, one remote
// provider pointed at the mock, an API key with budgets and rate limits, global budgets, the
// response cache and the SQLite ledger), all on 127.0.0.1. The same requests go to the mock
// directly and through wick over keep-alive connections, and the difference is what the
// gateway costs a client:
//
//   sequential   one connection, one request at a time, direct and wick alternating
//   open loop    requests sent on a fixed schedule (--rate) from --connections connections;
//                latency counts from the scheduled send time, so a stalled server cannot hide
//                its backlog (no coordinated omission)
//   cache hit    the same temperature-0 request again and again: answered from wick's cache
//   stream       sequential, "stream": true, until "data: [DONE]"
//
// Every figure includes the load generator (cpp-httplib's client) on the same cores; it cancels
// out of the differences. Not a test: timings vary by machine. Exits 1 when a request failed.
//
//   build/release/bench/wick_gateway_overhead [--requests 2000] [--rate 1000] [--seconds 10]
//                                             [--connections 32] [--dir /dev/shm] [--json]
#include <fmt/format.h>
#include <httplib.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "api/openai_protocol.h"
#include "provider/clock.h"
#include "provider/config.h"
#include "provider/ledger.h"
#include "provider/remote_provider.h"
#include "provider/router.h"
#include "server/http_server.h"

namespace {

using namespace wick;
using Clock = std::chrono::steady_clock;
using Json = nlohmann::json;

constexpr const char* kModel = "mock-model";
constexpr const char* kKeyEnv = "WICK_BENCH_GATEWAY_KEY";
constexpr const char* kKeyValue = "sk-wick-gateway-bench";
constexpr int64_t kPromptTokens = 20;

struct Options {
  int requests = 2000;  // per path, sequential phases
  int warmup = 200;     // per path, before each sequential phase
  double rate = 1000;   // open loop, requests per second
  double seconds = 10;  // open loop, measured
  double warmup_seconds = 1;
  int connections = 32;  // open loop
  int tokens = 8;        // text chunks per answer
  bool stream = true;    // also the streamed phase
  bool json = false;
  std::string dir;  // for the SQLite ledger; empty: the system's temp directory
};

// ---------------------------------------------------------------------------------------------
// The mock provider: precomputed answers, so it costs as little as an HTTP server can.

class MockProvider {
 public:
  MockProvider(int tokens, int threads) : server_(std::make_unique<httplib::Server>()) {
    for (const api::Endpoint endpoint : {api::Endpoint::kChat, api::Endpoint::kCompletion}) {
      Answers& a = answers_[endpoint == api::Endpoint::kChat ? 0 : 1];
      api::ResponseMeta meta;
      meta.id = endpoint == api::Endpoint::kChat ? "chatcmpl-mock" : "cmpl-mock";
      meta.created = 1700000000;
      meta.model = kModel;
      const api::Usage usage{
          .prompt_tokens = kPromptTokens, .completion_tokens = tokens, .cached_tokens = 0};
      const std::string stop = "stop";
      api::ChoiceResult choice;
      for (int t = 0; t < tokens; ++t) choice.text += Token(t);
      choice.finish_reason = stop;
      a.whole = api::Dump(api::CompletionResponse(endpoint, meta, {choice}, usage));
      for (int t = 0; t < tokens; ++t) {
        a.events.push_back(api::SseEvent(
            api::StreamChunk(endpoint, meta, 0, t == 0, Token(t), nullptr, nullptr, true)));
      }
      a.events.push_back(
          api::SseEvent(api::StreamChunk(endpoint, meta, 0, false, "", &stop, nullptr, true)));
      a.events.push_back(api::SseEvent(api::UsageChunk(endpoint, meta, usage)));
      a.events.push_back("data: [DONE]\n\n");
    }
    server_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    // httplib holds a worker thread per connection and by default closes it after 5 requests
    // or 5 idle seconds; a provider keeps its connections, and reconnects would be measured.
    server_->set_keep_alive_max_count(1'000'000);
    server_->set_keep_alive_timeout(120);
    server_->set_tcp_nodelay(true);  // small SSE writes must not wait for an ACK
    server_->set_socket_options([this](socket_t sock) {
      httplib::default_socket_options(sock);
      listen_socket_ = sock;
    });
    server_->Post("/v1/chat/completions", [this](const httplib::Request& req,
                                                 httplib::Response& res) { Answer(0, req, res); });
    server_->Post("/v1/completions", [this](const httplib::Request& req, httplib::Response& res) {
      Answer(1, req, res);
    });
    server_->Get("/v1/models", [](const httplib::Request&, httplib::Response& res) {
      const Json models = {
          {"object", "list"},
          {"data", {{{"id", kModel}, {"object", "model"}, {"owned_by", "bench"}}}}};
      res.set_content(models.dump(), "application/json");
    });
    port_ = server_->bind_to_any_port("127.0.0.1");
    if (port_ <= 0) throw std::runtime_error("mock provider: cannot bind a port on 127.0.0.1");
    // httplib listens with a backlog of 5: a burst of new connections would wait for SYN
    // retransmits (a second each).
    if (listen_socket_ >= 0) ::listen(listen_socket_, SOMAXCONN);
    thread_ = std::thread([this] { server_->listen_after_bind(); });
    while (!server_->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~MockProvider() {
    server_->stop();
    thread_.join();
  }
  MockProvider(const MockProvider&) = delete;
  MockProvider& operator=(const MockProvider&) = delete;

  int port() const { return port_; }
  std::string endpoint() const { return fmt::format("http://127.0.0.1:{}/v1", port_); }

 private:
  struct Answers {
    std::string whole;                // non-streamed
    std::vector<std::string> events;  // streamed, one write each like a real provider
  };

  static std::string Token(int i) { return fmt::format(" word{}", i); }

  void Answer(int which, const httplib::Request& req, httplib::Response& res) const {
    const Json body = Json::parse(req.body, nullptr, false);
    if (!body.is_object()) {
      res.status = 400;
      res.set_content(R"({"error":{"message":"bad JSON","type":"invalid_request_error"}})",
                      "application/json");
      return;
    }
    const Answers& a = answers_[which];
    if (!body.value("stream", false)) {
      res.set_content(a.whole, "application/json");
      return;
    }
    res.set_chunked_content_provider("text/event-stream", [&a](size_t, httplib::DataSink& sink) {
      for (const std::string& e : a.events) {
        if (!sink.write(e.data(), e.size())) return false;
      }
      sink.done();
      return true;
    });
  }

  std::unique_ptr<httplib::Server> server_;
  Answers answers_[2];  // chat, completions
  int port_ = 0;
  int listen_socket_ = -1;
  std::thread thread_;
};

// ---------------------------------------------------------------------------------------------
// wick, as `wick serve --config` builds it with a remote-only config (src/cli/serve.cpp and
// BuildRouting in src/cli/routing.cpp, which live in the executable, not in a library).

std::string GatewayConfig(const std::string& mock_endpoint, const std::filesystem::path& dir) {
  // Limits far above what the benchmark sends: every check runs, none refuses.
  return fmt::format(R"(
[server]
api_key_env = ""

[[remote]]
name = "mock"
provider = "openai-compatible"
api_endpoint = "{}"
models = ["{}"]
context_length = 8192
price_input = 0.5
price_output = 1.5
rate_limit = 100000000
token_rate_limit = 1000000000

[fallback]
tiers = ["mock"]
cost_threshold = 1.0
daily_budget = 1000000.0
monthly_budget = 10000000.0

[performance]
cache_enabled = true

[[keys]]
name = "bench"
key_env = "{}"
daily_budget = 1000000.0
monthly_budget = 10000000.0
rate_limit = 100000000
token_rate_limit = 1000000000

[ledger]
path = "{}"
)",
                     mock_endpoint, kModel, kKeyEnv, (dir / "usage.db").string());
}

class Gateway {
 public:
  static Result<std::unique_ptr<Gateway>> Start(const std::string& mock_endpoint,
                                                const std::filesystem::path& dir,
                                                int http_threads) {
    auto g = std::unique_ptr<Gateway>(new Gateway());
    WICK_ASSIGN_OR_RETURN(g->config_, provider::ParseConfig(GatewayConfig(mock_endpoint, dir),
                                                            "gateway_overhead.toml"));
    for (const std::string& w : provider::ConfigWarnings(g->config_)) {
      fmt::print(stderr, "warning: {}\n", w);
    }
    std::vector<std::unique_ptr<provider::Provider>> providers;
    for (const provider::RemoteConfig& r : g->config_.remotes) {
      WICK_ASSIGN_OR_RETURN(std::unique_ptr<provider::RemoteProvider> p,
                            provider::RemoteProvider::Create(provider::RemoteOptionsFrom(r)));
      providers.push_back(std::move(p));
    }
    WICK_ASSIGN_OR_RETURN(g->ledger_, provider::OpenLedger(g->config_.ledger));
    g->router_ = std::make_unique<provider::Router>(g->config_, std::move(providers),
                                                    g->ledger_.get(), g->clock_);
    g->http_ = std::make_unique<server::HttpServer>(
        server::ServerOptions{.host = "127.0.0.1",
                              .port = 0,
                              .api_key = "",
                              .http_threads = http_threads,
                              .probe_interval = std::chrono::milliseconds(100)});
    if (Status st = g->http_->Bind(); !st.ok()) return st.error();
    g->serving_ = std::thread([gw = g.get()] { gw->http_->Run(); });
    server::ServedModel served;  // remote only: no engine, as in `wick serve --config`
    served.created = 1700000000;
    g->http_->SetRouter(g->router_.get(), served);
    return g;
  }

  ~Gateway() {
    if (http_) http_->Stop();
    if (serving_.joinable()) serving_.join();
  }
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  int port() const { return http_->port(); }
  provider::Ledger& ledger() { return *ledger_; }

 private:
  Gateway() = default;

  // In destruction order, last first: the server stops before the router it calls.
  provider::Config config_;
  provider::SystemClock clock_;
  std::unique_ptr<provider::Ledger> ledger_;
  std::unique_ptr<provider::Router> router_;
  std::unique_ptr<server::HttpServer> http_;
  std::thread serving_;
};

// ---------------------------------------------------------------------------------------------
// The load generator.

struct Target {
  std::string name;  // "direct" or "wick"
  int port = 0;
  httplib::Headers headers;
  bool gateway = false;  // answers carry X-Wick-Cache
};

std::unique_ptr<httplib::Client> Connect(const Target& target) {
  auto client = std::make_unique<httplib::Client>("127.0.0.1", target.port);
  client->set_keep_alive(true);
  client->set_tcp_nodelay(true);
  client->set_read_timeout(std::chrono::seconds(30));
  return client;
}

std::string ChatBody(int64_t n, double temperature, bool stream) {
  return fmt::format(
      R"({{"model":"{}","messages":[{{"role":"user","content":"question number {} about the weather"}}],"max_tokens":16,"temperature":{},"stream":{}{}}})",
      kModel, n, temperature, stream ? "true" : "false",
      stream ? R"(,"stream_options":{"include_usage":true})" : "");
}

enum class Expect { kAnswer, kCacheHit };

// Sends one chat request; returns what was wrong with the answer, "" when nothing was.
std::string Call(httplib::Client& client, const Target& target, const std::string& body,
                 bool stream, Expect expect) {
  httplib::Result res =
      client.Post("/v1/chat/completions", target.headers, body, "application/json");
  if (!res) return "no response: " + httplib::to_string(res.error());
  if (res->status != 200) {
    return fmt::format("HTTP {}: {}", res->status, res->body.substr(0, res->body.find('\n')));
  }
  const bool complete = stream ? res->body.ends_with("data: [DONE]\n\n")
                               : res->body.find("\"choices\"") != std::string::npos;
  if (!complete) return stream ? "stream without data: [DONE]" : "body without choices";
  if (expect == Expect::kCacheHit && target.gateway) {
    const std::string cache = res->get_header_value("X-Wick-Cache");
    if (cache != "hit") return fmt::format("not a cache hit (X-Wick-Cache: {})", cache);
  }
  return {};
}

struct Stats {
  size_t count = 0;
  double p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0, mean = 0;  // µs
};

Stats Summarize(std::vector<double> us) {
  Stats s;
  s.count = us.size();
  if (us.empty()) return s;
  std::sort(us.begin(), us.end());
  // Nearest rank: the smallest value with at least q of the samples at or below it.
  auto rank = [&](double q) {
    const auto i = static_cast<size_t>(std::ceil(q * static_cast<double>(us.size())));
    return us[std::clamp<size_t>(i, 1, us.size()) - 1];
  };
  s.p50 = rank(0.50);
  s.p90 = rank(0.90);
  s.p99 = rank(0.99);
  s.p999 = rank(0.999);
  s.max = us.back();
  double sum = 0;
  for (double v : us) sum += v;
  s.mean = sum / static_cast<double>(us.size());
  return s;
}

// One path's samples in one phase.
struct Measurement {
  std::vector<double> us;             // latency of each good answer
  std::vector<double> lag_us;         // open loop: how late each request left after its schedule
  std::map<std::string, int> errors;  // what went wrong -> how often
  int error_count = 0;
  double achieved_rate = 0;       // open loop: answers per second
  double cpu_us_per_request = 0;  // open loop: process CPU time / requests sent

  void Fail(const std::string& what) {
    ++errors[what];
    ++error_count;
  }
  void Merge(const Measurement& other) {
    us.insert(us.end(), other.us.begin(), other.us.end());
    lag_us.insert(lag_us.end(), other.lag_us.begin(), other.lag_us.end());
    for (const auto& [what, n] : other.errors) errors[what] += n;
    error_count += other.error_count;
  }
};

double Micros(Clock::duration d) {
  return std::chrono::duration<double, std::micro>(d).count();
}

// CPU time of the whole process so far (every thread: load generator, mock and wick), µs.
double ProcessCpuMicros() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto us = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) * 1e6 + static_cast<double>(t.tv_usec);
  };
  return us(usage.ru_utime) + us(usage.ru_stime);
}

// One request at a time per target over one connection each, the targets taking turns, so that
// drift (CPU frequency, other processes, the ledger growing) falls on all of them alike.
std::vector<Measurement> Sequential(const std::vector<Target>& targets, int warmup, int requests,
                                    const std::function<std::string(int)>& body, bool stream,
                                    Expect expect) {
  std::vector<std::unique_ptr<httplib::Client>> clients;
  for (const Target& t : targets) clients.push_back(Connect(t));
  std::vector<Measurement> out(targets.size());
  for (int i = -warmup; i < requests; ++i) {
    const std::string b = body(i);
    for (size_t t = 0; t < targets.size(); ++t) {
      const Clock::time_point start = Clock::now();
      const std::string error = Call(*clients[t], targets[t], b, stream, expect);
      const double us = Micros(Clock::now() - start);
      if (i < 0) continue;
      if (error.empty()) {
        out[t].us.push_back(us);
      } else {
        out[t].Fail(error);
      }
    }
  }
  return out;
}

// Requests leave on a fixed schedule, request i at start + i / rate, whatever the answers do;
// a pool of connections takes them in order. Latency counts from the scheduled time, so time
// spent waiting for a free connection (the server falling behind) is part of it.
Measurement OpenLoop(const Target& target, const Options& opts, uint64_t first_id) {
  const auto period = std::chrono::duration<double>(1.0 / opts.rate);
  const auto warmup_n = static_cast<int64_t>(opts.warmup_seconds * opts.rate);
  const int64_t total = warmup_n + static_cast<int64_t>(opts.seconds * opts.rate);
  std::atomic<int64_t> next{0};
  std::vector<Measurement> parts(static_cast<size_t>(opts.connections));
  std::vector<Clock::time_point> last_done(parts.size());
  std::vector<std::unique_ptr<httplib::Client>> clients;
  for (int c = 0; c < opts.connections; ++c) clients.push_back(Connect(target));
  const Clock::time_point start = Clock::now() + std::chrono::milliseconds(50);
  auto at = [&](int64_t i) {
    return start + std::chrono::duration_cast<Clock::duration>(period * static_cast<double>(i));
  };

  const double cpu_before = ProcessCpuMicros();
  std::vector<std::thread> workers;
  for (int c = 0; c < opts.connections; ++c) {
    workers.emplace_back([&, c] {
      // The default 50 µs of timer slack would make every send that much late.
      prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
      Measurement& m = parts[static_cast<size_t>(c)];
      for (int64_t i = next.fetch_add(1); i < total; i = next.fetch_add(1)) {
        const Clock::time_point scheduled = at(i);
        std::this_thread::sleep_until(scheduled);
        const Clock::time_point sent = Clock::now();
        const std::string error =
            Call(*clients[static_cast<size_t>(c)], target,
                 ChatBody(static_cast<int64_t>(first_id) + i, 0.7, false), false, Expect::kAnswer);
        const Clock::time_point done = Clock::now();
        if (i < warmup_n) continue;
        last_done[static_cast<size_t>(c)] = std::max(last_done[static_cast<size_t>(c)], done);
        if (error.empty()) {
          m.us.push_back(Micros(done - scheduled));
          m.lag_us.push_back(Micros(sent - scheduled));
        } else {
          m.Fail(error);
        }
      }
    });
  }
  for (std::thread& w : workers) w.join();
  Measurement all;
  all.cpu_us_per_request = (ProcessCpuMicros() - cpu_before) / static_cast<double>(total);
  for (const Measurement& m : parts) all.Merge(m);
  const Clock::time_point end = *std::max_element(last_done.begin(), last_done.end());
  const double span = std::chrono::duration<double>(end - at(warmup_n)).count();
  if (span > 0) all.achieved_rate = static_cast<double>(all.us.size()) / span;
  return all;
}

// ---------------------------------------------------------------------------------------------
// Reporting.

struct Row {
  std::string phase;
  std::string path;
  Stats stats;
  int errors = 0;
  bool difference = false;   // "wick adds": wick's statistic minus direct's
  double achieved_rate = 0;  // open loop only
  double cpu_us = 0;         // open loop only: process CPU per request
  Stats lag;                 // open loop only: send time minus scheduled time
};

Row MakeRow(std::string phase, std::string path, const Measurement& m) {
  return {.phase = std::move(phase),
          .path = std::move(path),
          .stats = Summarize(m.us),
          .errors = m.error_count,
          .difference = false,
          .achieved_rate = m.achieved_rate,
          .cpu_us = m.cpu_us_per_request,
          .lag = Summarize(m.lag_us)};
}

// Quantile by quantile; the maxima are single samples, their difference means nothing.
Row Difference(const Row& wick, const Row& direct) {
  Row d{.phase = wick.phase,
        .path = "wick adds",
        .stats = {},
        .errors = 0,
        .difference = true,
        .achieved_rate = 0,
        .cpu_us = wick.cpu_us - direct.cpu_us,
        .lag = {}};
  d.stats.count = wick.stats.count;
  d.stats.p50 = wick.stats.p50 - direct.stats.p50;
  d.stats.p90 = wick.stats.p90 - direct.stats.p90;
  d.stats.p99 = wick.stats.p99 - direct.stats.p99;
  d.stats.p999 = wick.stats.p999 - direct.stats.p999;
  d.stats.mean = wick.stats.mean - direct.stats.mean;
  return d;
}

void PrintTable(const std::vector<Row>& rows) {
  fmt::print(
      "| phase | path | answers | errors | p50 µs | p90 µs | p99 µs | p99.9 µs | max µs | "
      "mean µs | CPU µs/req |\n"
      "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
  for (const Row& r : rows) {
    const Stats& s = r.stats;
    std::string path = r.path;
    if (r.achieved_rate > 0) path += fmt::format(" ({:.0f}/s)", r.achieved_rate);
    const std::string max = r.difference ? "" : fmt::format("{:.0f}", s.max);
    const std::string cpu = r.cpu_us != 0 ? fmt::format("{:.0f}", r.cpu_us) : "";
    fmt::print("| {} | {} | {} | {} | {:.0f} | {:.0f} | {:.0f} | {:.0f} | {} | {:.0f} | {} |\n",
               r.phase, path, s.count, r.errors, s.p50, s.p90, s.p99, s.p999, max, s.mean, cpu);
  }
}

void PrintJson(const std::vector<Row>& rows) {
  for (const Row& r : rows) {
    Json line = {{"phase", r.phase},      {"path", r.path},          {"answers", r.stats.count},
                 {"errors", r.errors},    {"p50_us", r.stats.p50},   {"p90_us", r.stats.p90},
                 {"p99_us", r.stats.p99}, {"p999_us", r.stats.p999}, {"mean_us", r.stats.mean}};
    if (!r.difference) line["max_us"] = r.stats.max;
    if (r.cpu_us != 0) line["cpu_us_per_request"] = r.cpu_us;
    if (r.achieved_rate > 0) {
      line["achieved_rate"] = r.achieved_rate;
      line["send_lag_p50_us"] = r.lag.p50;
      line["send_lag_p99_us"] = r.lag.p99;
    }
    fmt::print("{}\n", line.dump());
  }
}

int Run(const Options& opts) {
  std::signal(SIGPIPE, SIG_IGN);
  setenv(kKeyEnv, kKeyValue, 1);
  const std::filesystem::path dir = (opts.dir.empty() ? std::filesystem::temp_directory_path()
                                                      : std::filesystem::path(opts.dir)) /
                                    fmt::format("wick-gateway-bench-{}", getpid());
  std::filesystem::create_directories(dir);
  struct RemoveDir {
    std::filesystem::path dir;
    ~RemoveDir() {
      std::error_code ignored;
      std::filesystem::remove_all(dir, ignored);
    }
  } remove_dir{dir};

  // Threads: httplib keeps one per open connection; both sides of each phase stay connected.
  const int server_threads = 2 * opts.connections + 16;
  MockProvider mock(opts.tokens, server_threads);
  Result<std::unique_ptr<Gateway>> gateway = Gateway::Start(mock.endpoint(), dir, server_threads);
  if (!gateway.ok()) {
    fmt::print(stderr, "wick: {}\n", gateway.error().message());
    return 1;
  }
  const Target direct{.name = "direct", .port = mock.port(), .headers = {}, .gateway = false};
  const Target wick{.name = "wick",
                    .port = (*gateway)->port(),
                    .headers = {{"Authorization", fmt::format("Bearer {}", kKeyValue)}},
                    .gateway = true};
  // Fail fast, with the reason, when the setup itself is broken.
  for (const Target& t : {direct, wick}) {
    auto client = Connect(t);
    const std::string error = Call(*client, t, ChatBody(-1, 0.7, false), false, Expect::kAnswer);
    if (!error.empty()) {
      fmt::print(stderr, "{}: {}\n", t.name, error);
      return 1;
    }
  }

  const unsigned cores = std::thread::hardware_concurrency();
  if (!opts.json) {
    fmt::print(
        "mock provider and wick (router: key budgets and rate limits, global budgets, cache, "
        "SQLite ledger) on 127.0.0.1, {} cores, load generator in the same process\n",
        cores);
  }
  std::vector<Row> rows;
  std::map<std::string, std::map<std::string, int>> errors;  // "phase path" -> what -> count
  auto add = [&](const std::string& phase, const Target& t, const Measurement& m) {
    rows.push_back(MakeRow(phase, t.name, m));
    for (const auto& [what, n] : m.errors) errors[phase + " " + t.name][what] += n;
  };
  const std::vector<Target> both = {direct, wick};

  // (a) One request at a time, temperature 0.7: never cached, always a provider call.
  std::vector<Measurement> seq = Sequential(
      both, opts.warmup, opts.requests, [](int i) { return ChatBody(i, 0.7, false); }, false,
      Expect::kAnswer);
  add("sequential", direct, seq[0]);
  add("sequential", wick, seq[1]);
  rows.push_back(Difference(rows[1], rows[0]));

  // (b) Open loop at a fixed rate, direct first, then through wick.
  const std::string open = fmt::format("open loop {:.0f}/s", opts.rate);
  const Measurement open_direct = OpenLoop(direct, opts, 1'000'000);
  const Measurement open_wick = OpenLoop(wick, opts, 2'000'000);
  add(open, direct, open_direct);
  add(open, wick, open_wick);
  rows.push_back(Difference(rows[rows.size() - 1], rows[rows.size() - 2]));

  // (c) The same temperature-0 request again and again: wick answers from its cache (filled
  // here first); the mock answering the same body directly is the yardstick.
  {
    auto client = Connect(wick);
    const std::string error = Call(*client, wick, ChatBody(0, 0.0, false), false, Expect::kAnswer);
    if (!error.empty()) fmt::print(stderr, "filling the cache: {}\n", error);
  }
  std::vector<Measurement> hits = Sequential(
      both, opts.warmup, opts.requests, [](int) { return ChatBody(0, 0.0, false); }, false,
      Expect::kCacheHit);
  add("cache hit", direct, hits[0]);
  add("cache hit", wick, hits[1]);
  rows.push_back(Difference(rows[rows.size() - 1], rows[rows.size() - 2]));

  // (d) Streamed, until data: [DONE]; wick relays each chunk as it arrives from the mock.
  if (opts.stream) {
    std::vector<Measurement> streamed = Sequential(
        both, opts.warmup, opts.requests, [](int i) { return ChatBody(3'000'000 + i, 0.7, true); },
        true, Expect::kAnswer);
    add("stream", direct, streamed[0]);
    add("stream", wick, streamed[1]);
    rows.push_back(Difference(rows[rows.size() - 1], rows[rows.size() - 2]));
  }

  // The ledger saw every request through wick (a check that it was on, not a timing).
  int64_t ledger_rows = 0;
  if (auto report = (*gateway)->ledger().Report(std::chrono::system_clock::time_point{},
                                                provider::GroupBy::kKey);
      report.ok()) {
    for (const provider::UsageRow& r : *report) ledger_rows += r.requests;
  }

  int total_errors = 0;
  for (const Row& r : rows) total_errors += r.errors;
  if (opts.json) {
    PrintJson(rows);
    fmt::print(
        "{}\n",
        Json{{"cores", cores}, {"ledger_rows", ledger_rows}, {"errors", total_errors}}.dump());
  } else {
    PrintTable(rows);
    fmt::print("ledger rows written: {}\n", ledger_rows);
    for (const Row& r : rows) {
      if (r.achieved_rate > 0) {
        fmt::print("{} {}: sends left p50 {:.0f} µs, p99 {:.0f} µs after their schedule\n", r.phase,
                   r.path, r.lag.p50, r.lag.p99);
      }
    }
  }
  if (total_errors > 0) {
    fmt::print(stderr, "{} requests failed; figures above leave them out:\n", total_errors);
    for (const auto& [where, whats] : errors) {
      for (const auto& [what, n] : whats) fmt::print(stderr, "  {}: {} x {}\n", where, n, what);
    }
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options opts;
  CLI::App app("What wick's gateway adds end to end over HTTP, against a mock provider");
  app.add_option("--requests", opts.requests, "Requests per path in each sequential phase")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--warmup", opts.warmup, "Unmeasured requests per path before each phase")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--rate", opts.rate, "Open loop: requests per second")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--seconds", opts.seconds, "Open loop: seconds measured per path")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--warmup-seconds", opts.warmup_seconds, "Open loop: unmeasured seconds first")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--connections", opts.connections, "Open loop: keep-alive connections")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  app.add_option("--tokens", opts.tokens, "Text chunks in each mock answer")
      ->capture_default_str()
      ->check(CLI::Range(1, 4096));
  app.add_flag("!--no-stream", opts.stream, "Leave out the streamed phase");
  app.add_flag("--json", opts.json, "JSON lines instead of the table");
  app.add_option("--dir", opts.dir,
                 "Where the SQLite ledger goes (default: the temp directory; /dev/shm leaves out "
                 "the disk's syncs)");
  CLI11_PARSE(app, argc, argv);
  return Run(opts);
}
