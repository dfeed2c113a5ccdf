#include "io/gguf_file.h"

#include <gtest/gtest.h>

#include <set>

#include "sample_gguf.h"
#include "test_support.h"

namespace wick {
namespace {

struct KnownFile {
  const char* path;  // under shared/
  uint32_t version;
  size_t n_tensors;
  const char* architecture;
  size_t vocab_size;
};

// What each shared file holds, from shared/models/README.md, shared/vocab/README.md and an
// independent reading of the files.
constexpr KnownFile kKnownFiles[] = {
    {"models/stories260K.gguf", 3, 48, "llama", 512},
    {"models/stories260K-ggufv1.gguf", 1, 48, "llama", 512},
    {"models/stories260K-q4_k.gguf", 3, 48, "llama", 512},
    {"models/llama-2-tiny-random.gguf", 3, 12, "llama", 32000},
    {"models/synthetic/tiny2-f16.gguf", 3, 21, "llama", 512},
    {"models/synthetic/tiny2-q4_k_m.gguf", 3, 21, "llama", 512},
    {"vocab/ggml-vocab-bert-bge.gguf", 3, 0, "bert", 30522},
    {"vocab/ggml-vocab-deepseek-coder.gguf", 3, 0, "llama", 32256},
    {"vocab/ggml-vocab-deepseek-llm.gguf", 3, 0, "llama", 102400},
    {"vocab/ggml-vocab-falcon.gguf", 3, 0, "falcon", 65024},
    {"vocab/ggml-vocab-gpt-2.gguf", 3, 0, "gpt2", 50257},
    {"vocab/ggml-vocab-llama-spm.gguf", 3, 0, "llama", 32000},
    {"vocab/ggml-vocab-phi-3.gguf", 3, 0, "phi3", 32064},
    {"vocab/ggml-vocab-starcoder.gguf", 3, 0, "starcoder2", 49152},
};

TEST(GgufFileTest, ReadsEverySharedFile) {
  WICK_REQUIRE_SHARED(shared);
  for (const KnownFile& known : kKnownFiles) {
    SCOPED_TRACE(known.path);
    Result<GgufFile> file = GgufFile::Open(shared / known.path);
    ASSERT_TRUE(file.ok()) << file.error().message();
    EXPECT_EQ(file->version(), known.version);
    EXPECT_EQ(file->tensors().size(), known.n_tensors);
    EXPECT_EQ(*file->Get<std::string_view>("general.architecture"), known.architecture);
    EXPECT_EQ(file->GetStrings("tokenizer.ggml.tokens")->size(), known.vocab_size);
  }
}

TEST(GgufFileTest, Stories260KTensorsAndHyperParameters) {
  WICK_REQUIRE_SHARED(shared);
  Result<GgufFile> file = GgufFile::Open(shared / "models/stories260K.gguf");
  ASSERT_TRUE(file.ok()) << file.error().message();
  EXPECT_EQ(file->alignment(), 32u);
  EXPECT_EQ(*file->Get<uint32_t>("llama.embedding_length"), 64u);
  EXPECT_EQ(*file->Get<uint32_t>("llama.block_count"), 5u);
  EXPECT_EQ(*file->Get<uint32_t>("llama.attention.head_count"), 8u);
  EXPECT_EQ(*file->Get<uint32_t>("llama.attention.head_count_kv"), 4u);
  EXPECT_EQ(*file->Get<uint32_t>("llama.feed_forward_length"), 172u);
  EXPECT_EQ(*file->GetOr<uint32_t>("llama.no_such_key", 7), 7u);

  const GgufTensorInfo* embd = file->FindTensor("token_embd.weight");
  ASSERT_NE(embd, nullptr);
  EXPECT_EQ(embd->type, DType::kF32);
  EXPECT_EQ(embd->shape, (std::vector<int64_t>{64, 512}));
  EXPECT_EQ(embd->n_bytes, 64u * 512 * 4);
  EXPECT_EQ(embd->data.size(), embd->n_bytes);
  uint64_t params = 0;
  for (const auto& t : file->tensors()) params += t.n_elements;
  EXPECT_GT(params, 250'000u);
  EXPECT_LT(params, 300'000u);
}

TEST(GgufFileTest, VersionOneMatchesVersionThree) {
  WICK_REQUIRE_SHARED(shared);
  Result<GgufFile> v1 = GgufFile::Open(shared / "models/stories260K-ggufv1.gguf");
  Result<GgufFile> v3 = GgufFile::Open(shared / "models/stories260K.gguf");
  ASSERT_TRUE(v1.ok()) << v1.error().message();
  ASSERT_TRUE(v3.ok());
  for (const GgufTensorInfo& t : v3->tensors()) {
    const GgufTensorInfo* other = v1->FindTensor(t.name);
    ASSERT_NE(other, nullptr) << t.name;
    EXPECT_EQ(other->shape, t.shape);
    EXPECT_TRUE(std::equal(t.data.begin(), t.data.end(), other->data.begin(), other->data.end()))
        << t.name;
  }
}

TEST(GgufFileTest, MixedQuantTypes) {
  WICK_REQUIRE_SHARED(shared);
  Result<GgufFile> file = GgufFile::Open(shared / "models/stories260K-q4_k.gguf");
  ASSERT_TRUE(file.ok()) << file.error().message();
  std::set<DType> types;
  for (const auto& t : file->tensors()) types.insert(t.type);
  EXPECT_GT(types.size(), 1u);
  EXPECT_TRUE(types.count(DType::kQ5_0));  // rows of 64 are too short for Q4_K blocks
  EXPECT_TRUE(types.count(DType::kQ8_0));
}

TEST(GgufFileTest, TypedAccessErrorsNameKeyAndTypes) {
  std::vector<uint8_t> bytes = testing::MakeSampleGgufBytes();
  Result<GgufFile> file = GgufFile::Parse(bytes, "sample.gguf");
  ASSERT_TRUE(file.ok()) << file.error().message();

  Result<uint32_t> wrong = file->Get<uint32_t>("general.name");
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().message(),
            "sample.gguf: key 'general.name': expected uint32, found string");
  Result<float> missing = file->Get<float>("llama.rope.scale");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(missing.error().message(), "sample.gguf: key 'llama.rope.scale' not found");
  EXPECT_FALSE(file->GetOr<uint32_t>("general.name", 1).ok());
  EXPECT_EQ(file->GetStrings("test.u8").error().message(),
            "sample.gguf: key 'test.u8': expected array[string], found uint8");

  EXPECT_EQ(*file->Get<uint8_t>("test.u8"), 200);
  EXPECT_EQ(*file->Get<int8_t>("test.i8"), -5);
  EXPECT_EQ(*file->Get<uint16_t>("test.u16"), 60000);
  EXPECT_EQ(*file->Get<int16_t>("test.i16"), -300);
  EXPECT_EQ(*file->Get<int32_t>("test.i32"), -70000);
  EXPECT_EQ(*file->Get<int64_t>("test.i64"), -5000000000LL);
  EXPECT_EQ(*file->Get<double>("test.f64"), 0.125);
  EXPECT_EQ(*file->Get<float>("llama.rope.freq_base"), 10000.0f);
  EXPECT_TRUE(*file->Get<bool>("test.bool"));
  EXPECT_EQ(*file->GetArray<bool>("test.bools"), (std::vector<bool>{true, false, true}));
  EXPECT_EQ(*file->GetArray<float>("tokenizer.ggml.scores"),
            (std::vector<float>{0, 0, 0, -1.5f, -2.5f}));
  const GgufValue* nested = file->Find("test.nested");
  ASSERT_NE(nested, nullptr);
  EXPECT_EQ(nested->size(), 2u);
  EXPECT_EQ(nested->arrays()[1].strings()[1], "yz");
  EXPECT_EQ(*nested->arrays()[0].AsVector<int32_t>(), (std::vector<int32_t>{1, 2}));
}

TEST(GgufFileTest, TensorViewsPointAtTheirBytes) {
  std::vector<uint8_t> bytes = testing::MakeSampleGgufBytes();
  Result<GgufFile> file = GgufFile::Parse(bytes, "sample.gguf");
  ASSERT_TRUE(file.ok()) << file.error().message();
  ASSERT_EQ(file->tensors().size(), 4u);
  uint8_t seed = 1;
  for (const GgufTensorInfo& t : file->tensors()) {
    EXPECT_EQ(t.offset % 32, 0u);
    std::vector<uint8_t> expected = testing::Pattern(t.n_bytes, seed++);
    EXPECT_TRUE(std::equal(t.data.begin(), t.data.end(), expected.begin(), expected.end()))
        << t.name;
    EXPECT_EQ(t.data.data(), bytes.data() + file->data_offset() + t.offset);
  }
  const GgufTensorInfo* q4k = file->FindTensor("blk.0.ffn_up.weight");
  ASSERT_NE(q4k, nullptr);
  EXPECT_EQ(q4k->type, DType::kQ4_K);
  EXPECT_EQ(q4k->n_bytes, 144u);
}

}  // namespace
}  // namespace wick
