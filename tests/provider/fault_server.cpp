#include "provider/fault_server.h"

#include <httplib.h>

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <utility>
#include <vector>

#include "api/openai_protocol.h"

namespace wick::provider::testing {
namespace {

using api::Endpoint;

api::ResponseMeta Meta(Endpoint endpoint) {
  api::ResponseMeta meta;
  meta.id = endpoint == Endpoint::kChat ? "chatcmpl-fault" : "cmpl-fault";
  meta.created = 1700000000;
  meta.model = FaultServer::kModel;
  return meta;
}

std::string DefaultErrorBody(int status) {
  api::ApiError error;
  error.status = status;
  error.message = "injected HTTP " + std::to_string(status);
  error.type = status >= 500 ? "server_error" : "invalid_request_error";
  return api::Dump(api::ErrorBody(error));
}

}  // namespace

Fault Fault::Status(int status, std::string retry_after, std::string body) {
  Fault f;
  f.kind = Kind::kStatus;
  f.status = status;
  f.retry_after = std::move(retry_after);
  f.body = std::move(body);
  return f;
}

Fault Fault::Hang() {
  Fault f;
  f.kind = Kind::kHang;
  return f;
}

Fault Fault::SlowFirstToken(std::chrono::milliseconds delay) {
  Fault f;
  f.kind = Kind::kSlowFirstToken;
  f.delay = delay;
  return f;
}

Fault Fault::DropMidStream(int after_chunks) {
  Fault f;
  f.kind = Kind::kDropMidStream;
  f.after_chunks = after_chunks;
  return f;
}

Fault Fault::MalformedSse() {
  Fault f;
  f.kind = Kind::kMalformedSse;
  return f;
}

Fault Fault::WrongUsage() {
  Fault f;
  f.kind = Kind::kWrongUsage;
  return f;
}

Fault Fault::NoDone() {
  Fault f;
  f.kind = Kind::kNoDone;
  return f;
}

// The answer to one completion request, built with the server-side builders so that the
// provider reads exactly what `wick serve` writes.
struct FaultServer::Handler {
  static void Complete(FaultServer& self, Endpoint endpoint, const httplib::Request& req,
                       httplib::Response& res) {
    self.requests_.fetch_add(1);
    {
      std::lock_guard<std::mutex> lock(self.mutex_);
      self.last_body_ = req.body;
      self.last_authorization_ = req.get_header_value("Authorization");
    }
    const Fault fault = self.TakeFault();
    if (fault.kind == Fault::Kind::kStatus) {
      res.status = fault.status;
      if (!fault.retry_after.empty()) res.set_header("Retry-After", fault.retry_after);
      res.set_content(fault.body.empty() ? DefaultErrorBody(fault.status) : fault.body,
                      "application/json");
      return;
    }
    if (fault.kind == Fault::Kind::kHang) {
      self.Wait(std::chrono::hours(1));
      res.status = 503;
      return;
    }
    const nlohmann::json body = nlohmann::json::parse(req.body, nullptr, false);
    const bool stream = body.is_object() && body.value("stream", false);
    const int n = body.is_object() ? body.value("n", 1) : 1;
    const int tokens = self.tokens_.load();
    const api::ResponseMeta meta = Meta(endpoint);
    api::Usage usage;
    usage.prompt_tokens = kPromptTokens;
    usage.completion_tokens = int64_t{tokens} * n;
    const std::string stop = "stop";

    if (!stream) {
      std::vector<api::ChoiceResult> choices;
      for (int c = 0; c < n; ++c) {
        api::ChoiceResult choice;
        choice.index = c;
        for (int t = 0; t < tokens; ++t) choice.text += Token(t);
        choice.finish_reason = stop;
        choices.push_back(std::move(choice));
      }
      res.set_content(api::Dump(api::CompletionResponse(endpoint, meta, choices, usage)),
                      "application/json");
      return;
    }

    std::vector<std::string> events;
    if (fault.kind == Fault::Kind::kMalformedSse) events.push_back("data: {\"choices\": [oops\n\n");
    for (int c = 0; c < n; ++c) {
      for (int t = 0; t < tokens; ++t) {
        events.push_back(api::SseEvent(
            api::StreamChunk(endpoint, meta, c, t == 0, Token(t), nullptr, nullptr, true)));
      }
      events.push_back(api::SseEvent(
          api::StreamChunk(endpoint, meta, c, tokens == 0, "", &stop, nullptr, true)));
    }
    if (fault.kind == Fault::Kind::kWrongUsage) usage.completion_tokens = 1;
    events.push_back(api::SseEvent(api::UsageChunk(endpoint, meta, usage)));
    if (fault.kind != Fault::Kind::kNoDone) events.push_back("data: [DONE]\n\n");

    res.set_chunked_content_provider(
        "text/event-stream", [&self, fault, events](size_t, httplib::DataSink& sink) {
          if (fault.kind == Fault::Kind::kSlowFirstToken && !self.Wait(fault.delay)) return false;
          for (size_t i = 0; i < events.size(); ++i) {
            // Returning false makes httplib close the connection without the last chunk.
            if (fault.kind == Fault::Kind::kDropMidStream &&
                i == static_cast<size_t>(fault.after_chunks)) {
              return false;
            }
            if (!sink.write(events[i].data(), events[i].size())) return false;
          }
          sink.done();
          return true;
        });
  }
};

FaultServer::FaultServer() : server_(std::make_unique<httplib::Server>()) {
  server_->Post("/v1/chat/completions",
                [this](const httplib::Request& req, httplib::Response& res) {
                  Handler::Complete(*this, Endpoint::kChat, req, res);
                });
  server_->Post("/v1/completions", [this](const httplib::Request& req, httplib::Response& res) {
    Handler::Complete(*this, Endpoint::kCompletion, req, res);
  });
  server_->Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
    Fault fault;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      fault = fault_times_ != 0 ? fault_ : Fault::None();
    }
    if (fault.kind == Fault::Kind::kStatus) {
      res.status = fault.status;
      res.set_content(DefaultErrorBody(fault.status), "application/json");
      return;
    }
    nlohmann::json models = {
        {"object", "list"},
        {"data", {{{"id", kModel}, {"object", "model"}, {"owned_by", "wick"}}}}};
    res.set_content(models.dump(), "application/json");
  });
  // Without it, Nagle holds an error body back until the client's delayed ACK (~40 ms).
  server_->set_tcp_nodelay(true);
  port_ = server_->bind_to_any_port("127.0.0.1");
  if (port_ <= 0) throw std::runtime_error("FaultServer: cannot bind a port on 127.0.0.1");
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  // httplib's stop() does nothing before the listen loop runs, so a server destroyed right
  // after it was made would never stop; wait for the loop.
  while (!server_->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

FaultServer::~FaultServer() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  server_->stop();
  thread_.join();
}

std::string FaultServer::endpoint() const {
  return "http://127.0.0.1:" + std::to_string(port_) + "/v1";
}

void FaultServer::SetFault(Fault fault, int times) {
  std::lock_guard<std::mutex> lock(mutex_);
  fault_ = std::move(fault);
  fault_times_ = times;
}

Fault FaultServer::TakeFault() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (fault_times_ == 0) return Fault::None();
  if (fault_times_ > 0) --fault_times_;
  return fault_;
}

bool FaultServer::Wait(std::chrono::milliseconds delay) {
  std::unique_lock<std::mutex> lock(mutex_);
  return !stop_cv_.wait_for(lock, delay, [this] { return stopping_; });
}

std::string FaultServer::last_body() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return last_body_;
}

std::string FaultServer::last_authorization() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return last_authorization_;
}

}  // namespace wick::provider::testing
