// Tensor element types: the ggml type ids that GGUF files store, with their block layouts.
//
// Quantized types pack `block_size` consecutive elements of a row into `block_bytes` bytes,
// so a row's length must be a multiple of the block size. The ids are fixed by the GGUF
// format; the gaps are types that were removed from it.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "core/error.h"

namespace wick {

enum class DType : uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  kQ5_0 = 6,
  kQ5_1 = 7,
  kQ8_0 = 8,
  kQ8_1 = 9,
  kQ2_K = 10,
  kQ3_K = 11,
  kQ4_K = 12,
  kQ5_K = 13,
  kQ6_K = 14,
  kQ8_K = 15,
  kIQ2_XXS = 16,
  kIQ2_XS = 17,
  kIQ3_XXS = 18,
  kIQ1_S = 19,
  kIQ4_NL = 20,
  kIQ3_S = 21,
  kIQ2_S = 22,
  kIQ4_XS = 23,
  kI8 = 24,
  kI16 = 25,
  kI32 = 26,
  kI64 = 27,
  kF64 = 28,
  kIQ1_M = 29,
  kBF16 = 30,
  kTQ1_0 = 34,
  kTQ2_0 = 35,
  kMXFP4 = 39,
  kNVFP4 = 40,
  kQ1_0 = 41,
  kQ2_0 = 42,
};

struct DTypeInfo {
  DType type;
  std::string_view name;  // as ggml spells it: "Q4_K", "BF16"
  int64_t block_size;     // elements per block (1 for plain scalar types)
  uint64_t block_bytes;   // bytes per block
  bool quantized;
};

// Every type a GGUF file may hold, in id order.
std::span<const DTypeInfo> AllDTypes();

// The info for a valid type. `type` must be one of the enumerators.
const DTypeInfo& InfoOf(DType type);
inline std::string_view NameOf(DType type) {
  return InfoOf(type).name;
}

// Checks a raw id read from a file: removed and unknown ids are errors naming the id.
Result<DType> DTypeFromId(uint32_t id);

// Looks a type up by name, case-insensitively ("q4_k", "F16").
Result<DType> DTypeFromName(std::string_view name);

// Bytes of `n_elements` consecutive elements; an error unless `n_elements` is a whole number
// of blocks, or if the size does not fit in 64 bits.
Result<uint64_t> BytesFor(DType type, uint64_t n_elements);

}  // namespace wick
