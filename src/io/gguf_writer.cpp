#include "io/gguf_writer.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

namespace wick {

namespace {

constexpr uint32_t kVersion = 3;

class Encoder {
 public:
  explicit Encoder(std::vector<uint8_t>& out) : out_(out) {}

  template <typename T>
  void Put(T value) {
    PutBytes(&value, sizeof(T));
  }
  void PutBytes(const void* data, size_t n) {
    if (n == 0) return;
    size_t at = out_.size();
    out_.resize(at + n);
    std::memcpy(out_.data() + at, data, n);
  }
  void PutString(std::string_view s) {
    Put<uint64_t>(s.size());
    PutBytes(s.data(), s.size());
  }
  void PutValue(const GgufValue& v) {
    switch (v.type()) {
      case GgufValueType::kString:
        PutString(v.str());
        return;
      case GgufValueType::kArray:
        PutArray(v);
        return;
      default: {
        uint64_t bits = v.bits();
        PutBytes(&bits, GgufScalarSize(v.type()));
      }
    }
  }
  void PutArray(const GgufValue& v) {
    // An empty nested array records its element type as array; GGUF has no deeper info.
    Put<uint32_t>(static_cast<uint32_t>(v.element_type()));
    Put<uint64_t>(v.size());
    switch (v.element_type()) {
      case GgufValueType::kString:
        for (std::string_view s : v.strings()) PutString(s);
        return;
      case GgufValueType::kArray:
        for (const GgufValue& item : v.arrays()) PutArray(item);
        return;
      default:
        PutBytes(v.packed().data(), v.packed().size());
    }
  }
  void PadTo(uint32_t alignment) {
    while (out_.size() % alignment != 0) out_.push_back(0);
  }

 private:
  std::vector<uint8_t>& out_;
};

bool ValidKey(std::string_view key) {
  return !key.empty() && key.size() <= 65535 &&
         std::all_of(key.begin(), key.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
}

uint64_t Padding(uint64_t size, uint32_t alignment) {
  return (alignment - size % alignment) % alignment;
}

}  // namespace

Result<GgufWriter> GgufWriter::CopyOf(const GgufFile& file) {
  GgufWriter writer;
  for (const GgufKeyValue& kv : file.metadata()) {
    WICK_RETURN_IF_ERROR(writer.Set(kv.key, kv.value));
  }
  for (const GgufTensorInfo& t : file.tensors()) {
    WICK_RETURN_IF_ERROR(writer.AddTensor(t.name, t.type, t.shape, t.data));
  }
  return writer;
}

Status GgufWriter::Set(std::string_view key, GgufValue value) {
  if (!ValidKey(key)) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("key {}: keys are 1 to 65535 printable ASCII characters", Quote(key)));
  }
  if (key == "general.alignment") {
    Result<uint32_t> alignment = value.As<uint32_t>();
    if (!alignment.ok()) return std::move(alignment).error().With("key 'general.alignment'");
    if (*alignment == 0 || (*alignment & (*alignment - 1)) != 0) {
      return Error(ErrorCode::kInvalidArgument,
                   fmt::format("key 'general.alignment': {} is not a power of two", *alignment));
    }
    alignment_ = *alignment;
  }
  auto it = key_index_.find(std::string(key));
  if (it != key_index_.end()) {
    metadata_[it->second].second = std::move(value);
  } else {
    key_index_.emplace(std::string(key), metadata_.size());
    metadata_.emplace_back(std::string(key), std::move(value));
  }
  return OkStatus();
}

Result<uint64_t> GgufWriter::CheckTensor(std::string_view name, DType type,
                                         const std::vector<int64_t>& shape) const {
  auto fail = [&](std::string msg) {
    return Error(ErrorCode::kInvalidArgument, fmt::format("tensor {}: {}", Quote(name), msg));
  };
  if (name.empty() || name.size() > kGgufMaxTensorName) {
    return fail(fmt::format("names are 1 to {} bytes", kGgufMaxTensorName));
  }
  if (tensor_index_.count(std::string(name)) != 0) return fail("added twice");
  if (shape.empty() || shape.size() > kGgufMaxDims) {
    return fail(fmt::format("{} dimensions; GGUF allows 1 to {}", shape.size(), kGgufMaxDims));
  }
  uint64_t n_elements = 1;
  for (int64_t dim : shape) {
    if (dim < 0) return fail(fmt::format("negative dimension {}", dim));
    if (dim != 0 && n_elements > static_cast<uint64_t>(INT64_MAX) / static_cast<uint64_t>(dim)) {
      return fail("element count overflows");
    }
    n_elements *= static_cast<uint64_t>(dim);
  }
  if (shape[0] % InfoOf(type).block_size != 0) {
    return fail(fmt::format("row length {} is not a multiple of the {} block size {}", shape[0],
                            NameOf(type), InfoOf(type).block_size));
  }
  Result<uint64_t> n_bytes = BytesFor(type, n_elements);
  if (!n_bytes.ok()) return fail(n_bytes.error().message());
  return *n_bytes;
}

Status GgufWriter::AddTensor(std::string_view name, DType type, std::vector<int64_t> shape,
                             std::span<const uint8_t> data) {
  WICK_ASSIGN_OR_RETURN(uint64_t n_bytes, CheckTensor(name, type, shape));
  if (n_bytes != data.size()) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("tensor {}: its {} data needs {} bytes, got {}", Quote(name),
                             NameOf(type), n_bytes, data.size()));
  }
  tensor_index_.emplace(std::string(name), tensors_.size());
  tensors_.push_back({std::string(name), type, std::move(shape), data, n_bytes, nullptr});
  return OkStatus();
}

Status GgufWriter::AddTensor(std::string_view name, DType type, std::vector<int64_t> shape,
                             TensorFill fill) {
  WICK_ASSIGN_OR_RETURN(uint64_t n_bytes, CheckTensor(name, type, shape));
  if (!fill)
    return Error(ErrorCode::kInvalidArgument, fmt::format("tensor {}: no fill", Quote(name)));
  tensor_index_.emplace(std::string(name), tensors_.size());
  tensors_.push_back({std::string(name), type, std::move(shape), {}, n_bytes, std::move(fill)});
  return OkStatus();
}

std::vector<uint8_t> GgufWriter::EncodeHeader() const {
  std::vector<uint8_t> out;
  Encoder enc(out);
  enc.PutBytes("GGUF", 4);
  enc.Put<uint32_t>(kVersion);
  enc.Put<uint64_t>(tensors_.size());
  enc.Put<uint64_t>(metadata_.size());
  for (const auto& [key, value] : metadata_) {
    enc.PutString(key);
    enc.Put<uint32_t>(static_cast<uint32_t>(value.type()));
    enc.PutValue(value);
  }
  uint64_t offset = 0;
  for (const Tensor& t : tensors_) {
    enc.PutString(t.name);
    enc.Put<uint32_t>(static_cast<uint32_t>(t.shape.size()));
    for (int64_t dim : t.shape) enc.Put<uint64_t>(static_cast<uint64_t>(dim));
    enc.Put<uint32_t>(static_cast<uint32_t>(t.type));
    enc.Put<uint64_t>(offset);
    offset += t.size + Padding(t.size, alignment_);
  }
  // Vocabulary-only files end after the header; only a data section needs aligning.
  if (!tensors_.empty()) enc.PadTo(alignment_);
  return out;
}

bool GgufWriter::Write(const Sink& sink) const {
  if (!sink(EncodeHeader())) return false;
  static constexpr uint8_t kZeros[256] = {};
  std::vector<uint8_t> generated;
  for (const Tensor& t : tensors_) {
    if (t.fill) {
      generated.resize(t.size);
      t.fill(generated);
      if (!sink(generated)) return false;
    } else if (!sink(t.data)) {
      return false;
    }
    uint64_t pad = Padding(t.size, alignment_);
    while (pad > 0) {
      uint64_t n = std::min<uint64_t>(pad, sizeof kZeros);
      if (!sink({kZeros, static_cast<size_t>(n)})) return false;
      pad -= n;
    }
  }
  return true;
}

std::vector<uint8_t> GgufWriter::WriteToBuffer() const {
  std::vector<uint8_t> out;
  Write([&](std::span<const uint8_t> bytes) {
    out.insert(out.end(), bytes.begin(), bytes.end());
    return true;
  });
  return out;
}

Status GgufWriter::WriteFile(const std::string& path) const {
  std::string tmp = path + ".tmp";
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(tmp.c_str(), "wb"), &std::fclose);
  if (!file) {
    return Error(ErrorCode::kIo, fmt::format("{}: cannot create: {}", tmp, std::strerror(errno)));
  }
  bool ok = Write([&](std::span<const uint8_t> bytes) {
    return bytes.empty() || std::fwrite(bytes.data(), 1, bytes.size(), file.get()) == bytes.size();
  });
  ok = ok && std::fflush(file.get()) == 0 && ::fsync(::fileno(file.get())) == 0;
  int saved_errno = errno;
  if (std::fclose(file.release()) != 0 && ok) {
    ok = false;
    saved_errno = errno;
  }
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    if (ok) saved_errno = errno;
    std::remove(tmp.c_str());
    return Error(ErrorCode::kIo,
                 fmt::format("{}: cannot write: {}", path, std::strerror(saved_errno)));
  }
  return OkStatus();
}

}  // namespace wick
