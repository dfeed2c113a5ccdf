// A bounds-checked little-endian cursor over untrusted bytes. Every read either succeeds
// inside the buffer or returns an error naming the offset, the field and what was missing.
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <type_traits>

#include "core/error.h"

namespace wick {

class ByteReader {
 public:
  explicit ByteReader(std::span<const uint8_t> bytes, size_t offset = 0)
      : bytes_(bytes), offset_(offset) {}

  size_t offset() const { return offset_; }
  size_t remaining() const { return bytes_.size() - offset_; }
  size_t size() const { return bytes_.size(); }

  template <typename T>
  Result<T> Read(std::string_view field) {
    static_assert(std::is_trivially_copyable_v<T>);
    if (remaining() < sizeof(T)) return Truncated(field, sizeof(T));
    T value;
    // GGUF and safetensors are little-endian, as is every host wick builds for.
    std::memcpy(&value, bytes_.data() + offset_, sizeof(T));
    offset_ += sizeof(T);
    return value;
  }

  Result<std::span<const uint8_t>> ReadBytes(uint64_t n, std::string_view field) {
    if (remaining() < n) return Truncated(field, n);
    std::span<const uint8_t> out = bytes_.subspan(offset_, n);
    offset_ += n;
    return out;
  }

  Error Truncated(std::string_view field, uint64_t needed) const {
    return Error(ErrorCode::kCorrupt,
                 fmt::format("offset {}: {}: truncated: needs {} bytes, only {} left in the file",
                             offset_, field, needed, remaining()));
  }

 private:
  std::span<const uint8_t> bytes_;
  size_t offset_;
};

}  // namespace wick
