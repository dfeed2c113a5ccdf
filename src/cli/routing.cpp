#include "cli/routing.h"

#include <fmt/format.h>

#include <algorithm>

#include "provider/remote_provider.h"

namespace wick::cli {

namespace {

Result<std::unique_ptr<provider::Provider>> Remote(const provider::RemoteConfig& r) {
  provider::RemoteOptions o;
  o.info.name = r.name;
  o.info.models = r.models;
  o.info.context_length = r.context_length;
  o.info.price = r.price;
  o.endpoint = r.api_endpoint;
  o.api_key = r.api_key.value;
  o.api_key_env = r.api_key.env;
  o.connect_timeout = r.connect_timeout;
  o.first_token_timeout = r.first_token_timeout;
  o.total_timeout = r.total_timeout;
  o.max_retries = r.max_retries;
  Result<std::unique_ptr<provider::RemoteProvider>> p = provider::RemoteProvider::Create(o);
  if (!p.ok()) return std::move(p).error().With("remote provider " + r.name);
  return std::unique_ptr<provider::Provider>(std::move(*p));
}

}  // namespace

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

}  // namespace wick::cli
