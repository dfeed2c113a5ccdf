// A Provider over any OpenAI-compatible HTTP endpoint (Hugging Face's router, OpenAI, another
// wick), through libcurl.
//
// Every call streams upstream (stream: true, include_usage), Complete() included, so that text
// reaches the sink as it arrives and usage is known either way. Failures before any text was
// passed on are retried with exponential backoff and full jitter (honouring Retry-After);
// once text has reached the sink nothing is retried, since the caller already holds part of
// this answer.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "core/error.h"
#include "provider/config.h"
#include "provider/provider.h"

namespace wick::provider {

class CurlPool;

struct RemoteOptions {
  ProviderInfo info;
  std::string endpoint;     // base URL ending in /v1, e.g. "https://router.huggingface.co/v1"
  std::string api_key;      // sent as "Authorization: Bearer <key>" unless empty
  std::string api_key_env;  // where the key comes from (presets name it); not read here
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds first_token_timeout{30000};  // per attempt
  std::chrono::milliseconds total_timeout{600000};       // the whole call, retries included
  int max_retries = 2;
  std::chrono::milliseconds backoff_base{200};
  std::chrono::milliseconds backoff_max{5000};
};

// A preset's defaults: "huggingface" (https://router.huggingface.co/v1, HF_TOKEN), "openai"
// (https://api.openai.com/v1, OPENAI_API_KEY), "wick" and "openai-compatible" (no endpoint,
// no key variable: the config must give the endpoint). info.name is the preset's name. The
// config layer fills in the rest and resolves api_key_env into api_key.
Result<RemoteOptions> PresetOptions(std::string_view preset);

// A [[remote]] table of the config file, as options.
RemoteOptions RemoteOptionsFrom(const RemoteConfig& remote);

class RemoteProvider : public Provider {
 public:
  // kInvalidArgument when the endpoint is not an http(s) URL, or a timeout or retry count is
  // out of range. A trailing '/' on the endpoint is dropped.
  static Result<std::unique_ptr<RemoteProvider>> Create(RemoteOptions options);
  ~RemoteProvider() override;

  const ProviderInfo& info() const override { return options_.info; }
  const RemoteOptions& options() const { return options_; }

  std::variant<Outcome, Failure> Stream(const api::CompletionRequest& request,
                                        const DeltaSink& sink, const CancelToken& cancel) override;

  // GET {endpoint}/models with the key, within min(5 s, total_timeout): 200 is healthy.
  Health Probe() override;

 private:
  struct Attempt;
  explicit RemoteProvider(RemoteOptions options);
  Attempt RunOnce(const api::CompletionRequest& request, const std::string& body,
                  const DeltaSink& sink, const CancelToken& cancel,
                  std::chrono::milliseconds time_left);

  RemoteOptions options_;
  std::unique_ptr<CurlPool> pool_;
};

}  // namespace wick::provider
