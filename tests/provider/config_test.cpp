// The config file: every key of the schema, every default, durations and sizes, each error
// rule with the key and line it must name, secrets from the environment, and `show` output
// that masks secrets and parses back to the same config.
#include "provider/config.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>

#include "test_support.h"

namespace wick::provider {
namespace {

using namespace std::chrono_literals;

using wick::testing::ScopedEnv;

constexpr const char* kFullExample = R"toml([server]
host = "0.0.0.0"
port = 9090
parallel = 8
queue_size = 32
api_key_env = "WICK_CFG_TEST_SERVER_KEY"

[local]
model_path = "/models/x.gguf"
name = "here"
gpu_enabled = true
gpu_memory_limit = "10GB"
max_concurrent_requests = 2
context_size = 4096
price_input = 0.0
price_output = 0.0

[[remote]]
name = "hf"
provider = "huggingface"
models = ["meta-llama/Llama-3.1-8B-Instruct", "Qwen/Qwen2.5-7B-Instruct"]
context_length = 8192
rate_limit = 100
token_rate_limit = 100000
price_input = 0.15
price_output = 0.60
connect_timeout = "5s"
first_token_timeout = "30s"
total_timeout = "10m"
max_retries = 3

[[remote]]
name = "backup"
provider = "wick"
api_endpoint = "http://10.0.0.2:8080/v1/"

[fallback]
strategy = "cost_optimized"
cost_threshold = 0.01
daily_budget = 10.0
monthly_budget = 100
tiers = ["hf", "here", "backup"]
health_interval = "15s"
circuit_failures = 5
circuit_cooldown = "2m"

[performance]
response_timeout = "45s"
stream_chunk_size = 256
cache_enabled = false
cache_ttl = "2h"
cache_max_entries = 500
cache_max_size = "1.5GB"
cache_persist = true

[ledger]
url = "postgresql://wick@db.example/usage"
enabled = true

[[keys]]
name = "team-a"
key_env = "WICK_CFG_TEST_TEAM_A"
daily_budget = 1.5
monthly_budget = 20
max_cost_per_request = 0.05
rate_limit = 60
token_rate_limit = 50000

[prices]
"hf/meta-llama/Llama-3.1-8B-Instruct" = { input = 0.2, output = 0.8 }
)toml";

Config MustParse(std::string_view text) {
  Result<Config> config = ParseConfig(text, "test.toml");
  EXPECT_TRUE(config.ok()) << config.error().message();
  return config.ok() ? *config : Config{};
}

// Parsing must fail with kInvalidArgument, at "test.toml:LINE:", naming `key`.
void ExpectError(std::string_view text, int line, std::string_view key,
                 std::string_view also = "") {
  Result<Config> config = ParseConfig(text, "test.toml");
  ASSERT_FALSE(config.ok()) << "parsed:\n" << text;
  const std::string& message = config.error().message();
  EXPECT_EQ(config.error().code(), ErrorCode::kInvalidArgument) << message;
  EXPECT_EQ(message.rfind("test.toml:" + std::to_string(line) + ":", 0), 0u) << message;
  EXPECT_NE(message.find(key), std::string::npos) << message;
  EXPECT_NE(message.find(also), std::string::npos) << message;
}

TEST(ConfigTest, FullExample) {
  ScopedEnv server_key("WICK_CFG_TEST_SERVER_KEY", "server-secret");
  ScopedEnv team_key("WICK_CFG_TEST_TEAM_A", "team-secret");
  ScopedEnv hf_token("HF_TOKEN", "hf-secret");
  Config c = MustParse(kFullExample);

  EXPECT_EQ(c.server.host, "0.0.0.0");
  EXPECT_EQ(c.server.port, 9090);
  EXPECT_EQ(c.server.parallel, 8);
  EXPECT_EQ(c.server.queue_size, 32);
  EXPECT_EQ(c.server.api_key.env, "WICK_CFG_TEST_SERVER_KEY");
  EXPECT_TRUE(c.server.api_key.set);
  EXPECT_EQ(c.server.api_key.value, "server-secret");

  EXPECT_TRUE(c.local.enabled);
  EXPECT_EQ(c.local.name, "here");
  EXPECT_EQ(c.local.model_path, "/models/x.gguf");
  EXPECT_TRUE(c.local.gpu_enabled);
  EXPECT_EQ(c.local.gpu_memory_limit, 10ull << 30);
  EXPECT_EQ(c.local.max_concurrent_requests, 2);
  EXPECT_EQ(c.local.context_size, 4096);
  EXPECT_EQ(c.local.price, Price{});

  ASSERT_EQ(c.remotes.size(), 2u);
  const RemoteConfig& hf = c.remotes[0];
  EXPECT_EQ(hf.name, "hf");
  EXPECT_EQ(hf.preset, Preset::kHuggingFace);
  EXPECT_EQ(hf.api_endpoint, "https://router.huggingface.co/v1");
  EXPECT_EQ(hf.api_key.env, "HF_TOKEN");
  EXPECT_EQ(hf.api_key.value, "hf-secret");
  EXPECT_EQ(hf.models, (std::vector<std::string>{"meta-llama/Llama-3.1-8B-Instruct",
                                                 "Qwen/Qwen2.5-7B-Instruct"}));
  EXPECT_EQ(hf.context_length, 8192);
  EXPECT_EQ(hf.rate_limit, 100);
  EXPECT_EQ(hf.token_rate_limit, 100000);
  EXPECT_EQ(hf.price, (Price{0.15, 0.60}));
  EXPECT_EQ(hf.connect_timeout, 5s);
  EXPECT_EQ(hf.first_token_timeout, 30s);
  EXPECT_EQ(hf.total_timeout, 10min);
  EXPECT_EQ(hf.max_retries, 3);
  const RemoteConfig& backup = c.remotes[1];
  EXPECT_EQ(backup.preset, Preset::kWick);
  EXPECT_EQ(backup.api_endpoint, "http://10.0.0.2:8080/v1");  // trailing '/' dropped
  EXPECT_EQ(backup.api_key.env, "");
  EXPECT_FALSE(backup.api_key.set);

  EXPECT_EQ(c.fallback.strategy, Strategy::kCostOptimized);
  EXPECT_EQ(c.fallback.cost_threshold, 0.01);
  EXPECT_EQ(c.fallback.daily_budget, 10.0);
  EXPECT_EQ(c.fallback.monthly_budget, 100.0);
  EXPECT_EQ(c.fallback.tiers, (std::vector<std::string>{"hf", "here", "backup"}));
  EXPECT_EQ(c.fallback.health_interval, 15s);
  EXPECT_EQ(c.fallback.circuit_failures, 5);
  EXPECT_EQ(c.fallback.circuit_cooldown, 2min);

  EXPECT_EQ(c.performance.response_timeout, 45s);
  EXPECT_EQ(c.performance.stream_chunk_size, 256);
  EXPECT_FALSE(c.performance.cache_enabled);
  EXPECT_EQ(c.performance.cache_ttl, 2h);
  EXPECT_EQ(c.performance.cache_max_entries, 500);
  EXPECT_EQ(c.performance.cache_max_size, 3ull << 29);
  EXPECT_TRUE(c.performance.cache_persist);

  EXPECT_TRUE(c.ledger.enabled);
  EXPECT_EQ(c.ledger.url, "postgresql://wick@db.example/usage");
  EXPECT_EQ(c.ledger.path, "");

  ASSERT_EQ(c.keys.size(), 1u);
  EXPECT_EQ(c.keys[0].name, "team-a");
  EXPECT_EQ(c.keys[0].key.env, "WICK_CFG_TEST_TEAM_A");
  EXPECT_EQ(c.keys[0].key.value, "team-secret");
  EXPECT_EQ(c.keys[0].daily_budget, 1.5);
  EXPECT_EQ(c.keys[0].monthly_budget, 20.0);
  EXPECT_EQ(c.keys[0].max_cost_per_request, 0.05);
  EXPECT_EQ(c.keys[0].rate_limit, 60);
  EXPECT_EQ(c.keys[0].token_rate_limit, 50000);

  EXPECT_EQ(c.ProviderNames(), (std::vector<std::string>{"here", "hf", "backup"}));
  EXPECT_EQ(c.PriceOf("hf", "meta-llama/Llama-3.1-8B-Instruct"), (Price{0.2, 0.8}));
  EXPECT_EQ(c.PriceOf("hf", "Qwen/Qwen2.5-7B-Instruct"), (Price{0.15, 0.60}));
  EXPECT_EQ(c.PriceOf("nobody", "x"), Price{});
}

TEST(ConfigTest, EmptyFileGivesEveryDefault) {
  ScopedEnv home("HOME", "/home/tester");
  ScopedEnv key("WICK_API_KEY", nullptr);
  Config c = MustParse("");
  EXPECT_EQ(c.server.host, "127.0.0.1");
  EXPECT_EQ(c.server.port, 8080);
  EXPECT_EQ(c.server.parallel, 4);
  EXPECT_EQ(c.server.queue_size, 64);
  EXPECT_EQ(c.server.api_key.env, "WICK_API_KEY");
  EXPECT_FALSE(c.server.api_key.set);
  EXPECT_FALSE(c.local.enabled);
  EXPECT_TRUE(c.remotes.empty());
  EXPECT_TRUE(c.ProviderNames().empty());
  EXPECT_EQ(c.fallback.strategy, Strategy::kLocalFirst);
  EXPECT_FALSE(c.fallback.cost_threshold);
  EXPECT_FALSE(c.fallback.daily_budget);
  EXPECT_FALSE(c.fallback.monthly_budget);
  EXPECT_TRUE(c.fallback.tiers.empty());
  EXPECT_EQ(c.fallback.health_interval, 30s);
  EXPECT_EQ(c.fallback.circuit_failures, 3);
  EXPECT_EQ(c.fallback.circuit_cooldown, 60s);
  EXPECT_EQ(c.performance.response_timeout, 30s);
  EXPECT_EQ(c.performance.stream_chunk_size, 512);
  EXPECT_TRUE(c.performance.cache_enabled);
  EXPECT_EQ(c.performance.cache_ttl, 1h);
  EXPECT_EQ(c.performance.cache_max_entries, 10000);
  EXPECT_EQ(c.performance.cache_max_size, 100ull << 20);
  EXPECT_FALSE(c.performance.cache_persist);
  EXPECT_TRUE(c.ledger.enabled);
  EXPECT_EQ(c.ledger.path, "/home/tester/.local/share/wick/usage.db");
  EXPECT_EQ(c.ledger.url, "");
  EXPECT_TRUE(c.keys.empty());
  EXPECT_TRUE(c.prices.empty());
  Config expected;
  expected.server = c.server;
  expected.ledger = c.ledger;
  EXPECT_EQ(c, expected);
}

TEST(ConfigTest, SectionDefaults) {
  Config c = MustParse(R"toml(
[local]
model_path = "m.gguf"
[[remote]]
name = "r"
api_endpoint = "https://example.com/v1"
[[keys]]
name = "k"
key_env = "WICK_CFG_TEST_K"
)toml");
  EXPECT_EQ(c.local.name, "local");
  EXPECT_FALSE(c.local.gpu_enabled);
  EXPECT_EQ(c.local.gpu_memory_limit, 0u);
  EXPECT_EQ(c.local.max_concurrent_requests, 4);
  EXPECT_EQ(c.local.context_size, 0);
  EXPECT_EQ(c.local.price, Price{});
  ASSERT_EQ(c.remotes.size(), 1u);
  const RemoteConfig& r = c.remotes[0];
  EXPECT_EQ(r.preset, Preset::kOpenAiCompatible);
  EXPECT_EQ(r.api_key.env, "");
  EXPECT_TRUE(r.models.empty());
  EXPECT_EQ(r.context_length, 0);
  EXPECT_EQ(r.rate_limit, 0);
  EXPECT_EQ(r.token_rate_limit, 0);
  EXPECT_EQ(r.price, Price{});
  EXPECT_EQ(r.connect_timeout, 5s);
  EXPECT_EQ(r.first_token_timeout, 30s);
  EXPECT_EQ(r.total_timeout, 10min);
  EXPECT_EQ(r.max_retries, 2);
  // Default tiers: the local model first, then the remotes in file order.
  EXPECT_EQ(c.fallback.tiers, (std::vector<std::string>{"local", "r"}));
  ASSERT_EQ(c.keys.size(), 1u);
  EXPECT_FALSE(c.keys[0].daily_budget);
  EXPECT_FALSE(c.keys[0].monthly_budget);
  EXPECT_FALSE(c.keys[0].max_cost_per_request);
  EXPECT_EQ(c.keys[0].rate_limit, 0);
  EXPECT_EQ(c.keys[0].token_rate_limit, 0);
}

TEST(ConfigTest, ParsesDurations) {
  EXPECT_EQ(*ParseDuration("250ms"), 250ms);
  EXPECT_EQ(*ParseDuration("30s"), 30s);
  EXPECT_EQ(*ParseDuration("5m"), 5min);
  EXPECT_EQ(*ParseDuration("1h"), 1h);
  EXPECT_EQ(*ParseDuration("2d"), 48h);
  EXPECT_EQ(*ParseDuration("1h30m"), 90min);
  EXPECT_EQ(*ParseDuration("1.5h"), 90min);
  EXPECT_EQ(*ParseDuration("0.25s"), 250ms);
  EXPECT_EQ(*ParseDuration("90"), 90s);
  EXPECT_EQ(*ParseDuration("0s"), 0ms);
  EXPECT_EQ(*ParseDuration("106751991167d"), 106751991167 * 24h);
  for (const char* bad :
       {"", "5x", "s", "-1s", "1.s", "1h30", "1.5", "1 s", "5S", "ms5", "1.1234567s",
        "99999999999999999999s", "106751991168d", "9223372036854775807s"}) {
    Result<milliseconds> d = ParseDuration(bad);
    EXPECT_FALSE(d.ok()) << bad;
    if (!d.ok()) {
      EXPECT_EQ(d.error().code(), ErrorCode::kInvalidArgument);
      EXPECT_NE(d.error().message().find("bad duration"), std::string::npos);
    }
  }
}

TEST(ConfigTest, ParsesSizes) {
  EXPECT_EQ(*ParseSize("512"), 512u);
  EXPECT_EQ(*ParseSize("512B"), 512u);
  EXPECT_EQ(*ParseSize("10KB"), 10u << 10);
  EXPECT_EQ(*ParseSize("10MB"), 10u << 20);
  EXPECT_EQ(*ParseSize("10GB"), 10ull << 30);
  EXPECT_EQ(*ParseSize("1.5GB"), 3ull << 29);
  EXPECT_EQ(*ParseSize("4 GiB"), 4ull << 30);
  EXPECT_EQ(*ParseSize("2mib"), 2u << 20);
  EXPECT_EQ(*ParseSize("1TB"), 1ull << 40);
  EXPECT_EQ(*ParseSize("0.5KB"), 512u);
  EXPECT_EQ(*ParseSize("16777215TB"), 16777215ull << 40);
  for (const char* bad : {"", "10XB", "GB", "1.5", "-1", "10 ", "1,5GB", "99999999999999999999",
                          "16777216TB", "1.1234567GB", "10GBs"}) {
    Result<uint64_t> s = ParseSize(bad);
    EXPECT_FALSE(s.ok()) << bad;
    if (!s.ok()) {
      EXPECT_NE(s.error().message().find("bad size"), std::string::npos);
    }
  }
}

TEST(ConfigTest, FormatsDurationsAndSizesForReading) {
  EXPECT_EQ(FormatDuration(90s), "90s");
  EXPECT_EQ(FormatDuration(1h), "1h");
  EXPECT_EQ(FormatDuration(48h), "2d");
  EXPECT_EQ(FormatDuration(1500ms), "1500ms");
  EXPECT_EQ(FormatSize(10ull << 30), "10GB");
  EXPECT_EQ(FormatSize(3ull << 29), "1536MB");
  EXPECT_EQ(FormatSize(1000), "1000B");
  for (milliseconds d : std::initializer_list<milliseconds>{1ms, 250ms, 61s, 90min, 72h})
    EXPECT_EQ(*ParseDuration(FormatDuration(d)), d);
  for (uint64_t s : {0ull, 1ull, 1024ull, 1025ull, 5ull << 40})
    EXPECT_EQ(*ParseSize(FormatSize(s)), s);
}

TEST(ConfigTest, DurationsAndSizesInTheFile) {
  Config c = MustParse(R"toml(
[performance]
response_timeout = 5
cache_max_size = 4096
)toml");
  EXPECT_EQ(c.performance.response_timeout, 5s);
  EXPECT_EQ(c.performance.cache_max_size, 4096u);
}

TEST(ConfigTest, UnknownKeysNameTheKeyAndLine) {
  ExpectError("[server]\nport = 1\nprot = 2\n", 3, "server.prot", "unknown key");
  ExpectError("colour = 1\n", 1, "colour", "unknown key");
  ExpectError(R"toml([[remote]]
name = "a"
api_endpoint = "http://a"
[[remote]]
name = "b"
api_endpoint = "http://b"
conect_timeout = "5s"
)toml",
              7, "remote[1].conect_timeout", "connect_timeout");
  // The first unknown key in the file, not in key order.
  ExpectError("[fallback]\nzzz = 1\naaa = 2\n", 2, "fallback.zzz");
  ExpectError(
      "[prices]\n\"local/m\" = { input = 1, output = 2, extra = 3 }\n[local]\n"
      "model_path = \"m\"\n",
      2, "prices.\"local/m\".extra");
}

TEST(ConfigTest, WrongTypesNameTheKeyAndLine) {
  ExpectError("[server]\n\nport = \"80\"\n", 3, "server.port", "expected an integer, got a string");
  ExpectError("[local]\nmodel_path = \"m\"\ngpu_enabled = 1\n", 3, "local.gpu_enabled");
  ExpectError("[fallback]\ndaily_budget = \"10\"\n", 2, "fallback.daily_budget",
              "expected a number");
  ExpectError("[fallback]\ntiers = \"local\"\n", 2, "fallback.tiers", "array of strings");
  ExpectError("[[remote]]\nname = \"r\"\napi_endpoint = \"http://x\"\nmodels = [\"a\", 2]\n", 4,
              "remote[0].models", "item 1");
  ExpectError("server = 3\n", 1, "server", "expected a table");
  ExpectError("remote = 3\n", 1, "remote", "expected a table");
  ExpectError("[keys]\nname = \"a\"\n", 1, "keys", "[[keys]]");
  ExpectError("[performance]\ncache_ttl = 1.5\n", 2, "performance.cache_ttl", "duration");
  ExpectError("[performance]\ncache_max_size = true\n", 2, "performance.cache_max_size", "size");
}

TEST(ConfigTest, BadValuesNameTheKeyAndLine) {
  ExpectError("[performance]\nresponse_timeout = \"5x\"\n", 2, "performance.response_timeout",
              "bad duration '5x'");
  ExpectError("[performance]\nresponse_timeout = \"0s\"\n", 2, "performance.response_timeout",
              "longer than 0");
  ExpectError("[performance]\nresponse_timeout = -3\n", 2, "performance.response_timeout",
              "negative");
  ExpectError("[local]\nmodel_path = \"m\"\ngpu_memory_limit = \"10XB\"\n", 3,
              "local.gpu_memory_limit", "bad size");
  ExpectError("[fallback]\nstrategy = \"cheapest\"\n", 2, "fallback.strategy", "cheapest");
  ExpectError("[remote]\nprovider = \"anthropic\"\n", 2, "remote.provider", "unknown preset");
  ExpectError("[fallback]\nmonthly_budget = -1.0\n", 2, "fallback.monthly_budget", "negative");
  ExpectError("[[keys]]\nname = \"k\"\nkey_env = \"K\"\ndaily_budget = -5\n", 4,
              "keys[0].daily_budget", "negative");
  ExpectError("[fallback]\ncost_threshold = nan\n", 2, "fallback.cost_threshold", "finite");
  ExpectError("[remote]\nprovider = \"openai\"\nrate_limit = -1\n", 3, "remote.rate_limit",
              "negative");
  ExpectError("[remote]\nprovider = \"openai\"\nmax_retries = 1000\n", 3, "remote.max_retries",
              "out of range");
  ExpectError("[server]\nport = 70000\n", 2, "server.port", "out of range");
  ExpectError("[fallback]\ncircuit_failures = 0\n", 2, "fallback.circuit_failures");
  ExpectError("[remote]\napi_endpoint = \"ftp://x\"\n", 2, "remote.api_endpoint", "http");
  ExpectError("[remote]\napi_endpoint = \"https://\"\n", 2, "remote.api_endpoint", "http");
  ExpectError("[server]\napi_key_env = \"MY KEY\"\n", 2, "server.api_key_env",
              "environment variable name");
  ExpectError("[local]\nmodel_path = \"m\"\nname = \"a/b\"\n", 3, "local.name", "valid name");
}

TEST(ConfigTest, MissingRequiredKeysNameTheTable) {
  ExpectError("\n[[remote]]\nprovider = \"openai\"\n", 2, "remote[0].name", "missing");
  ExpectError("[local]\ngpu_enabled = true\n", 1, "local.model_path", "missing");
  ExpectError("[remote]\nname = \"x\"\n", 1, "remote.api_endpoint", "missing");
  ExpectError("[remote]\nprovider = \"wick\"\n", 1, "remote.api_endpoint", "missing");
  ExpectError("[[keys]]\nname = \"k\"\n", 1, "keys[0].key_env", "missing");
  ExpectError("[local]\nmodel_path = \"\"\n", 2, "local.model_path", "empty");
}

TEST(ConfigTest, ProviderNamesTiersAndPricesMustAgree) {
  ExpectError(R"toml([local]
model_path = "m"
[[remote]]
name = "a"
provider = "openai"
[[remote]]
name = "a"
provider = "huggingface"
)toml",
              7, "remote[1].name", "already used by remote[0]");
  ExpectError("[local]\nmodel_path = \"m\"\nname = \"openai\"\n[remote]\nprovider = \"openai\"\n",
              4, "remote.name", "already used by [local]");
  ExpectError(R"toml([local]
model_path = "m"
[fallback]
tiers = ["local",
  "hf"]
)toml",
              5, "fallback.tiers", "no provider is named 'hf'");
  ExpectError("[local]\nmodel_path = \"m\"\n[fallback]\ntiers = [\"local\", \"local\"]\n", 4,
              "fallback.tiers", "twice");
  ExpectError("[fallback]\ntiers = []\n", 2, "fallback.tiers", "no provider");
  ExpectError("[prices]\n\"hf/m\" = { input = 1, output = 2 }\n", 2, "prices.\"hf/m\"",
              "no provider is named 'hf'");
  ExpectError("[local]\nmodel_path = \"m\"\n[prices]\nlocal = { input = 1, output = 2 }\n", 4,
              "prices.local", "provider/model");
  ExpectError("[local]\nmodel_path = \"m\"\n[prices]\n\"local/m\" = { input = 1 }\n", 4,
              "prices.\"local/m\".output", "missing");
  ExpectError("[local]\nmodel_path = \"m\"\n[prices]\n\"local/m\" = 3\n", 4, "prices.\"local/m\"",
              "expected a table");
  ExpectError(R"toml([[keys]]
name = "a"
key_env = "A"
[[keys]]
name = "a"
key_env = "B"
)toml",
              5, "keys[1].name", "keys[0]");
  ExpectError("[[keys]]\nname = \"a\"\nkey_env = \"A\"\n[[keys]]\nname = \"b\"\nkey_env = \"A\"\n",
              6, "keys[1].key_env", "same variable");
}

TEST(ConfigTest, LedgerPathOrUrl) {
  ScopedEnv home("HOME", "/home/tester");
  EXPECT_EQ(MustParse("[ledger]\npath = \"~/u.db\"\n").ledger.path, "/home/tester/u.db");
  EXPECT_EQ(MustParse("[ledger]\npath = \"/var/u.db\"\n").ledger.path, "/var/u.db");
  EXPECT_FALSE(MustParse("[ledger]\nenabled = false\n").ledger.enabled);
  EXPECT_EQ(MustParse("[ledger]\nurl = \"postgres://h/db\"\n").ledger.url, "postgres://h/db");
  ExpectError("[ledger]\npath = \"/u.db\"\nurl = \"postgresql://h/db\"\n", 3, "ledger.url",
              "not both");
  ExpectError("[ledger]\nurl = \"mysql://h/db\"\n", 2, "ledger.url", "postgresql://");
  ExpectError("[ledger]\nurl = \"mysql://u:pw@h/db\"\n", 2, "ledger.url", "PGPASSWORD");
  ExpectError("[ledger]\nurl = \"postgresql://u:hunter2@h/db\"\n", 2, "ledger.url", "PGPASSWORD");
  ExpectError("[ledger]\nurl = \"postgresql://h/db?password=x\"\n", 2, "ledger.url", "PGPASSWORD");
  ExpectError("[ledger]\npath = \"~bob/u.db\"\n", 2, "ledger.path", "~user");
  EXPECT_EQ(MustParse("").ledger.sync_interval, std::chrono::milliseconds(1000));
  EXPECT_EQ(MustParse("[ledger]\nurl = \"postgres://h/db\"\nsync_interval = \"250ms\"\n")
                .ledger.sync_interval,
            std::chrono::milliseconds(250));
  ExpectError("[ledger]\nsync_interval = \"soon\"\n", 2, "ledger.sync_interval", "");
}

TEST(ConfigTest, HubPeersAndDownloads) {
  Config c = MustParse(
      "[local]\nmodel_path = \"org/tiny-GGUF:Q4_K_M\"\n[hub]\n"
      "peers = [\"http://10.0.0.2:8080\", \"https://box.lan\"]\nconnections = 4\n"
      "offline = true\n");
  EXPECT_EQ(c.hub.peers, (std::vector<std::string>{"http://10.0.0.2:8080", "https://box.lan"}));
  EXPECT_EQ(c.hub.connections, 4);
  EXPECT_TRUE(c.hub.offline);
  EXPECT_EQ(c.hub.peer_api_key.env, "WICK_PEER_API_KEY");
  EXPECT_EQ(MustParse(ShowConfig(c)), c);
  EXPECT_TRUE(MustParse("").hub.peers.empty());
  ExpectError("[hub]\npeers = [\"ftp://x\"]\n", 2, "hub.peers", "http://");
  ExpectError("[hub]\nconnections = 0\n", 2, "hub.connections");
  ExpectError("[hub]\npeer = []\n", 2, "hub.peer", "unknown key");
}

TEST(ConfigTest, AHubModelIsNotAMissingFile) {
  auto missing = [](const Config& c) {
    std::vector<std::string> w = ConfigWarnings(c);
    return std::any_of(w.begin(), w.end(), [](const std::string& line) {
      return line.find("does not exist") != std::string::npos;
    });
  };
  EXPECT_FALSE(missing(MustParse("[local]\nmodel_path = \"org/tiny-GGUF:Q4_K_M\"\n")));
  EXPECT_TRUE(missing(MustParse("[local]\nmodel_path = \"/nowhere/model.gguf\"\n")));
}

TEST(ConfigTest, WarnsAboutSettingsThatCannotTakeEffect) {
  Config gpu = MustParse("[local]\nmodel_path = \"/m.gguf\"\ngpu_enabled = true\n");
  std::vector<std::string> warnings = ConfigWarnings(gpu);
  EXPECT_TRUE(std::any_of(warnings.begin(), warnings.end(), [](const std::string& w) {
    return w.find("no GPU backend") != std::string::npos;
  }));
  Config persist = MustParse("[performance]\ncache_persist = true\n[ledger]\nenabled = false\n");
  warnings = ConfigWarnings(persist);
  EXPECT_TRUE(std::any_of(warnings.begin(), warnings.end(), [](const std::string& w) {
    return w.find("cache_persist") != std::string::npos;
  }));
}

TEST(ConfigTest, SecretsAreRefusedInTheFile) {
  ExpectError("[remote]\nprovider = \"openai\"\napi_key = \"sk-123\"\n", 3, "remote.api_key",
              "api_key_env");
  ExpectError("[[keys]]\nname = \"a\"\nkey = \"abc\"\n", 3, "keys[0].key", "key_env");
  ExpectError("[server]\ntoken = \"abc\"\n", 2, "server.token", "api_key_env");
  ExpectError("[ledger]\npassword = \"abc\"\n", 2, "ledger.password", "environment variable");
  ExpectError("hf_token = \"abc\"\n", 1, "hf_token", "secrets are not read");
  // The secret itself never appears in the message.
  Result<Config> c = ParseConfig("[remote]\napi_key = \"sk-123\"\n", "test.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().message().find("sk-123"), std::string::npos) << c.error().message();
}

TEST(ConfigTest, SyntaxErrorsGiveLineColumnAndReason) {
  Result<Config> c = ParseConfig("[server]\nport = 80\nhost = \n", "test.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(c.error().message().rfind("test.toml:3:", 0), 0u) << c.error().message();
  EXPECT_GT(c.error().message().size(), std::string("test.toml:3:8: ").size());
  c = ParseConfig("[server]\nport = 1\nport = 2\n", "test.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().message().rfind("test.toml:3:", 0), 0u) << c.error().message();
}

TEST(ConfigTest, SingleRemoteAndArrayOfRemotes) {
  Config single = MustParse("[remote]\nprovider = \"openai\"\n");
  ASSERT_EQ(single.remotes.size(), 1u);
  EXPECT_EQ(single.remotes[0].name, "openai");  // the preset's name by default
  Config named = MustParse("[remote]\nname = \"gpt\"\nprovider = \"openai\"\n");
  EXPECT_EQ(named.remotes[0].name, "gpt");
  Config many = MustParse(R"toml([[remote]]
name = "one"
provider = "openai"
[[remote]]
name = "two"
provider = "huggingface"
)toml");
  ASSERT_EQ(many.remotes.size(), 2u);
  EXPECT_EQ(many.remotes[0].name, "one");
  EXPECT_EQ(many.remotes[1].name, "two");
  EXPECT_EQ(many.fallback.tiers, (std::vector<std::string>{"one", "two"}));
  EXPECT_TRUE(MustParse("remote = []\n").remotes.empty());
  ExpectError("remote = [1]\n", 1, "remote[0]", "expected a table");
}

TEST(ConfigTest, PresetsFillEndpointAndKeyVariable) {
  Config c = MustParse(R"toml([[remote]]
name = "hf"
provider = "huggingface"
[[remote]]
name = "oa"
provider = "openai"
[[remote]]
name = "w"
provider = "wick"
api_endpoint = "http://127.0.0.1:8081/v1"
[[remote]]
name = "own"
provider = "openai"
api_endpoint = "https://proxy.example/v1"
api_key_env = "MY_PROXY_KEY"
[[remote]]
name = "nokey"
provider = "huggingface"
api_key_env = ""
)toml");
  ASSERT_EQ(c.remotes.size(), 5u);
  EXPECT_EQ(c.remotes[0].api_endpoint, "https://router.huggingface.co/v1");
  EXPECT_EQ(c.remotes[0].api_key.env, "HF_TOKEN");
  EXPECT_EQ(c.remotes[1].api_endpoint, "https://api.openai.com/v1");
  EXPECT_EQ(c.remotes[1].api_key.env, "OPENAI_API_KEY");
  EXPECT_EQ(c.remotes[2].preset, Preset::kWick);
  EXPECT_EQ(c.remotes[2].api_key.env, "");
  EXPECT_EQ(c.remotes[3].api_endpoint, "https://proxy.example/v1");
  EXPECT_EQ(c.remotes[3].api_key.env, "MY_PROXY_KEY");
  EXPECT_EQ(c.remotes[4].api_key.env, "");
  EXPECT_EQ(PresetName(Preset::kOpenAiCompatible), "openai-compatible");
  EXPECT_EQ(StrategyName(Strategy::kPerformanceFirst), "performance_first");
}

TEST(ConfigTest, ResolvesEnvironmentVariablesAtLoad) {
  const char* text = "[[keys]]\nname = \"a\"\nkey_env = \"WICK_CFG_TEST_ENV\"\n";
  {
    ScopedEnv env("WICK_CFG_TEST_ENV", "s3cret");
    Config c = MustParse(text);
    EXPECT_TRUE(c.keys[0].key.set);
    EXPECT_EQ(c.keys[0].key.value, "s3cret");
    EXPECT_TRUE(ConfigWarnings(c).size() == 1);  // only "no providers"
  }
  {
    ScopedEnv env("WICK_CFG_TEST_ENV", "");
    Config c = MustParse(text);
    EXPECT_FALSE(c.keys[0].key.set);
    EXPECT_EQ(c.keys[0].key.value, "");
  }
  ScopedEnv env("WICK_CFG_TEST_ENV", nullptr);
  Config c = MustParse(text);
  EXPECT_FALSE(c.keys[0].key.set);
  std::vector<std::string> warnings = ConfigWarnings(c);
  ASSERT_EQ(warnings.size(), 2u);
  EXPECT_NE(warnings[1].find("WICK_CFG_TEST_ENV is not set"), std::string::npos);
}

TEST(ConfigTest, ShowMasksSecretsAndRoundTrips) {
  ScopedEnv server_key("WICK_CFG_TEST_SERVER_KEY", "server-secret");
  ScopedEnv team_key("WICK_CFG_TEST_TEAM_A", nullptr);
  ScopedEnv hf_token("HF_TOKEN", "hf-secret");
  Config c = MustParse(kFullExample);
  std::string shown = ShowConfig(c);
  EXPECT_EQ(shown.find("server-secret"), std::string::npos) << shown;
  EXPECT_EQ(shown.find("hf-secret"), std::string::npos) << shown;
  EXPECT_NE(shown.find("api_key_env = \"WICK_CFG_TEST_SERVER_KEY\"  # *** (set)"),
            std::string::npos)
      << shown;
  EXPECT_NE(shown.find("api_key_env = \"HF_TOKEN\"  # *** (set)"), std::string::npos) << shown;
  EXPECT_NE(shown.find("key_env = \"WICK_CFG_TEST_TEAM_A\"  # (not set)"), std::string::npos)
      << shown;
  EXPECT_NE(shown.find("cache_max_size = \"1536MB\""), std::string::npos) << shown;
  // Floats as written, not with 17 digits.
  EXPECT_NE(shown.find("price_input = 0.15\n"), std::string::npos) << shown;
  EXPECT_NE(shown.find("{ input = 0.2, output = 0.8 }"), std::string::npos) << shown;
  // The order of the docs, not toml++'s alphabetical one.
  EXPECT_LT(shown.find("[server]"), shown.find("[local]"));
  EXPECT_LT(shown.find("[local]"), shown.find("[[remote]]"));
  EXPECT_LT(shown.find("[[remote]]"), shown.find("[fallback]"));

  Result<Config> again = ParseConfig(shown, "shown.toml");
  ASSERT_TRUE(again.ok()) << again.error().message() << "\n" << shown;
  EXPECT_EQ(*again, c) << shown;
}

TEST(ConfigTest, ShowRoundTripsEveryDouble) {
  Config c = MustParse(R"toml([local]
model_path = "m"
price_input = 0.1234567890123456789
price_output = 1e-7
[fallback]
daily_budget = 1e300
monthly_budget = 3
cost_threshold = 0.0
)toml");
  std::string shown = ShowConfig(c);
  Result<Config> again = ParseConfig(shown, "shown.toml");
  ASSERT_TRUE(again.ok()) << again.error().message() << "\n" << shown;
  EXPECT_EQ(*again, c) << shown;
}

TEST(ConfigTest, ShowRoundTripsTheDefaults) {
  Config c =
      MustParse("[remote]\nprovider = \"openai\"\n[local]\nmodel_path = \"a b\\\"c.gguf\"\n");
  std::string shown = ShowConfig(c);
  Result<Config> again = ParseConfig(shown, "shown.toml");
  ASSERT_TRUE(again.ok()) << again.error().message() << "\n" << shown;
  EXPECT_EQ(*again, c) << shown;
  EXPECT_EQ(again->local.model_path, "a b\"c.gguf");
}

TEST(ConfigTest, LoadConfigReadsAFile) {
  testing::TempDir dir;
  std::ofstream(dir.File("wick.toml")) << "[fallback]\nstrategy = \"performance_first\"\n";
  Result<Config> c = LoadConfig(dir.File("wick.toml").string());
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(c->fallback.strategy, Strategy::kPerformanceFirst);

  std::ofstream(dir.File("bad.toml")) << "[fallback]\nstrategy = 3\n";
  c = LoadConfig(dir.File("bad.toml").string());
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().message().rfind(dir.File("bad.toml").string() + ":2:", 0), 0u)
      << c.error().message();

  c = LoadConfig(dir.File("missing.toml").string());
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(c.error().message().find("missing.toml"), std::string::npos);
}

TEST(ConfigTest, DefaultConfigPath) {
  {
    ScopedEnv xdg("XDG_CONFIG_HOME", "/xdg");
    EXPECT_EQ(DefaultConfigPath(), "/xdg/wick/config.toml");
  }
  ScopedEnv xdg("XDG_CONFIG_HOME", nullptr);
  ScopedEnv home("HOME", "/home/tester");
  EXPECT_EQ(DefaultConfigPath(), "/home/tester/.config/wick/config.toml");
  ScopedEnv relative("XDG_CONFIG_HOME", "relative");
  EXPECT_EQ(DefaultConfigPath(), "/home/tester/.config/wick/config.toml");
}

}  // namespace
}  // namespace wick::provider
