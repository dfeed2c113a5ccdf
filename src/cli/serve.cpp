// `wick serve -m MODEL`: the OpenAI-compatible HTTP server (see server/http_server.h). It
// listens first, so /health answers 503 while the model loads, then serves until SIGINT or
// SIGTERM. `wick serve --models DIR_OR_TOML --max-memory SIZE`: every model of the list, each
// loaded on its first request, under a memory budget (see server/model_pool.h).
#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <set>
#include <thread>

#include "cli/commands.h"
#include "cli/loaded_model.h"
#include "cli/routing.h"
#include "cli/serve_models.h"
#include "engine/batch_engine.h"
#include "hub/hub_cache.h"
#include "model/backend.h"
#include "provider/config.h"
#include "server/http_server.h"
#include "server/model_pool.h"

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
  DeviceOptions device;
  std::string cache_type = "f16";
  bool swa_full = false;
  std::string chat_template;
  std::string config;           // providers, router, ledger (TOML); empty: only -m
  std::string models;           // --models DIR_OR_TOML: several models loaded on demand
  std::string max_memory;       // their budget; empty: kDefaultBudgetShare of the memory
  bool share_cache = false;     // GET /v1/blobs/{sha256} from the hub cache, for peers
  bool no_ui = false;           // no chat page at /
  std::string wasm_dir;         // the in-browser engine's files; empty: <dir of wick>/../wasm
  std::set<std::string> given;  // options set on the command line (they win over the config)
};

// Without --max-memory, the models may use this much of the physical memory: the rest is left
// to the system, the HTTP threads and the page cache of models being swapped in.
constexpr double kDefaultBudgetShare = 0.75;

uint64_t PhysicalMemory() {
  return static_cast<uint64_t>(sysconf(_SC_PHYS_PAGES)) *
         static_cast<uint64_t>(sysconf(_SC_PAGE_SIZE));
}

// The folder /wasm/* is served from: --wasm-dir, else build/wasm beside the executable's build
// folder (scripts/build-wasm writes there) when it exists, else none.
Result<std::string> WasmDir(const std::string& given) {
  std::error_code ec;
  if (!given.empty()) {
    if (!std::filesystem::is_directory(given, ec)) {
      return Error(ErrorCode::kNotFound, "--wasm-dir " + given + ": not a directory");
    }
    return given;
  }
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return std::string();
  const std::filesystem::path dir = (exe.parent_path() / ".." / "wasm").lexically_normal();
  return std::filesystem::is_directory(dir, ec) ? dir.string() : std::string();
}

// --models: the list with each model's estimated memory, in a pool whose loader builds a
// ServeModel. Logs each model and each load on stderr.
Result<std::unique_ptr<server::ModelPool>> BuildPool(const ServeOptions& opts,
                                                     const ServeEngineOptions& engine_options,
                                                     int64_t created) {
  const ServeModelSpec defaults{.id = {},
                                .path = {},
                                .ctx_size = opts.ctx_size,
                                .parallel = opts.parallel,
                                .chat_template = opts.chat_template};
  WICK_ASSIGN_OR_RETURN(std::vector<ServeModelSpec> specs, ListServeModels(opts.models, defaults));
  std::vector<server::PoolEntry> entries;
  for (const ServeModelSpec& spec : specs) {
    Result<uint64_t> bytes = EstimateServeModel(spec, engine_options);
    if (!bytes.ok()) return std::move(bytes).error().With("model " + spec.id);
    std::fprintf(stderr, "wick: model %s: %s, about %s\n", spec.id.c_str(), spec.path.c_str(),
                 server::HumanBytes(*bytes).c_str());
    if (*bytes > engine_options.memory_budget) {
      std::fprintf(stderr,
                   "wick: warning: model %s needs more than the memory budget; requests for it "
                   "get 400\n",
                   spec.id.c_str());
    }
    entries.push_back({.id = spec.id, .source = spec.path, .estimated_bytes = *bytes});
  }
  auto loader = [specs, engine_options, created](
                    const server::PoolEntry& e) -> Result<std::unique_ptr<server::PooledModel>> {
    const auto spec = std::find_if(specs.begin(), specs.end(),
                                   [&](const ServeModelSpec& s) { return s.id == e.id; });
    WICK_ASSIGN_OR_RETURN(std::unique_ptr<ServeModel> m,
                          ServeModel::Load(*spec, engine_options, created));
    return std::unique_ptr<server::PooledModel>(std::move(m));
  };
  auto on_load = [](const server::LoadEvent& e) {
    std::string unloaded;
    for (const std::string& id : e.unloaded) unloaded += (unloaded.empty() ? "" : ", ") + id;
    if (unloaded.empty()) {
      std::fprintf(stderr, "wick: loaded %s (%s) in %.0f ms\n", e.id.c_str(),
                   server::HumanBytes(e.bytes).c_str(), e.load_seconds * 1000);
    } else {
      std::fprintf(
          stderr, "wick: loaded %s (%s) in %.0f ms, unloaded %s in %.0f ms (swap %.0f ms)\n",
          e.id.c_str(), server::HumanBytes(e.bytes).c_str(), e.load_seconds * 1000,
          unloaded.c_str(), e.unload_seconds * 1000, (e.load_seconds + e.unload_seconds) * 1000);
    }
  };
  return std::make_unique<server::ModelPool>(
      std::move(entries), loader,
      server::ModelPoolOptions{.budget_bytes = engine_options.memory_budget,
                               .wait_for_memory = std::chrono::seconds(120),
                               .on_load = on_load});
}

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
  if (!opts.models.empty() && (!opts.model.empty() || config)) {
    return ReportError("--models serves the models it lists: give it without -m and --config");
  }
  if (!opts.max_memory.empty() && opts.models.empty()) {
    return ReportError("--max-memory is the budget of --models");
  }
  if (opts.model.empty() && opts.models.empty() && (!config || config->remotes.empty())) {
    return ReportError(
        "nothing to serve: give -m MODEL, --models DIR, or --config with [local] or [remote]");
  }
  Result<DType> cache_type = DTypeFromName(opts.cache_type);
  if (!cache_type.ok()) return ReportError(cache_type.error().message());
  if (opts.parallel < 1) return ReportError("--parallel must be at least 1");
  ServeEngineOptions engine_options{.batch_size = opts.batch_size,
                                    .queue_size = opts.queue_size,
                                    .threads = opts.threads,
                                    .cache_type = *cache_type,
                                    .swa_full = opts.swa_full,
                                    .memory_budget = 0,
                                    .device = opts.device};
  if (!opts.models.empty()) {
    engine_options.memory_budget =
        static_cast<uint64_t>(static_cast<double>(PhysicalMemory()) * kDefaultBudgetShare);
    if (!opts.max_memory.empty()) {
      Result<uint64_t> budget = provider::ParseSize(opts.max_memory);
      if (!budget.ok()) return ReportError("--max-memory: " + budget.error().message());
      if (*budget == 0) return ReportError("--max-memory must be more than 0");
      engine_options.memory_budget = *budget;
    }
  }

  std::string wasm_dir;
  if (!opts.no_ui) {
    Result<std::string> dir = WasmDir(opts.wasm_dir);
    if (!dir.ok()) return ReportError(dir.error().message());
    wasm_dir = std::move(*dir);
  }
  server::HttpServer http({.host = opts.host,
                           .port = opts.port,
                           .api_key = opts.api_key,
                           .http_threads = opts.parallel + opts.queue_size + 16,
                           .probe_interval = std::chrono::milliseconds(100),
                           .share_cache = opts.share_cache ? hub::HubCacheRoot().string() : "",
                           .ui = !opts.no_ui,
                           .wasm_dir = wasm_dir});
  if (Status st = http.Bind(); !st.ok()) return ReportError(st.error().message());
  std::fprintf(stderr, "wick: listening on http://%s:%d (loading %s)\n", opts.host.c_str(),
               http.port(),
               !opts.models.empty() ? opts.models.c_str()
               : opts.model.empty() ? "providers"
                                    : opts.model.c_str());
  if (!opts.no_ui) {
    std::string engine = wasm_dir;
    if (wasm_dir.empty()) {
      engine = "not built, see scripts/build-wasm";
    } else if (!std::filesystem::exists(wasm_dir + "/wick-st.js")) {
      engine = wasm_dir + " has no wick-st.js";
    }
    std::fprintf(stderr, "wick: chat page at http://%s:%d/ (in-browser engine: %s)\n",
                 opts.host.c_str(), http.port(), engine.c_str());
  }
  std::thread serving([&] { http.Run(); });
  std::atomic<engine::BatchEngine*> running_engine{nullptr};
  std::atomic<server::ModelPool*> running_pool{nullptr};
  std::thread stopper([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    std::fprintf(stderr, "wick: stopping\n");
    http.Stop();
    // Stopping waits for the requests in flight; end their sequences so none runs on.
    if (engine::BatchEngine* e = running_engine.load()) e->CancelAll();
    if (server::ModelPool* p = running_pool.load()) p->Shutdown();
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
  if (!opts.models.empty()) {
    Result<std::unique_ptr<server::ModelPool>> pool = BuildPool(opts, engine_options, created);
    if (!pool.ok()) return fail(pool.error().message());
    running_pool.store(pool->get());
    http.SetModelPool(pool->get());
    std::fprintf(stderr,
                 "wick: models ready: %zu, memory budget %s; each loads on its first request\n",
                 (*pool)->ids().size(), server::HumanBytes(engine_options.memory_budget).c_str());
    serving.join();
    pthread_kill(stopper.native_handle(), SIGTERM);  // if the server stopped on its own
    stopper.join();
    return 0;
  }
  // The local model, when there is one.
  std::unique_ptr<ServeModel> local_model;
  server::ServedModel served;
  served.created = created;
  if (!opts.model.empty()) {
    const ServeModelSpec spec{.id = opts.alias.empty()
                                        ? std::filesystem::path(opts.model).filename().string()
                                        : opts.alias,
                              .path = opts.model,  // LoadedModel::Load resolves hub names
                              .ctx_size = opts.ctx_size,
                              .parallel = opts.parallel,
                              .chat_template = opts.chat_template};
    Result<std::unique_ptr<ServeModel>> loaded = ServeModel::Load(spec, engine_options, created);
    if (!loaded.ok()) return fail(loaded.error().message());
    local_model = std::move(*loaded);
    running_engine.store(local_model->engine());
    served = local_model->served();
    std::fprintf(stderr, "wick: model %s ready: %s\n", served.id.c_str(),
                 local_model->Summary().c_str());
  }
  if (!config) {
    http.SetReady(served);
  }
  // With a config: every provider behind the router.
  const provider::SystemClock clock;
  Routing routing;
  if (config) {
    // The router's local provider shares the model's grammars with the direct path.
    const provider::LocalModel local{.id = served.id,
                                     .tokenizer = served.tokenizer,
                                     .chat_template = served.chat_template,
                                     .engine = served.engine,
                                     .price = {},
                                     .grammars = served.grammars};
    Result<Routing> built = BuildRouting(*config, local_model ? &local : nullptr, clock);
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
  cmd->add_option("--models", opts->models,
                  "Serve every model of a directory of GGUF files or of a TOML file of "
                  "[[model]] tables, each loaded on its first request (see README)");
  cmd->add_option("--max-memory", opts->max_memory,
                  "Memory budget of --models (\"10GB\"); least recently used idle models are "
                  "unloaded to stay under it (default: 3/4 of physical memory)");
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
  cmd->add_flag("--share-cache", opts->share_cache,
                "Let other wick instances (wick pull --peer) fetch this machine's hub cache "
                "blobs at GET /v1/blobs/{sha256}");
  cmd->add_flag("--no-ui", opts->no_ui, "Do not serve the chat page at /");
  cmd->add_option("--wasm-dir", opts->wasm_dir,
                  "Folder of the in-browser engine served at /wasm/ (default: build/wasm beside "
                  "the executable's build folder, when it exists)");
  cmd->add_option("--queue-size", opts->queue_size, "Requests waiting for a free slot before 503s")
      ->capture_default_str();
  cmd->add_option("-t,--threads", opts->threads, "Threads (default: physical cores)");
  AddDeviceOptions(*cmd, opts->device);
  cmd->add_option("--cache-type", opts->cache_type, "KV cache type: f16, f32, q8_0")
      ->capture_default_str();
  AddSwaFullFlag(*cmd, opts->swa_full);
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
