#include "core/dtype.h"

#include <fmt/format.h>

#include <array>
#include <cctype>

namespace wick {

namespace {

constexpr int64_t kQK_K = 256;  // super-block size of the k-quants and i-quants

constexpr std::array kDTypes = {
    DTypeInfo{DType::kF32, "F32", 1, 4, false},
    DTypeInfo{DType::kF16, "F16", 1, 2, false},
    DTypeInfo{DType::kQ4_0, "Q4_0", 32, 18, true},
    DTypeInfo{DType::kQ4_1, "Q4_1", 32, 20, true},
    DTypeInfo{DType::kQ5_0, "Q5_0", 32, 22, true},
    DTypeInfo{DType::kQ5_1, "Q5_1", 32, 24, true},
    DTypeInfo{DType::kQ8_0, "Q8_0", 32, 34, true},
    DTypeInfo{DType::kQ8_1, "Q8_1", 32, 36, true},
    DTypeInfo{DType::kQ2_K, "Q2_K", kQK_K, 84, true},
    DTypeInfo{DType::kQ3_K, "Q3_K", kQK_K, 110, true},
    DTypeInfo{DType::kQ4_K, "Q4_K", kQK_K, 144, true},
    DTypeInfo{DType::kQ5_K, "Q5_K", kQK_K, 176, true},
    DTypeInfo{DType::kQ6_K, "Q6_K", kQK_K, 210, true},
    DTypeInfo{DType::kQ8_K, "Q8_K", kQK_K, 292, true},
    DTypeInfo{DType::kIQ2_XXS, "IQ2_XXS", kQK_K, 66, true},
    DTypeInfo{DType::kIQ2_XS, "IQ2_XS", kQK_K, 74, true},
    DTypeInfo{DType::kIQ3_XXS, "IQ3_XXS", kQK_K, 98, true},
    DTypeInfo{DType::kIQ1_S, "IQ1_S", kQK_K, 50, true},
    DTypeInfo{DType::kIQ4_NL, "IQ4_NL", 32, 18, true},
    DTypeInfo{DType::kIQ3_S, "IQ3_S", kQK_K, 110, true},
    DTypeInfo{DType::kIQ2_S, "IQ2_S", kQK_K, 82, true},
    DTypeInfo{DType::kIQ4_XS, "IQ4_XS", kQK_K, 136, true},
    DTypeInfo{DType::kI8, "I8", 1, 1, false},
    DTypeInfo{DType::kI16, "I16", 1, 2, false},
    DTypeInfo{DType::kI32, "I32", 1, 4, false},
    DTypeInfo{DType::kI64, "I64", 1, 8, false},
    DTypeInfo{DType::kF64, "F64", 1, 8, false},
    DTypeInfo{DType::kIQ1_M, "IQ1_M", kQK_K, 56, true},
    DTypeInfo{DType::kBF16, "BF16", 1, 2, false},
    DTypeInfo{DType::kTQ1_0, "TQ1_0", kQK_K, 54, true},
    DTypeInfo{DType::kTQ2_0, "TQ2_0", kQK_K, 66, true},
    DTypeInfo{DType::kMXFP4, "MXFP4", 32, 17, true},
    DTypeInfo{DType::kNVFP4, "NVFP4", 64, 36, true},
    DTypeInfo{DType::kQ1_0, "Q1_0", 128, 18, true},
    DTypeInfo{DType::kQ2_0, "Q2_0", 64, 18, true},
};

constexpr uint32_t kMaxId = 42;

// Ids that once existed and were dropped from the format; files holding them need
// re-converting, which is worth saying instead of "unknown".
struct RemovedType {
  uint32_t id;
  std::string_view name;
};
constexpr std::array kRemoved = {
    RemovedType{4, "Q4_2"},        RemovedType{5, "Q4_3"},        RemovedType{31, "Q4_0_4_4"},
    RemovedType{32, "Q4_0_4_8"},   RemovedType{33, "Q4_0_8_8"},   RemovedType{36, "IQ4_NL_4_4"},
    RemovedType{37, "IQ4_NL_4_8"}, RemovedType{38, "IQ4_NL_8_8"},
};

// Index of each id in kDTypes, or -1; built once at compile time.
constexpr std::array<int, kMaxId + 1> kIndexById = [] {
  std::array<int, kMaxId + 1> index{};
  for (auto& i : index) i = -1;
  for (size_t i = 0; i < kDTypes.size(); ++i) index[static_cast<uint32_t>(kDTypes[i].type)] = i;
  return index;
}();

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::span<const DTypeInfo> AllDTypes() {
  return kDTypes;
}

const DTypeInfo& InfoOf(DType type) {
  auto id = static_cast<uint32_t>(type);
  assert(id <= kMaxId && kIndexById[id] >= 0);
  return kDTypes[kIndexById[id]];
}

Result<DType> DTypeFromId(uint32_t id) {
  if (id <= kMaxId && kIndexById[id] >= 0) return kDTypes[kIndexById[id]].type;
  for (const auto& removed : kRemoved) {
    if (removed.id == id) {
      return Error(ErrorCode::kUnsupported,
                   fmt::format("tensor type id {} ({}) was removed from GGUF; re-convert the "
                               "model with a current converter",
                               id, removed.name));
    }
  }
  return Error(ErrorCode::kCorrupt, fmt::format("unknown tensor type id {}", id));
}

Result<DType> DTypeFromName(std::string_view name) {
  for (const auto& info : kDTypes) {
    if (EqualsIgnoreCase(info.name, name)) return info.type;
  }
  std::string known;
  for (const auto& info : kDTypes) {
    if (!known.empty()) known += ", ";
    known += info.name;
  }
  return Error(ErrorCode::kInvalidArgument,
               fmt::format("unknown tensor type {} (known: {})", Quote(name), known));
}

Result<uint64_t> BytesFor(DType type, uint64_t n_elements) {
  const DTypeInfo& info = InfoOf(type);
  auto block = static_cast<uint64_t>(info.block_size);
  if (n_elements % block != 0) {
    return Error(ErrorCode::kCorrupt,
                 fmt::format("{} elements are not a whole number of {} blocks of {}", n_elements,
                             info.name, block));
  }
  uint64_t blocks = n_elements / block;
  if (blocks != 0 && info.block_bytes > UINT64_MAX / blocks) {
    return Error(ErrorCode::kCorrupt,
                 fmt::format("{} elements of {} overflow a 64-bit size", n_elements, info.name));
  }
  return blocks * info.block_bytes;
}

}  // namespace wick
