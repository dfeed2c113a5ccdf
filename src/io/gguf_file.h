// Reading GGUF files (versions 1, 2 and 3): metadata and zero-copy tensor views.
//
// Everything in the header is validated before it is used: counts against the bytes left,
// string and array lengths, tensor dimensions, type ids, offsets (aligned, inside the file,
// not overlapping). A bad file gives an error naming the file, the byte offset and the
// field; it never reads outside the map.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "core/mapped_file.h"
#include "io/gguf_value.h"

namespace wick {

inline constexpr uint32_t kGgufDefaultAlignment = 32;
inline constexpr size_t kGgufMaxDims = 4;
inline constexpr size_t kGgufMaxTensorName = 64;

struct GgufKeyValue {
  std::string_view key;
  GgufValue value;
};

struct GgufTensorInfo {
  std::string_view name;
  DType type = DType::kF32;
  // Dimensions in GGUF order: shape[0] is the innermost (contiguous) one, the row length.
  std::vector<int64_t> shape;
  uint64_t n_elements = 0;
  uint64_t offset = 0;  // from the start of the data section
  uint64_t n_bytes = 0;
  std::span<const uint8_t> data;  // view into the file
  uint32_t shard = 0;             // which file of a split model holds it (0: the first)
};

class GgufFile {
 public:
  // Maps and parses a file. Tensor data stays in the map until the GgufFile is destroyed.
  // A split model (`name-00001-of-00003.gguf`, as llama.cpp's gguf-split writes it: metadata
  // in the first file, `split.no`, `split.count` and `split.tensors.count` in each) is opened
  // from its first file: every part is mapped and the tensors of all of them are this file's.
  static Result<GgufFile> Open(const std::string& path);
  // Parses bytes that the caller keeps alive (fuzzing, in-memory files); `name` labels errors.
  static Result<GgufFile> Parse(std::span<const uint8_t> bytes, std::string name);

  const std::string& name() const { return name_; }
  uint32_t version() const { return version_; }
  uint32_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }
  uint64_t file_size() const { return bytes_.size(); }
  // The paths of a split model's parts in order (just name() for a single file), and the
  // bytes of all of them: what loading the model maps.
  const std::vector<std::string>& shard_paths() const { return shard_paths_; }
  uint64_t total_size() const { return total_size_; }

  const std::vector<GgufKeyValue>& metadata() const { return metadata_; }
  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }

  const GgufValue* Find(std::string_view key) const;
  const GgufTensorInfo* FindTensor(std::string_view name) const;

  // Typed access, errors naming the key and the expected and actual types.
  template <typename T>
  Result<T> Get(std::string_view key) const;
  // As Get, but a missing key yields `fallback` (a present key of the wrong type is an error).
  template <typename T>
  Result<T> GetOr(std::string_view key, T fallback) const;
  template <typename T>
  Result<std::vector<T>> GetArray(std::string_view key) const;
  // String arrays without copying (vocabularies).
  Result<std::span<const std::string_view>> GetStrings(std::string_view key) const;

 private:
  class Parser;
  Error KeyError(std::string_view key, const Error& inner) const;
  Error MissingKey(std::string_view key) const;
  Status OpenOtherShards();

  std::string name_;
  std::shared_ptr<MappedFile> file_;  // null when parsing caller-owned bytes
  // A split model's other parts: their tensors' names and data view these maps.
  std::vector<std::shared_ptr<MappedFile>> other_shards_;
  std::vector<std::string> shard_paths_;
  uint64_t total_size_ = 0;
  std::span<const uint8_t> bytes_;
  uint32_t version_ = 0;
  uint32_t alignment_ = kGgufDefaultAlignment;
  uint64_t data_offset_ = 0;
  std::vector<GgufKeyValue> metadata_;
  std::vector<GgufTensorInfo> tensors_;
  std::unordered_map<std::string_view, size_t> key_index_;
  std::unordered_map<std::string_view, size_t> tensor_index_;
};

template <typename T>
Result<T> GgufFile::Get(std::string_view key) const {
  const GgufValue* value = Find(key);
  if (value == nullptr) return MissingKey(key);
  Result<T> out = value->As<T>();
  if (!out.ok()) return KeyError(key, out.error());
  return out;
}

template <typename T>
Result<T> GgufFile::GetOr(std::string_view key, T fallback) const {
  if (Find(key) == nullptr) return fallback;
  return Get<T>(key);
}

template <typename T>
Result<std::vector<T>> GgufFile::GetArray(std::string_view key) const {
  const GgufValue* value = Find(key);
  if (value == nullptr) return MissingKey(key);
  Result<std::vector<T>> out = value->AsVector<T>();
  if (!out.ok()) return KeyError(key, out.error());
  return out;
}

}  // namespace wick
