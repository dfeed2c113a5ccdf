// Reading safetensors files (Hugging Face's tensor format) and sharded safetensors models.
//
// A file is an 8-byte little-endian header length N, N bytes of JSON describing every tensor,
// then the data buffer. Tensors are zero-copy views into a memory map. The whole header is
// checked before anything is used: dtypes, shapes, sizes, and that the tensors cover the data
// buffer exactly (no overlaps, no holes, no trailing bytes), as the format requires. A bad file
// gives a one-line error naming the file, the byte offset where one applies, and the tensor
// and field; it never reads outside the map.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/mapped_file.h"

namespace wick {

// The reference implementation refuses longer headers; so does wick, before parsing them.
inline constexpr uint64_t kSafetensorsMaxHeaderSize = 100'000'000;
inline constexpr size_t kSafetensorsMaxDims = 64;

enum class SafetensorsDType {
  kF64,
  kF32,
  kF16,
  kBF16,
  kI64,
  kI32,
  kI16,
  kI8,
  kU8,
  kBool,
  kU64,
  kU32,
  kU16,
  kF8E5M2,
  kF8E4M3,
};

// The name as the format spells it: "F32", "BF16", "F8_E4M3", "BOOL".
std::string_view NameOf(SafetensorsDType dtype);
// Bytes per element.
size_t ElementSize(SafetensorsDType dtype);
// Looks a dtype up by its exact (case-sensitive) name; unknown names are kUnsupported.
Result<SafetensorsDType> SafetensorsDTypeFromName(std::string_view name);

struct SafetensorsTensor {
  std::string name;
  SafetensorsDType dtype = SafetensorsDType::kF32;
  // Row-major (C order), outermost first, as PyTorch reports it: shape.back() is contiguous.
  std::vector<int64_t> shape;
  uint64_t n_elements = 0;
  uint64_t offset = 0;  // absolute file offset of its data
  uint64_t n_bytes = 0;
  // View into the file. Not necessarily aligned to the element size: older writers did not pad
  // the header.
  std::span<const uint8_t> data;
};

class SafetensorsFile {
 public:
  // Maps and parses a file. Tensor data stays mapped while any copy of the object lives.
  static Result<SafetensorsFile> Open(const std::string& path);
  // Parses bytes that the caller keeps alive (fuzzing, in-memory files); `name` labels errors.
  static Result<SafetensorsFile> Parse(std::span<const uint8_t> bytes, std::string name);

  const std::string& name() const { return name_; }
  uint64_t header_size() const { return header_size_; }  // N, the JSON's length
  uint64_t data_offset() const { return 8 + header_size_; }
  uint64_t file_size() const { return bytes_.size(); }

  // "__metadata__", sorted by key.
  const std::vector<std::pair<std::string, std::string>>& metadata() const { return metadata_; }
  // In data-offset order.
  const std::vector<SafetensorsTensor>& tensors() const { return tensors_; }
  const SafetensorsTensor* FindTensor(std::string_view name) const;

 private:
  class Parser;

  std::string name_;
  std::shared_ptr<MappedFile> file_;  // null when parsing caller-owned bytes
  std::span<const uint8_t> bytes_;
  uint64_t header_size_ = 0;
  std::vector<std::pair<std::string, std::string>> metadata_;
  std::vector<SafetensorsTensor> tensors_;
  // Indices into tensors_, sorted by name. Indices rather than views keep copies valid.
  std::vector<uint32_t> by_name_;
};

// A model stored as one safetensors file or as shards listed by a
// model.safetensors.index.json ({"metadata": {...}, "weight_map": {tensor: shard}}).
class SafetensorsModel {
 public:
  // `path` is a .safetensors file, an index .json file, or a directory holding
  // model.safetensors.index.json (preferred), model.safetensors, or exactly one *.safetensors.
  static Result<SafetensorsModel> Open(const std::string& path);

  SafetensorsModel(SafetensorsModel&&) = default;
  SafetensorsModel& operator=(SafetensorsModel&&) = default;
  // tensors_ points into files_; a copy would point into the original.
  SafetensorsModel(const SafetensorsModel&) = delete;
  SafetensorsModel& operator=(const SafetensorsModel&) = delete;

  const std::filesystem::path& directory() const { return directory_; }
  // The shards in name order (one entry for a single-file model).
  const std::vector<SafetensorsFile>& files() const { return files_; }
  // Every tensor, in shard order then data-offset order.
  const std::vector<const SafetensorsTensor*>& tensors() const { return tensors_; }
  const SafetensorsTensor* FindTensor(std::string_view name) const;

  uint64_t n_params() const { return n_params_; }
  uint64_t total_bytes() const { return total_bytes_; }

 private:
  SafetensorsModel() = default;
  static Result<SafetensorsModel> OpenFile(const std::filesystem::path& path);
  static Result<SafetensorsModel> OpenIndex(const std::filesystem::path& path);
  static Result<SafetensorsModel> OpenDirectory(const std::filesystem::path& dir);
  void Finish();

  std::filesystem::path directory_;
  std::vector<SafetensorsFile> files_;
  std::vector<const SafetensorsTensor*> tensors_;
  std::vector<const SafetensorsTensor*> by_name_;
  uint64_t n_params_ = 0;
  uint64_t total_bytes_ = 0;
};

}  // namespace wick
