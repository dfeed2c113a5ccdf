// Prompt-state files: a saved and restored prefix continues exactly like a freshly evaluated
// one without evaluating it again; other keys miss; damaged files are errors, never crashes.
#include "engine/prompt_state.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "engine/generator.h"
#include "engine/test_model.h"
#include "model/backend.h"
#include "test_support.h"

namespace wick::engine {
namespace {

namespace fs = std::filesystem;

constexpr char kPrompt[] = "Once upon a time, there was a little girl named Lily who";

struct Fixture {
  fs::path model_path;
  std::unique_ptr<TestModel> m;
  PromptStateKey key;
  std::vector<int32_t> full;    // the whole prompt's tokens
  std::vector<int32_t> prefix;  // its first half: the "system prompt" saved to the file
};

std::unique_ptr<Fixture> MakeFixture(const fs::path& shared) {
  auto f = std::make_unique<Fixture>();
  f->model_path = shared / "models/stories260K.gguf";
  f->m = LoadTestModel(f->model_path);
  if (f->m == nullptr) return nullptr;
  Result<PromptStateKey> key =
      PromptStateKeyFor(f->model_path.string(), DType::kF16, f->m->model->hparams());
  if (!key.ok()) return nullptr;
  f->key = *key;
  f->full = f->m->tokenizer->Encode(kPrompt, {.add_special = true, .parse_special = false});
  f->prefix.assign(f->full.begin(),
                   f->full.begin() + static_cast<std::ptrdiff_t>(f->full.size() / 2));
  return f;
}

model::KvCache NewCache(const Fixture& f, int64_t n_ctx = 128, DType type = DType::kF16) {
  Result<model::KvCache> cache = model::KvCache::Create(f.m->model->hparams(), n_ctx, type);
  EXPECT_TRUE(cache.ok()) << cache.error().message();
  return std::move(*cache);
}

std::string Complete(Generator& g, GenerateStats* stats) {
  std::string out;
  GenerateParams params;
  params.prompt = kPrompt;
  params.max_tokens = 16;
  params.reuse_prefix = true;
  params.sampling.temperature = 0;
  Result<GenerateStats> s = g.Generate(params, [&](std::string_view t) {
    out += t;
    return true;
  });
  EXPECT_TRUE(s.ok()) << s.error().message();
  if (s.ok()) *stats = *s;
  return out;
}

// Saves the fixture's prefix, evaluated by Prefill, to `path`.
void SavePrefix(const Fixture& f, model::Backend& backend, const fs::path& path) {
  model::KvCache cache = NewCache(f);
  Generator g(*f.m->model, *f.m->tokenizer, backend, cache);
  ASSERT_TRUE(g.Prefill(f.prefix).ok());
  ASSERT_EQ(cache.n_past(), static_cast<int64_t>(f.prefix.size()));
  Status saved = SavePromptState(path.string(), f.key, g.cached_tokens(), cache);
  ASSERT_TRUE(saved.ok()) << saved.error().message();
}

TEST(PromptStateTest, RestoredPrefixContinuesExactlyWithoutReevaluating) {
  WICK_REQUIRE_SHARED(shared);
  std::unique_ptr<Fixture> f = MakeFixture(shared);
  ASSERT_NE(f, nullptr);
  ASSERT_GE(f->prefix.size(), 3u);
  model::CpuBackend backend(2);
  testing::TempDir dir;
  const fs::path path = dir.File("nested/state.wkps");
  SavePrefix(*f, backend, path);

  model::KvCache restored = NewCache(*f);
  std::vector<int32_t> tokens;
  Result<bool> loaded = LoadPromptState(path.string(), f->key, restored, tokens);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message();
  ASSERT_TRUE(*loaded);
  EXPECT_EQ(tokens, f->prefix);
  EXPECT_EQ(restored.n_past(), static_cast<int64_t>(f->prefix.size()));
  Generator from_file(*f->m->model, *f->m->tokenizer, backend, restored);
  ASSERT_TRUE(from_file.RestoreState(tokens).ok());
  EXPECT_EQ(from_file.cached_tokens().size(), f->prefix.size());
  GenerateStats restored_stats;
  const std::string restored_text = Complete(from_file, &restored_stats);
  // Only the tokens after the restored prefix were evaluated.
  EXPECT_EQ(restored_stats.reused_tokens, static_cast<int64_t>(f->prefix.size()));
  EXPECT_EQ(restored_stats.prompt_tokens, static_cast<int64_t>(f->full.size()));

  // The same prefix evaluated in this process, and no prefix at all, give the same text.
  model::KvCache prefilled = NewCache(*f);
  Generator in_memory(*f->m->model, *f->m->tokenizer, backend, prefilled);
  ASSERT_TRUE(in_memory.Prefill(f->prefix).ok());
  GenerateStats memory_stats;
  EXPECT_EQ(Complete(in_memory, &memory_stats), restored_text);
  EXPECT_EQ(memory_stats.reused_tokens, static_cast<int64_t>(f->prefix.size()));
  model::KvCache cold = NewCache(*f);
  Generator from_scratch(*f->m->model, *f->m->tokenizer, backend, cold);
  GenerateStats cold_stats;
  EXPECT_EQ(Complete(from_scratch, &cold_stats), restored_text);
  EXPECT_EQ(cold_stats.reused_tokens, 0);
  EXPECT_GT(cold_stats.generated_tokens, 0);

  // Bit for bit: the rest of the prompt after a restored prefix and after an evaluated one.
  model::KvCache a = NewCache(*f);
  model::KvCache b = NewCache(*f);
  ASSERT_TRUE(*LoadPromptState(path.string(), f->key, a, tokens));
  Generator prefill_b(*f->m->model, *f->m->tokenizer, backend, b);
  ASSERT_TRUE(prefill_b.Prefill(f->prefix).ok());
  const std::span<const int32_t> rest = std::span<const int32_t>(f->full).subspan(f->prefix.size());
  const auto n_vocab = static_cast<size_t>(f->m->model->hparams().n_vocab);
  std::vector<float> logits_a(n_vocab), logits_b(n_vocab);
  ASSERT_TRUE(f->m->model->Forward(rest, a, backend, logits_a.data(), true).ok());
  ASSERT_TRUE(f->m->model->Forward(rest, b, backend, logits_b.data(), true).ok());
  EXPECT_EQ(std::memcmp(logits_a.data(), logits_b.data(), n_vocab * sizeof(float)), 0);
}

TEST(PromptStateTest, PrefillKeepsTheSharedPrefixAndRestoreChecksTheCount) {
  WICK_REQUIRE_SHARED(shared);
  std::unique_ptr<Fixture> f = MakeFixture(shared);
  ASSERT_NE(f, nullptr);
  model::CpuBackend backend(2);
  model::KvCache cache = NewCache(*f);
  Generator g(*f->m->model, *f->m->tokenizer, backend, cache);
  ASSERT_TRUE(g.Prefill(f->full).ok());
  EXPECT_EQ(cache.n_past(), static_cast<int64_t>(f->full.size()));
  ASSERT_TRUE(g.Prefill(f->prefix).ok());  // a prefix of what is cached: nothing to evaluate
  EXPECT_EQ(cache.n_past(), static_cast<int64_t>(f->prefix.size()));
  EXPECT_TRUE(std::equal(g.cached_tokens().begin(), g.cached_tokens().end(), f->prefix.begin(),
                         f->prefix.end()));
  EXPECT_FALSE(g.RestoreState({1, 2}).ok());  // the cache holds prefix.size() positions
  std::vector<int32_t> too_long(200, 1);
  EXPECT_FALSE(g.Prefill(too_long).ok());

  testing::TempDir dir;
  // More tokens than the cache holds, and a cache of another layout, are caller errors.
  std::vector<int32_t> more = f->full;
  EXPECT_FALSE(SavePromptState(dir.File("x").string(), f->key, more, cache).ok());
  model::KvCache f32 = NewCache(*f, 128, DType::kF32);
  Status wrong = SavePromptState(dir.File("x").string(), f->key, {}, f32);
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_FALSE(fs::exists(dir.File("x")));
}

TEST(PromptStateTest, AnotherKeyOrMissingFileIsAMiss) {
  WICK_REQUIRE_SHARED(shared);
  std::unique_ptr<Fixture> f = MakeFixture(shared);
  ASSERT_NE(f, nullptr);
  model::CpuBackend backend(2);
  testing::TempDir dir;
  const fs::path path = dir.File("state.wkps");
  std::vector<int32_t> tokens;
  model::KvCache cache = NewCache(*f);
  Result<bool> missing = LoadPromptState(path.string(), f->key, cache, tokens);
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(*missing);
  SavePrefix(*f, backend, path);

  // The key is stable for an unchanged file.
  Result<PromptStateKey> again =
      PromptStateKeyFor(f->model_path.string(), DType::kF16, f->m->model->hparams());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, f->key);

  // Another KV type.
  Result<PromptStateKey> f32_key =
      PromptStateKeyFor(f->model_path.string(), DType::kF32, f->m->model->hparams());
  ASSERT_TRUE(f32_key.ok());
  model::KvCache f32 = NewCache(*f, 128, DType::kF32);
  Result<bool> other_type = LoadPromptState(path.string(), *f32_key, f32, tokens);
  ASSERT_TRUE(other_type.ok()) << other_type.error().message();
  EXPECT_FALSE(*other_type);
  EXPECT_EQ(f32.n_past(), 0);

  // The same model bytes in another file (another path and mtime), and a touched model.
  const fs::path copy = dir.File("copy.gguf");
  fs::copy_file(f->model_path, copy);
  Result<PromptStateKey> copy_key =
      PromptStateKeyFor(copy.string(), DType::kF16, f->m->model->hparams());
  ASSERT_TRUE(copy_key.ok());
  EXPECT_EQ(copy_key->header_sha256, f->key.header_sha256);
  Result<bool> other_file = LoadPromptState(path.string(), *copy_key, cache, tokens);
  ASSERT_TRUE(other_file.ok());
  EXPECT_FALSE(*other_file);
  PromptStateKey touched = f->key;
  touched.model_mtime_ns += 1;
  EXPECT_FALSE(*LoadPromptState(path.string(), touched, cache, tokens));
  PromptStateKey rewritten = f->key;
  rewritten.header_sha256[0] ^= 1;
  EXPECT_FALSE(*LoadPromptState(path.string(), rewritten, cache, tokens));
  EXPECT_EQ(cache.n_past(), 0);

  // Another model.
  std::unique_ptr<TestModel> other = LoadTestModel(shared / "models/llama-2-tiny-random.gguf");
  ASSERT_NE(other, nullptr);
  Result<PromptStateKey> other_key = PromptStateKeyFor(
      (shared / "models/llama-2-tiny-random.gguf").string(), DType::kF16, other->model->hparams());
  ASSERT_TRUE(other_key.ok());
  EXPECT_NE(other_key->header_sha256, f->key.header_sha256);
  Result<model::KvCache> other_cache = model::KvCache::Create(other->model->hparams(), 128);
  ASSERT_TRUE(other_cache.ok());
  Result<bool> other_model = LoadPromptState(path.string(), *other_key, *other_cache, tokens);
  ASSERT_TRUE(other_model.ok()) << other_model.error().message();
  EXPECT_FALSE(*other_model);

  // A context too small for the saved tokens, and another format version.
  model::KvCache small = NewCache(*f, static_cast<int64_t>(f->prefix.size()) - 1);
  EXPECT_FALSE(*LoadPromptState(path.string(), f->key, small, tokens));
  std::vector<uint8_t> bytes = testing::ReadFileBytes(path);
  bytes[4] = 99;
  testing::WriteFileBytes(path, bytes);
  EXPECT_FALSE(*LoadPromptState(path.string(), f->key, cache, tokens));
  EXPECT_EQ(cache.n_past(), 0);
}

TEST(PromptStateTest, DamagedFilesAreCorruptErrorsAndLeaveTheCacheAlone) {
  WICK_REQUIRE_SHARED(shared);
  std::unique_ptr<Fixture> f = MakeFixture(shared);
  ASSERT_NE(f, nullptr);
  model::CpuBackend backend(2);
  testing::TempDir dir;
  const fs::path good = dir.File("good.wkps");
  SavePrefix(*f, backend, good);
  const std::vector<uint8_t> bytes = testing::ReadFileBytes(good);
  // Header: 4 magic + 4 version + 4 type + 4 path length + 8 + 8 + 32 + 4 * 8, then the path.
  const size_t tokens_at = 96 + f->key.model_path.size();
  ASSERT_GT(bytes.size(), tokens_at);

  auto expect_corrupt = [&](const std::vector<uint8_t>& damaged, const std::string& what) {
    const fs::path path = dir.File("bad.wkps");
    testing::WriteFileBytes(path, damaged);
    model::KvCache cache = NewCache(*f);
    std::vector<int32_t> tokens = {7};
    Result<bool> loaded = LoadPromptState(path.string(), f->key, cache, tokens);
    ASSERT_FALSE(loaded.ok()) << what;
    EXPECT_EQ(loaded.error().code(), ErrorCode::kCorrupt) << what;
    EXPECT_NE(loaded.error().message().find(path.string()), std::string::npos) << what;
    EXPECT_NE(loaded.error().message().find("offset"), std::string::npos) << what;
    EXPECT_EQ(cache.n_past(), 0) << what;
    EXPECT_EQ(tokens, std::vector<int32_t>{7}) << what;
  };

  for (size_t keep : {size_t{0}, size_t{3}, size_t{10}, size_t{40}, tokens_at - 1, tokens_at + 2,
                      bytes.size() / 2, bytes.size() - 1}) {
    expect_corrupt(std::vector<uint8_t>(bytes.begin(), bytes.begin() + keep),
                   "truncated to " + std::to_string(keep));
  }
  std::vector<uint8_t> longer = bytes;
  longer.push_back(0);
  expect_corrupt(longer, "one byte too many");
  std::vector<uint8_t> garbage(bytes.size());
  for (size_t i = 0; i < garbage.size(); ++i) garbage[i] = static_cast<uint8_t>(i * 131 + 7);
  expect_corrupt(garbage, "garbage");
  std::vector<uint8_t> bad_token = bytes;
  const int32_t out_of_range = -5;
  std::memcpy(bad_token.data() + tokens_at, &out_of_range, sizeof(out_of_range));
  expect_corrupt(bad_token, "negative token id");
  std::vector<uint8_t> huge_path = bytes;
  const uint32_t path_len = 0xfffffff0u;
  std::memcpy(huge_path.data() + 12, &path_len, sizeof(path_len));
  expect_corrupt(huge_path, "huge path length");
}

TEST(PromptStateTest, DirAndPathFollowTheEnvironmentAndTheKey) {
  {
    testing::ScopedEnv wick("WICK_CACHE_DIR", "/tmp/wc");
    testing::ScopedEnv xdg("XDG_CACHE_HOME", "/tmp/xdg");
    EXPECT_EQ(PromptStateDir(), "/tmp/wc/prompt-state");
  }
  {
    testing::ScopedEnv wick("WICK_CACHE_DIR", nullptr);
    testing::ScopedEnv xdg("XDG_CACHE_HOME", "/tmp/xdg");
    EXPECT_EQ(PromptStateDir(), "/tmp/xdg/wick/prompt-state");
  }
  {
    testing::ScopedEnv wick("WICK_CACHE_DIR", nullptr);
    testing::ScopedEnv xdg("XDG_CACHE_HOME", nullptr);
    testing::ScopedEnv home("HOME", "/home/someone");
    EXPECT_EQ(PromptStateDir(), "/home/someone/.cache/wick/prompt-state");
  }
  PromptStateKey key;
  key.model_path = "/models/a.gguf";
  const std::string a = PromptStatePath("/d", key, "system prompt");
  EXPECT_TRUE(a.starts_with("/d/"));
  EXPECT_TRUE(a.ends_with(".wkps"));
  EXPECT_EQ(a.size(), std::string("/d/").size() + 64 + 5);
  EXPECT_EQ(PromptStatePath("/d", key, "system prompt"), a);
  EXPECT_NE(PromptStatePath("/d", key, "system prompt!"), a);
  PromptStateKey touched = key;
  touched.model_mtime_ns = 5;  // same file name: the stale state is found and replaced
  EXPECT_EQ(PromptStatePath("/d", touched, "system prompt"), a);
  PromptStateKey f32 = key;
  f32.kv_type = DType::kF32;
  EXPECT_NE(PromptStatePath("/d", f32, "system prompt"), a);
  PromptStateKey other = key;
  other.model_path = "/models/b.gguf";
  EXPECT_NE(PromptStatePath("/d", other, "system prompt"), a);
}

}  // namespace
}  // namespace wick::engine
