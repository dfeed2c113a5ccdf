// wick's configuration file: providers, the router's strategy and budgets, the response cache,
// the usage ledger and API keys, read from TOML (docs/providers.md lists every key).
//
// Loading validates everything up front, so a typo fails `wick config check` and startup with
// the file, key and line rather than silently doing something else at request time. Every
// default is filled in here, so the rest of wick reads plain fields. Secrets never come from
// the file: it names environment variables, which are read once, at load time.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "provider/price.h"

namespace wick::provider {

using std::chrono::milliseconds;

// How the router orders its tiers for a request.
enum class Strategy {
  kLocalFirst,        // tiers as listed: the local model, then the remotes
  kCostOptimized,     // the cheapest tier that can serve the request first
  kPerformanceFirst,  // the fastest healthy tier first
};
// "local_first", "cost_optimized", "performance_first".
std::string_view StrategyName(Strategy strategy);

// A remote provider's defaults for the endpoint and the API key variable.
enum class Preset {
  kOpenAiCompatible,  // any OpenAI-compatible API: api_endpoint is required
  kHuggingFace,       // https://router.huggingface.co/v1, HF_TOKEN
  kOpenAi,            // https://api.openai.com/v1, OPENAI_API_KEY
  kWick,              // another wick server: api_endpoint is required, no key by default
};
// "openai-compatible", "huggingface", "openai", "wick".
std::string_view PresetName(Preset preset);

// A secret named by the file and read from the environment when the file was loaded.
struct SecretEnv {
  std::string env;    // the variable's name; empty: none configured
  bool set = false;   // whether it held a non-empty value
  std::string value;  // that value: never print it (ShowConfig writes "***")
  bool operator==(const SecretEnv&) const = default;
};

struct ServerConfig {
  std::string host = "127.0.0.1";
  int port = 8080;                               // 0: any free port
  int parallel = 4;                              // sequences the local engine decodes at once
  int queue_size = 64;                           // requests waiting for a slot before 503s
  SecretEnv api_key{"WICK_API_KEY", false, ""};  // bearer key for /v1/*; unset: no key needed
  bool operator==(const ServerConfig&) const = default;
};

struct LocalConfig {
  bool enabled = false;  // the file has a [local] table
  std::string name = "local";
  std::string model_path;  // required in [local]
  bool gpu_enabled = false;
  uint64_t gpu_memory_limit = 0;  // bytes; 0: no limit
  int max_concurrent_requests = 4;
  int64_t context_size = 0;  // tokens; 0: the model's own
  Price price;
  bool operator==(const LocalConfig&) const = default;
};

struct RemoteConfig {
  std::string name;
  Preset preset = Preset::kOpenAiCompatible;
  std::string api_endpoint;  // base URL without a trailing '/', e.g. https://api.openai.com/v1
  SecretEnv api_key;         // sent as "Authorization: Bearer"; env empty: none
  std::vector<std::string> models;  // empty: whatever the endpoint's /v1/models lists
  int64_t context_length = 0;       // tokens; 0: unknown (no check before sending)
  int64_t rate_limit = 0;           // requests per minute; 0: no limit
  int64_t token_rate_limit = 0;     // tokens per minute; 0: no limit
  Price price;
  milliseconds connect_timeout{5'000};
  milliseconds first_token_timeout{30'000};
  milliseconds total_timeout{600'000};
  int max_retries = 2;
  bool operator==(const RemoteConfig&) const = default;
};

struct FallbackConfig {
  Strategy strategy = Strategy::kLocalFirst;
  std::optional<double> cost_threshold;  // USD per request; unset: no limit
  std::optional<double> daily_budget;    // USD, all keys together
  std::optional<double> monthly_budget;
  // Provider names in order; every name is a configured provider. Default: the local provider
  // (when configured), then the remotes in file order.
  std::vector<std::string> tiers;
  milliseconds health_interval{30'000};
  int circuit_failures = 3;  // consecutive failures that open the circuit
  milliseconds circuit_cooldown{60'000};
  bool operator==(const FallbackConfig&) const = default;
};

struct PerformanceConfig {
  milliseconds response_timeout{30'000};
  int64_t stream_chunk_size = 512;
  bool cache_enabled = true;
  milliseconds cache_ttl{3'600'000};
  int64_t cache_max_entries = 10'000;
  uint64_t cache_max_size = 100ull << 20;  // bytes
  bool cache_persist = false;              // keep the cache in the ledger database
  bool operator==(const PerformanceConfig&) const = default;
};

// Exactly one of path and url is non-empty.
struct LedgerConfig {
  bool enabled = true;
  std::string path;  // SQLite file, "~" expanded; default ~/.local/share/wick/usage.db
  std::string url;   // postgresql://… (no password in it: libpq reads PGPASSWORD, ~/.pgpass)
  // PostgreSQL: how often spend is read back, so that budgets count what other instances
  // on the same database spent. 0: only at start.
  milliseconds sync_interval{1'000};
  bool operator==(const LedgerConfig&) const = default;
};

// Where models named `org/name:quant` come from (see `wick pull`).
struct HubConfig {
  // wick servers run with --share-cache, asked for a model's files before the hub; each
  // file is still checked against the sha256 the hub gives. "http://host:8080".
  std::vector<std::string> peers;
  SecretEnv peer_api_key{"WICK_PEER_API_KEY", false, ""};  // bearer key for the peers
  int connections = 8;                                     // parallel ranges per big file
  bool offline = false;  // never ask the hub: cached models only (as HF_HUB_OFFLINE=1)
  bool operator==(const HubConfig&) const = default;
};

// A client API key with its own limits; unset limits fall back to the global ones only.
struct KeyConfig {
  std::string name;
  SecretEnv key;  // the bearer key clients send
  std::optional<double> daily_budget;
  std::optional<double> monthly_budget;
  std::optional<double> max_cost_per_request;
  int64_t rate_limit = 0;        // requests per minute; 0: no limit
  int64_t token_rate_limit = 0;  // tokens per minute; 0: no limit
  bool operator==(const KeyConfig&) const = default;
};

struct Config {
  ServerConfig server;
  LocalConfig local;
  std::vector<RemoteConfig> remotes;  // in file order
  FallbackConfig fallback;
  PerformanceConfig performance;
  LedgerConfig ledger;
  HubConfig hub;
  std::vector<KeyConfig> keys;
  // "provider/model" -> price, overriding the provider's price for that model. The provider
  // part is a configured provider's name; the model part may itself contain '/'.
  std::map<std::string, Price> prices;

  // The local provider's name (when enabled), then the remotes' names in file order.
  std::vector<std::string> ProviderNames() const;
  // The price of `model` on `provider`: a [prices] entry, else the provider's own price,
  // else zero.
  Price PriceOf(std::string_view provider, std::string_view model) const;

  bool operator==(const Config&) const = default;
};

// Reads and validates a config file. Errors (kInvalidArgument; kNotFound, kIo when the file
// cannot be read) read "FILE:LINE:COLUMN: remote[1].connect_timeout: <what is wrong>".
Result<Config> LoadConfig(const std::string& path);
// The same for text in memory; `source_name` stands for the file in messages.
Result<Config> ParseConfig(std::string_view toml, const std::string& source_name);

// $XDG_CONFIG_HOME/wick/config.toml, else $HOME/.config/wick/config.toml; empty when neither
// variable is set.
std::string DefaultConfigPath();

// The effective config as TOML, every default written out. Secrets are never printed: each
// *_env line carries a comment "# *** (set)" or "# (not set)". Parsing the output again gives
// an equal Config (in the same environment).
std::string ShowConfig(const Config& config);

// Problems that do not stop wick from starting but probably are mistakes, one line each: an
// API key variable that is not set, a remote without a key that its preset expects.
std::vector<std::string> ConfigWarnings(const Config& config);

// "250ms", "30s", "5m", "1h", "2d", combinations ("1h30m"), decimals ("1.5h"), or bare
// digits (seconds).
Result<milliseconds> ParseDuration(std::string_view text);
// "512" (bytes), "10KB", "1.5GB", "4 GiB", ...: units B, KB, MB, GB, TB and KiB…TiB, all
// 1024-based, case-insensitive.
Result<uint64_t> ParseSize(std::string_view text);
// The shortest form ParseDuration / ParseSize read back exactly: "90s", "1h", "10GB", "512B".
std::string FormatDuration(milliseconds duration);
std::string FormatSize(uint64_t bytes);

}  // namespace wick::provider
