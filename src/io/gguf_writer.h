// Writing GGUF (version 3) files: metadata in insertion order, tensor infos, then tensor data,
// each tensor padded to the alignment (`general.alignment`, default 32) with zero bytes.
//
// Values and tensor data are referenced, not copied, until Write: whatever they view (a
// GgufFile being re-written, caller buffers) must outlive the writer's Write call.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "io/gguf_file.h"
#include "io/gguf_value.h"

namespace wick {

class GgufWriter {
 public:
  GgufWriter() = default;

  // Everything in `file` (metadata and tensors, in file order), ready to write back.
  static Result<GgufWriter> CopyOf(const GgufFile& file);

  // Adds a key, or replaces its value in place. `general.alignment` sets the alignment.
  Status Set(std::string_view key, GgufValue value);
  Status AddTensor(std::string_view name, DType type, std::vector<int64_t> shape,
                   std::span<const uint8_t> data);
  // A tensor whose bytes `fill` writes into a buffer of the tensor's size at Write time, so a
  // generated model never needs all its weights in memory at once.
  using TensorFill = std::function<void(std::span<uint8_t>)>;
  Status AddTensor(std::string_view name, DType type, std::vector<int64_t> shape, TensorFill fill);

  uint32_t alignment() const { return alignment_; }
  size_t tensor_count() const { return tensors_.size(); }

  // Writes to `path` through a temporary file renamed into place, so a failure never leaves
  // a half-written model under the final name.
  Status WriteFile(const std::string& path) const;
  // The whole file in memory (tests, small files).
  std::vector<uint8_t> WriteToBuffer() const;

 private:
  struct Tensor {
    std::string name;
    DType type;
    std::vector<int64_t> shape;
    std::span<const uint8_t> data;
    uint64_t size;    // bytes
    TensorFill fill;  // set: data is generated at Write time
  };
  Result<uint64_t> CheckTensor(std::string_view name, DType type,
                               const std::vector<int64_t>& shape) const;
  using Sink = std::function<bool(std::span<const uint8_t>)>;
  bool Write(const Sink& sink) const;
  std::vector<uint8_t> EncodeHeader() const;

  std::vector<std::pair<std::string, GgufValue>> metadata_;
  std::unordered_map<std::string, size_t> key_index_;
  std::vector<Tensor> tensors_;
  std::unordered_map<std::string, size_t> tensor_index_;
  uint32_t alignment_ = kGgufDefaultAlignment;
};

}  // namespace wick
