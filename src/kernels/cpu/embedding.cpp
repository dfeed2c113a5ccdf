// Embedding lookup: a few rows of a (usually quantized) table per token, dequantized with the
// type's reference routine. Off the hot path (one row per token), so no SIMD of its own.
#include <fmt/format.h>

#include <utility>

#include "kernels/cpu/ops.h"
#include "kernels/cpu/quant_traits.h"

namespace wick::kernels {

Status GetRows(const void* table, DType type, int64_t n_rows, int64_t row_len, const int32_t* ids,
               int64_t n_ids, float* out) {
  const QuantTraits* traits = FindQuantTraits(type);
  if (traits == nullptr || traits->dequantize == nullptr) {
    return Error(ErrorCode::kUnsupported,
                 fmt::format("embedding rows of type {} cannot be dequantized", NameOf(type)));
  }
  if (row_len <= 0) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("embedding row length {} is not positive", row_len));
  }
  Result<uint64_t> row_bytes = BytesFor(type, static_cast<uint64_t>(row_len));
  if (!row_bytes.ok()) return std::move(row_bytes).error().With("embedding row");
  // Check every id before writing, so that a bad one leaves `out` untouched.
  for (int64_t k = 0; k < n_ids; ++k) {
    if (ids[k] < 0 || ids[k] >= n_rows) {
      return Error(ErrorCode::kInvalidArgument,
                   fmt::format("token id {} (at {}) is out of range for an embedding table of "
                               "{} rows",
                               ids[k], k, n_rows));
    }
  }
  const auto* bytes = static_cast<const uint8_t*>(table);
  for (int64_t k = 0; k < n_ids; ++k) {
    traits->dequantize(bytes + static_cast<uint64_t>(ids[k]) * *row_bytes, out + k * row_len,
                       row_len);
  }
  return OkStatus();
}

}  // namespace wick::kernels
