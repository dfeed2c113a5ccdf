// KvCache's layout: every position in full layers, a window and a step's room in
// sliding-window layers, whose rows move to the front as the context passes them.
#include "model/kv_cache.h"

#include <gtest/gtest.h>

#include <cstring>

namespace wick::model {
namespace {

// Four layers of one f32 head of 4 (16-byte rows); layers 0, 1 and 3 see a window of 8.
HParams Windowed() {
  HParams hp;
  hp.n_layer = 4;
  hp.n_head = 1;
  hp.n_head_kv = 1;
  hp.head_dim = 4;
  hp.n_swa = 8;
  hp.swa_layers = {true, true, false, true};
  return hp;
}

// Writes position p's keys as {p, p, p, p} and its values as -p, where `cache` keeps it.
void Fill(KvCache& cache, int64_t from, int64_t n) {
  for (int64_t l = 0; l < cache.n_layer(); ++l) {
    for (int64_t p = from; p < from + n; ++p) {
      const int64_t row = p - cache.first_position(l);
      ASSERT_GE(row, 0);
      ASSERT_LT(row, cache.rows(l));
      auto* k = reinterpret_cast<float*>(cache.k(l) + row * cache.row_bytes());
      auto* v = reinterpret_cast<float*>(cache.v(l) + row * cache.row_bytes());
      for (int i = 0; i < 4; ++i) {
        k[i] = static_cast<float>(p);
        v[i] = -static_cast<float>(p);
      }
    }
  }
}

// The positions a token at n_past still sees are where first_position says.
void ExpectHeld(KvCache& cache, int64_t window) {
  for (int64_t l = 0; l < cache.n_layer(); ++l) {
    const int64_t from = std::max<int64_t>(0, cache.n_past() - (window - 1));
    for (int64_t p = cache.first_position(l) > 0 ? from : 0; p < cache.n_past(); ++p) {
      const int64_t row = p - cache.first_position(l);
      ASSERT_GE(row, 0) << "layer " << l << " position " << p;
      const auto* k = reinterpret_cast<const float*>(cache.k(l) + row * cache.row_bytes());
      const auto* v = reinterpret_cast<const float*>(cache.v(l) + row * cache.row_bytes());
      EXPECT_EQ(k[3], static_cast<float>(p)) << "layer " << l << " position " << p;
      EXPECT_EQ(v[0], -static_cast<float>(p)) << "layer " << l << " position " << p;
    }
  }
}

TEST(KvCacheTest, SlidingWindowLayersKeepTheirWindowAndAStep) {
  const HParams hp = Windowed();
  Result<KvCache> cache = KvCache::Create(hp, 100, DType::kF32, {.max_step = 4});
  ASSERT_TRUE(cache.ok()) << cache.error().message();
  EXPECT_EQ(cache->rows(0), 12);
  EXPECT_EQ(cache->rows(2), 100);
  EXPECT_EQ(cache->max_step(), 5);  // 12 rows less the 7 earlier positions a token sees
  EXPECT_EQ(cache->bytes(), 2u * 16u * (3 * 12 + 100));
  EXPECT_EQ(*KvCache::TotalBytes(hp, 100, DType::kF32, {.max_step = 4}), cache->bytes());
  EXPECT_EQ(*KvCache::LayerBytes(hp, 1, 100, DType::kF32, {.max_step = 4}), 2u * 16u * 12u);

  // A context no longer than window and step, or swa_full: every position everywhere.
  Result<KvCache> short_ctx = KvCache::Create(hp, 10, DType::kF32, {.max_step = 4});
  ASSERT_TRUE(short_ctx.ok());
  EXPECT_EQ(short_ctx->rows(0), 10);
  EXPECT_EQ(short_ctx->max_step(), 10);
  Result<KvCache> full = KvCache::Create(hp, 100, DType::kF32, {.max_step = 4, .swa_full = true});
  ASSERT_TRUE(full.ok());
  EXPECT_EQ(full->rows(0), 100);
  EXPECT_EQ(full->bytes(), 2u * 16u * 4u * 100u);

  EXPECT_FALSE(KvCache::Create(hp, 100, DType::kF32, {.max_step = 0}).ok());
}

TEST(KvCacheTest, RowsMoveToTheFrontAsTheContextPassesThem) {
  Result<KvCache> cache = KvCache::Create(Windowed(), 100, DType::kF32, {.max_step = 4});
  ASSERT_TRUE(cache.ok());
  int64_t moves = 0;
  // Steps of 1 to 5 tokens, as a prompt in chunks and then decode steps.
  for (int64_t n : {5, 5, 3, 1, 1, 1, 1, 1, 1, 1, 4, 2, 1, 1, 1, 5, 5, 5, 1, 1, 1, 1}) {
    const int64_t first = cache->first_position(0);
    ASSERT_TRUE(cache->MakeRoom(n).ok());
    if (cache->first_position(0) != first) ++moves;
    // The step's tokens see back to n_past - 7; all of that is still held.
    EXPECT_LE(cache->first_position(0), std::max<int64_t>(0, cache->n_past() - 7));
    EXPECT_LE(cache->n_past() + n - cache->first_position(0), cache->rows(0));
    EXPECT_EQ(cache->first_position(2), 0);
    Fill(*cache, cache->n_past(), n);
    cache->Advance(n);
    ExpectHeld(*cache, 8);
  }
  EXPECT_GT(moves, 4);
  EXPECT_FALSE(cache->holds_all());

  const Status too_long = cache->MakeRoom(6);
  ASSERT_FALSE(too_long.ok());
  EXPECT_NE(too_long.error().message().find("a step of 6 tokens"), std::string::npos);
}

TEST(KvCacheTest, TruncateKeepsWhatTheWindowStillHolds) {
  Result<KvCache> cache = KvCache::Create(Windowed(), 100, DType::kF32, {.max_step = 4});
  ASSERT_TRUE(cache.ok());
  for (int i = 0; i < 30; ++i) {
    ASSERT_TRUE(cache->MakeRoom(1).ok());
    Fill(*cache, cache->n_past(), 1);
    cache->Advance(1);
  }
  const int64_t first = cache->first_position(0);
  ASSERT_GT(first, 0);
  // A token at n sees n - 7 onwards: kept while that is held.
  EXPECT_EQ(cache->Kept(first + 6), 0);
  EXPECT_EQ(cache->Kept(first + 7), first + 7);
  EXPECT_EQ(cache->n_past(), 30);
  EXPECT_EQ(cache->Truncate(first + 7), first + 7);
  ExpectHeld(*cache, 8);
  EXPECT_EQ(cache->Truncate(first + 6), 0);
  EXPECT_EQ(cache->n_past(), 0);
  EXPECT_TRUE(cache->holds_all());

  // Without a window, any prefix stays.
  Result<KvCache> full =
      KvCache::Create(Windowed(), 100, DType::kF32, {.max_step = 4, .swa_full = true});
  ASSERT_TRUE(full.ok());
  for (int i = 0; i < 30; ++i) {
    ASSERT_TRUE(full->MakeRoom(1).ok());
    full->Advance(1);
  }
  EXPECT_EQ(full->Truncate(3), 3);
}

TEST(KvCacheTest, CpuBackendMovesOverlappingBytes) {
  CpuBackend cpu(1);
  std::vector<uint8_t> bytes(64);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i);
  cpu.MoveBytes(bytes.data(), bytes.data() + 10, 40);
  for (size_t i = 0; i < 40; ++i) EXPECT_EQ(bytes[i], i + 10);
}

}  // namespace
}  // namespace wick::model
