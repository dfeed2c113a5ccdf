// `wick serve`: the OpenAI-compatible HTTP API over a BatchEngine.
//
//   POST /v1/chat/completions, /v1/completions   (SSE with "stream": true)
//   GET  /v1/models, /v1/models/{id}, /health, /metrics
//   GET  /, /wasm/*   the chat page (server/ui_assets.h)
//
// Each request runs on one of cpp-httplib's worker threads: it parses and tokenizes there,
// submits its sequences to the engine and relays their events. The server listens before the
// model is loaded (GET /health says 503 until SetReady). With a ModelPool (--models) the
// request's "model" field picks the model, loaded on demand; the response holds the model's
// lease until its last byte, so no model is unloaded while it answers.
//
// cpp-httplib 0.11 does not tell a handler that its client went away, and a prompt being
// processed writes nothing; so while a response waits for the engine it writes a harmless byte
// every kProbeInterval (an SSE comment, or a space before a JSON body): the write fails once the
// peer has closed, and the request's sequences are cancelled at the engine's next step.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "core/error.h"
#include "engine/batch_engine.h"
#include "provider/grammar_cache.h"
#include "provider/router.h"
#include "server/metrics.h"
#include "text/chat_template.h"
#include "text/tokenizer.h"

namespace httplib {
class Server;
class Request;
class Response;
}  // namespace httplib

namespace wick::server {

class ModelPool;
class ModelLease;

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;      // 0: any free port (see port())
  std::string api_key;  // non-empty: /v1/* needs "Authorization: Bearer <key>"
  int http_threads = 64;
  std::chrono::milliseconds probe_interval{100};
  // --share-cache: the hub cache whose blobs GET /v1/blobs/{sha256} hands to peers; empty: off.
  std::string share_cache{};
  // The chat page at / (server/ui_assets.h); the in-browser engine's files at /wasm/ come from
  // wasm_dir (empty: none).
  bool ui = true;
  std::string wasm_dir{};
};

// What requests need once the model is loaded; all must outlive the server.
struct ServedModel {
  std::string id;  // the name clients use ("model" field, /v1/models)
  const Tokenizer* tokenizer = nullptr;
  const ChatTemplate* chat_template = nullptr;
  engine::BatchEngine* engine = nullptr;
  int64_t n_ctx_train = 0;
  int64_t created = 0;  // unix seconds
  // Compiled grammars for response_format and forced tool calls, shared with the model's
  // LocalProvider under a router; SetReady makes one when the loader did not.
  std::shared_ptr<provider::GrammarCache> grammars = {};
};

class HttpServer {
 public:
  explicit HttpServer(ServerOptions options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds the address; an error names it when it is taken or invalid.
  Status Bind();
  int port() const { return port_; }
  // Serves until Stop(); call after Bind().
  void Run();
  void Stop();
  // Requests are answered from now on (before: 503 "loading").
  void SetReady(const ServedModel& model);
  // With a router (wick serve --config), completions go through it: every configured provider,
  // fallback, limits, budgets, cache and ledger. `model` may have no engine (remote only).
  void SetRouter(provider::Router* router, const ServedModel& model);
  // Several models loaded on demand (wick serve --models); `pool` must outlive the server.
  void SetModelPool(ModelPool* pool);

 private:
  void Routes();
  bool Authorized(const httplib::Request& req, httplib::Response& res);
  void Completions(const httplib::Request& req, httplib::Response& res, bool chat);
  void RoutedCompletions(const httplib::Request& req, httplib::Response& res, bool chat);
  const ServedModel* Ready(httplib::Response& res);
  // The pool's model `name` names (empty: the only one), or an error response.
  std::shared_ptr<ModelLease> AcquireModel(std::string name, httplib::Response& res);

  ServerOptions options_;
  std::unique_ptr<httplib::Server> http_;
  int port_ = 0;
  int listen_socket_ = -1;
  ServedModel model_;
  provider::Router* router_ = nullptr;  // written before ready_ is set, read after
  ModelPool* pool_ = nullptr;           // likewise
  int64_t pool_created_ = 0;
  std::atomic<bool> ready_{false};
  std::atomic<bool> stop_requested_{false};
  std::atomic<bool> run_entered_{false};
  std::atomic<bool> run_done_{false};
  Metrics metrics_;
};

}  // namespace wick::server
