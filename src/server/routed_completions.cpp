// Completions through the router (wick serve --config). A streamed request runs on its own
// thread while the HTTP thread waits for its first token or its failure, so that the status and
// the X-Wick-Provider header are known before anything is sent, then relays the chunks as they
// come; a whole answer is made on the HTTP thread itself. Failures before the first token are
// proper HTTP errors (the router has already tried every tier); after it, an error event ends the
// stream.
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "server/http_server.h"
#include "server/http_util.h"

namespace wick::server {

namespace {

using Json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

// One routed request, shared by the thread that runs it and the HTTP thread that answers.
struct RoutedCall {
  api::CompletionRequest request;
  api::ResponseMeta meta;
  provider::CancelToken cancel;
  std::thread worker;

  std::mutex mu;
  std::condition_variable cv;
  std::string provider;  // the one being tried (the answerer, once text arrived)
  bool started = false;  // a delta arrived
  bool finished = false;
  std::deque<std::string> ready;           // SSE events to write (streaming)
  std::vector<bool> first_sent;            // per choice: the role chunk went out
  std::vector<api::ChoiceResult> choices;  // non-streaming: the whole answer
  std::variant<provider::RouteInfo, provider::RouteError> result;
  Clock::time_point start = Clock::now();
  Clock::time_point last_token{};

  ~RoutedCall() {
    cancel.Cancel();
    if (worker.joinable()) worker.join();
  }

  // Runs in the worker: formats or collects one delta.
  bool OnDelta(const provider::Delta& d, Metrics& metrics) {
    std::lock_guard lock(mu);
    if (d.index < 0) return !cancel.cancelled();
    const auto index = static_cast<size_t>(d.index);
    const auto now = Clock::now();
    if (!d.text.empty()) {
      if (last_token == Clock::time_point{}) {
        metrics.TimeToFirstToken(std::chrono::duration<double>(now - start).count());
      } else {
        metrics.InterTokenLatency(std::chrono::duration<double>(now - last_token).count());
      }
      last_token = now;
    }
    if (request.stream) {
      if (first_sent.size() <= index) first_sent.resize(index + 1, false);
      const std::string* finish = d.finish_reason.empty() ? nullptr : &d.finish_reason;
      // Tool calls go out in a chunk of their own, the finish reason after them, as OpenAI
      // sends them.
      const bool calls = !d.tool_calls.empty();
      ready.push_back(api::SseEvent(api::StreamChunk(
          request.endpoint, meta, d.index, !first_sent[index], d.text, calls ? nullptr : finish,
          request.logprobs ? &d.logprobs : nullptr, request.include_usage, &d.tool_calls)));
      first_sent[index] = true;
      if (calls && finish != nullptr) {
        ready.push_back(api::SseEvent(api::StreamChunk(request.endpoint, meta, d.index, false, "",
                                                       finish, nullptr, request.include_usage)));
      }
    } else {
      provider::AppendDelta(choices, d, request.logprobs);
    }
    started = true;
    cv.notify_all();
    return !cancel.cancelled();
  }
};

void SetRouteHeaders(httplib::Response& res, const provider::RouteInfo& info) {
  if (!info.provider.empty()) res.set_header("X-Wick-Provider", info.provider);
  res.set_header("X-Wick-Cost", fmt::format("{:.8f}", info.cost));
  res.set_header("X-Wick-Cache", info.cache_hit ? "hit" : "miss");
}

void SendRouteError(httplib::Response& res, const provider::RouteError& e) {
  SendError(res, e.error);
  if (e.retry_after.count() > 0) {
    res.set_header("Retry-After", std::to_string((e.retry_after.count() + 999) / 1000));
  }
  if (!e.info.path.empty()) res.set_header("X-Wick-Provider", e.info.path.back());
}

}  // namespace

void HttpServer::RoutedCompletions(const httplib::Request& req, httplib::Response& res, bool chat) {
  if (Ready(res) == nullptr) return;
  std::string key;
  if (router_->has_keys()) {
    const std::string header = req.get_header_value("Authorization");
    constexpr std::string_view kBearer = "Bearer ";
    std::optional<std::string> name;
    if (header.rfind(kBearer, 0) == 0) name = router_->KeyForToken(header.substr(kBearer.size()));
    if (!name) {
      return SendError(res, MakeError(401, header.empty() ? "no API key given" : "invalid API key",
                                      "authentication_error", "", "invalid_api_key"));
    }
    key = *name;
  }
  const api::Endpoint endpoint = chat ? api::Endpoint::kChat : api::Endpoint::kCompletion;
  std::variant<api::CompletionRequest, api::ApiError> parsed = api::ParseCompletionRequest(
      req.body, endpoint,
      {.n_vocab = model_.tokenizer != nullptr ? model_.tokenizer->size() : 0, .max_n = 16});
  if (const api::ApiError* error = std::get_if<api::ApiError>(&parsed)) {
    return SendError(res, *error);
  }

  auto call = std::make_shared<RoutedCall>();
  call->request = std::get<api::CompletionRequest>(std::move(parsed));
  call->meta.id = NewId(chat ? "chatcmpl-" : "cmpl-");
  call->meta.created = UnixNow();
  call->meta.model = call->request.model.empty() ? "auto" : call->request.model;
  call->meta.system_fingerprint = "wick";
  RoutedCall* c = call.get();
  auto route = [this, c, key] {
    auto result = router_->Stream(
        c->request, key, [&](const provider::Delta& d) { return c->OnDelta(d, metrics_); },
        c->cancel,
        [&](const std::string& name) {
          std::lock_guard lock(c->mu);
          c->provider = name;
        });
    std::lock_guard lock(c->mu);
    c->result = std::move(result);
    c->finished = true;
    c->cv.notify_all();
  };
  // A whole answer is sent when it is complete, so this thread can produce it itself; a
  // stream needs a second thread, which makes the answer while this one relays it.
  if (c->request.stream) {
    c->worker = std::thread(route);
  } else {
    route();
  }

  std::unique_lock lock(c->mu);
  c->cv.wait(lock, [&] { return c->started || c->finished; });
  if (c->finished && !c->started) {
    if (const auto* e = std::get_if<provider::RouteError>(&c->result)) {
      return SendRouteError(res, *e);
    }
  }
  if (!c->request.stream) {
    c->cv.wait(lock, [&] { return c->finished; });
    if (const auto* e = std::get_if<provider::RouteError>(&c->result)) {
      return SendRouteError(res, *e);
    }
    const auto& info = std::get<provider::RouteInfo>(c->result);
    metrics_.Tokens(info.usage.prompt_tokens, info.usage.completion_tokens);
    SetRouteHeaders(res, info);
    c->meta.model = info.model.empty() ? c->meta.model : info.model;
    res.set_content(api::Dump(api::CompletionResponse(endpoint, c->meta, c->choices, info.usage)),
                    "application/json");
    return;
  }
  res.set_header("X-Wick-Provider", c->provider);
  res.set_header("Cache-Control", "no-cache");
  lock.unlock();
  res.set_chunked_content_provider(
      "text/event-stream",
      [this, call](size_t, httplib::DataSink& sink) {
        RoutedCall& rc = *call;
        std::unique_lock l(rc.mu);
        for (;;) {
          rc.cv.wait_for(l, options_.probe_interval,
                         [&] { return !rc.ready.empty() || rc.finished; });
          std::deque<std::string> out;
          out.swap(rc.ready);
          const bool done = rc.finished && rc.ready.empty();
          l.unlock();
          // Nothing new for a while: an SSE comment shows whether the client is still there.
          if (out.empty() && !done) out.push_back(": ping\n\n");
          for (const std::string& event : out) {
            if (!sink.write(event.data(), event.size())) {
              rc.cancel.Cancel();
              return false;
            }
          }
          l.lock();
          if (done && rc.ready.empty()) break;
        }
        std::string tail;
        if (const auto* e = std::get_if<provider::RouteError>(&rc.result)) {
          tail += api::SseEvent(api::ErrorBody(e->error));
        } else {
          const auto& info = std::get<provider::RouteInfo>(rc.result);
          metrics_.Tokens(info.usage.prompt_tokens, info.usage.completion_tokens);
          if (rc.request.include_usage) {
            Json usage = api::UsageChunk(rc.request.endpoint, rc.meta, info.usage);
            // Where the answer came from and what it cost, for clients that want it (the
            // headers went out before the cost was known).
            usage["x_wick"] = {{"provider", info.provider},
                               {"model", info.model},
                               {"cost", info.cost},
                               {"cache", info.cache_hit ? "hit" : "miss"},
                               {"path", info.path}};
            tail += api::SseEvent(usage);
          }
        }
        l.unlock();
        tail += "data: [DONE]\n\n";
        if (!sink.write(tail.data(), tail.size())) return false;
        sink.done();
        return true;
      },
      [call](bool) { call->cancel.Cancel(); });
}

}  // namespace wick::server
