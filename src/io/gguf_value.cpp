#include "io/gguf_value.h"

#include <fmt/format.h>

#include <limits>

namespace wick {

namespace {

bool IsSigned(GgufValueType t) {
  return t == GgufValueType::kInt8 || t == GgufValueType::kInt16 || t == GgufValueType::kInt32 ||
         t == GgufValueType::kInt64;
}

bool IsInteger(GgufValueType t) {
  switch (t) {
    case GgufValueType::kUint8:
    case GgufValueType::kInt8:
    case GgufValueType::kUint16:
    case GgufValueType::kInt16:
    case GgufValueType::kUint32:
    case GgufValueType::kInt32:
    case GgufValueType::kUint64:
    case GgufValueType::kInt64:
      return true;
    default:
      return false;
  }
}

bool IsFloat(GgufValueType t) {
  return t == GgufValueType::kFloat32 || t == GgufValueType::kFloat64;
}

// Sign-extends a signed payload of `type` to 64 bits.
int64_t SignedValue(GgufValueType type, uint64_t bits) {
  switch (type) {
    case GgufValueType::kInt8:
      return static_cast<int8_t>(bits);
    case GgufValueType::kInt16:
      return static_cast<int16_t>(bits);
    case GgufValueType::kInt32:
      return static_cast<int32_t>(bits);
    default:
      return static_cast<int64_t>(bits);
  }
}

double FloatValue(GgufValueType type, uint64_t bits) {
  if (type == GgufValueType::kFloat32) {
    float f;
    auto b32 = static_cast<uint32_t>(bits);
    std::memcpy(&f, &b32, sizeof f);
    return f;
  }
  double d;
  std::memcpy(&d, &bits, sizeof d);
  return d;
}

std::string ValueText(GgufValueType type, uint64_t bits) {
  if (IsSigned(type)) return std::to_string(SignedValue(type, bits));
  return std::to_string(bits);
}

}  // namespace

std::string_view GgufValueTypeName(GgufValueType type) {
  switch (type) {
    case GgufValueType::kUint8:
      return "uint8";
    case GgufValueType::kInt8:
      return "int8";
    case GgufValueType::kUint16:
      return "uint16";
    case GgufValueType::kInt16:
      return "int16";
    case GgufValueType::kUint32:
      return "uint32";
    case GgufValueType::kInt32:
      return "int32";
    case GgufValueType::kFloat32:
      return "float32";
    case GgufValueType::kBool:
      return "bool";
    case GgufValueType::kString:
      return "string";
    case GgufValueType::kArray:
      return "array";
    case GgufValueType::kUint64:
      return "uint64";
    case GgufValueType::kInt64:
      return "int64";
    case GgufValueType::kFloat64:
      return "float64";
  }
  return "invalid";
}

bool IsValidGgufValueType(uint32_t id) {
  return id <= static_cast<uint32_t>(GgufValueType::kFloat64);
}

size_t GgufScalarSize(GgufValueType type) {
  switch (type) {
    case GgufValueType::kUint8:
    case GgufValueType::kInt8:
    case GgufValueType::kBool:
      return 1;
    case GgufValueType::kUint16:
    case GgufValueType::kInt16:
      return 2;
    case GgufValueType::kUint32:
    case GgufValueType::kInt32:
    case GgufValueType::kFloat32:
      return 4;
    case GgufValueType::kUint64:
    case GgufValueType::kInt64:
    case GgufValueType::kFloat64:
      return 8;
    case GgufValueType::kString:
    case GgufValueType::kArray:
      return 0;
  }
  return 0;
}

namespace gguf_detail {

Result<uint64_t> ConvertBits(GgufValueType from, uint64_t bits, GgufValueType to) {
  auto mismatch = [&] {
    return Error(
        ErrorCode::kTypeMismatch,
        fmt::format("expected {}, found {}", GgufValueTypeName(to), GgufValueTypeName(from)));
  };
  if (from == to) return bits;
  if (to == GgufValueType::kBool || from == GgufValueType::kBool) return mismatch();
  if (IsFloat(to)) {
    if (!IsFloat(from)) return mismatch();
    double d = FloatValue(from, bits);
    if (to == GgufValueType::kFloat64) {
      uint64_t out;
      std::memcpy(&out, &d, sizeof d);
      return out;
    }
    auto f = static_cast<float>(d);
    uint32_t out;
    std::memcpy(&out, &f, sizeof f);
    return out;
  }
  if (!IsInteger(from)) return mismatch();
  // Integer to integer: allowed when the value is representable in the target.
  bool negative = IsSigned(from) && SignedValue(from, bits) < 0;
  size_t to_bits = GgufScalarSize(to) * 8;
  bool fits;
  if (IsSigned(to)) {
    int64_t max =
        to_bits == 64 ? std::numeric_limits<int64_t>::max() : (int64_t{1} << (to_bits - 1)) - 1;
    int64_t min = to_bits == 64 ? std::numeric_limits<int64_t>::min() : -max - 1;
    if (negative) {
      int64_t v = SignedValue(from, bits);
      fits = v >= min;
    } else {
      fits = bits <= static_cast<uint64_t>(max);
    }
  } else {
    uint64_t max =
        to_bits == 64 ? std::numeric_limits<uint64_t>::max() : (uint64_t{1} << to_bits) - 1;
    fits = !negative && bits <= max;
  }
  if (!fits) {
    return Error(
        ErrorCode::kTypeMismatch,
        fmt::format("expected {}, found {} with value {} out of range", GgufValueTypeName(to),
                    GgufValueTypeName(from), ValueText(from, bits)));
  }
  uint64_t value = negative ? static_cast<uint64_t>(SignedValue(from, bits)) : bits;
  if (to_bits < 64) value &= (uint64_t{1} << to_bits) - 1;
  return value;
}

}  // namespace gguf_detail

GgufValue GgufValue::ScalarFromBits(GgufValueType type, uint64_t bits) {
  GgufValue v;
  v.type_ = type;
  v.bits_ = bits;
  return v;
}

GgufValue GgufValue::StringView(std::string_view text) {
  GgufValue v;
  v.type_ = GgufValueType::kString;
  v.str_ = text;
  return v;
}

GgufValue GgufValue::String(std::string text) {
  auto storage = std::make_shared<std::string>(std::move(text));
  GgufValue v = StringView(*storage);
  v.storage_ = std::move(storage);
  return v;
}

GgufValue GgufValue::PackedArrayView(GgufValueType elem_type, uint64_t count,
                                     std::span<const uint8_t> packed) {
  GgufValue v;
  v.type_ = GgufValueType::kArray;
  v.elem_type_ = elem_type;
  v.count_ = count;
  v.packed_ = packed;
  return v;
}

GgufValue GgufValue::StringArrayView(std::vector<std::string_view> strings) {
  GgufValue v;
  v.type_ = GgufValueType::kArray;
  v.elem_type_ = GgufValueType::kString;
  v.count_ = strings.size();
  v.strings_ = std::move(strings);
  return v;
}

GgufValue GgufValue::StringArray(std::vector<std::string> values) {
  auto storage = std::make_shared<std::vector<std::string>>(std::move(values));
  std::vector<std::string_view> views(storage->begin(), storage->end());
  GgufValue v = StringArrayView(std::move(views));
  v.storage_ = std::move(storage);
  return v;
}

GgufValue GgufValue::ArrayOfArrays(std::vector<GgufValue> items) {
  GgufValue v;
  v.type_ = GgufValueType::kArray;
  v.elem_type_ = GgufValueType::kArray;
  v.count_ = items.size();
  v.items_ = std::move(items);
  return v;
}

Result<GgufValue> GgufValue::NestedArray(std::vector<GgufValue> arrays) {
  for (size_t i = 0; i < arrays.size(); ++i) {
    if (!arrays[i].is_array()) {
      return Error(
          ErrorCode::kInvalidArgument,
          fmt::format("nested array element {} is a {}, not an array", i, arrays[i].TypeName()));
    }
  }
  return ArrayOfArrays(std::move(arrays));
}

std::string GgufValue::TypeName() const {
  if (!is_array()) return std::string(GgufValueTypeName(type_));
  if (elem_type_ == GgufValueType::kArray) {
    return count_ > 0 ? "array[" + items_[0].TypeName() + "]" : "array[array]";
  }
  return "array[" + std::string(GgufValueTypeName(elem_type_)) + "]";
}

GgufValue GgufValue::Element(uint64_t i) const {
  assert(is_array() && i < count_);
  switch (elem_type_) {
    case GgufValueType::kString:
      return StringView(strings_[i]);
    case GgufValueType::kArray:
      return items_[i];
    default: {
      size_t width = GgufScalarSize(elem_type_);
      uint64_t bits = 0;
      std::memcpy(&bits, packed_.data() + i * width, width);
      return ScalarFromBits(elem_type_, bits);
    }
  }
}

bool GgufValue::operator==(const GgufValue& other) const {
  if (type_ != other.type_) return false;
  if (type_ == GgufValueType::kString) return str_ == other.str_;
  if (!is_array()) return bits_ == other.bits_;
  if (elem_type_ != other.elem_type_ || count_ != other.count_) return false;
  switch (elem_type_) {
    case GgufValueType::kString:
      return std::equal(strings_.begin(), strings_.end(), other.strings_.begin());
    case GgufValueType::kArray:
      return std::equal(items_.begin(), items_.end(), other.items_.begin());
    default:
      return std::equal(packed_.begin(), packed_.end(), other.packed_.begin(), other.packed_.end());
  }
}

}  // namespace wick
