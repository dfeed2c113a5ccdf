#include "provider/config.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

#include "provider/config_reader.h"

namespace wick::provider {

using config_internal::IsValidName;
using config_internal::Section;

namespace {

constexpr std::string_view kDefaultLedgerPath = "~/.local/share/wick/usage.db";
constexpr int kMaxParallel = 4096;
constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();

struct PresetInfo {
  Preset preset;
  std::string_view name;
  std::string_view endpoint;  // empty: api_endpoint is required
  std::string_view key_env;
};

constexpr PresetInfo kPresets[] = {
    {Preset::kOpenAiCompatible, "openai-compatible", "", ""},
    {Preset::kHuggingFace, "huggingface", "https://router.huggingface.co/v1", "HF_TOKEN"},
    {Preset::kOpenAi, "openai", "https://api.openai.com/v1", "OPENAI_API_KEY"},
    {Preset::kWick, "wick", "", ""},
};

const PresetInfo& InfoOf(Preset preset) {
  for (const PresetInfo& info : kPresets) {
    if (info.preset == preset) return info;
  }
  return kPresets[0];
}

constexpr std::pair<Strategy, std::string_view> kStrategies[] = {
    {Strategy::kLocalFirst, "local_first"},
    {Strategy::kCostOptimized, "cost_optimized"},
    {Strategy::kPerformanceFirst, "performance_first"},
};

// toml++ descriptions may quote bytes from the file; keep the message on one line.
std::string OneLine(std::string_view text) {
  std::string out;
  for (char c : text) out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? ' ' : c;
  return out;
}

bool StartsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

// A sub-table or nullptr; anything else under that name is an error.
Result<const toml::table*> SubTable(const Section& root, std::string_view key) {
  const toml::node* node = root.Get(key);
  if (node == nullptr) return static_cast<const toml::table*>(nullptr);
  if (const auto* table = node->as_table()) return table;
  return root.Fail(
      node, key,
      fmt::format("expected a table ([{}]), got {}", key, config_internal::TypeName(*node)));
}

Status ParseServer(const Section& s, ServerConfig& out) {
  WICK_RETURN_IF_ERROR(s.CheckKeys({"host", "port", "parallel", "queue_size", "api_key_env"}));
  WICK_RETURN_IF_ERROR(s.String("host", out.host));
  WICK_RETURN_IF_ERROR(s.Int("port", out.port, 0, 65535));
  WICK_RETURN_IF_ERROR(s.Int("parallel", out.parallel, 1, kMaxParallel));
  WICK_RETURN_IF_ERROR(s.Int("queue_size", out.queue_size, 0, 1'000'000));
  return s.Env("api_key_env", out.api_key, false, /*allow_empty=*/true);
}

Status ParseName(const Section& s, std::string& out, bool required) {
  WICK_RETURN_IF_ERROR(s.String("name", out, required));
  if (!IsValidName(out)) {
    return s.Fail(
        s.Get("name"), "name",
        fmt::format("{} is not a valid name (letters, digits, '.', '_', '-')", Quote(out)));
  }
  return OkStatus();
}

Status ParseLocal(const Section& s, LocalConfig& out) {
  WICK_RETURN_IF_ERROR(
      s.CheckKeys({"model_path", "name", "gpu_enabled", "gpu_memory_limit",
                   "max_concurrent_requests", "context_size", "price_input", "price_output"}));
  out.enabled = true;
  WICK_RETURN_IF_ERROR(ParseName(s, out.name, false));
  WICK_RETURN_IF_ERROR(s.String("model_path", out.model_path, /*required=*/true));
  WICK_RETURN_IF_ERROR(s.Bool("gpu_enabled", out.gpu_enabled));
  WICK_RETURN_IF_ERROR(s.Size("gpu_memory_limit", out.gpu_memory_limit, /*allow_zero=*/true));
  WICK_RETURN_IF_ERROR(
      s.Int("max_concurrent_requests", out.max_concurrent_requests, 1, kMaxParallel));
  WICK_RETURN_IF_ERROR(s.Int("context_size", out.context_size, 0, kInt64Max));
  WICK_RETURN_IF_ERROR(s.Number("price_input", out.price.input));
  return s.Number("price_output", out.price.output);
}

Status ParseRemote(const Section& s, bool single, RemoteConfig& out) {
  WICK_RETURN_IF_ERROR(
      s.CheckKeys({"name", "provider", "api_endpoint", "api_key_env", "models", "context_length",
                   "rate_limit", "token_rate_limit", "price_input", "price_output",
                   "connect_timeout", "first_token_timeout", "total_timeout", "max_retries"}));
  std::string preset = std::string(PresetName(Preset::kOpenAiCompatible));
  WICK_RETURN_IF_ERROR(s.String("provider", preset));
  const PresetInfo* info = nullptr;
  for (const PresetInfo& p : kPresets) {
    if (p.name == preset) info = &p;
  }
  if (info == nullptr) {
    return s.Fail(s.Get("provider"), "provider",
                  fmt::format("unknown preset {} (expected huggingface, openai, wick or "
                              "openai-compatible)",
                              Quote(preset)));
  }
  out.preset = info->preset;
  out.name = std::string(info->name);
  WICK_RETURN_IF_ERROR(ParseName(s, out.name, /*required=*/!single));

  out.api_endpoint = std::string(info->endpoint);
  WICK_RETURN_IF_ERROR(s.String("api_endpoint", out.api_endpoint, /*required=*/
                                info->endpoint.empty()));
  size_t scheme = StartsWith(out.api_endpoint, "http://")    ? 7
                  : StartsWith(out.api_endpoint, "https://") ? 8
                                                             : 0;
  if (scheme == 0 || out.api_endpoint.size() == scheme || out.api_endpoint[scheme] == '/') {
    return s.Fail(s.Get("api_endpoint"), "api_endpoint",
                  fmt::format("{} is not an http:// or https:// URL", Quote(out.api_endpoint)));
  }
  while (out.api_endpoint.back() == '/') out.api_endpoint.pop_back();

  out.api_key.env = std::string(info->key_env);
  WICK_RETURN_IF_ERROR(s.Env("api_key_env", out.api_key, false, /*allow_empty=*/true));
  WICK_RETURN_IF_ERROR(s.StringList("models", out.models));
  WICK_RETURN_IF_ERROR(s.Int("context_length", out.context_length, 0, kInt64Max));
  WICK_RETURN_IF_ERROR(s.Int("rate_limit", out.rate_limit, 0, kInt64Max));
  WICK_RETURN_IF_ERROR(s.Int("token_rate_limit", out.token_rate_limit, 0, kInt64Max));
  WICK_RETURN_IF_ERROR(s.Number("price_input", out.price.input));
  WICK_RETURN_IF_ERROR(s.Number("price_output", out.price.output));
  WICK_RETURN_IF_ERROR(s.Duration("connect_timeout", out.connect_timeout));
  WICK_RETURN_IF_ERROR(s.Duration("first_token_timeout", out.first_token_timeout));
  WICK_RETURN_IF_ERROR(s.Duration("total_timeout", out.total_timeout));
  return s.Int("max_retries", out.max_retries, 0, 100);
}

// [remote] (one provider) or [[remote]] (several, each named).
Status ParseRemotes(const std::string& source, const Section& root, Config& config) {
  const toml::node* node = root.Get("remote");
  if (node == nullptr) return OkStatus();
  if (const auto* table = node->as_table()) {
    RemoteConfig remote;
    WICK_RETURN_IF_ERROR(ParseRemote(Section(source, *table, "remote"), true, remote));
    config.remotes.push_back(std::move(remote));
    return OkStatus();
  }
  const auto* array = node->as_array();
  if (array == nullptr) {
    return root.Fail(node, "remote",
                     fmt::format("expected a table ([remote] or [[remote]]), got {}",
                                 config_internal::TypeName(*node)));
  }
  for (size_t i = 0; i < array->size(); ++i) {
    const toml::node& item = *array->get(i);
    std::string path = fmt::format("remote[{}]", i);
    const auto* table = item.as_table();
    if (table == nullptr) {
      return root.Fail(
          item.source(), "",
          fmt::format("{}: expected a table, got {}", path, config_internal::TypeName(item)));
    }
    RemoteConfig remote;
    WICK_RETURN_IF_ERROR(ParseRemote(Section(source, *table, path), false, remote));
    config.remotes.push_back(std::move(remote));
  }
  return OkStatus();
}

// Every provider name once: tiers, routes and prices refer to providers by name.
Status CheckProviderNames(const std::string& source, const Section& root, const Config& config) {
  std::vector<std::pair<std::string, std::string>> seen;  // name, where
  if (config.local.enabled) seen.emplace_back(config.local.name, "[local]");
  const toml::node* remotes = root.Get("remote");
  for (size_t i = 0; i < config.remotes.size(); ++i) {
    const std::string& name = config.remotes[i].name;
    auto dup =
        std::find_if(seen.begin(), seen.end(), [&](const auto& p) { return p.first == name; });
    std::string path = remotes->is_table() ? "remote" : fmt::format("remote[{}]", i);
    if (dup != seen.end()) {
      const toml::table& table =
          remotes->is_table() ? *remotes->as_table() : *remotes->as_array()->get(i)->as_table();
      Section s(source, table, path);
      return s.Fail(
          s.Get("name"), "name",
          fmt::format("provider name {} is already used by {}{}", Quote(name), dup->second,
                      s.Get("name") == nullptr ? " (set a different name)" : ""));
    }
    seen.emplace_back(name, path);
  }
  return OkStatus();
}

Status ParseFallback(const Section& s, Config& config) {
  FallbackConfig& out = config.fallback;
  WICK_RETURN_IF_ERROR(
      s.CheckKeys({"strategy", "cost_threshold", "daily_budget", "monthly_budget", "tiers",
                   "health_interval", "circuit_failures", "circuit_cooldown"}));
  std::string strategy(StrategyName(out.strategy));
  WICK_RETURN_IF_ERROR(s.String("strategy", strategy));
  auto it = std::find_if(std::begin(kStrategies), std::end(kStrategies),
                         [&](const auto& p) { return p.second == strategy; });
  if (it == std::end(kStrategies)) {
    return s.Fail(s.Get("strategy"), "strategy",
                  fmt::format("unknown strategy {} (expected local_first, cost_optimized or "
                              "performance_first)",
                              Quote(strategy)));
  }
  out.strategy = it->first;
  WICK_RETURN_IF_ERROR(s.Number("cost_threshold", out.cost_threshold));
  WICK_RETURN_IF_ERROR(s.Number("daily_budget", out.daily_budget));
  WICK_RETURN_IF_ERROR(s.Number("monthly_budget", out.monthly_budget));
  WICK_RETURN_IF_ERROR(s.Duration("health_interval", out.health_interval));
  WICK_RETURN_IF_ERROR(s.Int("circuit_failures", out.circuit_failures, 1, 1'000'000));
  WICK_RETURN_IF_ERROR(s.Duration("circuit_cooldown", out.circuit_cooldown));
  if (s.Get("tiers") == nullptr) return OkStatus();
  WICK_RETURN_IF_ERROR(s.StringList("tiers", out.tiers));
  if (out.tiers.empty()) return s.Fail(s.Get("tiers"), "tiers", "names no provider");
  std::vector<std::string> names = config.ProviderNames();
  const toml::array& array = *s.Get("tiers")->as_array();
  for (size_t i = 0; i < out.tiers.size(); ++i) {
    if (std::find(names.begin(), names.end(), out.tiers[i]) == names.end()) {
      std::string known;
      for (const std::string& n : names) known += (known.empty() ? "" : ", ") + n;
      return s.Fail(array.get(i)->source(), "tiers",
                    fmt::format("item {}: no provider is named {} (providers: {})", i,
                                Quote(out.tiers[i]), known.empty() ? "none" : known));
    }
  }
  return OkStatus();
}

Status ParsePerformance(const Section& s, PerformanceConfig& out) {
  WICK_RETURN_IF_ERROR(
      s.CheckKeys({"response_timeout", "stream_chunk_size", "cache_enabled", "cache_ttl",
                   "cache_max_entries", "cache_max_size", "cache_persist"}));
  WICK_RETURN_IF_ERROR(s.Duration("response_timeout", out.response_timeout));
  WICK_RETURN_IF_ERROR(s.Int("stream_chunk_size", out.stream_chunk_size, 1, kInt64Max));
  WICK_RETURN_IF_ERROR(s.Bool("cache_enabled", out.cache_enabled));
  WICK_RETURN_IF_ERROR(s.Duration("cache_ttl", out.cache_ttl));
  WICK_RETURN_IF_ERROR(s.Int("cache_max_entries", out.cache_max_entries, 1, kInt64Max));
  WICK_RETURN_IF_ERROR(s.Size("cache_max_size", out.cache_max_size, /*allow_zero=*/false));
  return s.Bool("cache_persist", out.cache_persist);
}

// "~" and "~/x" become $HOME and $HOME/x; "~user" is refused rather than left as a
// directory literally named "~user".
Result<std::string> ExpandHome(std::string path) {
  if (path.empty() || path[0] != '~') return path;
  if (path.size() > 1 && path[1] != '/') {
    return Error(ErrorCode::kInvalidArgument, "only a leading ~/ is expanded (~user is not)");
  }
  const char* home = std::getenv("HOME");
  if (home == nullptr || home[0] == '\0') {
    return Error(ErrorCode::kInvalidArgument, "$HOME is not set, so ~ cannot be expanded");
  }
  return std::string(home) + path.substr(1);
}

Status ParseLedger(const Section* s, const Section& root, LedgerConfig& out) {
  out.path = std::string(kDefaultLedgerPath);
  if (s != nullptr) {
    WICK_RETURN_IF_ERROR(s->CheckKeys({"path", "url", "enabled", "sync_interval"}));
    WICK_RETURN_IF_ERROR(s->Bool("enabled", out.enabled));
    WICK_RETURN_IF_ERROR(s->Duration("sync_interval", out.sync_interval));
    WICK_RETURN_IF_ERROR(s->String("path", out.path));
    WICK_RETURN_IF_ERROR(s->String("url", out.url));
    if (s->Get("path") != nullptr && s->Get("url") != nullptr) {
      return s->Fail(s->Get("url"), "url",
                     "set either ledger.path (SQLite) or ledger.url (PostgreSQL), not both");
    }
  }
  if (!out.url.empty()) {
    out.path.clear();
    // The part before '@' in the authority is user[:password]. Checked first, and the URL is
    // never echoed, so that a password does not end up in a log.
    size_t scheme_end = out.url.find("://");
    std::string_view rest = std::string_view(out.url).substr(
        scheme_end == std::string::npos ? out.url.size() : scheme_end + 3);
    std::string_view authority = rest.substr(0, rest.find_first_of("/?"));
    size_t at = authority.rfind('@');
    bool inline_password =
        at != std::string_view::npos && authority.substr(0, at).find(':') != std::string_view::npos;
    if (inline_password || out.url.find("password=") != std::string::npos) {
      return s->Fail(s->Get("url"), "url",
                     "secrets are not read from the config file: leave the password out of the "
                     "URL and set PGPASSWORD or use ~/.pgpass (libpq reads both)");
    }
    if (!StartsWith(out.url, "postgresql://") && !StartsWith(out.url, "postgres://")) {
      return s->Fail(s->Get("url"), "url", "expected a postgresql:// or postgres:// URL");
    }
    return OkStatus();
  }
  Result<std::string> path = ExpandHome(out.path);
  if (!path.ok()) {
    if (s != nullptr) return s->Fail(s->Get("path"), "path", path.error().message());
    return root.Fail(nullptr, "", "ledger.path: " + path.error().message());
  }
  out.path = std::move(*path);
  return OkStatus();
}

Status ParseHub(const Section& s, HubConfig& out) {
  WICK_RETURN_IF_ERROR(s.CheckKeys({"peers", "peer_api_key_env", "connections", "offline"}));
  WICK_RETURN_IF_ERROR(s.StringList("peers", out.peers));
  for (const std::string& peer : out.peers) {
    if (!StartsWith(peer, "http://") && !StartsWith(peer, "https://")) {
      return s.Fail(s.Get("peers"), "peers",
                    fmt::format("{} is not an http:// or https:// URL", Quote(peer)));
    }
  }
  WICK_RETURN_IF_ERROR(s.Env("peer_api_key_env", out.peer_api_key, false, /*allow_empty=*/true));
  WICK_RETURN_IF_ERROR(s.Int("connections", out.connections, 1, 64));
  return s.Bool("offline", out.offline);
}

Status ParseKey(const Section& s, KeyConfig& out) {
  WICK_RETURN_IF_ERROR(s.CheckKeys({"name", "key_env", "daily_budget", "monthly_budget",
                                    "max_cost_per_request", "rate_limit", "token_rate_limit"}));
  WICK_RETURN_IF_ERROR(ParseName(s, out.name, /*required=*/true));
  WICK_RETURN_IF_ERROR(s.Env("key_env", out.key, /*required=*/true, /*allow_empty=*/false));
  WICK_RETURN_IF_ERROR(s.Number("daily_budget", out.daily_budget));
  WICK_RETURN_IF_ERROR(s.Number("monthly_budget", out.monthly_budget));
  WICK_RETURN_IF_ERROR(s.Number("max_cost_per_request", out.max_cost_per_request));
  WICK_RETURN_IF_ERROR(s.Int("rate_limit", out.rate_limit, 0, kInt64Max));
  return s.Int("token_rate_limit", out.token_rate_limit, 0, kInt64Max);
}

Status ParseKeys(const std::string& source, const Section& root, Config& config) {
  const toml::node* node = root.Get("keys");
  if (node == nullptr) return OkStatus();
  const auto* array = node->as_array();
  if (array == nullptr) {
    return root.Fail(node, "keys",
                     fmt::format("expected an array of tables ([[keys]]), got {}",
                                 config_internal::TypeName(*node)));
  }
  for (size_t i = 0; i < array->size(); ++i) {
    const toml::node& item = *array->get(i);
    std::string path = fmt::format("keys[{}]", i);
    const auto* table = item.as_table();
    if (table == nullptr) {
      return root.Fail(
          item.source(), "",
          fmt::format("{}: expected a table, got {}", path, config_internal::TypeName(item)));
    }
    Section s(source, *table, path);
    KeyConfig key;
    WICK_RETURN_IF_ERROR(ParseKey(s, key));
    for (size_t j = 0; j < config.keys.size(); ++j) {
      if (config.keys[j].name == key.name) {
        return s.Fail(s.Get("name"), "name",
                      fmt::format("{} is already the name of keys[{}]", Quote(key.name), j));
      }
      if (config.keys[j].key.env == key.key.env) {
        return s.Fail(s.Get("key_env"), "key_env",
                      fmt::format("keys[{}] reads the same variable {}", j, key.key.env));
      }
    }
    config.keys.push_back(std::move(key));
  }
  return OkStatus();
}

Status ParsePrices(const std::string& source, const Section& s, Config& config) {
  std::vector<std::string> names = config.ProviderNames();
  for (const auto& [key, node] : s.table()) {
    std::string_view route = key.str();
    size_t slash = route.find('/');
    if (slash == std::string_view::npos || slash == 0 || slash + 1 == route.size()) {
      return s.Fail(key.source(), route, "expected a \"provider/model\" key");
    }
    std::string provider(route.substr(0, slash));
    if (std::find(names.begin(), names.end(), provider) == names.end()) {
      return s.Fail(key.source(), route, fmt::format("no provider is named {}", Quote(provider)));
    }
    const auto* table = node.as_table();
    if (table == nullptr) {
      return s.Fail(node.source(), route,
                    fmt::format("expected a table such as {{ input = 0.15, output = 0.60 }}, "
                                "got {}",
                                config_internal::TypeName(node)));
    }
    Section price(source, *table, s.KeyPath(route));
    WICK_RETURN_IF_ERROR(price.CheckKeys({"input", "output"}));
    Price p;
    // Both, because an override with only one of them would price the other at zero.
    if (price.Get("input") == nullptr) return price.Fail(nullptr, "input", "missing (required)");
    if (price.Get("output") == nullptr) return price.Fail(nullptr, "output", "missing (required)");
    WICK_RETURN_IF_ERROR(price.Number("input", p.input));
    WICK_RETURN_IF_ERROR(price.Number("output", p.output));
    config.prices.emplace(std::string(route), p);
  }
  return OkStatus();
}

Result<Config> ParseTable(const std::string& source, const toml::table& root_table) {
  Section root(source, root_table, "");
  WICK_RETURN_IF_ERROR(root.CheckKeys(
      {"server", "local", "remote", "fallback", "performance", "ledger", "hub", "keys", "prices"}));
  Config config;
  const toml::table* table = nullptr;
  WICK_ASSIGN_OR_RETURN(table, SubTable(root, "server"));
  if (table)
    WICK_RETURN_IF_ERROR(ParseServer(Section(source, *table, "server"), config.server));
  else
    config_internal::ResolveEnv(config.server.api_key);

  WICK_ASSIGN_OR_RETURN(table, SubTable(root, "local"));
  if (table) WICK_RETURN_IF_ERROR(ParseLocal(Section(source, *table, "local"), config.local));
  WICK_RETURN_IF_ERROR(ParseRemotes(source, root, config));
  WICK_RETURN_IF_ERROR(CheckProviderNames(source, root, config));

  config.fallback.tiers = config.ProviderNames();
  WICK_ASSIGN_OR_RETURN(table, SubTable(root, "fallback"));
  if (table) WICK_RETURN_IF_ERROR(ParseFallback(Section(source, *table, "fallback"), config));

  WICK_ASSIGN_OR_RETURN(table, SubTable(root, "performance"));
  if (table) {
    WICK_RETURN_IF_ERROR(
        ParsePerformance(Section(source, *table, "performance"), config.performance));
  }

  WICK_ASSIGN_OR_RETURN(table, SubTable(root, "ledger"));
  if (table) {
    Section ledger(source, *table, "ledger");
    WICK_RETURN_IF_ERROR(ParseLedger(&ledger, root, config.ledger));
  } else {
    WICK_RETURN_IF_ERROR(ParseLedger(nullptr, root, config.ledger));
  }

  WICK_ASSIGN_OR_RETURN(table, SubTable(root, "hub"));
  if (table) {
    WICK_RETURN_IF_ERROR(ParseHub(Section(source, *table, "hub"), config.hub));
  } else {
    config_internal::ResolveEnv(config.hub.peer_api_key);
  }

  WICK_RETURN_IF_ERROR(ParseKeys(source, root, config));
  WICK_ASSIGN_OR_RETURN(table, SubTable(root, "prices"));
  if (table) WICK_RETURN_IF_ERROR(ParsePrices(source, Section(source, *table, "prices"), config));
  return config;
}

}  // namespace

std::string_view StrategyName(Strategy strategy) {
  for (const auto& [s, name] : kStrategies) {
    if (s == strategy) return name;
  }
  return "local_first";
}

std::string_view PresetName(Preset preset) {
  return InfoOf(preset).name;
}

std::vector<std::string> Config::ProviderNames() const {
  std::vector<std::string> names;
  if (local.enabled) names.push_back(local.name);
  for (const RemoteConfig& remote : remotes) names.push_back(remote.name);
  return names;
}

Price Config::PriceOf(std::string_view provider, std::string_view model) const {
  auto it = prices.find(fmt::format("{}/{}", provider, model));
  if (it != prices.end()) return it->second;
  if (local.enabled && local.name == provider) return local.price;
  for (const RemoteConfig& remote : remotes) {
    if (remote.name == provider) return remote.price;
  }
  return {};
}

Result<Config> ParseConfig(std::string_view toml, const std::string& source_name) {
  toml::table root;
  try {
    root = toml::parse(toml, source_name);
  } catch (const toml::parse_error& e) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("{}:{}:{}: {}", source_name, e.source().begin.line,
                             e.source().begin.column, OneLine(e.description())));
  }
  return ParseTable(source_name, root);
}

Result<Config> LoadConfig(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    int err = errno;
    return Error(err == ENOENT ? ErrorCode::kNotFound : ErrorCode::kIo,
                 fmt::format("{}: cannot read config file: {}", path, std::strerror(err)));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    return Error(ErrorCode::kIo, fmt::format("{}: cannot read config file", path));
  }
  return ParseConfig(text.str(), path);
}

std::string DefaultConfigPath() {
  // The XDG spec says a relative XDG_CONFIG_HOME is invalid and must be ignored.
  const char* xdg = std::getenv("XDG_CONFIG_HOME");
  if (xdg != nullptr && xdg[0] == '/') return std::string(xdg) + "/wick/config.toml";
  const char* home = std::getenv("HOME");
  if (home != nullptr && home[0] != '\0') return std::string(home) + "/.config/wick/config.toml";
  return "";
}

}  // namespace wick::provider
