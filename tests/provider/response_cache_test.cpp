#include "provider/response_cache.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <latch>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace wick::provider {
namespace {

using namespace std::chrono_literals;

ManualClock MakeClock() {
  return ManualClock(std::chrono::sys_days{std::chrono::year{2026} / 1 / 1});
}

api::CompletionRequest Parse(const std::string& body,
                             api::Endpoint endpoint = api::Endpoint::kChat) {
  auto parsed = api::ParseCompletionRequest(body, endpoint, {.n_vocab = 1000});
  if (auto* error = std::get_if<api::ApiError>(&parsed)) {
    ADD_FAILURE() << error->message;
    return {};
  }
  return std::get<api::CompletionRequest>(parsed);
}

api::CompletionRequest Greedy() {
  return Parse(R"({"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":0})");
}

Completion MakeCompletion(const std::string& text) {
  Completion completion;
  api::ChoiceResult choice;
  choice.text = text;
  choice.finish_reason = "stop";
  completion.choices.push_back(choice);
  completion.outcome.usage = {3, 2, 0};
  completion.outcome.model = "m";
  return completion;
}

TEST(ResponseCacheKey, Cacheable) {
  EXPECT_TRUE(ResponseCache::Cacheable(Greedy()));
  api::CompletionRequest r = Parse(R"({"messages":[{"role":"user","content":"hi"}]})");
  EXPECT_FALSE(ResponseCache::Cacheable(r));  // default temperature samples
  r = Parse(R"({"messages":[{"role":"user","content":"hi"}],"temperature":0.7,"seed":5})");
  EXPECT_TRUE(ResponseCache::Cacheable(r));
  r = Parse(R"({"messages":[{"role":"user","content":"hi"}],"temperature":0,"n":2})");
  EXPECT_FALSE(ResponseCache::Cacheable(r));
  r = Parse(R"({"messages":[{"role":"user","content":"hi"}],"temperature":0.7,"n":2,"seed":5})");
  EXPECT_TRUE(ResponseCache::Cacheable(r));
}

TEST(ResponseCacheKey, IsSha256Hex) {
  const std::string key = ResponseCache::Key("local/m", Greedy());
  EXPECT_EQ(key.size(), 64u);
  EXPECT_EQ(key.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(key, ResponseCache::Key("local/m", Greedy()));
}

TEST(ResponseCacheKey, CanonicalJsonSortsKeys) {
  const std::string json = ResponseCache::CanonicalJson("local/m", Greedy());
  EXPECT_NE(json.find(R"("messages":[{"content":"hi","role":"user"}])"), std::string::npos) << json;
  EXPECT_EQ(json.find("stream"), std::string::npos);
  EXPECT_EQ(json.rfind(R"({"endpoint":"chat",)", 0), 0u) << json;
  EXPECT_NE(json.find(R"("model":"local/m")"), std::string::npos);
  // Valid JSON with its keys in order.
  auto parsed = nlohmann::ordered_json::parse(json);
  std::vector<std::string> keys;
  for (const auto& [key, value] : parsed.items()) keys.push_back(key);
  EXPECT_TRUE(std::is_sorted(keys.begin(), keys.end()));
}

TEST(ResponseCacheKey, SameForDifferentlyOrderedEqualRequests) {
  const api::CompletionRequest a = Parse(
      R"({"model":"x","messages":[{"role":"user","content":"hi","name":"bob"}],
          "temperature":0,"max_tokens":20,"stop":["a","b"],"logit_bias":{"5":1,"7":-2}})");
  const api::CompletionRequest b = Parse(
      R"({"logit_bias":{"7":-2,"5":1},"stop":["b","a"],"max_tokens":20,"temperature":0,
          "messages":[{"name":"bob","content":[{"type":"text","text":"hi"}],"role":"user"}],
          "model":"y"})");
  EXPECT_EQ(ResponseCache::CanonicalJson("local/m", a), ResponseCache::CanonicalJson("local/m", b));
  EXPECT_EQ(ResponseCache::Key("local/m", a), ResponseCache::Key("local/m", b));
}

TEST(ResponseCacheKey, StreamFlagsAreNotPartOfTheKey) {
  api::CompletionRequest streamed = Greedy();
  streamed.stream = true;
  streamed.include_usage = true;
  EXPECT_EQ(ResponseCache::Key("local/m", streamed), ResponseCache::Key("local/m", Greedy()));
}

TEST(ResponseCacheKey, EveryOutputAffectingFieldChangesIt) {
  using Change = std::function<void(api::CompletionRequest&)>;
  const std::vector<std::pair<std::string, Change>> changes = {
      {"content", [](auto& r) { r.messages[0]["content"] = "hi!"; }},
      {"role", [](auto& r) { r.messages[0]["role"] = "system"; }},
      {"extra message field", [](auto& r) { r.messages[0]["name"] = "bob"; }},
      {"another message", [](auto& r) { r.messages.push_back(r.messages[0]); }},
      {"endpoint",
       [](auto& r) {
         r.endpoint = api::Endpoint::kCompletion;
         r.prompts = {std::string("hi")};
       }},
      {"max_tokens", [](auto& r) { r.max_tokens = 10; }},
      {"stop", [](auto& r) { r.stop = {"\n"}; }},
      {"temperature", [](auto& r) { r.sampling.temperature = 0.5f; }},
      {"top_k", [](auto& r) { r.sampling.top_k = 1; }},
      {"top_p", [](auto& r) { r.sampling.top_p = 0.5f; }},
      {"min_p", [](auto& r) { r.sampling.min_p = 0.1f; }},
      {"repeat_penalty", [](auto& r) { r.sampling.repeat_penalty = 1.1f; }},
      {"repeat_last_n", [](auto& r) { r.sampling.repeat_last_n = 8; }},
      {"frequency_penalty", [](auto& r) { r.sampling.frequency_penalty = 0.5f; }},
      {"presence_penalty", [](auto& r) { r.sampling.presence_penalty = 0.5f; }},
      {"logit_bias", [](auto& r) { r.sampling.logit_bias[3] = 1.0f; }},
      {"min_keep", [](auto& r) { r.sampling.min_keep = 2; }},
      {"seed",
       [](auto& r) {
         r.seed_given = true;
         r.sampling.seed = 1;
       }},
      {"n", [](auto& r) { r.n = 2; }},
      {"logprobs", [](auto& r) { r.logprobs = true; }},
      {"top_logprobs", [](auto& r) { r.top_logprobs = 3; }},
      {"ignore_eos", [](auto& r) { r.ignore_eos = true; }},
  };
  const api::CompletionRequest base = Greedy();
  std::set<std::string> keys = {ResponseCache::Key("local/m", base)};
  EXPECT_NE(ResponseCache::Key("hf/m", base), ResponseCache::Key("local/m", base));
  for (const auto& [name, change] : changes) {
    api::CompletionRequest changed = base;
    change(changed);
    EXPECT_TRUE(keys.insert(ResponseCache::Key("local/m", changed)).second) << name;
  }
  // Two seeds differ from each other too.
  api::CompletionRequest seeded = base;
  seeded.seed_given = true;
  seeded.sampling.seed = 2;
  EXPECT_TRUE(keys.insert(ResponseCache::Key("local/m", seeded)).second);
}

TEST(ResponseCacheKey, CompletionPrompts) {
  const api::CompletionRequest text =
      Parse(R"({"prompt":"abc","temperature":0})", api::Endpoint::kCompletion);
  const api::CompletionRequest ids =
      Parse(R"({"prompt":[1,2,3],"temperature":0})", api::Endpoint::kCompletion);
  const api::CompletionRequest two =
      Parse(R"({"prompt":["abc","abc"],"temperature":0})", api::Endpoint::kCompletion);
  EXPECT_NE(ResponseCache::Key("m", text), ResponseCache::Key("m", ids));
  EXPECT_NE(ResponseCache::Key("m", text), ResponseCache::Key("m", two));
  const std::string json = ResponseCache::CanonicalJson("m", ids);
  EXPECT_NE(json.find(R"("prompts":[[1,2,3]])"), std::string::npos) << json;
  EXPECT_NE(ResponseCache::CanonicalJson("m", two).find(R"("prompts":["abc","abc"])"),
            std::string::npos);
}

TEST(ResponseCacheKey, EscapesStrings) {
  api::CompletionRequest r = Greedy();
  r.messages[0]["content"] = std::string("a\"b\\c\n\x01");
  const std::string json = ResponseCache::CanonicalJson("m", r);
  EXPECT_NE(json.find(R"("content":"a\"b\\c\u000a\u0001")"), std::string::npos) << json;
  EXPECT_TRUE(nlohmann::json::accept(json));
}

TEST(ResponseCache, MissThenHit) {
  ManualClock clock = MakeClock();
  ResponseCache cache(clock);
  const std::string key = ResponseCache::Key("local/m", Greedy());
  EXPECT_FALSE(cache.Get(key).has_value());
  cache.Put(key, MakeCompletion("hello"));
  std::optional<Completion> hit = cache.Get(key);
  ASSERT_TRUE(hit.has_value());
  ASSERT_EQ(hit->choices.size(), 1u);
  EXPECT_EQ(hit->choices[0].text, "hello");
  EXPECT_EQ(hit->choices[0].finish_reason, "stop");
  EXPECT_EQ(hit->outcome.usage.completion_tokens, 2);
  const ResponseCache::Stats stats = cache.stats();
  EXPECT_EQ(stats.hits, 1u);
  EXPECT_EQ(stats.misses, 1u);
  EXPECT_EQ(stats.entries, 1u);
  EXPECT_EQ(stats.bytes, ResponseCache::SizeOf(key, MakeCompletion("hello")));
}

TEST(ResponseCache, EvictsTheLeastRecentlyUsed) {
  ManualClock clock = MakeClock();
  ResponseCache cache(clock, {.ttl = 0ms, .max_entries = 2, .max_bytes = 0});
  cache.Put("a", MakeCompletion("A"));
  cache.Put("b", MakeCompletion("B"));
  ASSERT_TRUE(cache.Get("a").has_value());  // a is now the most recent
  cache.Put("c", MakeCompletion("C"));
  EXPECT_FALSE(cache.Get("b").has_value());
  EXPECT_TRUE(cache.Get("a").has_value());
  EXPECT_TRUE(cache.Get("c").has_value());
  EXPECT_EQ(cache.stats().evictions, 1u);
  // Now c, then a: d pushes out a.
  cache.Put("d", MakeCompletion("D"));
  EXPECT_FALSE(cache.Get("a").has_value());
  EXPECT_TRUE(cache.Get("c").has_value());
  EXPECT_EQ(cache.stats().entries, 2u);
}

TEST(ResponseCache, ExpiresAfterTtl) {
  ManualClock clock = MakeClock();
  ResponseCache cache(clock, {.ttl = 1000ms, .max_entries = 10, .max_bytes = 0});
  cache.Put("a", MakeCompletion("A"));
  clock.Advance(999ms);
  EXPECT_TRUE(cache.Get("a").has_value());  // a hit does not extend its life
  clock.Advance(1ms);
  EXPECT_FALSE(cache.Get("a").has_value());
  ResponseCache::Stats stats = cache.stats();
  EXPECT_EQ(stats.expirations, 1u);
  EXPECT_EQ(stats.entries, 0u);
  EXPECT_EQ(stats.bytes, 0u);
  // Put again: fresh life.
  cache.Put("a", MakeCompletion("A2"));
  clock.Advance(999ms);
  EXPECT_EQ(cache.Get("a")->choices[0].text, "A2");
}

TEST(ResponseCache, ZeroTtlNeverExpires) {
  ManualClock clock = MakeClock();
  ResponseCache cache(clock, {.ttl = 0ms});
  cache.Put("a", MakeCompletion("A"));
  clock.Advance(24h * 365);
  EXPECT_TRUE(cache.Get("a").has_value());
}

TEST(ResponseCache, ByteLimit) {
  ManualClock clock = MakeClock();
  const std::string text(1000, 'x');
  const uint64_t size = ResponseCache::SizeOf("a", MakeCompletion(text));
  ResponseCache cache(clock, {.ttl = 0ms, .max_entries = 0, .max_bytes = 2 * size + size / 2});
  cache.Put("a", MakeCompletion(text));
  cache.Put("b", MakeCompletion(text));
  EXPECT_EQ(cache.stats().bytes, 2 * size);
  cache.Put("c", MakeCompletion(text));
  EXPECT_FALSE(cache.Get("a").has_value());
  EXPECT_TRUE(cache.Get("b").has_value());
  EXPECT_TRUE(cache.Get("c").has_value());
  EXPECT_EQ(cache.stats().bytes, 2 * size);
  EXPECT_EQ(cache.stats().evictions, 1u);
  // Bigger than the whole cache: not stored, and nothing else pushed out for it.
  cache.Put("huge", MakeCompletion(std::string(10 * size, 'y')));
  EXPECT_FALSE(cache.Get("huge").has_value());
  EXPECT_TRUE(cache.Get("b").has_value());
  EXPECT_TRUE(cache.Get("c").has_value());
}

TEST(ResponseCache, LargerEntryPushesOutSeveral) {
  ManualClock clock = MakeClock();
  const uint64_t small = ResponseCache::SizeOf("a", MakeCompletion("s"));
  ResponseCache cache(clock, {.ttl = 0ms, .max_entries = 0, .max_bytes = 4 * small});
  for (const char* key : {"a", "b", "c", "d"}) cache.Put(key, MakeCompletion("s"));
  cache.Put("e", MakeCompletion(std::string(2 * small, 'z')));
  EXPECT_FALSE(cache.Get("a").has_value());
  EXPECT_FALSE(cache.Get("b").has_value());
  EXPECT_FALSE(cache.Get("c").has_value());
  EXPECT_TRUE(cache.Get("e").has_value());
  EXPECT_LE(cache.stats().bytes, 4 * small);
}

TEST(ResponseCache, PutReplaces) {
  ManualClock clock = MakeClock();
  ResponseCache cache(clock);
  cache.Put("a", MakeCompletion("short"));
  cache.Put("a", MakeCompletion("a longer answer"));
  EXPECT_EQ(cache.Get("a")->choices[0].text, "a longer answer");
  EXPECT_EQ(cache.stats().entries, 1u);
  EXPECT_EQ(cache.stats().bytes, ResponseCache::SizeOf("a", MakeCompletion("a longer answer")));
  cache.Clear();
  EXPECT_EQ(cache.stats().entries, 0u);
  EXPECT_FALSE(cache.Get("a").has_value());
}

TEST(ResponseCache, SizeCountsLogprobs) {
  Completion plain = MakeCompletion("abc");
  Completion with = plain;
  api::TokenLogprob logprob;
  logprob.token = "abc";
  logprob.top = {{"abc", -0.1f}, {"abd", -2.0f}};
  with.choices[0].has_logprobs = true;
  with.choices[0].logprobs.push_back(logprob);
  EXPECT_GT(ResponseCache::SizeOf("k", with), ResponseCache::SizeOf("k", plain) + 9);
}

TEST(ResponseCache, ConcurrentUse) {
  ManualClock clock = MakeClock();
  ResponseCache cache(clock, {.ttl = 1000ms, .max_entries = 50, .max_bytes = 0});
  constexpr int kThreads = 16;
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      for (int i = 0; i < 2000; ++i) {
        const std::string key = std::to_string((i * 7 + t) % 80);
        if (auto hit = cache.Get(key)) {
          EXPECT_EQ(hit->choices[0].text, key);
        } else {
          cache.Put(key, MakeCompletion(key));
        }
        if (t == 0 && i % 100 == 0) clock.Advance(100ms);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  const ResponseCache::Stats stats = cache.stats();
  EXPECT_LE(stats.entries, 50u);
  EXPECT_EQ(stats.hits + stats.misses, uint64_t{kThreads} * 2000);
  EXPECT_GT(stats.hits, 0u);
}

}  // namespace
}  // namespace wick::provider
