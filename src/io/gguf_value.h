// One GGUF metadata value: a scalar, a string, or an array (of scalars, strings or arrays).
//
// Values read from a file are views into its memory map (a 150k-token vocabulary is not
// copied); values built in memory own their bytes through `storage_`. Typed access
// converts integers losslessly between widths and says what it found when it cannot.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "core/error.h"

namespace wick {

enum class GgufValueType : uint32_t {
  kUint8 = 0,
  kInt8 = 1,
  kUint16 = 2,
  kInt16 = 3,
  kUint32 = 4,
  kInt32 = 5,
  kFloat32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kUint64 = 10,
  kInt64 = 11,
  kFloat64 = 12,
};

// "uint32", "string", "array"…; "type id N" for ids outside the enum.
std::string_view GgufValueTypeName(GgufValueType type);
bool IsValidGgufValueType(uint32_t id);
// Bytes of one element of a fixed-size type; 0 for string and array.
size_t GgufScalarSize(GgufValueType type);

template <typename T>
inline constexpr bool kIsGgufScalar =
    std::is_same_v<T, uint8_t> || std::is_same_v<T, int8_t> || std::is_same_v<T, uint16_t> ||
    std::is_same_v<T, int16_t> || std::is_same_v<T, uint32_t> || std::is_same_v<T, int32_t> ||
    std::is_same_v<T, uint64_t> || std::is_same_v<T, int64_t> || std::is_same_v<T, float> ||
    std::is_same_v<T, double> || std::is_same_v<T, bool>;

template <typename T>
constexpr GgufValueType GgufTypeOf();

class GgufValue {
 public:
  GgufValue() = default;

  // Builders for values made in memory (the writer, tests).
  template <typename T>
  static GgufValue Scalar(T value);
  static GgufValue String(std::string text);
  template <typename T>
  static GgufValue Array(const std::vector<T>& values);
  static GgufValue StringArray(std::vector<std::string> values);
  // An array whose elements are themselves arrays (of one element type each).
  static Result<GgufValue> NestedArray(std::vector<GgufValue> arrays);

  // Views used by the reader: the caller guarantees the bytes outlive the value.
  static GgufValue ScalarFromBits(GgufValueType type, uint64_t bits);
  static GgufValue StringView(std::string_view text);
  static GgufValue PackedArrayView(GgufValueType elem_type, uint64_t count,
                                   std::span<const uint8_t> packed);
  static GgufValue StringArrayView(std::vector<std::string_view> strings);
  static GgufValue ArrayOfArrays(std::vector<GgufValue> items);

  GgufValueType type() const { return type_; }
  bool is_array() const { return type_ == GgufValueType::kArray; }
  // For arrays: the element type and count.
  GgufValueType element_type() const { return elem_type_; }
  uint64_t size() const { return count_; }
  // "uint32", "string", "array[string]", "array[array[int32]]"
  std::string TypeName() const;

  // A scalar or string converted to T; integers convert when the value fits, float32 and
  // float64 convert to each other, nothing else converts.
  template <typename T>
  Result<T> As() const;

  // Array elements. Element(i) works for every element type; the others are fast paths.
  GgufValue Element(uint64_t i) const;
  std::span<const std::string_view> strings() const { return strings_; }
  std::span<const GgufValue> arrays() const { return items_; }
  std::span<const uint8_t> packed() const { return packed_; }
  template <typename T>
  Result<std::vector<T>> AsVector() const;

  // The raw little-endian payload of a scalar.
  uint64_t bits() const { return bits_; }
  std::string_view str() const { return str_; }

  bool operator==(const GgufValue& other) const;

 private:
  GgufValueType type_ = GgufValueType::kUint8;
  uint64_t bits_ = 0;
  std::string_view str_;
  GgufValueType elem_type_ = GgufValueType::kUint8;
  uint64_t count_ = 0;
  std::span<const uint8_t> packed_;
  std::vector<std::string_view> strings_;
  std::vector<GgufValue> items_;
  std::shared_ptr<const void> storage_;
};

// ---- template definitions ----

template <typename T>
constexpr GgufValueType GgufTypeOf() {
  static_assert(kIsGgufScalar<T>);
  if constexpr (std::is_same_v<T, uint8_t>) return GgufValueType::kUint8;
  if constexpr (std::is_same_v<T, int8_t>) return GgufValueType::kInt8;
  if constexpr (std::is_same_v<T, uint16_t>) return GgufValueType::kUint16;
  if constexpr (std::is_same_v<T, int16_t>) return GgufValueType::kInt16;
  if constexpr (std::is_same_v<T, uint32_t>) return GgufValueType::kUint32;
  if constexpr (std::is_same_v<T, int32_t>) return GgufValueType::kInt32;
  if constexpr (std::is_same_v<T, uint64_t>) return GgufValueType::kUint64;
  if constexpr (std::is_same_v<T, int64_t>) return GgufValueType::kInt64;
  if constexpr (std::is_same_v<T, float>) return GgufValueType::kFloat32;
  if constexpr (std::is_same_v<T, double>) return GgufValueType::kFloat64;
  if constexpr (std::is_same_v<T, bool>) return GgufValueType::kBool;
}

template <typename T>
GgufValue GgufValue::Scalar(T value) {
  uint64_t bits = 0;
  std::memcpy(&bits, &value, sizeof(T));
  return ScalarFromBits(GgufTypeOf<T>(), bits);
}

template <typename T>
GgufValue GgufValue::Array(const std::vector<T>& values) {
  auto storage = std::make_shared<std::vector<uint8_t>>(values.size() * sizeof(T));
  for (size_t i = 0; i < values.size(); ++i) {
    T v = values[i];
    std::memcpy(storage->data() + i * sizeof(T), &v, sizeof(T));
  }
  GgufValue out = PackedArrayView(GgufTypeOf<T>(), values.size(), *storage);
  out.storage_ = std::move(storage);
  return out;
}

namespace gguf_detail {
// Converts one scalar payload to T, or explains why not.
Result<uint64_t> ConvertBits(GgufValueType from, uint64_t bits, GgufValueType to);
}  // namespace gguf_detail

template <typename T>
Result<T> GgufValue::As() const {
  if constexpr (std::is_same_v<T, std::string_view> || std::is_same_v<T, std::string>) {
    if (type_ != GgufValueType::kString) {
      return Error(ErrorCode::kTypeMismatch, "expected string, found " + TypeName());
    }
    return T(str_);
  } else {
    if (is_array() || type_ == GgufValueType::kString) {
      return Error(ErrorCode::kTypeMismatch, std::string("expected ") +
                                                 std::string(GgufValueTypeName(GgufTypeOf<T>())) +
                                                 ", found " + TypeName());
    }
    WICK_ASSIGN_OR_RETURN(uint64_t bits, gguf_detail::ConvertBits(type_, bits_, GgufTypeOf<T>()));
    T out;
    std::memcpy(&out, &bits, sizeof(T));
    return out;
  }
}

template <typename T>
Result<std::vector<T>> GgufValue::AsVector() const {
  if (!is_array()) {
    return Error(ErrorCode::kTypeMismatch, "expected an array, found " + TypeName());
  }
  std::vector<T> out;
  out.reserve(count_);
  for (uint64_t i = 0; i < count_; ++i) {
    Result<T> v = Element(i).template As<T>();
    if (!v.ok()) {
      return Error(ErrorCode::kTypeMismatch,
                   "element " + std::to_string(i) + ": " + v.error().message());
    }
    out.push_back(std::move(*v));
  }
  return out;
}

}  // namespace wick
