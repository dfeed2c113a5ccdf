#include "provider/response_cache.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <nlohmann/json.hpp>
#include <utility>
#include <variant>
#include <vector>

#include "core/sha256.h"

namespace wick::provider {

namespace {

// Bumped whenever CanonicalJson changes, so that entries persisted by an older wick are never
// read as answers to requests that now mean something else.
constexpr int kKeyVersion = 1;
// Of Encode's format; an entry in another is a miss.
constexpr int kEncodingVersion = 1;
// The store is trimmed to the limits once per this many saves: often enough to stay near
// them, rarely enough that the scan it takes is not paid on every answer.
constexpr uint64_t kSavesPerPrune = 64;

int64_t ToUnixMillis(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

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
  // Structured output and tools shape the answer; requests without them keep the keys they
  // had before these existed.
  if (request.endpoint == api::Endpoint::kChat) {
    const nlohmann::ordered_json structured = api::ToolFieldsJson(request);
    if (!structured.empty()) {
      AppendKey(out, "structured");
      AppendJson(out, structured);
    }
  }
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
  return Sha256::HexOf(CanonicalJson(provider_model, request));
}

uint64_t ResponseCache::SizeOf(std::string_view key, const Completion& completion) {
  uint64_t bytes =
      sizeof(Entry) + key.size() + sizeof(Completion) + completion.outcome.model.size();
  for (const auto& choice : completion.choices) {
    bytes += sizeof(choice) + choice.text.size() + choice.finish_reason.size();
    for (const auto& call : choice.tool_calls) {
      bytes += sizeof(call) + call.id.size() + call.name.size() + call.arguments.size();
    }
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
    if (it != index_.end() && options_.ttl.count() > 0 && now >= it->second->expires) {
      Erase(it->second);
      ++stats_.expirations;
      it = index_.end();
    }
    if (it != index_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second);
      ++stats_.hits;
      found = it->second->completion;
    } else if (options_.store == nullptr) {
      ++stats_.misses;
      return std::nullopt;
    }
  }
  if (found) return *found;
  return LoadFromStore(key);
}

std::optional<Completion> ResponseCache::LoadFromStore(std::string_view key) {
  const int64_t now_ms = ToUnixMillis(clock_.Now());
  Result<std::optional<CachedValue>> stored = options_.store->Load(key, now_ms);
  std::optional<Completion> completion;
  if (stored.ok() && stored->has_value()) completion = Decode((*stored)->value);
  std::lock_guard lock(mu_);
  if (!completion) {
    ++stats_.misses;
    return std::nullopt;
  }
  ++stats_.hits;
  // In memory for what is left of its time there.
  const int64_t left_ms =
      (*stored)->expires_ms == 0 ? options_.ttl.count() : (*stored)->expires_ms - now_ms;
  Insert(key, std::make_shared<const Completion>(*completion), SizeOf(key, *completion),
         clock_.Monotonic() + std::chrono::milliseconds(left_ms));
  return completion;
}

void ResponseCache::Put(std::string_view key, Completion completion) {
  const uint64_t bytes = SizeOf(key, completion);
  auto shared = std::make_shared<const Completion>(std::move(completion));
  const auto expires = clock_.Monotonic() + options_.ttl;
  bool prune = false;
  {
    std::lock_guard lock(mu_);
    Insert(key, shared, bytes, expires);
    if (options_.store != nullptr && ++saves_since_prune_ >= kSavesPerPrune) {
      saves_since_prune_ = 0;
      prune = true;
    }
  }
  if (options_.store == nullptr) return;
  if (options_.max_bytes > 0 && bytes > options_.max_bytes) return;
  // The database's errors cost only persistence: the answer is in memory already.
  const int64_t now_ms = ToUnixMillis(clock_.Now());
  const int64_t expires_ms = options_.ttl.count() > 0 ? now_ms + options_.ttl.count() : 0;
  (void)options_.store->Save(key, Encode(*shared), now_ms, expires_ms, bytes);
  if (prune) (void)options_.store->Prune(now_ms, options_.max_entries, options_.max_bytes);
}

void ResponseCache::Insert(std::string_view key, std::shared_ptr<const Completion> completion,
                           uint64_t bytes, std::chrono::steady_clock::time_point expires) {
  auto it = index_.find(key);
  if (it != index_.end()) Erase(it->second);
  if (options_.max_bytes > 0 && bytes > options_.max_bytes) return;
  lru_.push_front(Entry{std::string(key), std::move(completion), bytes, expires});
  index_.emplace(lru_.front().key, lru_.begin());
  stats_.bytes += bytes;
  ++stats_.entries;
  EvictOverLimits();
}

std::string ResponseCache::Encode(const Completion& completion) {
  using Json = nlohmann::json;
  auto bytes = [](std::string_view s) {
    return Json::binary(std::vector<uint8_t>(s.begin(), s.end()));
  };
  Json choices = Json::array();
  for (const api::ChoiceResult& c : completion.choices) {
    Json logprobs = Json::array();
    for (const api::TokenLogprob& t : c.logprobs) {
      Json top = Json::array();
      for (const auto& [token, logprob] : t.top) top.push_back({bytes(token), logprob});
      logprobs.push_back({bytes(t.token), t.logprob, std::move(top)});
    }
    Json choice = {{"i", c.index},
                   {"t", bytes(c.text)},
                   {"f", bytes(c.finish_reason)},
                   {"l", c.has_logprobs},
                   {"p", std::move(logprobs)}};
    // Only with calls, so answers without them encode as before.
    if (!c.tool_calls.empty()) {
      Json calls = Json::array();
      for (const api::ToolCall& call : c.tool_calls) {
        calls.push_back({bytes(call.id), bytes(call.name), bytes(call.arguments)});
      }
      choice["tc"] = std::move(calls);
    }
    choices.push_back(std::move(choice));
  }
  const api::Usage& u = completion.outcome.usage;
  const Json doc = {{"v", kEncodingVersion},
                    {"c", std::move(choices)},
                    {"u", {u.prompt_tokens, u.completion_tokens, u.cached_tokens}},
                    {"m", bytes(completion.outcome.model)}};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (uint8_t b : Json::to_cbor(doc)) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 0xf]);
  }
  return out;
}

std::optional<Completion> ResponseCache::Decode(std::string_view text) {
  using Json = nlohmann::json;
  if (text.size() % 2 != 0) return std::nullopt;
  std::vector<uint8_t> cbor(text.size() / 2);
  for (size_t i = 0; i < cbor.size(); ++i) {
    auto [ptr, ec] = std::from_chars(text.data() + 2 * i, text.data() + 2 * i + 2, cbor[i], 16);
    if (ec != std::errc() || ptr != text.data() + 2 * i + 2) return std::nullopt;
  }
  auto str = [](const Json& j) {
    const auto& b = j.get_binary();
    return std::string(b.begin(), b.end());
  };
  try {
    const Json doc = Json::from_cbor(cbor);
    if (doc.at("v").get<int>() != kEncodingVersion) return std::nullopt;
    Completion out;
    for (const Json& c : doc.at("c")) {
      api::ChoiceResult choice;
      choice.index = c.at("i").get<int>();
      choice.text = str(c.at("t"));
      choice.finish_reason = str(c.at("f"));
      choice.has_logprobs = c.at("l").get<bool>();
      for (const Json& t : c.at("p")) {
        api::TokenLogprob lp;
        lp.token = str(t.at(0));
        lp.logprob = t.at(1).get<float>();
        for (const Json& alt : t.at(2)) lp.top.emplace_back(str(alt.at(0)), alt.at(1).get<float>());
        choice.logprobs.push_back(std::move(lp));
      }
      if (auto calls = c.find("tc"); calls != c.end()) {
        for (const Json& call : *calls) {
          choice.tool_calls.push_back(
              {.id = str(call.at(0)), .name = str(call.at(1)), .arguments = str(call.at(2))});
        }
      }
      out.choices.push_back(std::move(choice));
    }
    const Json& u = doc.at("u");
    out.outcome.usage = {.prompt_tokens = u.at(0).get<int64_t>(),
                         .completion_tokens = u.at(1).get<int64_t>(),
                         .cached_tokens = u.at(2).get<int64_t>()};
    out.outcome.model = str(doc.at("m"));
    return out;
  } catch (const Json::exception&) {
    return std::nullopt;  // not something Encode wrote: a miss
  }
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
