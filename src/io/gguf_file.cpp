#include "io/gguf_file.h"

#include <fmt/format.h>

#include <algorithm>

#include "io/byte_reader.h"

namespace wick {

namespace {

constexpr uint32_t kMaxVersion = 3;
// Nested arrays deeper than this are refused rather than recursed into.
constexpr int kMaxArrayDepth = 8;
constexpr uint64_t kMaxKeyLength = 65535;

Error Corrupt(std::string message) {
  return Error(ErrorCode::kCorrupt, std::move(message));
}

bool IsPrintableAscii(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
}

// True when `text` is well-formed UTF-8 with no control characters.
bool IsCleanUtf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      if (c < 0x20 || c == 0x7f) return false;
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if ((c & 0xe0) == 0xc0) {
      len = 2;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      len = 3;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > text.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      auto cc = static_cast<unsigned char>(text[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    static constexpr uint32_t kMinForLen[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMinForLen[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += len;
  }
  return true;
}

uint64_t AlignUp(uint64_t value, uint64_t alignment) {
  uint64_t rem = value % alignment;
  return rem == 0 ? value : value + (alignment - rem);
}

}  // namespace

class GgufFile::Parser {
 public:
  explicit Parser(GgufFile& file) : file_(file), reader_(file.bytes_) {}

  Status Run() {
    WICK_RETURN_IF_ERROR(ReadHeader());
    WICK_RETURN_IF_ERROR(ReadKeyValues());
    WICK_RETURN_IF_ERROR(ReadAlignment());
    WICK_RETURN_IF_ERROR(ReadTensorInfos());
    return CheckTensorData();
  }

 private:
  // Version 1 stored counts, string lengths and dimensions in 32 bits.
  Result<uint64_t> ReadCount(std::string_view field) {
    if (file_.version_ == 1) {
      WICK_ASSIGN_OR_RETURN(uint32_t n, reader_.Read<uint32_t>(field));
      return uint64_t{n};
    }
    return reader_.Read<uint64_t>(field);
  }
  size_t CountWidth() const { return file_.version_ == 1 ? 4 : 8; }

  Result<std::string_view> ReadString(std::string_view field) {
    size_t at = reader_.offset();
    WICK_ASSIGN_OR_RETURN(uint64_t len, ReadCount(field));
    if (len > reader_.remaining()) {
      return Corrupt(
          fmt::format("offset {}: {}: length {} runs past the end of the file ({} "
                      "bytes left)",
                      at, field, len, reader_.remaining()));
    }
    WICK_ASSIGN_OR_RETURN(auto bytes, reader_.ReadBytes(len, field));
    return std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  }

  Status ReadHeader() {
    if (file_.bytes_.size() < 4) {
      return Corrupt(fmt::format("offset 0: magic: file is {} bytes, too short to be GGUF",
                                 file_.bytes_.size()));
    }
    std::string_view magic(reinterpret_cast<const char*>(file_.bytes_.data()), 4);
    if (magic != "GGUF") {
      return Corrupt(
          fmt::format("offset 0: magic: expected 'GGUF', found {}: not a GGUF file", Quote(magic)));
    }
    reader_ = ByteReader(file_.bytes_, 4);
    WICK_ASSIGN_OR_RETURN(uint32_t version, reader_.Read<uint32_t>("version"));
    if (version == 0 || version > kMaxVersion) {
      // A big-endian file stores 3 as 0x03000000.
      if (version != 0 && (version & 0xffff) == 0 && (version >> 24) <= kMaxVersion) {
        return Error(ErrorCode::kUnsupported,
                     "offset 4: version: this is a big-endian GGUF file; wick reads "
                     "little-endian files only");
      }
      return Error(ErrorCode::kUnsupported,
                   fmt::format("offset 4: version: unsupported GGUF version {} (wick reads 1 "
                               "to {})",
                               version, kMaxVersion));
    }
    file_.version_ = version;

    size_t at = reader_.offset();
    WICK_ASSIGN_OR_RETURN(n_tensors_, ReadCount("tensor_count"));
    WICK_ASSIGN_OR_RETURN(n_kv_, ReadCount("metadata_kv_count"));
    // Each record has a minimum size, so a count the rest of the file cannot hold is
    // corrupt; refusing it here also bounds every allocation below.
    const uint64_t min_tensor = CountWidth() + 1 + 4 + CountWidth() + 4 + 8;
    const uint64_t min_kv = CountWidth() + 1 + 4 + 1;
    if (n_tensors_ > reader_.remaining() / min_tensor) {
      return Corrupt(
          fmt::format("offset {}: tensor_count: {} tensors cannot fit in the {} "
                      "bytes left",
                      at, n_tensors_, reader_.remaining()));
    }
    if (n_kv_ > reader_.remaining() / min_kv) {
      return Corrupt(
          fmt::format("offset {}: metadata_kv_count: {} entries cannot fit in the "
                      "{} bytes left",
                      at + CountWidth(), n_kv_, reader_.remaining()));
    }
    return OkStatus();
  }

  Status ReadKeyValues() {
    file_.metadata_.reserve(n_kv_);
    for (uint64_t i = 0; i < n_kv_; ++i) {
      size_t at = reader_.offset();
      auto context = [&] { return fmt::format("metadata entry {}", i); };
      Result<std::string_view> key = ReadString("key");
      if (!key.ok()) return std::move(key).error().With(context());
      if (key->empty() || key->size() > kMaxKeyLength || !IsPrintableAscii(*key)) {
        return Corrupt(
            fmt::format("offset {}: {}: key {} is not a valid GGUF key (1 to {} "
                        "printable ASCII characters)",
                        at, context(), Quote(*key), kMaxKeyLength));
      }
      auto key_context = [&] { return fmt::format("key {}", Quote(*key)); };
      if (file_.key_index_.count(*key) != 0) {
        return Corrupt(fmt::format("offset {}: {}: duplicate key", at, key_context()));
      }
      Result<GgufValue> value = ReadTypedValue(0);
      if (!value.ok()) return std::move(value).error().With(key_context());
      file_.key_index_.emplace(*key, file_.metadata_.size());
      file_.metadata_.push_back({*key, std::move(*value)});
    }
    return OkStatus();
  }

  Result<GgufValueType> ReadValueType(std::string_view field) {
    size_t at = reader_.offset();
    WICK_ASSIGN_OR_RETURN(uint32_t id, reader_.Read<uint32_t>(field));
    if (!IsValidGgufValueType(id)) {
      return Corrupt(fmt::format("offset {}: {}: unknown value type id {}", at, field, id));
    }
    return static_cast<GgufValueType>(id);
  }

  Result<GgufValue> ReadTypedValue(int depth) {
    WICK_ASSIGN_OR_RETURN(GgufValueType type, ReadValueType("value type"));
    return ReadValue(type, depth);
  }

  Result<GgufValue> ReadValue(GgufValueType type, int depth) {
    if (type == GgufValueType::kString) {
      WICK_ASSIGN_OR_RETURN(std::string_view s, ReadString("string length"));
      return GgufValue::StringView(s);
    }
    if (type == GgufValueType::kArray) return ReadArray(depth + 1);
    size_t at = reader_.offset();
    size_t width = GgufScalarSize(type);
    WICK_ASSIGN_OR_RETURN(auto bytes, reader_.ReadBytes(width, "value"));
    uint64_t bits = 0;
    std::memcpy(&bits, bytes.data(), width);
    if (type == GgufValueType::kBool && bits > 1) {
      return Corrupt(fmt::format("offset {}: value: bool must be 0 or 1, found {}", at, bits));
    }
    return GgufValue::ScalarFromBits(type, bits);
  }

  Result<GgufValue> ReadArray(int depth) {
    size_t at = reader_.offset();
    if (depth > kMaxArrayDepth) {
      return Corrupt(
          fmt::format("offset {}: array: nested more than {} levels deep", at, kMaxArrayDepth));
    }
    WICK_ASSIGN_OR_RETURN(GgufValueType elem, ReadValueType("array element type"));
    size_t count_at = reader_.offset();
    WICK_ASSIGN_OR_RETURN(uint64_t count, ReadCount("array length"));
    // Smallest encoding of one element; bounds the count before anything is allocated.
    uint64_t min_elem = GgufScalarSize(elem);
    if (elem == GgufValueType::kString) min_elem = CountWidth();
    if (elem == GgufValueType::kArray) min_elem = 4 + CountWidth();
    if (count > reader_.remaining() / min_elem) {
      return Corrupt(
          fmt::format("offset {}: array length: {} elements of {} cannot fit in the "
                      "{} bytes left",
                      count_at, count, GgufValueTypeName(elem), reader_.remaining()));
    }
    if (elem == GgufValueType::kString) {
      std::vector<std::string_view> strings;
      strings.reserve(count);
      for (uint64_t i = 0; i < count; ++i) {
        Result<std::string_view> s = ReadString("string length");
        if (!s.ok()) return std::move(s).error().With(fmt::format("element {}", i));
        strings.push_back(*s);
      }
      return GgufValue::StringArrayView(std::move(strings));
    }
    if (elem == GgufValueType::kArray) {
      std::vector<GgufValue> items;
      items.reserve(count);
      for (uint64_t i = 0; i < count; ++i) {
        Result<GgufValue> item = ReadArray(depth + 1);
        if (!item.ok()) return std::move(item).error().With(fmt::format("element {}", i));
        items.push_back(std::move(*item));
      }
      return GgufValue::ArrayOfArrays(std::move(items));
    }
    size_t data_at = reader_.offset();
    WICK_ASSIGN_OR_RETURN(auto packed, reader_.ReadBytes(count * min_elem, "array data"));
    if (elem == GgufValueType::kBool) {
      for (uint64_t i = 0; i < count; ++i) {
        if (packed[i] > 1) {
          return Corrupt(fmt::format("offset {}: element {}: bool must be 0 or 1, found {}",
                                     data_at + i, i, packed[i]));
        }
      }
    }
    return GgufValue::PackedArrayView(elem, count, packed);
  }

  Status ReadAlignment() {
    const GgufValue* value = file_.Find("general.alignment");
    if (value == nullptr) return OkStatus();
    Result<uint32_t> alignment = value->As<uint32_t>();
    if (!alignment.ok()) {
      return Corrupt("key 'general.alignment': " + alignment.error().message());
    }
    if (*alignment == 0 || (*alignment & (*alignment - 1)) != 0) {
      return Corrupt(fmt::format("key 'general.alignment': {} is not a power of two", *alignment));
    }
    file_.alignment_ = *alignment;
    return OkStatus();
  }

  Status ReadTensorInfos() {
    file_.tensors_.reserve(n_tensors_);
    tensor_info_offsets_.reserve(n_tensors_);
    for (uint64_t i = 0; i < n_tensors_; ++i) {
      size_t at = reader_.offset();
      Result<GgufTensorInfo> info = ReadTensorInfo(i);
      if (!info.ok()) return std::move(info).error();
      if (file_.tensor_index_.count(info->name) != 0) {
        return Corrupt(
            fmt::format("offset {}: tensor {}: duplicate tensor name", at, Quote(info->name)));
      }
      file_.tensor_index_.emplace(info->name, file_.tensors_.size());
      file_.tensors_.push_back(std::move(*info));
      tensor_info_offsets_.push_back(at);
    }
    return OkStatus();
  }

  Result<GgufTensorInfo> ReadTensorInfo(uint64_t index) {
    size_t at = reader_.offset();
    GgufTensorInfo info;
    Result<std::string_view> name = ReadString("tensor name");
    if (!name.ok()) return std::move(name).error().With(fmt::format("tensor {}", index));
    info.name = *name;
    if (info.name.empty() || info.name.size() > kGgufMaxTensorName || !IsCleanUtf8(info.name)) {
      return Corrupt(
          fmt::format("offset {}: tensor {}: name {} is not a valid tensor name (1 "
                      "to {} bytes of printable UTF-8)",
                      at, index, Quote(info.name), kGgufMaxTensorName));
    }
    auto context = [&] { return fmt::format("tensor {}", Quote(info.name)); };
    auto fail = [&](Error e) { return std::move(e).With(context()); };

    size_t dims_at = reader_.offset();
    Result<uint32_t> n_dims = reader_.Read<uint32_t>("n_dimensions");
    if (!n_dims.ok()) return fail(std::move(n_dims).error());
    if (*n_dims == 0 || *n_dims > kGgufMaxDims) {
      return fail(Corrupt(fmt::format("offset {}: n_dimensions: {} is not between 1 and {}",
                                      dims_at, *n_dims, kGgufMaxDims)));
    }
    info.n_elements = 1;
    for (uint32_t d = 0; d < *n_dims; ++d) {
      size_t dim_at = reader_.offset();
      Result<uint64_t> dim = ReadCount("dimension");
      if (!dim.ok()) return fail(std::move(dim).error());
      if (*dim > static_cast<uint64_t>(INT64_MAX) ||
          (*dim != 0 && info.n_elements > static_cast<uint64_t>(INT64_MAX) / *dim)) {
        return fail(
            Corrupt(fmt::format("offset {}: dimension {}: {} makes the element count "
                                "overflow",
                                dim_at, d, *dim)));
      }
      info.shape.push_back(static_cast<int64_t>(*dim));
      info.n_elements *= *dim;
    }

    size_t type_at = reader_.offset();
    Result<uint32_t> type_id = reader_.Read<uint32_t>("type");
    if (!type_id.ok()) return fail(std::move(type_id).error());
    Result<DType> type = DTypeFromId(*type_id);
    if (!type.ok())
      return fail(std::move(type).error().With(fmt::format("offset {}: type", type_at)));
    info.type = *type;
    const DTypeInfo& dtype = InfoOf(info.type);
    auto row = static_cast<uint64_t>(info.shape[0]);
    if (row % static_cast<uint64_t>(dtype.block_size) != 0) {
      return fail(
          Corrupt(fmt::format("offset {}: dimension 0: row length {} is not a multiple "
                              "of the {} block size {}",
                              dims_at + 4, row, dtype.name, dtype.block_size)));
    }
    Result<uint64_t> n_bytes = BytesFor(info.type, info.n_elements);
    if (!n_bytes.ok()) return fail(std::move(n_bytes).error());
    info.n_bytes = *n_bytes;

    size_t offset_at = reader_.offset();
    Result<uint64_t> offset = reader_.Read<uint64_t>("offset");
    if (!offset.ok()) return fail(std::move(offset).error());
    info.offset = *offset;
    if (info.offset % file_.alignment_ != 0) {
      return fail(
          Corrupt(fmt::format("offset {}: data offset {} is not a multiple of the "
                              "alignment {}",
                              offset_at, info.offset, file_.alignment_)));
    }
    return info;
  }

  Status CheckTensorData() {
    const uint64_t file_size = file_.bytes_.size();
    file_.data_offset_ = AlignUp(reader_.offset(), file_.alignment_);
    uint64_t end = 0;
    for (size_t i = 0; i < file_.tensors_.size(); ++i) {
      const GgufTensorInfo& t = file_.tensors_[i];
      if (t.n_bytes > UINT64_MAX - t.offset) {
        return Corrupt(fmt::format("offset {}: tensor {}: data offset {} overflows",
                                   tensor_info_offsets_[i], Quote(t.name), t.offset));
      }
      if (t.n_bytes > 0) end = std::max(end, t.offset + t.n_bytes);
    }
    // Files without tensor data (vocabulary-only files) may end right after the header.
    if (end == 0) return OkStatus();

    if (file_.data_offset_ > file_size) {
      return Corrupt(
          fmt::format("offset {}: data section: starts at offset {} (after padding "
                      "to {}), past the end of the {}-byte file: truncated",
                      reader_.offset(), file_.data_offset_, file_.alignment_, file_size));
    }
    const uint64_t data_size = file_size - file_.data_offset_;
    for (size_t i = 0; i < file_.tensors_.size(); ++i) {
      GgufTensorInfo& t = file_.tensors_[i];
      if (t.n_bytes == 0) continue;
      if (t.offset + t.n_bytes > data_size) {
        return Corrupt(fmt::format(
            "offset {}: tensor {}: data [{}, {}) of the data section "
            "runs past the end of the file ({} bytes of data): "
            "truncated or bad offset",
            tensor_info_offsets_[i], Quote(t.name), t.offset, t.offset + t.n_bytes, data_size));
      }
      t.data = file_.bytes_.subspan(file_.data_offset_ + t.offset, t.n_bytes);
    }

    std::vector<size_t> order;
    for (size_t i = 0; i < file_.tensors_.size(); ++i) {
      if (file_.tensors_[i].n_bytes > 0) order.push_back(i);
    }
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return file_.tensors_[a].offset < file_.tensors_[b].offset;
    });
    for (size_t k = 1; k < order.size(); ++k) {
      const GgufTensorInfo& prev = file_.tensors_[order[k - 1]];
      const GgufTensorInfo& t = file_.tensors_[order[k]];
      if (t.offset < prev.offset + prev.n_bytes) {
        return Corrupt(
            fmt::format("offset {}: tensor {}: data at {} overlaps tensor {} "
                        "(which ends at {})",
                        tensor_info_offsets_[order[k]], Quote(t.name), t.offset, Quote(prev.name),
                        prev.offset + prev.n_bytes));
      }
    }
    // Writers pad every tensor, the last included, to the alignment; a file shorter than
    // that has lost its tail.
    uint64_t padded_end = AlignUp(end, file_.alignment_);
    if (padded_end > data_size) {
      return Corrupt(
          fmt::format("offset {}: data section: needs {} bytes (tensor data padded "
                      "to {}), the file has {}: truncated",
                      file_size, padded_end, file_.alignment_, data_size));
    }
    return OkStatus();
  }

  GgufFile& file_;
  ByteReader reader_;
  uint64_t n_tensors_ = 0;
  uint64_t n_kv_ = 0;
  std::vector<size_t> tensor_info_offsets_;
};

Result<GgufFile> GgufFile::Parse(std::span<const uint8_t> bytes, std::string name) {
  GgufFile file;
  file.name_ = std::move(name);
  file.bytes_ = bytes;
  Status status = Parser(file).Run();
  if (!status.ok()) return std::move(status).error().With(file.name_);
  file.shard_paths_ = {file.name_};
  file.total_size_ = bytes.size();
  return file;
}

Result<GgufFile> GgufFile::Open(const std::string& path) {
  WICK_ASSIGN_OR_RETURN(MappedFile mapped, MappedFile::Open(path));
  auto shared = std::make_shared<MappedFile>(std::move(mapped));
  WICK_ASSIGN_OR_RETURN(GgufFile file, Parse(shared->bytes(), path));
  file.file_ = std::move(shared);
  WICK_RETURN_IF_ERROR(file.OpenOtherShards());  // in io/gguf_split.cpp
  return file;
}

const GgufValue* GgufFile::Find(std::string_view key) const {
  auto it = key_index_.find(key);
  return it == key_index_.end() ? nullptr : &metadata_[it->second].value;
}

const GgufTensorInfo* GgufFile::FindTensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

Error GgufFile::KeyError(std::string_view key, const Error& inner) const {
  return Error(inner.code(), fmt::format("{}: key {}: {}", name_, Quote(key), inner.message()));
}

Error GgufFile::MissingKey(std::string_view key) const {
  return Error(ErrorCode::kNotFound, fmt::format("{}: key {} not found", name_, Quote(key)));
}

Result<std::span<const std::string_view>> GgufFile::GetStrings(std::string_view key) const {
  const GgufValue* value = Find(key);
  if (value == nullptr) return MissingKey(key);
  if (!value->is_array() || value->element_type() != GgufValueType::kString) {
    return KeyError(
        key, Error(ErrorCode::kTypeMismatch, "expected array[string], found " + value->TypeName()));
  }
  return value->strings();
}

}  // namespace wick
