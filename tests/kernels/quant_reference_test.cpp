// The strongest check the quantizers have: llama.cpp's llama-quantize made the shared
// tiny2-TYPE.gguf files from tiny2-f16.gguf. Quantizing the same f16 weights with wick's
// reference quantizers must give the same bytes, tensor by tensor; and dequantizing the
// reference files must give back the f16 weights within each format's error.
#include <gtest/gtest.h>

#include <cmath>

#include "io/gguf_file.h"
#include "kernels/cpu/quant_traits.h"
#include "test_support.h"

namespace wick {
namespace {

std::vector<float> ToF32(const GgufTensorInfo& t) {
  const kernels::QuantTraits* traits = kernels::FindQuantTraits(t.type);
  EXPECT_NE(traits, nullptr) << NameOf(t.type);
  std::vector<float> out(t.n_elements);
  if (traits != nullptr) traits->dequantize(t.data.data(), out.data(), t.n_elements);
  return out;
}

class QuantReferenceTest : public ::testing::TestWithParam<const char*> {};

TEST_P(QuantReferenceTest, QuantizersReproduceTheReferenceFile) {
  WICK_REQUIRE_SHARED(shared);
  Result<GgufFile> source = GgufFile::Open(shared / "models/synthetic/tiny2-f16.gguf");
  ASSERT_TRUE(source.ok()) << source.error().message();
  std::string name = std::string("models/synthetic/tiny2-") + GetParam() + ".gguf";
  Result<GgufFile> quantized = GgufFile::Open(shared / name);
  ASSERT_TRUE(quantized.ok()) << quantized.error().message();

  size_t compared = 0;
  for (const GgufTensorInfo& q : quantized->tensors()) {
    SCOPED_TRACE(std::string(q.name) + " " + std::string(NameOf(q.type)));
    const GgufTensorInfo* src = source->FindTensor(q.name);
    ASSERT_NE(src, nullptr);
    ASSERT_EQ(src->shape, q.shape);
    const kernels::QuantTraits* traits = kernels::FindQuantTraits(q.type);
    ASSERT_NE(traits, nullptr) << "no traits for " << NameOf(q.type);

    std::vector<float> weights = ToF32(*src);
    std::vector<uint8_t> ours(q.n_bytes);
    // Row by row, as llama-quantize does.
    const int64_t row = q.shape[0];
    const uint64_t row_bytes = q.n_bytes / (q.n_elements / static_cast<uint64_t>(row));
    for (uint64_t r = 0; r < q.n_elements / static_cast<uint64_t>(row); ++r) {
      traits->quantize(weights.data() + r * row, ours.data() + r * row_bytes, row);
    }
    size_t first_diff = 0;
    while (first_diff < ours.size() && ours[first_diff] == q.data[first_diff]) ++first_diff;
    EXPECT_EQ(first_diff, ours.size())
        << "first differing byte " << first_diff << " of " << ours.size() << " (block "
        << first_diff / InfoOf(q.type).block_bytes << ")";

    // And the reference bytes decode back to the weights within the format's error.
    std::vector<float> back = ToF32(q);
    double err = 0, norm = 0;
    for (size_t i = 0; i < back.size(); ++i) {
      err += (back[i] - weights[i]) * (back[i] - weights[i]);
      norm += weights[i] * weights[i];
    }
    EXPECT_LT(std::sqrt(err / std::max(norm, 1e-30)), 0.5);
    ++compared;
  }
  EXPECT_GT(compared, 0u);
}

INSTANTIATE_TEST_SUITE_P(Tiny2, QuantReferenceTest,
                         ::testing::Values("bf16", "q8_0", "q6_k", "q5_k_m", "q5_0", "q5_1",
                                           "q4_k_m", "q4_0", "q4_1", "q3_k_m", "q2_k"));

}  // namespace
}  // namespace wick
