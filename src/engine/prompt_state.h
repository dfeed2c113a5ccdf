// Prompt-state files: the keys and values of a prompt's tokens saved to disk, so a fixed
// system prompt is evaluated once and later runs restore its cache instead of recomputing it.
//
// A file holds the token ids and, for each layer, their K rows then their V rows, exactly as
// the cache stores them, after a header with the key that must match for the state to be
// usable: the model file's identity (path, size, mtime, SHA-256 of its GGUF header) and the
// cache layout (KV type, layers, vocabulary, row bytes). Files are written under a temporary
// name and renamed into place, so a reader sees a whole file or none.
//
// Loading never trusts the file: a missing file, another version of the format, a different
// key, or more tokens than the cache holds is a miss (false: evaluate the prompt and save it
// again); bytes that do not follow the format (bad magic, truncated, wrong sizes, token ids
// out of range) are a kCorrupt error naming the file and offset, which callers report and
// then treat as a miss too. On any result but true the cache is left as it was. The K/V bytes
// themselves carry no checksum: the atomic write rules out torn files, and damaged values
// give wrong numbers, never an out-of-bounds read.
//
// Restoring is safe even if the prompt behind the file name changed: the generator reuses
// only the prefix of the restored tokens that equals the new prompt's tokens.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "model/hparams.h"
#include "model/kv_cache.h"

namespace wick::engine {

inline constexpr uint32_t kPromptStateVersion = 1;

struct PromptStateKey {
  // The model file (weakly canonical, so a hub symlink and its blob are one model), its size
  // and modification time: a replaced file is a different model.
  std::string model_path;
  uint64_t model_size = 0;
  int64_t model_mtime_ns = 0;
  // SHA-256 of the GGUF bytes before the tensor data (metadata and tensor infos): catches a
  // file rewritten with the same size and a restored mtime without reading gigabytes.
  std::array<uint8_t, 32> header_sha256{};
  DType kv_type = DType::kF16;
  int64_t n_layer = 0;
  int64_t n_vocab = 0;
  int64_t row_bytes = 0;  // KvCache::row_bytes() for this model and KV type

  bool operator==(const PromptStateKey&) const = default;
};

// Reads the model file's identity (it maps the file and parses the first part's header).
// A split model is identified by its first part.
Result<PromptStateKey> PromptStateKeyFor(const std::string& model_path, DType kv_type,
                                         const model::HParams& hp);

// Writes the first tokens.size() positions of `cache` (which must hold at least that many and
// match the key's layout) with `tokens` and `key`, atomically; creates the folder.
Status SavePromptState(const std::string& path, const PromptStateKey& key,
                       std::span<const int32_t> tokens, const model::KvCache& cache);

// True: `cache` holds the file's positions (n_past = tokens.size()) and `tokens` their ids.
// False: no usable state (missing, stale key, other format version, longer than the cache).
// Errors: a corrupt file (kCorrupt, naming file and offset), an unreadable one, or a cache
// whose layout differs from the key's (kInvalidArgument: a caller bug).
Result<bool> LoadPromptState(const std::string& path, const PromptStateKey& key,
                             model::KvCache& cache, std::vector<int32_t>& tokens);

// $WICK_CACHE_DIR/prompt-state, else $XDG_CACHE_HOME/wick/prompt-state, else
// ~/.cache/wick/prompt-state.
std::string PromptStateDir();

// <dir>/<sha256>.wkps, the hash over the model path, the KV type and the prompt text. The
// file's other key fields stay out of the name on purpose: when the model file changes, the
// same name is found, misses on the key, and is overwritten instead of left behind.
std::string PromptStatePath(const std::string& dir, const PromptStateKey& key,
                            std::string_view prompt_text);

}  // namespace wick::engine
