#include "cli/routing.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

#include "provider/remote_provider.h"

namespace wick::cli {

namespace {

Result<std::unique_ptr<provider::Provider>> Remote(const provider::RemoteConfig& r) {
  Result<std::unique_ptr<provider::RemoteProvider>> p =
      provider::RemoteProvider::Create(provider::RemoteOptionsFrom(r));
  if (!p.ok()) return std::move(p).error().With("remote provider " + r.name);
  return std::unique_ptr<provider::Provider>(std::move(*p));
}

}  // namespace

Result<std::unique_ptr<LocalEngine>> LoadLocalEngine(const std::string& path, int64_t n_ctx,
                                                     int parallel, int threads,
                                                     const std::string& chat_template_file,
                                                     const ResolveOptions& resolve,
                                                     const DeviceOptions& device) {
  auto e = std::make_unique<LocalEngine>();
  WICK_ASSIGN_OR_RETURN(e->model, LoadedModel::Load(path, resolve));
  WICK_ASSIGN_OR_RETURN(ChatTemplate tmpl, LoadChatTemplate(*e->model, path, chat_template_file));
  e->chat_template = std::move(tmpl);
  const model::HParams& hp = e->model->model.hparams();
  if (n_ctx <= 0) n_ctx = DefaultContextSize(hp, DType::kF16, parallel);
  WICK_ASSIGN_OR_RETURN(
      e->devices,
      SetUpDevice(
          device, e->model->model,
          {.threads = threads, .n_ctx = n_ctx, .n_seq = parallel, .max_batch_tokens = 512}));
  WICK_ASSIGN_OR_RETURN(
      e->engine, engine::BatchEngine::Create(e->model->model, *e->model->tokenizer, *e->devices.cpu,
                                             {.n_parallel = parallel,
                                              .n_ctx = n_ctx,
                                              .kv_type = DType::kF16,
                                              .n_batch = 512,
                                              .queue_size = 0}));
  e->local = {.id = std::filesystem::path(path).filename().string(),
              .tokenizer = e->model->tokenizer.get(),
              .chat_template = &*e->chat_template,
              .engine = e->engine.get(),
              .price = {},
              .grammars = nullptr};
  return e;
}

Result<Routing> BuildRouting(provider::Config& config, const provider::LocalModel* local,
                             const provider::Clock& clock) {
  std::vector<std::unique_ptr<provider::Provider>> providers;
  if (local != nullptr) {
    provider::LocalModel m = *local;
    m.price = config.local.price;
    providers.push_back(std::make_unique<provider::LocalProvider>(m, config.local.name));
    // -m without [local]: the model is still the first tier.
    auto& tiers = config.fallback.tiers;
    if (std::find(tiers.begin(), tiers.end(), config.local.name) == tiers.end()) {
      tiers.insert(tiers.begin(), config.local.name);
    }
  }
  for (const provider::RemoteConfig& r : config.remotes) {
    WICK_ASSIGN_OR_RETURN(std::unique_ptr<provider::Provider> p, Remote(r));
    providers.push_back(std::move(p));
  }
  Routing routing;
  if (config.ledger.enabled) {
    WICK_ASSIGN_OR_RETURN(routing.ledger, provider::OpenLedger(config.ledger));
  }
  std::string names;
  for (const auto& p : providers) names += (names.empty() ? "" : ", ") + p->info().name;
  routing.summary = fmt::format("routing over {} ({}), ledger {}", names,
                                provider::StrategyName(config.fallback.strategy),
                                !config.ledger.enabled      ? std::string("off")
                                : config.ledger.url.empty() ? config.ledger.path
                                                            : std::string("postgresql"));
  routing.router =
      std::make_unique<provider::Router>(config, std::move(providers), routing.ledger.get(), clock);
  return routing;
}

std::string RouteErrorMessage(const provider::RouteError& error) {
  return fmt::format("{} (HTTP {}{})", error.error.message, error.error.status,
                     error.error.code.empty() ? "" : ", " + error.error.code);
}

Result<std::unique_ptr<CommandRouting>> RouteForCommand(const std::string& config_path,
                                                        const std::string& model_flag,
                                                        int64_t ctx_size, int threads,
                                                        const std::string& chat_template_file,
                                                        const DeviceOptions& device) {
  auto r = std::make_unique<CommandRouting>();
  WICK_ASSIGN_OR_RETURN(r->config, provider::LoadConfig(config_path));
  const std::string model_path = !model_flag.empty()       ? model_flag
                                 : r->config.local.enabled ? r->config.local.model_path
                                                           : std::string();
  if (!model_path.empty()) {
    WICK_ASSIGN_OR_RETURN(
        r->local,
        LoadLocalEngine(model_path, ctx_size > 0 ? ctx_size : r->config.local.context_size,
                        /*parallel=*/1, threads, chat_template_file,
                        ResolveOptionsFrom(r->config.hub), device));
  }
  WICK_ASSIGN_OR_RETURN(r->routing,
                        BuildRouting(r->config, r->local ? &r->local->local : nullptr, r->clock));
  return r;
}

}  // namespace wick::cli
