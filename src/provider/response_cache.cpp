#include "provider/response_cache.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <utility>
#include <variant>
#include <vector>

namespace wick::provider {

namespace {

// Bumped whenever CanonicalJson changes, so that entries persisted by an older wick are never
// read as answers to requests that now mean something else.
constexpr int kKeyVersion = 1;

void AppendString(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (byte < 0x20) {
      out += "\\u00";
      out.push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 0xf]);
    } else {
      // Other bytes go through as they are: the form only has to be unambiguous, and invalid
      // UTF-8 must still give a stable key.
      out.push_back(c);
    }
  }
  out.push_back('"');
}

template <typename Number>
void AppendNumber(std::string& out, Number value) {
  std::array<char, 32> buffer;
  auto result = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
  out.append(buffer.data(), result.ptr);
}

void AppendKey(std::string& out, std::string_view key) {
  if (out.back() != '{') out.push_back(',');
  AppendString(out, key);
  out.push_back(':');
}

void AppendJson(std::string& out, const nlohmann::ordered_json& value) {
  using Type = nlohmann::ordered_json::value_t;
  switch (value.type()) {
    case Type::object: {
      // Sorted keys make {"role","content"} and {"content","role"} the same message.
      std::vector<std::pair<std::string_view, const nlohmann::ordered_json*>> items;
      items.reserve(value.size());
      for (const auto& [key, item] : value.items()) items.emplace_back(key, &item);
      std::sort(items.begin(), items.end(),
                [](const auto& a, const auto& b) { return a.first < b.first; });
      out.push_back('{');
      for (const auto& [key, item] : items) {
        AppendKey(out, key);
        AppendJson(out, *item);
      }
      out.push_back('}');
      break;
    }
    case Type::array: {
      out.push_back('[');
      bool first = true;
      for (const auto& item : value) {
        if (!first) out.push_back(',');
        first = false;
        AppendJson(out, item);
      }
      out.push_back(']');
      break;
    }
    case Type::string:
      AppendString(out, value.get_ref<const std::string&>());
      break;
    case Type::boolean:
      out += value.get<bool>() ? "true" : "false";
      break;
    case Type::number_integer:
      AppendNumber(out, value.get<int64_t>());
      break;
    case Type::number_unsigned:
      AppendNumber(out, value.get<uint64_t>());
      break;
    case Type::number_float:
      AppendNumber(out, value.get<double>());
      break;
    default:  // null, and binary or discarded values that parsed JSON never holds
      out += "null";
      break;
  }
}

}  // namespace

ResponseCache::ResponseCache(const Clock& clock, ResponseCacheOptions options)
    : clock_(clock), options_(options) {}

bool ResponseCache::Cacheable(const api::CompletionRequest& request) {
  const bool deterministic = request.sampling.temperature <= 0 || request.seed_given;
  return deterministic && (request.n <= 1 || request.seed_given);
}

std::string ResponseCache::CanonicalJson(std::string_view provider_model,
                                         const api::CompletionRequest& request) {
  const sampling::SamplingParams& s = request.sampling;
  std::string out;
  out.reserve(256 + (request.endpoint == api::Endpoint::kChat ? request.messages.size() * 64 : 0));
  out.push_back('{');
  // Keys in sorted order, as for the objects inside the messages.
  AppendKey(out, "endpoint");
  AppendString(out, request.endpoint == api::Endpoint::kChat ? "chat" : "completion");
  AppendKey(out, "frequency_penalty");
  AppendNumber(out, s.frequency_penalty);
  AppendKey(out, "ignore_eos");
  out += request.ignore_eos ? "true" : "false";
  AppendKey(out, "logit_bias");
  out.push_back('[');
  for (const auto& [token, bias] : s.logit_bias) {
    if (out.back() != '[') out.push_back(',');
    out.push_back('[');
    AppendNumber(out, token);
    out.push_back(',');
    AppendNumber(out, bias);
    out.push_back(']');
  }
  out.push_back(']');
  AppendKey(out, "logprobs");
  out += request.logprobs ? "true" : "false";
  AppendKey(out, "max_tokens");
  AppendNumber(out, request.max_tokens);
  if (request.endpoint == api::Endpoint::kChat) {
    AppendKey(out, "messages");
    AppendJson(out, request.messages);
  }
  AppendKey(out, "min_keep");
  AppendNumber(out, s.min_keep);
  AppendKey(out, "min_p");
  AppendNumber(out, s.min_p);
  AppendKey(out, "model");
  AppendString(out, provider_model);
  AppendKey(out, "n");
  AppendNumber(out, request.n);
  AppendKey(out, "presence_penalty");
  AppendNumber(out, s.presence_penalty);
  if (request.endpoint == api::Endpoint::kCompletion) {
    AppendKey(out, "prompts");
    out.push_back('[');
    for (const auto& prompt : request.prompts) {
      if (out.back() != '[') out.push_back(',');
      if (const auto* text = std::get_if<std::string>(&prompt)) {
        AppendString(out, *text);
        continue;
      }
      out.push_back('[');
      for (int32_t token : std::get<std::vector<int32_t>>(prompt)) {
        if (out.back() != '[') out.push_back(',');
        AppendNumber(out, token);
      }
      out.push_back(']');
    }
    out.push_back(']');
  }
  AppendKey(out, "repeat_last_n");
  AppendNumber(out, s.repeat_last_n);
  AppendKey(out, "repeat_penalty");
  AppendNumber(out, s.repeat_penalty);
  // Without a seed the server draws one per request, which only matters when sampling; a
  // cacheable unseeded request is greedy, so the drawn seed is not part of its identity.
  if (request.seed_given) {
    AppendKey(out, "seed");
    AppendNumber(out, s.seed);
  }
  AppendKey(out, "stop");
  std::vector<std::string_view> stop(request.stop.begin(), request.stop.end());
  std::sort(stop.begin(), stop.end());
  out.push_back('[');
  for (std::string_view text : stop) {
    if (out.back() != '[') out.push_back(',');
    AppendString(out, text);
  }
  out.push_back(']');
  AppendKey(out, "temperature");
  AppendNumber(out, s.temperature);
  AppendKey(out, "top_k");
  AppendNumber(out, s.top_k);
  AppendKey(out, "top_logprobs");
  AppendNumber(out, request.top_logprobs);
  AppendKey(out, "top_p");
  AppendNumber(out, s.top_p);
  AppendKey(out, "v");
  AppendNumber(out, kKeyVersion);
  out.push_back('}');
  return out;
}

std::string ResponseCache::Key(std::string_view provider_model,
                               const api::CompletionRequest& request) {
  const std::string canonical = CanonicalJson(provider_model, request);
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest;
  unsigned int length = 0;
  EVP_Digest(canonical.data(), canonical.size(), digest.data(), &length, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex(2 * length, '0');
  for (unsigned int i = 0; i < length; ++i) {
    hex[2 * i] = kHex[digest[i] >> 4];
    hex[2 * i + 1] = kHex[digest[i] & 0xf];
  }
  return hex;
}

uint64_t ResponseCache::SizeOf(std::string_view key, const Completion& completion) {
  uint64_t bytes =
      sizeof(Entry) + key.size() + sizeof(Completion) + completion.outcome.model.size();
  for (const auto& choice : completion.choices) {
    bytes += sizeof(choice) + choice.text.size() + choice.finish_reason.size();
    for (const auto& logprob : choice.logprobs) {
      bytes += sizeof(logprob) + logprob.token.size();
      for (const auto& [token, value] : logprob.top) bytes += sizeof(value) + token.size() + 32;
    }
  }
  return bytes;
}

std::optional<Completion> ResponseCache::Get(std::string_view key) {
  const auto now = clock_.Monotonic();
  std::shared_ptr<const Completion> found;
  {
    std::lock_guard lock(mu_);
    auto it = index_.find(key);
    if (it == index_.end()) {
      ++stats_.misses;
      return std::nullopt;
    }
    if (options_.ttl.count() > 0 && now >= it->second->expires) {
      Erase(it->second);
      ++stats_.expirations;
      ++stats_.misses;
      return std::nullopt;
    }
    lru_.splice(lru_.begin(), lru_, it->second);
    ++stats_.hits;
    found = it->second->completion;
  }
  return *found;
}

void ResponseCache::Put(std::string_view key, Completion completion) {
  const uint64_t bytes = SizeOf(key, completion);
  auto shared = std::make_shared<const Completion>(std::move(completion));
  const auto expires = clock_.Monotonic() + options_.ttl;
  std::lock_guard lock(mu_);
  auto it = index_.find(key);
  if (it != index_.end()) Erase(it->second);
  if (options_.max_bytes > 0 && bytes > options_.max_bytes) return;
  lru_.push_front(Entry{std::string(key), std::move(shared), bytes, expires});
  index_.emplace(lru_.front().key, lru_.begin());
  stats_.bytes += bytes;
  ++stats_.entries;
  EvictOverLimits();
}

void ResponseCache::Erase(Lru::iterator it) {
  stats_.bytes -= it->bytes;
  --stats_.entries;
  index_.erase(it->key);
  lru_.erase(it);
}

void ResponseCache::EvictOverLimits() {
  auto over = [this] {
    return (options_.max_entries > 0 &&
            stats_.entries > static_cast<uint64_t>(options_.max_entries)) ||
           (options_.max_bytes > 0 && stats_.bytes > options_.max_bytes);
  };
  while (!lru_.empty() && over()) {
    Erase(std::prev(lru_.end()));
    ++stats_.evictions;
  }
}

void ResponseCache::Clear() {
  std::lock_guard lock(mu_);
  index_.clear();
  lru_.clear();
  stats_.entries = 0;
  stats_.bytes = 0;
}

ResponseCache::Stats ResponseCache::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

}  // namespace wick::provider
