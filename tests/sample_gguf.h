// A small GGUF that uses every metadata value type, nested arrays and several tensor types:
// the seed for the corrupt-file, truncation and CLI tests.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <vector>

#include "io/gguf_writer.h"

namespace wick::testing {

struct SampleGguf {
  // Tensor bytes live here, since the writer only views them.
  std::vector<std::vector<uint8_t>> tensor_data;
  GgufWriter writer;
};

inline std::vector<uint8_t> Pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> out(n);
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<uint8_t>(seed + i * 31);
  return out;
}

inline std::vector<uint8_t> MakeSampleGgufBytes() {
  SampleGguf s;
  GgufWriter& w = s.writer;
  auto must = [](Status st) {
    if (!st.ok()) throw std::runtime_error(st.error().message());
  };
  must(w.Set("general.architecture", GgufValue::String("llama")));
  must(w.Set("general.name", GgufValue::String("sample")));
  must(w.Set("general.alignment", GgufValue::Scalar<uint32_t>(32)));
  must(w.Set("llama.block_count", GgufValue::Scalar<uint32_t>(1)));
  must(w.Set("llama.context_length", GgufValue::Scalar<uint64_t>(128)));
  must(w.Set("llama.rope.freq_base", GgufValue::Scalar<float>(10000.0f)));
  must(w.Set("test.u8", GgufValue::Scalar<uint8_t>(200)));
  must(w.Set("test.i8", GgufValue::Scalar<int8_t>(-5)));
  must(w.Set("test.u16", GgufValue::Scalar<uint16_t>(60000)));
  must(w.Set("test.i16", GgufValue::Scalar<int16_t>(-300)));
  must(w.Set("test.i32", GgufValue::Scalar<int32_t>(-70000)));
  must(w.Set("test.i64", GgufValue::Scalar<int64_t>(-5000000000LL)));
  must(w.Set("test.f64", GgufValue::Scalar<double>(0.125)));
  must(w.Set("test.bool", GgufValue::Scalar<bool>(true)));
  must(w.Set("test.bools", GgufValue::Array<bool>({true, false, true})));
  must(w.Set("tokenizer.ggml.model", GgufValue::String("llama")));
  must(w.Set("tokenizer.ggml.tokens", GgufValue::StringArray({"<unk>", "<s>", "</s>", "a", "b"})));
  must(w.Set("tokenizer.ggml.scores", GgufValue::Array<float>({0, 0, 0, -1.5f, -2.5f})));
  auto nested = GgufValue::NestedArray(
      {GgufValue::Array<int32_t>({1, 2}), GgufValue::StringArray({"x", "yz"})});
  must(w.Set("test.nested", std::move(*nested)));
  struct T {
    const char* name;
    DType type;
    std::vector<int64_t> shape;
  };
  const T tensors[] = {
      {"token_embd.weight", DType::kF32, {8, 5}},
      {"blk.0.attn_q.weight", DType::kQ8_0, {32, 2}},
      {"blk.0.ffn_up.weight", DType::kQ4_K, {256, 1}},
      {"output_norm.weight", DType::kF16, {8}},
  };
  uint8_t seed = 1;
  for (const T& t : tensors) {
    uint64_t n = 1;
    for (int64_t d : t.shape) n *= static_cast<uint64_t>(d);
    s.tensor_data.push_back(Pattern(*BytesFor(t.type, n), seed++));
    must(w.AddTensor(t.name, t.type, t.shape, s.tensor_data.back()));
  }
  return w.WriteToBuffer();
}

}  // namespace wick::testing
