#include "server/http_server.h"

#include <fmt/format.h>
#include <httplib.h>

#include <algorithm>
#include <random>
#include <thread>

#include "api/openai_protocol.h"
#include "core/constant_time.h"
#include "hub/hub_cache.h"
#include "provider/local_provider.h"
#include "server/blob_share.h"
#include "server/http_util.h"
#include "server/model_pool.h"
#include "server/ui_assets.h"

namespace wick::server {

// The wire format's types (ApiError, CompletionRequest, ...) are this file's vocabulary.
using namespace api;  // NOLINT(google-build-using-namespace)

namespace {

using Json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

constexpr size_t kMaxBodyBytes = size_t{32} << 20;

// A label for /metrics that does not grow with whatever paths clients try.
std::string RouteLabel(const std::string& path) {
  for (const char* route :
       {"/v1/chat/completions", "/v1/completions", "/v1/models", "/health", "/metrics"}) {
    if (path == route) return route;
  }
  if (path.rfind("/v1/models/", 0) == 0) return "/v1/models/{id}";
  if (path.rfind("/v1/blobs/", 0) == 0) return "/v1/blobs/{sha256}";
  return "other";
}

// One request's sequences and what has come back from them, relayed to the client.
class Relay {
 public:
  // `lease` (null without a pool) keeps the model loaded while the relay lives.
  Relay(Endpoint endpoint, const CompletionRequest& request, const ServedModel& model,
        std::vector<std::shared_ptr<engine::SequenceHandle>> handles,
        const provider::OutputPlan& output, Metrics& metrics, std::chrono::milliseconds probe,
        std::shared_ptr<ModelLease> lease)
      : lease_(std::move(lease)),
        endpoint_(endpoint),
        stream_(request.stream),
        include_usage_(request.include_usage),
        logprobs_(request.logprobs),
        tokenizer_(*model.tokenizer),
        handles_(std::move(handles)),
        metrics_(metrics),
        probe_(probe),
        choices_(handles_.size(), MakeChoice(output)),
        start_(Clock::now()) {
    meta_.id = NewId(endpoint == Endpoint::kChat ? "chatcmpl-" : "cmpl-");
    meta_.created = UnixNow();
    meta_.model = model.id;
    meta_.system_fingerprint = "wick";
  }
  ~Relay() { CancelAll(); }

  void CancelAll() {
    for (auto& h : handles_) h->Cancel();
  }

  // Runs until every sequence is done; false when the client went away.
  bool Run(httplib::DataSink& sink) {
    last_write_ = Clock::now();
    size_t remaining = handles_.size();
    const auto wait = handles_.size() == 1 ? probe_ : std::chrono::milliseconds(2);
    while (remaining > 0) {
      for (size_t i = 0; i < handles_.size(); ++i) {
        Choice& c = choices_[i];
        if (c.done) continue;
        engine::SequenceEvent event = handles_[i]->Next(wait);
        if (!Handle(static_cast<int>(i), event, sink)) return false;
        if (c.done) --remaining;
      }
      // Nothing to say for a while: a byte the client ignores shows whether it is still there.
      if (remaining > 0 && Clock::now() - last_write_ >= probe_) {
        if (!Write(sink, stream_ ? std::string(": ping\n\n") : std::string(" "))) return false;
      }
    }
    return Finish(sink);
  }

 private:
  struct Choice {
    provider::ChoiceOutput output;  // text passed on, or held back and read for tool calls
    bool done = false;
    bool started = false;  // a chunk was sent (chat: the role went out)
    std::string text;
    std::vector<TokenLogprob> logprobs;
    std::vector<ToolCall> tool_calls;
    std::string finish;
    Clock::time_point last_token{};
  };

  static Choice MakeChoice(const provider::OutputPlan& plan) {
    Choice c;
    c.output = provider::ChoiceOutput(plan);
    return c;
  }

  bool Write(httplib::DataSink& sink, const std::string& data) {
    last_write_ = Clock::now();
    return sink.write(data.data(), data.size());
  }

  bool Handle(int index, engine::SequenceEvent& event, httplib::DataSink& sink) {
    Choice& c = choices_[static_cast<size_t>(index)];
    const auto now = Clock::now();
    if (!event.text.empty()) {
      if (!first_token_seen_) {
        metrics_.TimeToFirstToken(std::chrono::duration<double>(now - start_).count());
        first_token_seen_ = true;
      } else if (c.last_token != Clock::time_point{}) {
        metrics_.InterTokenLatency(std::chrono::duration<double>(now - c.last_token).count());
      }
      c.last_token = now;
    }
    std::vector<TokenLogprob> logprobs;
    if (logprobs_) logprobs = provider::ConvertLogprobs(tokenizer_, event.logprobs);
    provider::Delta d = c.output.Push(index, event.text, std::move(logprobs));
    const bool failed = event.done && event.finish == engine::FinishReason::kError;
    if (event.done) {
      usage_.prompt_tokens += event.prompt_tokens;
      usage_.completion_tokens += event.completion_tokens;
      usage_.cached_tokens += event.cached_tokens;
      metrics_.Tokens(event.prompt_tokens, event.completion_tokens);
      if (failed) error_ = event.error;
      provider::Delta last =
          c.output.Finish(index, failed ? std::string() : provider::FinishName(event.finish));
      d.text += last.text;
      for (TokenLogprob& lp : last.logprobs) d.logprobs.push_back(std::move(lp));
      d.tool_calls = std::move(last.tool_calls);
      d.finish_reason = std::move(last.finish_reason);
    }
    if (!stream_) {
      c.text += d.text;
      for (TokenLogprob& lp : d.logprobs) c.logprobs.push_back(std::move(lp));
      for (ToolCallDelta& call : d.tool_calls) {
        c.tool_calls.push_back(
            {.id = call.id, .name = std::move(call.name), .arguments = std::move(call.arguments)});
      }
      if (event.done) {
        c.done = true;
        c.finish = d.finish_reason;
      }
      return true;
    }
    if (!d.text.empty() || !d.logprobs.empty() || !d.tool_calls.empty()) {
      const Json chunk =
          StreamChunk(endpoint_, meta_, index, !c.started, d.text, nullptr,
                      logprobs_ ? &d.logprobs : nullptr, include_usage_, &d.tool_calls);
      c.started = true;
      if (!Write(sink, SseEvent(chunk))) return false;
    }
    if (event.done) {
      c.done = true;
      if (failed) {
        return Write(sink, SseEvent(ErrorBody(MakeError(500, event.error, "server_error"))));
      }
      const std::string& finish = d.finish_reason;
      const Json chunk =
          StreamChunk(endpoint_, meta_, index, !c.started, "", &finish, nullptr, include_usage_);
      c.started = true;
      return Write(sink, SseEvent(chunk));
    }
    return true;
  }

  bool Finish(httplib::DataSink& sink) {
    if (!stream_) {
      if (!error_.empty()) {
        return Write(sink, Dump(ErrorBody(MakeError(500, error_, "server_error"))));
      }
      std::vector<ChoiceResult> results;
      for (size_t i = 0; i < choices_.size(); ++i) {
        ChoiceResult r;
        r.index = static_cast<int>(i);
        r.text = std::move(choices_[i].text);
        r.finish_reason = choices_[i].finish;
        r.has_logprobs = logprobs_;
        r.logprobs = std::move(choices_[i].logprobs);
        r.tool_calls = std::move(choices_[i].tool_calls);
        results.push_back(std::move(r));
      }
      return Write(sink, Dump(CompletionResponse(endpoint_, meta_, results, usage_)));
    }
    if (include_usage_ && !Write(sink, SseEvent(UsageChunk(endpoint_, meta_, usage_)))) {
      return false;
    }
    return Write(sink, "data: [DONE]\n\n");
  }

  std::shared_ptr<ModelLease> lease_;  // first: released after everything else
  Endpoint endpoint_;
  bool stream_;
  bool include_usage_;
  bool logprobs_;
  const Tokenizer& tokenizer_;
  std::vector<std::shared_ptr<engine::SequenceHandle>> handles_;
  Metrics& metrics_;
  std::chrono::milliseconds probe_;
  std::vector<Choice> choices_;
  ResponseMeta meta_;
  Usage usage_;
  std::string error_;
  Clock::time_point start_;
  Clock::time_point last_write_;
  bool first_token_seen_ = false;
};

}  // namespace

HttpServer::HttpServer(ServerOptions options)
    : options_(std::move(options)), http_(std::make_unique<httplib::Server>()) {
  const int threads = std::max(options_.http_threads, 4);
  http_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  http_->set_keep_alive_max_count(10000);
  // Stream chunks are small writes; Nagle would hold each until the last one is acknowledged.
  http_->set_tcp_nodelay(true);
  // Remember the listening socket: Bind() deepens its backlog (see there).
  http_->set_socket_options([this](socket_t sock) {
    httplib::default_socket_options(sock);
    listen_socket_ = sock;
  });
  http_->set_payload_max_length(kMaxBodyBytes);
  Routes();
}

HttpServer::~HttpServer() {
  Stop();
}

Status HttpServer::Bind() {
  if (options_.port == 0) {
    port_ = http_->bind_to_any_port(options_.host);
    if (port_ <= 0) {
      return Error(ErrorCode::kIo, fmt::format("cannot listen on {} (any port)", options_.host));
    }
  } else {
    if (!http_->bind_to_port(options_.host, options_.port)) {
      return Error(ErrorCode::kIo, fmt::format("cannot listen on {}:{} (in use, or not an address "
                                               "of this machine)",
                                               options_.host, options_.port));
    }
    port_ = options_.port;
  }
  // cpp-httplib 0.11 listens with a backlog of 5: a burst of new clients overflows it, and each
  // overflowed connection waits a second for the SYN to be resent. Listening again raises it.
  if (listen_socket_ >= 0) ::listen(listen_socket_, SOMAXCONN);
  return OkStatus();
}

void HttpServer::Run() {
  run_entered_.store(true);
  if (!stop_requested_.load()) http_->listen_after_bind();
  run_done_.store(true);
}

void HttpServer::Stop() {
  if (!http_) return;
  // cpp-httplib's stop() does nothing before its loop runs: a Stop() right after Run() started
  // (a server that fails at once) would be lost, and Run() would never return. Either Run()
  // sees the request, or this waits until the loop runs and can be stopped.
  stop_requested_.store(true);
  while (run_entered_.load() && !run_done_.load() && !http_->is_running()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  http_->stop();
}

void HttpServer::SetReady(const ServedModel& model) {
  model_ = model;
  if (model_.grammars == nullptr && model_.tokenizer != nullptr) {
    model_.grammars = std::make_shared<provider::GrammarCache>(model_.tokenizer);
  }
  ready_.store(true);
}

void HttpServer::SetRouter(provider::Router* router, const ServedModel& model) {
  router_ = router;
  SetReady(model);
}

void HttpServer::SetModelPool(ModelPool* pool) {
  pool_ = pool;
  pool_created_ = UnixNow();
  ready_.store(true);
}

std::shared_ptr<ModelLease> HttpServer::AcquireModel(std::string name, httplib::Response& res) {
  const std::vector<std::string> ids = pool_->ids();
  std::string list;
  for (const std::string& id : ids) list += (list.empty() ? "'" : ", '") + id + "'";
  if (name.empty()) {
    if (ids.size() != 1) {
      SendError(res,
                MakeError(400, fmt::format("the request names no model; this server has {}", list),
                          "invalid_request_error", "model"));
      return nullptr;
    }
    name = ids.front();
  }
  Result<ModelLease> lease = pool_->Acquire(name);
  if (lease.ok()) return std::make_shared<ModelLease>(std::move(*lease));
  const Error& e = lease.error();
  switch (e.code()) {
    case ErrorCode::kNotFound:
      SendError(res, MakeError(404,
                               fmt::format("the model '{}' does not exist (this server has {})",
                                           name, list),
                               "invalid_request_error", "model", "model_not_found"));
      break;
    case ErrorCode::kOutOfRange:
      SendError(res,
                MakeError(400, e.message(), "invalid_request_error", "model", "model_too_large"));
      break;
    case ErrorCode::kUnavailable:
      SendError(res, MakeError(503, e.message(), "unavailable_error"));
      break;
    default:
      SendError(res, MakeError(500, e.message(), "server_error"));
  }
  return nullptr;
}

const ServedModel* HttpServer::Ready(httplib::Response& res) {
  if (ready_.load()) return &model_;
  SendError(res, MakeError(503, "the model is still loading", "unavailable_error"));
  return nullptr;
}

bool HttpServer::Authorized(const httplib::Request& req, httplib::Response& res) {
  if (options_.api_key.empty() || req.path.rfind("/v1/", 0) != 0) return true;
  const std::string header = req.get_header_value("Authorization");
  constexpr std::string_view kBearer = "Bearer ";
  if (header.rfind(kBearer, 0) == 0 &&
      ConstantTimeEquals(std::string_view(header).substr(kBearer.size()), options_.api_key)) {
    return true;
  }
  SendError(res, MakeError(401,
                           header.empty() ? "no API key given (send Authorization: Bearer <key>)"
                                          : "invalid API key",
                           "authentication_error", "", "invalid_api_key"));
  return false;
}

void HttpServer::Routes() {
  http_->set_default_headers({{"Access-Control-Allow-Origin", "*"}});
  http_->set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (req.method == "OPTIONS") {  // CORS preflight from browser clients
      res.status = 204;
      res.set_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
      res.set_header("Access-Control-Allow-Headers", "Authorization, Content-Type");
      return httplib::Server::HandlerResponse::Handled;
    }
    if (req.path != "/metrics") metrics_.InFlight(1);  // the scrape does not count itself
    return Authorized(req, res) ? httplib::Server::HandlerResponse::Unhandled
                                : httplib::Server::HandlerResponse::Handled;
  });
  http_->set_logger([this](const httplib::Request& req, const httplib::Response& res) {
    if (req.method == "OPTIONS") return;
    if (req.path != "/metrics") metrics_.InFlight(-1);
    metrics_.RequestDone(RouteLabel(req.path), res.status);
  });
  http_->set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty() || res.status < 400) return;
    if (res.status == 404) {
      SendError(res, MakeError(404, fmt::format("no route {} {}", req.method, req.path),
                               "invalid_request_error", "", "not_found"));
    } else if (res.status == 413) {
      SendError(res, MakeError(413, "the request body is too large", "invalid_request_error"));
    } else {
      SendError(res, MakeError(res.status, fmt::format("HTTP {}", res.status),
                               res.status >= 500 ? "server_error" : "invalid_request_error"));
    }
  });
  http_->set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "internal error";
        try {
          if (ep) std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        SendError(res, MakeError(500, what, "server_error"));
      });

  if (!options_.share_cache.empty()) {
    http_->Get(R"(/v1/blobs/([0-9a-fA-F]{64}))",
               [this](const httplib::Request& req, httplib::Response& res) {
                 ServeCachedBlob(req, res, hub::HubCache(options_.share_cache));
               });
  }
  if (options_.ui) AddUiRoutes(*http_, options_.wasm_dir);
  http_->Get("/health", [this](const httplib::Request&, httplib::Response& res) {
    if (Ready(res) == nullptr) return;
    res.set_content(R"({"status":"ok"})", "application/json");
  });
  http_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    engine::EngineStats stats;
    const bool ready = ready_.load();
    bool engine = ready && model_.engine != nullptr;
    if (engine) stats = model_.engine->Stats();
    // With a pool: the loaded engines' gauges summed.
    if (ready && pool_ != nullptr) engine = pool_->EngineTotals(stats);
    std::string text = metrics_.Render(engine ? &stats : nullptr);
    if (ready && router_ != nullptr) text += router_->Metrics();
    if (ready && pool_ != nullptr) pool_->RenderMetrics(text);
    res.set_content(text, "text/plain; version=0.0.4");
  });
  // Every model clients may name: the served model, or with a router "auto" and each
  // provider's "provider/model".
  auto models = [this] {
    Json list = Json::array();
    if (pool_ != nullptr) {
      for (const ModelStatus& s : pool_->Models()) {
        list.push_back(Json{{"id", s.id},
                            {"object", "model"},
                            {"created", pool_created_},
                            {"owned_by", "wick"},
                            {"wick",
                             {{"state", ModelStateName(s.state)},
                              {"size_bytes", s.bytes},
                              {"estimated_bytes", s.estimated_bytes},
                              {"last_used", s.last_used ? Json(*s.last_used) : Json(nullptr)},
                              {"requests", s.leases}}}});
      }
      return list;
    }
    if (router_ == nullptr) {
      const engine::BatchEngineOptions& eo = model_.engine->options();
      list.push_back(Json{{"id", model_.id},
                          {"object", "model"},
                          {"created", model_.created},
                          {"owned_by", "wick"},
                          {"meta",
                           {{"n_ctx_train", model_.n_ctx_train},
                            {"n_ctx", eo.n_ctx},
                            {"n_parallel", eo.n_parallel},
                            {"n_vocab", model_.tokenizer->size()}}}});
      return list;
    }
    list.push_back(Json{{"id", "auto"},
                        {"object", "model"},
                        {"created", model_.created},
                        {"owned_by", "wick"},
                        {"meta", {{"router", true}}}});
    for (const provider::ModelEntry& m : router_->Models()) {
      list.push_back(Json{{"id", m.id},
                          {"object", "model"},
                          {"created", model_.created},
                          {"owned_by", m.provider},
                          {"meta",
                           {{"provider", m.provider},
                            {"model", m.model},
                            {"context_length", m.context_length},
                            {"price_input_per_million", m.price.input},
                            {"price_output_per_million", m.price.output}}}});
    }
    return list;
  };
  http_->Get("/v1/models", [this, models](const httplib::Request&, httplib::Response& res) {
    if (Ready(res) == nullptr) return;
    res.set_content(Dump(Json{{"object", "list"}, {"data", models()}}), "application/json");
  });
  http_->Get(R"(/v1/models/(.+))",
             [this, models](const httplib::Request& req, httplib::Response& res) {
               if (Ready(res) == nullptr) return;
               for (const Json& m : models()) {
                 if (m["id"] == std::string(req.matches[1])) {
                   res.set_content(Dump(m), "application/json");
                   return;
                 }
               }
               SendError(res, MakeError(404,
                                        fmt::format("the model '{}' does not exist (GET "
                                                    "/v1/models lists them)",
                                                    std::string(req.matches[1])),
                                        "invalid_request_error", "model", "model_not_found"));
             });
  http_->Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) {
    // ready_ (acquire) publishes router_, so it is read only after Ready().
    if (Ready(res) == nullptr) return;
    router_ != nullptr ? RoutedCompletions(req, res, true) : Completions(req, res, true);
  });
  http_->Post("/v1/completions", [this](const httplib::Request& req, httplib::Response& res) {
    if (Ready(res) == nullptr) return;
    router_ != nullptr ? RoutedCompletions(req, res, false) : Completions(req, res, false);
  });
}

void HttpServer::Completions(const httplib::Request& req, httplib::Response& res, bool chat) {
  const ServedModel* m = Ready(res);
  if (m == nullptr) return;
  const Endpoint endpoint = chat ? Endpoint::kChat : Endpoint::kCompletion;
  std::shared_ptr<ModelLease> lease;
  if (pool_ != nullptr) {
    // A bad request is refused before a model is loaded for it; token ids are checked against
    // the vocabulary once the model is known.
    std::variant<CompletionRequest, ApiError> early =
        ParseCompletionRequest(req.body, endpoint, {.n_vocab = 0, .max_n = provider::kMaxChoices});
    if (const ApiError* error = std::get_if<ApiError>(&early)) return SendError(res, *error);
    lease = AcquireModel(std::get<CompletionRequest>(early).model, res);
    if (lease == nullptr) return;
    m = &lease->model();
  }
  std::variant<CompletionRequest, ApiError> parsed = ParseCompletionRequest(
      req.body, endpoint, {.n_vocab = m->tokenizer->size(), .max_n = provider::kMaxChoices});
  if (const ApiError* error = std::get_if<ApiError>(&parsed)) return SendError(res, *error);
  CompletionRequest& r = std::get<CompletionRequest>(parsed);
  if (pool_ == nullptr && !r.model.empty() && r.model != m->id) {
    return SendError(res, MakeError(404,
                                    fmt::format("the model '{}' does not exist (this server has "
                                                "'{}')",
                                                r.model, m->id),
                                    "invalid_request_error", "model", "model_not_found"));
  }
  const provider::LocalModel local{.id = m->id,
                                   .tokenizer = m->tokenizer,
                                   .chat_template = m->chat_template,
                                   .engine = m->engine,
                                   .price = {},
                                   .grammars = m->grammars};
  auto built = provider::BuildRequest(local, r);
  if (const ApiError* error = std::get_if<ApiError>(&built)) return SendError(res, *error);
  auto& seqs = std::get<provider::BuiltRequest>(built).sequences;
  const size_t n_prompt = seqs.front().prompt.size();
  Result<std::vector<std::shared_ptr<engine::SequenceHandle>>> handles =
      m->engine->Submit(std::move(seqs));
  if (!handles.ok()) {
    const Error& e = handles.error();
    if (e.code() == ErrorCode::kOutOfRange) {
      return SendError(
          res, provider::ContextLengthError(r, m->engine->options().n_ctx, n_prompt, e.message()));
    }
    if (e.code() == ErrorCode::kUnavailable) {
      return SendError(res, MakeError(503, e.message(), "unavailable_error"));
    }
    return SendError(res, MakeError(400, e.message(), "invalid_request_error"));
  }

  auto relay = std::make_shared<Relay>(endpoint, r, *m, std::move(*handles),
                                       std::get<provider::BuiltRequest>(built).output, metrics_,
                                       options_.probe_interval, std::move(lease));
  res.set_header("Cache-Control", "no-cache");
  res.set_chunked_content_provider(
      r.stream ? "text/event-stream" : "application/json",
      [relay](size_t, httplib::DataSink& sink) {
        if (!relay->Run(sink)) {
          relay->CancelAll();
          return false;
        }
        sink.done();
        return true;
      },
      [relay](bool) { relay->CancelAll(); });
}

}  // namespace wick::server
