// `wick serve -m MODEL`: the OpenAI-compatible HTTP server (see server/http_server.h). It
// listens first, so /health answers 503 while the model loads, then serves until SIGINT or
// SIGTERM.
#include <fmt/format.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <set>
#include <thread>

#include "cli/commands.h"
#include "cli/loaded_model.h"
#include "cli/routing.h"
#include "engine/batch_engine.h"
#include "model/backend.h"
#include "provider/config.h"
#include "server/http_server.h"

namespace wick::cli {

namespace {

struct ServeOptions {
  std::string model;
  std::string alias;
  std::string host = "127.0.0.1";
  int port = 8080;
  int parallel = 4;
  int64_t ctx_size = 0;
  int64_t batch_size = 512;
  std::string api_key;
  int queue_size = 64;
  int threads = 0;
  std::string cache_type = "f16";
  std::string chat_template;
  std::string config;           // providers, router, ledger (TOML); empty: only -m
  std::set<std::string> given;  // options set on the command line (they win over the config)
};

int RunServe(ServeOptions opts) {
  // Signals go to the thread that waits for them, not to whichever thread they hit.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  std::optional<provider::Config> config;
  if (!opts.config.empty()) {
    Result<provider::Config> loaded_config = provider::LoadConfig(opts.config);
    if (!loaded_config.ok()) return ReportError(loaded_config.error().message());
    config = std::move(*loaded_config);
    for (const std::string& w : provider::ConfigWarnings(*config)) {
      std::fprintf(stderr, "wick: warning: %s\n", w.c_str());
    }
    // The file fills in what the command line left out.
    auto unless_given = [&](const char* flag, auto& field, const auto& value) {
      if (opts.given.count(flag) == 0) field = value;
    };
    unless_given("--host", opts.host, config->server.host);
    unless_given("--port", opts.port, config->server.port);
    unless_given("--parallel", opts.parallel, config->server.parallel);
    unless_given("--queue-size", opts.queue_size, config->server.queue_size);
    if (opts.given.count("--api-key") == 0 && config->server.api_key.set) {
      opts.api_key = config->server.api_key.value;
    }
    if (opts.model.empty() && config->local.enabled) opts.model = config->local.model_path;
    if (opts.given.count("--ctx-size") == 0 && config->local.context_size > 0) {
      opts.ctx_size = config->local.context_size;
    }
  }
  if (opts.model.empty() && (!config || config->remotes.empty())) {
    return ReportError("nothing to serve: give -m MODEL, or --config with [local] or [remote]");
  }
  Result<DType> cache_type = DTypeFromName(opts.cache_type);
  if (!cache_type.ok()) return ReportError(cache_type.error().message());
  if (opts.parallel < 1) return ReportError("--parallel must be at least 1");

  server::HttpServer http({.host = opts.host,
                           .port = opts.port,
                           .api_key = opts.api_key,
                           .http_threads = opts.parallel + opts.queue_size + 16,
                           .probe_interval = std::chrono::milliseconds(100)});
  if (Status st = http.Bind(); !st.ok()) return ReportError(st.error().message());
  std::fprintf(stderr, "wick: listening on http://%s:%d (loading %s)\n", opts.host.c_str(),
               http.port(), opts.model.empty() ? "providers" : opts.model.c_str());
  std::thread serving([&] { http.Run(); });
  std::atomic<engine::BatchEngine*> running_engine{nullptr};
  std::thread stopper([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    std::fprintf(stderr, "wick: stopping\n");
    http.Stop();
    // Stopping waits for the requests in flight; end their sequences so none runs on.
    if (engine::BatchEngine* e = running_engine.load()) e->CancelAll();
  });
  auto fail = [&](const std::string& message) {
    http.Stop();
    serving.join();
    pthread_kill(stopper.native_handle(), SIGTERM);
    stopper.join();
    return ReportError(message);
  };

  const int64_t created = std::chrono::duration_cast<std::chrono::seconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
  // The local model, when there is one.
  std::unique_ptr<LoadedModel> m;
  std::optional<ChatTemplate> chat_template;
  std::unique_ptr<model::CpuBackend> backend;
  std::unique_ptr<engine::BatchEngine> engine;
  server::ServedModel served;
  served.created = created;
  if (!opts.model.empty()) {
    Result<std::unique_ptr<LoadedModel>> loaded = LoadedModel::Load(opts.model);
    if (!loaded.ok()) return fail(loaded.error().message());
    m = std::move(*loaded);
    Result<ChatTemplate> tmpl = LoadChatTemplate(*m, opts.model, opts.chat_template);
    if (!tmpl.ok()) return fail(tmpl.error().message());
    chat_template = std::move(*tmpl);
    const model::HParams& hp = m->model.hparams();
    const int64_t n_ctx =
        opts.ctx_size > 0 ? opts.ctx_size : DefaultContextSize(hp, *cache_type, opts.parallel);
    backend = std::make_unique<model::CpuBackend>(opts.threads);
    Result<std::unique_ptr<engine::BatchEngine>> created_engine =
        engine::BatchEngine::Create(m->model, *m->tokenizer, *backend,
                                    {.n_parallel = opts.parallel,
                                     .n_ctx = n_ctx,
                                     .kv_type = *cache_type,
                                     .n_batch = opts.batch_size,
                                     .queue_size = opts.queue_size});
    if (!created_engine.ok()) return fail(created_engine.error().message());
    engine = std::move(*created_engine);
    running_engine.store(engine.get());
    const engine::EngineStats stats = engine->Stats();
    served.id =
        opts.alias.empty() ? std::filesystem::path(opts.model).filename().string() : opts.alias;
    served.tokenizer = m->tokenizer.get();
    served.chat_template = &*chat_template;
    served.engine = engine.get();
    served.n_ctx_train = hp.n_ctx_train;
    std::fprintf(stderr,
                 "wick: model %s ready: %d slots x %lld positions, KV cache %s %.1f MiB, %d "
                 "threads\n",
                 served.id.c_str(), opts.parallel, static_cast<long long>(n_ctx),
                 std::string(NameOf(*cache_type)).c_str(),
                 static_cast<double>(stats.kv_bytes) / (1024.0 * 1024.0), backend->pool().size());
  }
  if (!config) {
    http.SetReady(served);
  }
  // With a config: every provider behind the router.
  const provider::SystemClock clock;
  Routing routing;
  if (config) {
    const provider::LocalModel local{.id = served.id,
                                     .tokenizer = served.tokenizer,
                                     .chat_template = served.chat_template,
                                     .engine = engine.get(),
                                     .price = {}};
    Result<Routing> built = BuildRouting(*config, engine ? &local : nullptr, clock);
    if (!built.ok()) return fail(built.error().message());
    routing = std::move(*built);
    std::fprintf(stderr, "wick: %s\n", routing.summary.c_str());
    http.SetRouter(routing.router.get(), served);
  }
  serving.join();
  pthread_kill(stopper.native_handle(), SIGTERM);  // if the server stopped on its own
  stopper.join();
  return 0;
}

}  // namespace

void RegisterServe(CLI::App& app, CommandRunner& runner) {
  auto opts = std::make_shared<ServeOptions>();
  CLI::App* cmd = app.add_subcommand("serve", "OpenAI-compatible HTTP server");
  cmd->add_option("-m,--model", opts->model, "GGUF model (or [local] in --config)");
  cmd->add_option("--config", opts->config,
                  "Providers, router, budgets and ledger (TOML; see docs/providers.md)");
  cmd->add_option("-a,--alias", opts->alias, "Model name clients use (default: the file name)");
  cmd->add_option("--host", opts->host, "Address to listen on")->capture_default_str();
  cmd->add_option("--port", opts->port, "Port (0: any free one)")->capture_default_str();
  cmd->add_option("--parallel,--np", opts->parallel, "Sequences generated at once")
      ->capture_default_str();
  cmd->add_option("-c,--ctx-size", opts->ctx_size,
                  "Context per sequence (default: the model's, capped to fit memory)");
  cmd->add_option("-b,--batch-size", opts->batch_size, "Most tokens per forward pass")
      ->capture_default_str();
  cmd->add_option("--api-key", opts->api_key, "Require this bearer key on /v1/*");
  cmd->add_option("--queue-size", opts->queue_size, "Requests waiting for a free slot before 503s")
      ->capture_default_str();
  cmd->add_option("-t,--threads", opts->threads, "Threads (default: physical cores)");
  cmd->add_option("--cache-type", opts->cache_type, "KV cache type: f16, f32, q8_0")
      ->capture_default_str();
  cmd->add_option("--chat-template", opts->chat_template, "Jinja chat template file");
  cmd->callback([opts, cmd, &runner] {
    for (const char* flag :
         {"--host", "--port", "--parallel", "--queue-size", "--api-key", "--ctx-size"}) {
      if (cmd->count(flag) > 0) opts->given.insert(flag);
    }
    runner = [opts] { return RunServe(*opts); };
  });
}

}  // namespace wick::cli
