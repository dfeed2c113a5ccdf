// The names of a split GGUF model's parts, as llama.cpp's gguf-split writes them:
// "{prefix}-{index:05}-of-{count:05}.gguf", index from 1. The hub picks every part of a split
// by them and GgufFile::Open finds the other parts of a model from its first.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"
#include "io/gguf_writer.h"

namespace wick {

struct GgufSplitName {
  std::string prefix;  // everything before "-00001-of-00003.gguf", folders included
  int index = 0;       // 1-based
  int count = 0;
};

// Parses a path or file name; nullopt when it is not a part's name (or the numbers are 0, or
// index > count).
std::optional<GgufSplitName> ParseGgufSplitName(std::string_view path);
// The path of part `index` (1-based) of `count`.
std::string GgufSplitPath(std::string_view prefix, int index, int count);

// The metadata keys of a split model.
inline constexpr std::string_view kGgufSplitNo = "split.no";  // u16, 0-based
inline constexpr std::string_view kGgufSplitCount = "split.count";
inline constexpr std::string_view kGgufSplitTensorsCount = "split.tensors.count";  // i32, total

// Writes `file` as `parts` split files "{prefix}-0000i-of-0000n.gguf" with at most
// ceil(tensors / parts) tensors each: the first has all the metadata, every part the split
// keys. For tests and for users who need files under a size limit.
Status WriteGgufSplit(const GgufFile& file, const std::string& prefix, int parts);

}  // namespace wick
