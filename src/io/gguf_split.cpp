#include "io/gguf_split.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <memory>

#include "core/ascii.h"

namespace wick {

namespace {

// "00001" -> 1; nullopt unless exactly five digits.
std::optional<int> FiveDigits(std::string_view text) {
  if (text.size() != 5) return std::nullopt;
  int value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace

std::optional<GgufSplitName> ParseGgufSplitName(std::string_view path) {
  // "-00001-of-00003.gguf" is 20 characters.
  constexpr std::string_view kSuffix = ".gguf";
  // Any case: hub repos have "MODEL-00001-of-00002.GGUF" too.
  if (path.size() < 20 || !EndsWithIgnoreCase(path, kSuffix)) return std::nullopt;
  const std::string_view tail = path.substr(path.size() - 20);
  if (tail[0] != '-' || tail.substr(6, 4) != "-of-") return std::nullopt;
  std::optional<int> index = FiveDigits(tail.substr(1, 5));
  std::optional<int> count = FiveDigits(tail.substr(10, 5));
  if (!index || !count || *index < 1 || *count < 1 || *index > *count) return std::nullopt;
  return GgufSplitName{std::string(path.substr(0, path.size() - 20)), *index, *count};
}

std::string GgufSplitPath(std::string_view prefix, int index, int count) {
  return fmt::format("{}-{:05d}-of-{:05d}.gguf", prefix, index, count);
}

Status GgufFile::OpenOtherShards() {
  const GgufValue* count_value = Find(kGgufSplitCount);
  if (count_value == nullptr) return OkStatus();
  WICK_ASSIGN_OR_RETURN(uint16_t count, Get<uint16_t>(kGgufSplitCount));
  WICK_ASSIGN_OR_RETURN(uint16_t number, GetOr<uint16_t>(kGgufSplitNo, 0));
  if (count <= 1) return OkStatus();
  std::optional<GgufSplitName> split = ParseGgufSplitName(name_);
  if (number != 0) {
    return Error(
        ErrorCode::kInvalidArgument,
        fmt::format(
            "{}: this is part {} of a split model; open its first part{}", name_, number + 1,
            split ? " (" + GgufSplitPath(split->prefix, 1, split->count) + ")" : std::string()));
  }
  if (!split || split->count != count) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("{}: the first of {} parts of a split model, but not named "
                             "PREFIX-00001-of-{:05d}.gguf, so the other parts cannot be found",
                             name_, count, count));
  }
  WICK_ASSIGN_OR_RETURN(int32_t expected_tensors, Get<int32_t>(kGgufSplitTensorsCount));
  for (uint16_t i = 1; i < count; ++i) {
    const std::string path = GgufSplitPath(split->prefix, i + 1, count);
    Result<MappedFile> mapped = MappedFile::Open(path);
    if (!mapped.ok()) {
      return std::move(mapped).error().With(
          fmt::format("{}: part {} of {} of the split model", name_, i + 1, count));
    }
    auto shared = std::make_shared<MappedFile>(std::move(*mapped));
    WICK_ASSIGN_OR_RETURN(GgufFile part, Parse(shared->bytes(), path));
    WICK_ASSIGN_OR_RETURN(uint16_t part_count, part.Get<uint16_t>(kGgufSplitCount));
    WICK_ASSIGN_OR_RETURN(uint16_t part_number, part.Get<uint16_t>(kGgufSplitNo));
    if (part_count != count || part_number != i) {
      return Error(ErrorCode::kCorrupt,
                   fmt::format("{}: says it is part {} of {}, expected part {} of {}", path,
                               part_number + 1, part_count, i + 1, count));
    }
    for (GgufTensorInfo& info : part.tensors_) {
      if (tensor_index_.count(info.name) != 0) {
        return Error(ErrorCode::kCorrupt,
                     fmt::format("{}: tensor {} is also in an earlier part", path, info.name));
      }
      info.shard = i;
      tensor_index_.emplace(info.name, tensors_.size());
      tensors_.push_back(std::move(info));
    }
    other_shards_.push_back(std::move(shared));
    shard_paths_.push_back(path);
    total_size_ += part.file_size();
  }
  if (expected_tensors < 0 || tensors_.size() != static_cast<size_t>(expected_tensors)) {
    return Error(ErrorCode::kCorrupt,
                 fmt::format("{}: the split model's parts hold {} tensors, its {} says {}", name_,
                             tensors_.size(), kGgufSplitTensorsCount, expected_tensors));
  }
  return OkStatus();
}

Status WriteGgufSplit(const GgufFile& file, const std::string& prefix, int parts) {
  const auto& tensors = file.tensors();
  if (parts < 1 || parts > 99999 ||
      static_cast<size_t>(parts) > std::max<size_t>(tensors.size(), 1)) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("cannot split {} tensors into {} parts", tensors.size(), parts));
  }
  const size_t per_part = (tensors.size() + parts - 1) / parts;
  for (int p = 0; p < parts; ++p) {
    GgufWriter writer;
    if (p == 0) {
      for (const GgufKeyValue& kv : file.metadata()) {
        if (kv.key.rfind("split.", 0) == 0) continue;
        WICK_RETURN_IF_ERROR(writer.Set(kv.key, kv.value));
      }
    } else if (const GgufValue* alignment = file.Find("general.alignment")) {
      WICK_RETURN_IF_ERROR(writer.Set("general.alignment", *alignment));
    }
    WICK_RETURN_IF_ERROR(
        writer.Set(kGgufSplitNo, GgufValue::Scalar<uint16_t>(static_cast<uint16_t>(p))));
    WICK_RETURN_IF_ERROR(
        writer.Set(kGgufSplitCount, GgufValue::Scalar<uint16_t>(static_cast<uint16_t>(parts))));
    WICK_RETURN_IF_ERROR(writer.Set(
        kGgufSplitTensorsCount, GgufValue::Scalar<int32_t>(static_cast<int32_t>(tensors.size()))));
    const size_t begin = static_cast<size_t>(p) * per_part;
    const size_t end = std::min(tensors.size(), begin + per_part);
    for (size_t t = begin; t < end; ++t) {
      const GgufTensorInfo& info = tensors[t];
      WICK_RETURN_IF_ERROR(writer.AddTensor(info.name, info.type, info.shape, info.data));
    }
    WICK_RETURN_IF_ERROR(writer.WriteFile(GgufSplitPath(prefix, p + 1, parts)));
  }
  return OkStatus();
}

}  // namespace wick
