// Load on an OpenAI-compatible server (`wick serve`, llama-server, vLLM): for each client count,
// that many keep-alive connections send streaming greedy requests back to back, and the table
// shows throughput (requests/s, output tokens/s) and latency (time to first token, time between
// tokens) as the client sees them.
//
//   build/release/bench/wick_serve_load --url http://127.0.0.1:8080 --clients 1,8,32
#include <fmt/format.h>
#include <httplib.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using Json = nlohmann::json;

constexpr size_t kMaxErrorBody = 2048;

struct Options {
  std::string url;
  std::vector<int> clients{1, 8, 32};
  int requests = 0;  // per client count; 0: 4 x clients
  int max_tokens = 128;
  std::string prompt =
      "Write a long story about a lighthouse keeper who finds a message in a bottle.";
  std::string prompt_file;
  std::string endpoint = "chat";
  std::string model;
  double temperature = 0;
  int warmup = 1;
  bool json = false;
  int timeout = 120;
  std::string api_key;
  // A new connection per request: for servers whose keep-alive the client cannot rely on (a
  // llama-server build closes streamed connections that it announced as kept alive).
  bool no_keep_alive = false;
};

// httplib wants "scheme://host:port"; whatever path follows in --url prefixes every route, so
// a server behind a reverse proxy at /llm/ can be measured too.
struct Target {
  std::string origin;
  std::string prefix;
};

std::optional<Target> ParseUrl(const std::string& url) {
  static const std::regex re(R"(^(https?://[^/?#]+)(/[^?#]*)?$)", std::regex::icase);
  std::smatch m;
  if (!std::regex_match(url, m, re)) return std::nullopt;
  Target t{m[1].str(), m[2].str()};
  while (!t.prefix.empty() && t.prefix.back() == '/') t.prefix.pop_back();
  return t;
}

std::string FirstLine(std::string_view s, size_t max = 300) {
  s = s.substr(0, std::min(s.find('\n'), max));
  return std::string(s);
}

// text/event-stream, decoded as bytes arrive: a read may end anywhere, even inside a line or
// a UTF-8 sequence, so only complete lines are interpreted and the rest waits for the next
// read.
class SseDecoder {
 public:
  using OnEvent = std::function<bool(std::string_view data)>;

  // False when on_event asked to stop.
  bool Feed(std::string_view bytes, const OnEvent& on_event) {
    buf_.append(bytes);
    size_t begin = 0;
    bool keep_going = true;
    for (size_t nl; keep_going && (nl = buf_.find('\n', begin)) != std::string::npos;) {
      std::string_view line(buf_.data() + begin, nl - begin);
      begin = nl + 1;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      keep_going = Line(line, on_event);
    }
    buf_.erase(0, begin);
    return keep_going;
  }

  // A server that closes the stream right after its last data line, without the blank line,
  // still delivered that event.
  bool Finish(const OnEvent& on_event) {
    if (!buf_.empty()) {
      std::string rest = std::move(buf_);
      buf_.clear();
      if (!rest.empty() && rest.back() == '\r') rest.pop_back();
      if (!Line(rest, on_event)) return false;
    }
    return Line("", on_event);
  }

 private:
  bool Line(std::string_view line, const OnEvent& on_event) {
    if (line.empty()) {
      if (!has_data_) return true;
      has_data_ = false;
      std::string data = std::move(data_);
      data_.clear();
      return on_event(data);
    }
    if (line.front() == ':') return true;  // comment, e.g. a keep-alive ping
    const size_t colon = line.find(':');
    const std::string_view field = line.substr(0, colon);
    std::string_view value = colon == std::string_view::npos ? "" : line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    // event:, id: and retry: carry nothing an OpenAI stream uses.
    if (field != "data") return true;
    if (has_data_) data_ += '\n';
    data_ += value;
    has_data_ = true;
    return true;
  }

  std::string buf_;
  std::string data_;
  bool has_data_ = false;
};

struct RequestSpec {
  std::string path;
  std::string body;
  httplib::Headers headers;
  bool chat = true;
};

struct RequestResult {
  bool ok = false;
  std::string error;
  std::optional<double> ttft_ms;  // none when no chunk carried text
  std::vector<double> itl_ms;
  double total_ms = 0;
  int64_t output_tokens = 0;
  std::optional<double> decode_tps;
};

double Ms(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

// The text a chunk adds: delta.content for chat, text for completions; null and absent count
// as empty (the role-only first chunk and the usage chunk carry none).
bool HasContent(const Json& chunk, bool chat) {
  const auto choices = chunk.find("choices");
  if (choices == chunk.end() || !choices->is_array()) return false;
  for (const Json& c : *choices) {
    const Json* text = nullptr;
    if (chat) {
      const auto delta = c.find("delta");
      if (delta == c.end() || !delta->is_object()) continue;
      const auto content = delta->find("content");
      if (content != delta->end()) text = &*content;
    } else {
      const auto t = c.find("text");
      if (t != c.end()) text = &*t;
    }
    if (text != nullptr && text->is_string() && !text->get_ref<const std::string&>().empty()) {
      return true;
    }
  }
  return false;
}

RequestResult RunOne(httplib::Client& client, const RequestSpec& spec) {
  RequestResult r;
  int status = 0;
  std::string error_body;
  std::string stream_error;
  bool done = false;
  int64_t content_chunks = 0;
  std::optional<int64_t> usage_tokens;
  Clock::time_point first, last;
  SseDecoder sse;

  // Every event decoded from one read gets that read's time: what a client sees, so chunks a
  // server (or the network) coalesces count as 0 ms apart.
  Clock::time_point now;
  const SseDecoder::OnEvent on_event = [&](std::string_view data) {
    if (data == "[DONE]") {
      done = true;
      return true;
    }
    Json chunk = Json::parse(data, nullptr, false);
    if (chunk.is_discarded() || !chunk.is_object()) {
      stream_error = "not JSON in the stream: " + FirstLine(data);
      return false;
    }
    if (const auto err = chunk.find("error"); err != chunk.end()) {
      stream_error = "error in the stream: " + FirstLine(err->dump());
      return false;
    }
    if (HasContent(chunk, spec.chat)) {
      if (content_chunks == 0) {
        first = now;
      } else {
        r.itl_ms.push_back(Ms(now - last));
      }
      last = now;
      ++content_chunks;
    }
    const auto usage = chunk.find("usage");
    if (usage != chunk.end() && usage->is_object()) {
      const auto ct = usage->find("completion_tokens");
      if (ct != usage->end() && ct->is_number_integer()) usage_tokens = ct->get<int64_t>();
    }
    return true;
  };

  httplib::Request req;
  req.method = "POST";
  req.path = spec.path;
  req.headers = spec.headers;
  req.body = spec.body;
  req.response_handler = [&](const httplib::Response& res) {
    status = res.status;
    return true;
  };
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    if (status != 200) {
      error_body.append(data,
                        std::min(n, kMaxErrorBody - std::min(kMaxErrorBody, error_body.size())));
      return true;
    }
    now = Clock::now();
    return sse.Feed({data, n}, on_event);
  };

  const Clock::time_point t0 = Clock::now();
  httplib::Result res = client.send(req);
  const Clock::time_point end = Clock::now();
  r.total_ms = Ms(end - t0);

  if (!res) {
    if (!stream_error.empty()) {
      r.error = stream_error;
    } else {
      r.error = fmt::format("request failed: {}", httplib::to_string(res.error()));
    }
    return r;
  }
  if (status != 200) {
    r.error = fmt::format("HTTP {}: {}", status, error_body);
    return r;
  }
  now = end;
  if (stream_error.empty()) sse.Finish(on_event);
  if (!stream_error.empty()) {
    r.error = stream_error;
    return r;
  }
  if (!done) {
    r.error = "the stream ended without data: [DONE]";
    return r;
  }
  r.ok = true;
  r.output_tokens = usage_tokens.value_or(content_chunks);
  if (content_chunks > 0) r.ttft_ms = Ms(first - t0);
  if (r.output_tokens > 1 && last > first) {
    r.decode_tps = static_cast<double>(r.output_tokens - 1) /
                   std::chrono::duration<double>(last - first).count();
  }
  return r;
}

std::unique_ptr<httplib::Client> MakeClient(const Target& target, const Options& opts) {
  auto client = std::make_unique<httplib::Client>(target.origin);
  client->set_keep_alive(!opts.no_keep_alive);
  // httplib writes headers and body separately; with Nagle the body waits for the server's
  // delayed ACK (40 ms on Linux), which would land in every TTFT.
  client->set_tcp_nodelay(true);
  client->set_connection_timeout(std::min(opts.timeout, 10), 0);
  client->set_read_timeout(opts.timeout, 0);
  client->set_write_timeout(opts.timeout, 0);
  return client;
}

struct BatchResult {
  std::vector<RequestResult> requests;
  double wall_s = 0;
};

// `clients` threads, one connection each, take requests from a shared counter until `n`
// have been sent.
BatchResult RunBatch(const Target& target, const Options& opts, const RequestSpec& spec,
                     int clients, int n) {
  std::vector<std::unique_ptr<httplib::Client>> conns;
  conns.reserve(static_cast<size_t>(clients));
  for (int i = 0; i < clients; ++i) conns.push_back(MakeClient(target, opts));
  std::vector<std::vector<RequestResult>> per_thread(static_cast<size_t>(clients));
  std::atomic<int> next{0};
  std::vector<std::thread> threads;
  threads.reserve(static_cast<size_t>(clients));
  const Clock::time_point start = Clock::now();
  for (int t = 0; t < clients; ++t) {
    threads.emplace_back([&, t] {
      const auto i = static_cast<size_t>(t);
      while (next.fetch_add(1) < n) per_thread[i].push_back(RunOne(*conns[i], spec));
    });
  }
  for (std::thread& t : threads) t.join();
  BatchResult b;
  b.wall_s = std::chrono::duration<double>(Clock::now() - start).count();
  for (auto& v : per_thread) {
    for (RequestResult& r : v) b.requests.push_back(std::move(r));
  }
  return b;
}

// Nearest rank: the smallest sample with at least p% of the samples at or below it.
std::optional<double> Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return std::nullopt;
  const auto n = static_cast<double>(sorted.size());
  const auto rank = static_cast<size_t>(std::max(1.0, std::ceil(p / 100.0 * n)));
  return sorted[std::min(rank, sorted.size()) - 1];
}

struct Summary {
  int clients = 0;
  int requests = 0;
  int errors = 0;
  double wall_s = 0;
  double requests_per_s = 0;
  int64_t output_tokens = 0;
  double output_tokens_per_s = 0;
  std::optional<double> decode_tps_mean;
  std::optional<double> ttft_p50, ttft_p90, ttft_p99, itl_p50, itl_p99, latency_p50, latency_p99;
  std::string first_error;
};

Summary Summarize(int clients, const BatchResult& b) {
  Summary s;
  s.clients = clients;
  s.requests = static_cast<int>(b.requests.size());
  s.wall_s = b.wall_s;
  std::vector<double> ttft, itl, latency;
  double tps_sum = 0;
  int tps_n = 0, ok = 0;
  for (const RequestResult& r : b.requests) {
    if (!r.ok) {
      if (s.errors++ == 0) s.first_error = r.error;
      continue;
    }
    ++ok;
    s.output_tokens += r.output_tokens;
    if (r.ttft_ms) ttft.push_back(*r.ttft_ms);
    latency.push_back(r.total_ms);
    itl.insert(itl.end(), r.itl_ms.begin(), r.itl_ms.end());
    if (r.decode_tps) tps_sum += *r.decode_tps, ++tps_n;
  }
  std::sort(ttft.begin(), ttft.end());
  std::sort(itl.begin(), itl.end());
  std::sort(latency.begin(), latency.end());
  if (b.wall_s > 0) {
    s.requests_per_s = ok / b.wall_s;
    s.output_tokens_per_s = static_cast<double>(s.output_tokens) / b.wall_s;
  }
  if (tps_n > 0) s.decode_tps_mean = tps_sum / tps_n;
  s.ttft_p50 = Percentile(ttft, 50);
  s.ttft_p90 = Percentile(ttft, 90);
  s.ttft_p99 = Percentile(ttft, 99);
  s.itl_p50 = Percentile(itl, 50);
  s.itl_p99 = Percentile(itl, 99);
  s.latency_p50 = Percentile(latency, 50);
  s.latency_p99 = Percentile(latency, 99);
  return s;
}

Json OrNull(const std::optional<double>& v) {
  return v ? Json(*v) : Json(nullptr);
}

std::string Cell(const std::optional<double>& v, int decimals) {
  return v ? fmt::format("{:.{}f}", *v, decimals) : "-";
}

void PrintTable(const std::vector<Summary>& rows) {
  const std::vector<std::string> head = {"clients",     "requests",    "errors",     "wall s",
                                         "req/s",       "out tok/s",   "tok/s/req",  "TTFT p50 ms",
                                         "TTFT p90 ms", "TTFT p99 ms", "ITL p50 ms", "ITL p99 ms"};
  std::string line = "|", rule = "|";
  for (const std::string& h : head) {
    line += fmt::format(" {} |", h);
    rule += fmt::format(" {}: |", std::string(h.size() - 1, '-'));
  }
  std::printf("%s\n%s\n", line.c_str(), rule.c_str());
  for (const Summary& s : rows) {
    const std::vector<std::string> cells = {std::to_string(s.clients),
                                            std::to_string(s.requests),
                                            std::to_string(s.errors),
                                            fmt::format("{:.2f}", s.wall_s),
                                            fmt::format("{:.2f}", s.requests_per_s),
                                            fmt::format("{:.1f}", s.output_tokens_per_s),
                                            Cell(s.decode_tps_mean, 1),
                                            Cell(s.ttft_p50, 1),
                                            Cell(s.ttft_p90, 1),
                                            Cell(s.ttft_p99, 1),
                                            Cell(s.itl_p50, 2),
                                            Cell(s.itl_p99, 2)};
    std::string row = "|";
    for (size_t i = 0; i < cells.size(); ++i) {
      row += fmt::format(" {:>{}} |", cells[i], head[i].size());
    }
    std::printf("%s\n", row.c_str());
  }
}

Json ToJson(const Summary& s, const Options& opts) {
  return {{"clients", s.clients},
          {"requests", s.requests},
          {"errors", s.errors},
          {"wall_s", s.wall_s},
          {"requests_per_s", s.requests_per_s},
          {"output_tokens", s.output_tokens},
          {"output_tokens_per_s", s.output_tokens_per_s},
          {"decode_tokens_per_s_mean", OrNull(s.decode_tps_mean)},
          {"ttft_ms_p50", OrNull(s.ttft_p50)},
          {"ttft_ms_p90", OrNull(s.ttft_p90)},
          {"ttft_ms_p99", OrNull(s.ttft_p99)},
          {"itl_ms_p50", OrNull(s.itl_p50)},
          {"itl_ms_p99", OrNull(s.itl_p99)},
          {"latency_ms_p50", OrNull(s.latency_p50)},
          {"latency_ms_p99", OrNull(s.latency_p99)},
          {"endpoint", opts.endpoint},
          {"model", opts.model},
          {"max_tokens", opts.max_tokens}};
}

int Fail(const std::string& message) {
  std::fprintf(stderr, "wick_serve_load: error: %s\n", message.c_str());
  return 1;
}

// The server answers before anything is timed, and names the model when --model is not given.
std::optional<std::string> Probe(const Target& target, Options& opts,
                                 const httplib::Headers& headers) {
  auto client = MakeClient(target, opts);
  httplib::Result res = client->Get(target.prefix + "/v1/models", headers);
  if (!res) {
    return fmt::format("cannot reach the server at {} (httplib error: {}); is it running?",
                       opts.url, httplib::to_string(res.error()));
  }
  if (res->status != 200) {
    std::fprintf(stderr, "wick_serve_load: warning: GET /v1/models answered HTTP %d\n",
                 res->status);
    return std::nullopt;
  }
  if (opts.model.empty()) {
    const Json j = Json::parse(res->body, nullptr, false);
    if (j.is_object() && j.contains("data") && j["data"].is_array() && !j["data"].empty() &&
        j["data"][0].contains("id") && j["data"][0]["id"].is_string()) {
      opts.model = j["data"][0]["id"].get<std::string>();
    }
  }
  return std::nullopt;
}

RequestSpec MakeSpec(const Target& target, const Options& opts, const httplib::Headers& headers) {
  RequestSpec spec;
  spec.chat = opts.endpoint == "chat";
  spec.path = target.prefix + (spec.chat ? "/v1/chat/completions" : "/v1/completions");
  spec.headers = headers;
  spec.headers.emplace("Content-Type", "application/json");
  spec.headers.emplace("Accept", "text/event-stream");
  Json body = {{"max_tokens", opts.max_tokens},
               {"temperature", opts.temperature},
               {"stream", true},
               {"stream_options", {{"include_usage", true}}},
               // Every request generates max_tokens, so runs compare like with like.
               {"ignore_eos", true}};
  if (!opts.model.empty()) body["model"] = opts.model;
  if (spec.chat) {
    body["messages"] = Json::array({{{"role", "user"}, {"content", opts.prompt}}});
  } else {
    body["prompt"] = opts.prompt;
  }
  spec.body = body.dump();
  return spec;
}

int Run(Options& opts) {
  const std::optional<Target> target = ParseUrl(opts.url);
  if (!target) return Fail(fmt::format("--url {}: expected http://HOST:PORT[/PATH]", opts.url));
  for (int c : opts.clients) {
    if (c < 1) return Fail("--clients: every count must be >= 1");
  }
  if (opts.max_tokens < 1 || opts.warmup < 0 || opts.timeout < 1 || opts.requests < 0) {
    return Fail("--max-tokens and --timeout must be >= 1, --warmup and --requests >= 0");
  }
  if (!opts.prompt_file.empty()) {
    std::ifstream in(opts.prompt_file, std::ios::binary);
    if (!in) return Fail(fmt::format("cannot read --prompt-file {}", opts.prompt_file));
    std::ostringstream ss;
    ss << in.rdbuf();
    opts.prompt = ss.str();
  }
  if (opts.api_key.empty()) {
    if (const char* key = std::getenv("WICK_API_KEY")) opts.api_key = key;
  }
  httplib::Headers headers;
  if (!opts.api_key.empty()) headers.emplace("Authorization", "Bearer " + opts.api_key);

  if (std::optional<std::string> err = Probe(*target, opts, headers)) return Fail(*err);
  const RequestSpec spec = MakeSpec(*target, opts, headers);
  std::fprintf(stderr, "wick_serve_load: %s, model %s, %s, max_tokens %d, prompt %zu bytes\n",
               opts.url.c_str(), opts.model.empty() ? "(none)" : opts.model.c_str(),
               spec.path.c_str(), opts.max_tokens, opts.prompt.size());

  std::vector<Summary> rows;
  bool any_error = false;
  for (int clients : opts.clients) {
    const int n = std::max(opts.requests > 0 ? opts.requests : 4 * clients, clients);
    if (opts.warmup > 0) {
      const BatchResult warm =
          RunBatch(*target, opts, spec, std::min(clients, opts.warmup), opts.warmup);
      const auto failed = std::count_if(warm.requests.begin(), warm.requests.end(),
                                        [](const RequestResult& r) { return !r.ok; });
      if (failed == static_cast<std::ptrdiff_t>(warm.requests.size())) {
        return Fail(
            fmt::format("every warm-up request failed; first: {}", warm.requests.front().error));
      }
    }
    std::fprintf(stderr, "wick_serve_load: clients=%d: %d requests...\n", clients, n);
    const BatchResult b = RunBatch(*target, opts, spec, clients, n);
    Summary s = Summarize(clients, b);
    if (s.errors > 0) {
      any_error = true;
      std::fprintf(stderr, "wick_serve_load: clients=%d: %d of %d requests failed; first: %s\n",
                   clients, s.errors, s.requests, s.first_error.c_str());
    }
    rows.push_back(std::move(s));
  }

  if (opts.json) {
    Json out = Json::array();
    for (const Summary& s : rows) out.push_back(ToJson(s, opts));
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    PrintTable(rows);
  }
  // Figures from a run where requests failed are not comparable; scripts should notice.
  return any_error ? 1 : 0;
}

int Main(int argc, char** argv) {
  // A server that drops a connection mid-request must fail that request, not kill the process.
  std::signal(SIGPIPE, SIG_IGN);
  Options opts;
  CLI::App app{"Load benchmark for an OpenAI-compatible server (streaming, greedy)",
               "wick_serve_load"};
  app.add_option("--url", opts.url, "Server base URL, e.g. http://127.0.0.1:8080")->required();
  app.add_option("--clients", opts.clients, "Concurrent client counts, one run each")
      ->delimiter(',');
  app.add_option("--requests", opts.requests,
                 "Requests per client count (default 4 x clients; at least clients)");
  app.add_option("--max-tokens", opts.max_tokens, "Tokens generated per request");
  auto* prompt = app.add_option("--prompt", opts.prompt, "Prompt text");
  app.add_option("--prompt-file", opts.prompt_file, "Read the prompt from a file")
      ->excludes(prompt);
  app.add_option("--endpoint", opts.endpoint, "chat (/v1/chat/completions) or completions")
      ->check(CLI::IsMember({"chat", "completions"}));
  app.add_option("--model", opts.model, "Model name (default: the first of GET /v1/models)");
  app.add_option("--temperature", opts.temperature, "Sampling temperature (0: greedy)");
  app.add_option("--warmup", opts.warmup, "Untimed requests before each client count");
  app.add_flag("--json", opts.json, "Print a JSON array instead of a markdown table");
  app.add_flag("--no-keep-alive", opts.no_keep_alive, "Open a new connection for every request");
  app.add_option("--timeout", opts.timeout, "Seconds to wait for the server before failing");
  app.add_option("--api-key", opts.api_key, "Bearer token (default: $WICK_API_KEY)");
  CLI11_PARSE(app, argc, argv);
  return Run(opts);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Main(argc, argv);
  } catch (const std::exception& e) {  // thread creation, allocation
    std::fprintf(stderr, "wick_serve_load: error: %s\n", e.what());
    return 1;
  }
}
