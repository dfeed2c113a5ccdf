#include "engine/prompt_state.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <type_traits>
#include <vector>

#include "core/mapped_file.h"
#include "core/sha256.h"
#include "core/user_dirs.h"
#include "io/byte_reader.h"
#include "io/gguf_file.h"

namespace wick::engine {

namespace fs = std::filesystem;

namespace {

constexpr char kMagic[4] = {'W', 'K', 'P', 'S'};
// A model path longer than this in a file is corruption, not a real path.
constexpr uint32_t kMaxPathBytes = 1 << 16;

Status CheckCacheLayout(const PromptStateKey& key, const model::KvCache& cache) {
  if (cache.type() != key.kv_type || cache.row_bytes() != key.row_bytes ||
      cache.n_layer() != key.n_layer) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("prompt state: the cache ({} layers of {} rows of {} bytes) is not "
                             "the key's ({} layers of {} rows of {} bytes)",
                             cache.n_layer(), NameOf(cache.type()), cache.row_bytes(), key.n_layer,
                             NameOf(key.kv_type), key.row_bytes));
  }
  return OkStatus();
}

template <typename T>
void Append(std::string& out, T value) {
  static_assert(std::is_trivially_copyable_v<T>);
  out.append(reinterpret_cast<const char*>(&value), sizeof(T));
}

// Everything before the tokens. Integers are little-endian, as on every host wick builds for.
std::string EncodeHeader(const PromptStateKey& key, uint64_t n_tokens) {
  std::string out(kMagic, sizeof(kMagic));
  Append<uint32_t>(out, kPromptStateVersion);
  Append<uint32_t>(out, static_cast<uint32_t>(key.kv_type));
  Append<uint32_t>(out, static_cast<uint32_t>(key.model_path.size()));
  Append<uint64_t>(out, key.model_size);
  Append<int64_t>(out, key.model_mtime_ns);
  out.append(reinterpret_cast<const char*>(key.header_sha256.data()), key.header_sha256.size());
  Append<int64_t>(out, key.n_layer);
  Append<int64_t>(out, key.n_vocab);
  Append<int64_t>(out, key.row_bytes);
  Append<uint64_t>(out, n_tokens);
  out += key.model_path;
  return out;
}

// Reads the key fields in EncodeHeader's order (after magic and version).
Result<PromptStateKey> DecodeKey(ByteReader& r, uint64_t& n_tokens) {
  PromptStateKey key;
  WICK_ASSIGN_OR_RETURN(uint32_t kv_type, r.Read<uint32_t>("KV type"));
  key.kv_type = static_cast<DType>(kv_type);  // compared with the caller's, never used alone
  WICK_ASSIGN_OR_RETURN(uint32_t path_len, r.Read<uint32_t>("model path length"));
  if (path_len > kMaxPathBytes) {
    return Error(ErrorCode::kCorrupt, fmt::format("offset {}: model path length {} is over {}",
                                                  r.offset() - 4, path_len, kMaxPathBytes));
  }
  WICK_ASSIGN_OR_RETURN(key.model_size, r.Read<uint64_t>("model size"));
  WICK_ASSIGN_OR_RETURN(key.model_mtime_ns, r.Read<int64_t>("model mtime"));
  WICK_ASSIGN_OR_RETURN(std::span<const uint8_t> sha, r.ReadBytes(32, "model header hash"));
  std::memcpy(key.header_sha256.data(), sha.data(), sha.size());
  WICK_ASSIGN_OR_RETURN(key.n_layer, r.Read<int64_t>("layer count"));
  WICK_ASSIGN_OR_RETURN(key.n_vocab, r.Read<int64_t>("vocabulary size"));
  WICK_ASSIGN_OR_RETURN(key.row_bytes, r.Read<int64_t>("row bytes"));
  WICK_ASSIGN_OR_RETURN(n_tokens, r.Read<uint64_t>("token count"));
  WICK_ASSIGN_OR_RETURN(std::span<const uint8_t> path, r.ReadBytes(path_len, "model path"));
  key.model_path.assign(reinterpret_cast<const char*>(path.data()), path.size());
  return key;
}

Status WriteAll(const std::string& tmp, const std::string& header, std::span<const int32_t> tokens,
                const model::KvCache& cache) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(tmp.c_str(), "wbx"),
                                                       &std::fclose);
  if (!file) {
    return Error(ErrorCode::kIo, fmt::format("{}: cannot create: {}", tmp, std::strerror(errno)));
  }
  auto put = [&](const void* data, size_t n) {
    return n == 0 || std::fwrite(data, 1, n, file.get()) == n;
  };
  bool ok = put(header.data(), header.size()) && put(tokens.data(), tokens.size_bytes());
  // KvCache has only mutable accessors; the bytes are only read here.
  auto& rows = const_cast<model::KvCache&>(cache);
  const auto n_bytes = static_cast<size_t>(cache.row_bytes()) * tokens.size();
  std::vector<uint8_t> staged;  // layers in device memory pass through the host
  for (int64_t l = 0; ok && l < cache.n_layer(); ++l) {
    for (bool values : {false, true}) {
      const uint8_t* rows_data = values ? rows.v(l) : rows.k(l);
      if (cache.device_of(l) != nullptr) {
        staged.resize(n_bytes);
        WICK_RETURN_IF_ERROR(rows.ReadLayer(l, values, staged.data(), n_bytes));
        rows_data = staged.data();
      }
      ok = ok && put(rows_data, n_bytes);
    }
  }
  ok = ok && std::fflush(file.get()) == 0 && ::fsync(::fileno(file.get())) == 0;
  int saved_errno = errno;
  if (std::fclose(file.release()) != 0 && ok) {
    ok = false;
    saved_errno = errno;
  }
  if (!ok) {
    return Error(ErrorCode::kIo,
                 fmt::format("{}: cannot write: {}", tmp, std::strerror(saved_errno)));
  }
  return OkStatus();
}

}  // namespace

Result<PromptStateKey> PromptStateKeyFor(const std::string& model_path, DType kv_type,
                                         const model::HParams& hp) {
  PromptStateKey key;
  std::error_code ec;
  fs::path canonical = fs::weakly_canonical(model_path, ec);
  key.model_path = ec ? fs::absolute(model_path, ec).string() : canonical.string();
  if (key.model_path.empty()) key.model_path = model_path;
  struct stat st {};
  if (::stat(model_path.c_str(), &st) != 0) {
    return Error(errno == ENOENT ? ErrorCode::kNotFound : ErrorCode::kIo,
                 fmt::format("{}: cannot stat: {}", model_path, std::strerror(errno)));
  }
  key.model_size = static_cast<uint64_t>(st.st_size);
  key.model_mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 +
                       static_cast<int64_t>(st.st_mtim.tv_nsec);
  WICK_ASSIGN_OR_RETURN(MappedFile mapped, MappedFile::Open(model_path));
  // Parsing touches only the header pages of the map; the tensor data is never read.
  WICK_ASSIGN_OR_RETURN(GgufFile gguf, GgufFile::Parse(mapped.bytes(), model_path));
  Sha256 sha;
  sha.Update(mapped.bytes().data(), static_cast<size_t>(gguf.data_offset()));
  key.header_sha256 = sha.Finish();
  key.kv_type = kv_type;
  key.n_layer = hp.n_layer;
  key.n_vocab = hp.n_vocab;
  WICK_ASSIGN_OR_RETURN(uint64_t head_bytes, BytesFor(kv_type, static_cast<uint64_t>(hp.head_dim)));
  key.row_bytes = hp.n_head_kv * static_cast<int64_t>(head_bytes);
  return key;
}

Status SavePromptState(const std::string& path, const PromptStateKey& key,
                       std::span<const int32_t> tokens, const model::KvCache& cache) {
  WICK_RETURN_IF_ERROR(CheckCacheLayout(key, cache));
  if (static_cast<int64_t>(tokens.size()) > cache.n_past()) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("prompt state: {} tokens, but the cache holds only {} positions",
                             tokens.size(), cache.n_past()));
  }
  if (!cache.holds_all()) {
    // The file holds every layer's rows from position 0.
    return Error(ErrorCode::kUnsupported,
                 fmt::format("prompt state: the cache's sliding-window layers have dropped its "
                             "first positions ({} tokens)",
                             cache.n_past()));
  }
  std::error_code ec;
  fs::path parent = fs::path(path).parent_path();
  if (!parent.empty()) fs::create_directories(parent, ec);
  if (ec) {
    return Error(ErrorCode::kIo,
                 fmt::format("{}: cannot create folder: {}", parent.string(), ec.message()));
  }
  // Unique per process and call: concurrent writers of one state never share a temp file.
  static std::atomic<uint64_t> counter{0};
  const std::string tmp = fmt::format("{}.{}.{}.tmp", path, ::getpid(), counter++);
  Status written = WriteAll(tmp, EncodeHeader(key, tokens.size()), tokens, cache);
  if (written.ok() && std::rename(tmp.c_str(), path.c_str()) != 0) {
    written = Error(ErrorCode::kIo, fmt::format("{}: cannot rename {} into place: {}", path, tmp,
                                                std::strerror(errno)));
  }
  if (!written.ok()) std::remove(tmp.c_str());
  return written;
}

Result<bool> LoadPromptState(const std::string& path, const PromptStateKey& key,
                             model::KvCache& cache, std::vector<int32_t>& tokens) {
  WICK_RETURN_IF_ERROR(CheckCacheLayout(key, cache));
  Result<MappedFile> mapped = MappedFile::Open(path);
  if (!mapped.ok()) {
    if (mapped.error().code() == ErrorCode::kNotFound) return false;
    return std::move(mapped).error();
  }
  ByteReader r(mapped->bytes());
  auto corrupt = [&](Error e) { return std::move(e).With(path); };

  Result<std::span<const uint8_t>> magic = r.ReadBytes(sizeof(kMagic), "magic");
  if (!magic.ok()) return corrupt(std::move(magic).error());
  if (std::memcmp(magic->data(), kMagic, sizeof(kMagic)) != 0) {
    return corrupt(Error(
        ErrorCode::kCorrupt,
        fmt::format("offset 0: magic {} is not WKPS",
                    Quote(std::string_view(reinterpret_cast<const char*>(magic->data()), 4)))));
  }
  Result<uint32_t> version = r.Read<uint32_t>("version");
  if (!version.ok()) return corrupt(std::move(version).error());
  // Another version is a valid file this build does not read: evaluate again and replace it.
  if (*version != kPromptStateVersion) return false;
  uint64_t n_tokens = 0;
  Result<PromptStateKey> stored = DecodeKey(r, n_tokens);
  if (!stored.ok()) return corrupt(std::move(stored).error());
  if (*stored != key) return false;
  // A smaller context now, or sliding-window layers with fewer rows than the state.
  for (int64_t l = 0; l < cache.n_layer(); ++l) {
    if (n_tokens > static_cast<uint64_t>(cache.rows(l))) return false;
  }

  // Bounded by n_ctx and the cache's own size, so these products cannot overflow.
  const uint64_t token_bytes = n_tokens * sizeof(int32_t);
  const uint64_t rows_bytes = n_tokens * static_cast<uint64_t>(key.row_bytes);
  const uint64_t expected = token_bytes + 2 * static_cast<uint64_t>(key.n_layer) * rows_bytes;
  if (r.remaining() != expected) {
    return corrupt(Error(ErrorCode::kCorrupt,
                         fmt::format("offset {}: {} tokens of {} layers need {} more bytes; the "
                                     "file has {}",
                                     r.offset(), n_tokens, key.n_layer, expected, r.remaining())));
  }
  const size_t tokens_offset = r.offset();
  std::vector<int32_t> ids(n_tokens);
  std::memcpy(ids.data(), mapped->bytes().data() + tokens_offset, token_bytes);
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= key.n_vocab) {
      return corrupt(
          Error(ErrorCode::kCorrupt,
                fmt::format("offset {}: token {} is {}, outside the vocabulary of {}",
                            tokens_offset + i * sizeof(int32_t), i, ids[i], key.n_vocab)));
    }
  }

  // Everything is checked: only now is the cache changed.
  const uint8_t* src = mapped->bytes().data() + tokens_offset + token_bytes;
  for (int64_t l = 0; l < key.n_layer; ++l) {
    for (bool values : {false, true}) {
      WICK_RETURN_IF_ERROR(cache.WriteLayer(l, values, src, rows_bytes));
      src += rows_bytes;
    }
  }
  cache.Clear();
  cache.Advance(static_cast<int64_t>(n_tokens));
  tokens = std::move(ids);
  return true;
}

std::string PromptStateDir() {
  std::string wick = EnvVar("WICK_CACHE_DIR");
  if (!wick.empty()) return (fs::path(wick) / "prompt-state").string();
  std::string xdg = EnvVar("XDG_CACHE_HOME");
  if (!xdg.empty()) return (fs::path(xdg) / "wick" / "prompt-state").string();
  return (HomeDir() / ".cache" / "wick" / "prompt-state").string();
}

std::string PromptStatePath(const std::string& dir, const PromptStateKey& key,
                            std::string_view prompt_text) {
  Sha256 sha;
  // Lengths first, so no two (path, type, prompt) triples hash the same bytes.
  const uint64_t path_len = key.model_path.size();
  const auto kv_type = static_cast<uint32_t>(key.kv_type);
  sha.Update(&path_len, sizeof(path_len));
  sha.Update(key.model_path);
  sha.Update(&kv_type, sizeof(kv_type));
  sha.Update(prompt_text);
  return (fs::path(dir) / (sha.FinishHex() + ".wkps")).string();
}

}  // namespace wick::engine
