// `wick config show`: the effective config written back as TOML, and the warnings of
// `wick config check`.
#include <fmt/format.h>
#include <toml++/toml.h>

#include <charconv>
#include <cstring>
#include <filesystem>
#include <map>
#include <sstream>

#include "hub/model_ref.h"
#include "provider/config.h"

namespace wick::provider {
namespace {

void PutPrice(toml::table& table, const Price& price) {
  table.insert_or_assign("price_input", price.input);
  table.insert_or_assign("price_output", price.output);
}

void PutOptional(toml::table& table, std::string_view key, const std::optional<double>& value) {
  if (value) table.insert_or_assign(key, *value);
}

toml::array Strings(const std::vector<std::string>& values) {
  toml::array array;
  for (const std::string& v : values) array.push_back(v);
  return array;
}

toml::table Server(const ServerConfig& s) {
  return toml::table{{"host", s.host},
                     {"port", s.port},
                     {"parallel", s.parallel},
                     {"queue_size", s.queue_size},
                     {"api_key_env", s.api_key.env}};
}

toml::table Local(const LocalConfig& l) {
  toml::table t{{"name", l.name},
                {"model_path", l.model_path},
                {"gpu_enabled", l.gpu_enabled},
                {"gpu_memory_limit",
                 l.gpu_memory_limit == 0 ? std::string("0") : FormatSize(l.gpu_memory_limit)},
                {"max_concurrent_requests", l.max_concurrent_requests},
                {"context_size", l.context_size}};
  PutPrice(t, l.price);
  return t;
}

toml::table Remote(const RemoteConfig& r) {
  toml::table t{{"name", r.name},
                {"provider", PresetName(r.preset)},
                {"api_endpoint", r.api_endpoint},
                {"api_key_env", r.api_key.env},
                {"models", Strings(r.models)},
                {"context_length", r.context_length},
                {"rate_limit", r.rate_limit},
                {"token_rate_limit", r.token_rate_limit},
                {"connect_timeout", FormatDuration(r.connect_timeout)},
                {"first_token_timeout", FormatDuration(r.first_token_timeout)},
                {"total_timeout", FormatDuration(r.total_timeout)},
                {"max_retries", r.max_retries}};
  PutPrice(t, r.price);
  return t;
}

toml::table Fallback(const FallbackConfig& f) {
  toml::table t{{"strategy", StrategyName(f.strategy)},
                {"tiers", Strings(f.tiers)},
                {"health_interval", FormatDuration(f.health_interval)},
                {"circuit_failures", f.circuit_failures},
                {"circuit_cooldown", FormatDuration(f.circuit_cooldown)}};
  PutOptional(t, "cost_threshold", f.cost_threshold);
  PutOptional(t, "daily_budget", f.daily_budget);
  PutOptional(t, "monthly_budget", f.monthly_budget);
  return t;
}

toml::table Performance(const PerformanceConfig& p) {
  return toml::table{{"response_timeout", FormatDuration(p.response_timeout)},
                     {"stream_chunk_size", p.stream_chunk_size},
                     {"cache_enabled", p.cache_enabled},
                     {"cache_ttl", FormatDuration(p.cache_ttl)},
                     {"cache_max_entries", p.cache_max_entries},
                     {"cache_max_size", FormatSize(p.cache_max_size)},
                     {"cache_persist", p.cache_persist}};
}

toml::table Hub(const HubConfig& h) {
  return toml::table{{"peers", Strings(h.peers)},
                     {"peer_api_key_env", h.peer_api_key.env},
                     {"connections", h.connections},
                     {"offline", h.offline}};
}

toml::table Ledger(const LedgerConfig& l) {
  toml::table t{{"enabled", l.enabled}};
  if (!l.url.empty()) {
    t.insert_or_assign("url", l.url);
  } else {
    t.insert_or_assign("path", l.path);
  }
  t.insert_or_assign("sync_interval", FormatDuration(l.sync_interval));
  return t;
}

toml::table Key(const KeyConfig& k) {
  toml::table t{{"name", k.name},
                {"key_env", k.key.env},
                {"rate_limit", k.rate_limit},
                {"token_rate_limit", k.token_rate_limit}};
  PutOptional(t, "daily_budget", k.daily_budget);
  PutOptional(t, "monthly_budget", k.monthly_budget);
  PutOptional(t, "max_cost_per_request", k.max_cost_per_request);
  return t;
}

// Debian's toml++ writes every float with 17 significant digits ("0.14999999999999999");
// the shortest text that reads back as the same double is what the user wrote. Rewrites each
// float value (after "= ", outside strings) in a line.
std::string ShortenFloats(const std::string& line) {
  std::string out;
  bool in_string = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (in_string) {
      if (c == '\\' && i + 1 < line.size()) {
        out += c;
        c = line[++i];
      } else if (c == '"') {
        in_string = false;
      }
      out += c;
      continue;
    }
    if (c == '"') in_string = true;
    bool after_equals = i >= 2 && line[i - 1] == ' ' && line[i - 2] == '=';
    size_t end = i;
    while (end < line.size() && std::strchr("0123456789.eE+-", line[end]) != nullptr) ++end;
    std::string_view token(line.data() + i, end - i);
    if (!after_equals || token.find_first_of(".eE") == std::string_view::npos) {
      out += c;
      continue;
    }
    double value = 0;
    auto parsed = std::from_chars(token.data(), token.data() + token.size(), value);
    if (parsed.ec != std::errc() || parsed.ptr != token.data() + token.size()) {
      out += c;
      continue;
    }
    char buf[64];
    auto printed = std::to_chars(buf, buf + sizeof(buf), value);
    std::string shortest(buf, printed.ptr);
    if (shortest.find_first_of(".eE") == std::string::npos) shortest += ".0";
    out += shortest;
    i = end - 1;
  }
  return out;
}

// Whether each variable named by the config held a value when it was loaded.
std::map<std::string, bool> SecretStates(const Config& config) {
  std::map<std::string, bool> states;
  auto add = [&](const SecretEnv& s) {
    if (!s.env.empty()) states[s.env] = s.set;
  };
  add(config.server.api_key);
  add(config.hub.peer_api_key);
  for (const RemoteConfig& r : config.remotes) add(r.api_key);
  for (const KeyConfig& k : config.keys) add(k.key);
  return states;
}

}  // namespace

std::string ShowConfig(const Config& config) {
  // toml++ tables sort their keys; one document per section keeps the order of the docs.
  std::vector<toml::table> sections;
  auto add = [&](std::string_view name, auto&& node) {
    toml::table t;
    t.insert_or_assign(name, std::forward<decltype(node)>(node));
    sections.push_back(std::move(t));
  };
  add("server", Server(config.server));
  if (config.local.enabled) add("local", Local(config.local));
  if (!config.remotes.empty()) {
    toml::array remotes;
    for (const RemoteConfig& r : config.remotes) remotes.push_back(Remote(r));
    add("remote", std::move(remotes));
  }
  add("fallback", Fallback(config.fallback));
  add("performance", Performance(config.performance));
  add("ledger", Ledger(config.ledger));
  add("hub", Hub(config.hub));
  if (!config.keys.empty()) {
    toml::array keys;
    for (const KeyConfig& k : config.keys) keys.push_back(Key(k));
    add("keys", std::move(keys));
  }
  if (!config.prices.empty()) {
    toml::table prices;
    for (const auto& [route, price] : config.prices) {
      toml::table p{{"input", price.input}, {"output", price.output}};
      p.is_inline(true);
      prices.insert_or_assign(route, std::move(p));
    }
    add("prices", std::move(prices));
  }

  // Double-quoted, single-line strings only, so that every key = value is one line and the
  // lines can be amended below.
  std::ostringstream out;
  for (size_t i = 0; i < sections.size(); ++i) {
    out << (i == 0 ? "" : "\n")
        << toml::toml_formatter(sections[i], toml::format_flags::allow_unicode_strings) << "\n";
  }

  std::map<std::string, bool> states = SecretStates(config);
  std::istringstream lines(out.str());
  std::string result;
  for (std::string line; std::getline(lines, line);) {
    line = ShortenFloats(line);
    for (std::string_view key : {"api_key_env = \"", "key_env = \"", "peer_api_key_env = \""}) {
      if (line.rfind(key, 0) != 0 || line.back() != '"') continue;
      std::string env = line.substr(key.size(), line.size() - key.size() - 1);
      auto it = states.find(env);
      if (it != states.end()) line += it->second ? "  # *** (set)" : "  # (not set)";
    }
    result += line;
    result += '\n';
  }
  return result;
}

std::vector<std::string> ConfigWarnings(const Config& config) {
  std::vector<std::string> warnings;
  if (config.ProviderNames().empty()) {
    warnings.push_back("no providers: add [local] or [[remote]] tables");
  }
  if (config.local.enabled) {
    std::error_code ec;
    Result<hub::ModelRef> ref = hub::ParseModelRef(config.local.model_path);
    const bool hub_model = ref.ok() && ref->kind == hub::ModelRef::Kind::kHub;
    if (!hub_model && !std::filesystem::exists(config.local.model_path, ec)) {
      warnings.push_back(
          fmt::format("local.model_path: {} does not exist", Quote(config.local.model_path)));
    }
  }
  // An unset WICK_API_KEY is the usual way of running without a key; any other name was
  // chosen on purpose, so leaving it unset is probably a mistake that opens the server.
  const SecretEnv& server_key = config.server.api_key;
  if (!server_key.env.empty() && !server_key.set && server_key.env != "WICK_API_KEY") {
    warnings.push_back(
        fmt::format("server.api_key_env: {} is not set, so clients need no key", server_key.env));
  }
  for (size_t i = 0; i < config.remotes.size(); ++i) {
    const RemoteConfig& r = config.remotes[i];
    if (!r.api_key.env.empty() && !r.api_key.set) {
      warnings.push_back(fmt::format("remote {}: {} is not set, so requests go without a key",
                                     r.name, r.api_key.env));
    }
  }
  if (config.local.enabled && (config.local.gpu_enabled || config.local.gpu_memory_limit > 0)) {
    warnings.push_back(
        "local.gpu_enabled: this wick has no GPU backend yet, so the local model runs on the "
        "CPU");
  }
  if (config.performance.cache_enabled && config.performance.cache_persist &&
      !config.ledger.enabled) {
    warnings.push_back(
        "performance.cache_persist: the ledger is disabled, so the cache is kept in memory only");
  }
  for (size_t i = 0; i < config.keys.size(); ++i) {
    const KeyConfig& k = config.keys[i];
    if (!k.key.set) {
      warnings.push_back(fmt::format("keys[{}] ({}): {} is not set, so this key cannot be used", i,
                                     k.name, k.key.env));
    }
  }
  return warnings;
}

}  // namespace wick::provider
