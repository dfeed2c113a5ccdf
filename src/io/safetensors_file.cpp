#include "io/safetensors_file.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <nlohmann/json.hpp>
#include <numeric>
#include <optional>
#include <unordered_set>

#include "io/byte_reader.h"

namespace wick {

namespace {

using Json = nlohmann::json;
namespace fs = std::filesystem;

struct DTypeEntry {
  SafetensorsDType dtype;
  std::string_view name;
  size_t size;
};

// In enumerator order, so that an enumerator's value indexes its entry.
// clang-format off
constexpr std::array<DTypeEntry, 15> kDTypes = {{
    {SafetensorsDType::kF64, "F64", 8},   {SafetensorsDType::kF32, "F32", 4},
    {SafetensorsDType::kF16, "F16", 2},   {SafetensorsDType::kBF16, "BF16", 2},
    {SafetensorsDType::kI64, "I64", 8},   {SafetensorsDType::kI32, "I32", 4},
    {SafetensorsDType::kI16, "I16", 2},   {SafetensorsDType::kI8, "I8", 1},
    {SafetensorsDType::kU8, "U8", 1},     {SafetensorsDType::kBool, "BOOL", 1},
    {SafetensorsDType::kU64, "U64", 8},   {SafetensorsDType::kU32, "U32", 4},
    {SafetensorsDType::kU16, "U16", 2},   {SafetensorsDType::kF8E5M2, "F8_E5M2", 1},
    {SafetensorsDType::kF8E4M3, "F8_E4M3", 1}}};
// clang-format on
static_assert([] {
  for (size_t i = 0; i < kDTypes.size(); ++i) {
    if (static_cast<size_t>(kDTypes[i].dtype) != i) return false;
  }
  return true;
}());

// A real header nests three levels (root, tensor entry, shape); unknown fields may add a few.
// The limit keeps a hostile header from making the parser's stacks grow with its length.
constexpr int kMaxJsonDepth = 64;
// Index files list names, not data; anything this big is not one.
constexpr uint64_t kMaxIndexSize = 100'000'000;
constexpr std::string_view kIndexFileName = "model.safetensors.index.json";
constexpr std::string_view kSingleFileName = "model.safetensors";

template <typename... Args>
Error Corrupt(fmt::format_string<Args...> format, Args&&... args) {
  return Error(ErrorCode::kCorrupt, fmt::format(format, std::forward<Args>(args)...));
}

// Keeps text echoed from a file (nlohmann's "last read" tokens) to one printable line.
std::string OneLine(std::string_view text, size_t max_len = 160) {
  std::string out;
  for (unsigned char c : text.substr(0, max_len)) {
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("\\x{:02x}", c);
    }
  }
  if (text.size() > max_len) out += "...";
  return out;
}

// A JSON value for a message: compact, ASCII-only and short.
std::string Show(const Json& value) {
  return OneLine(value.dump(-1, ' ', /*ensure_ascii=*/true, Json::error_handler_t::replace), 60);
}

// Offset of the first bracket nested deeper than `max_depth`, scanning as a JSON lexer would
// (brackets inside strings do not count). Up to the first syntax error, where nlohmann stops,
// this depth is the parser's depth.
std::optional<size_t> FindTooDeep(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return i;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return std::nullopt;
}

// nlohmann's messages start "[json.exception.parse_error.101] parse error at line 1, column
// 5: "; the offset wick reports replaces the position.
std::string ParseErrorText(std::string_view what) {
  size_t column = what.find("column ");
  if (column != std::string_view::npos) {
    size_t colon = what.find(": ", column);
    if (colon != std::string_view::npos) what.remove_prefix(colon + 2);
  }
  return OneLine(what);
}

// Parses JSON text from a file. `base` is the text's offset in its file, for messages. Keys
// repeated within one object are refused: readers disagree on which copy wins, so one file
// could mean two different models.
Result<Json> ParseJson(std::span<const uint8_t> bytes, uint64_t base, std::string_view what) {
  std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  if (std::optional<size_t> at = FindTooDeep(text, kMaxJsonDepth)) {
    return Corrupt("offset {}: {}: JSON nested more than {} levels deep", base + *at, what,
                   kMaxJsonDepth);
  }
  // keys[d] holds the keys seen so far in the object open at depth d.
  std::vector<std::unordered_set<std::string>> keys;
  std::string duplicate;
  int duplicate_depth = 0;
  auto callback = [&](int depth, Json::parse_event_t event, Json& parsed) {
    if (depth < 0) return true;
    auto d = static_cast<size_t>(depth);
    if (event == Json::parse_event_t::object_start) {
      if (keys.size() <= d) keys.resize(d + 1);
      keys[d].clear();
    } else if (event == Json::parse_event_t::key && d >= 1 && d <= keys.size()) {
      const auto& key = parsed.get_ref<const std::string&>();
      if (!keys[d - 1].insert(key).second && duplicate.empty()) {
        duplicate = key;
        duplicate_depth = depth;
      }
    }
    return true;
  };
  Json root;
  try {
    root = Json::parse(text.begin(), text.end(), callback);
  } catch (const Json::parse_error& e) {
    uint64_t at = base + (e.byte > 0 ? e.byte - 1 : 0);
    return Corrupt("offset {}: {}: not valid JSON: {}", at, what, ParseErrorText(e.what()));
  } catch (const Json::exception& e) {
    return Corrupt("offset {}: {}: not valid JSON: {}", base, what, OneLine(e.what()));
  }
  if (!duplicate.empty()) {
    return Corrupt("{}: key {} appears twice in {}", what, Quote(duplicate),
                   duplicate_depth == 1 ? "the top-level object" : "one object");
  }
  if (!root.is_object()) {
    return Corrupt("offset {}: {}: is a JSON {}, expected an object", base, what, root.type_name());
  }
  return root;
}

// Reads a JSON integer that must be >= 0. Whole numbers written with a fraction or exponent
// ("2.0", "1e3") are refused, as the reference implementation does.
std::optional<uint64_t> AsUnsigned(const Json& value) {
  if (!value.is_number_unsigned()) return std::nullopt;
  return value.get<uint64_t>();
}

// A shard name from an index must name a file beside the index: no directories, no escaping.
bool IsPlainFileName(std::string_view name) {
  return !name.empty() && name != "." && name != ".." &&
         name.find_first_of(std::string_view("/\\\0", 3)) == std::string_view::npos;
}

fs::path DirectoryOf(const fs::path& file) {
  fs::path parent = file.parent_path();
  return parent.empty() ? fs::path(".") : parent;
}

}  // namespace

std::string_view NameOf(SafetensorsDType dtype) {
  return kDTypes[static_cast<size_t>(dtype)].name;
}

size_t ElementSize(SafetensorsDType dtype) {
  return kDTypes[static_cast<size_t>(dtype)].size;
}

Result<SafetensorsDType> SafetensorsDTypeFromName(std::string_view name) {
  for (const DTypeEntry& entry : kDTypes) {
    if (entry.name == name) return entry.dtype;
  }
  return Error(ErrorCode::kUnsupported, fmt::format("unknown dtype {}", Quote(name)));
}

class SafetensorsFile::Parser {
 public:
  explicit Parser(SafetensorsFile& file) : file_(file) {}

  Status Run() {
    WICK_RETURN_IF_ERROR(ReadHeaderLength());
    auto header = file_.bytes_.subspan(8, file_.header_size_);
    WICK_ASSIGN_OR_RETURN(Json root, ParseJson(header, 8, "header"));
    file_.tensors_.reserve(root.size());
    for (auto it = root.begin(); it != root.end(); ++it) {
      if (it.key() == "__metadata__") {
        WICK_RETURN_IF_ERROR(ReadMetadata(it.value()));
        continue;
      }
      if (it.key().empty()) return Corrupt("header: a tensor has an empty name");
      Result<SafetensorsTensor> tensor = ReadTensor(it.key(), it.value());
      if (!tensor.ok()) return std::move(tensor).error().With("tensor " + Quote(it.key()));
      file_.tensors_.push_back(std::move(*tensor));
    }
    return CheckLayout();
  }

 private:
  uint64_t data_size() const { return file_.bytes_.size() - file_.data_offset(); }

  Status ReadHeaderLength() {
    ByteReader reader(file_.bytes_);
    Result<uint64_t> n = reader.Read<uint64_t>("header length");
    if (!n.ok()) {
      return Corrupt(
          "offset 0: header length: file is {} bytes, too short to hold the 8-byte header length",
          file_.bytes_.size());
    }
    if (*n > kSafetensorsMaxHeaderSize) {
      return Corrupt(
          "offset 0: header length: {} bytes is more than the {} allowed: corrupt, or "
          "not a safetensors file",
          *n, kSafetensorsMaxHeaderSize);
    }
    if (*n > reader.remaining()) {
      return Corrupt(
          "offset 0: header length: {} bytes runs past the end of the {}-byte file: truncated", *n,
          file_.bytes_.size());
    }
    file_.header_size_ = *n;
    return OkStatus();
  }

  Status ReadMetadata(const Json& value) {
    if (!value.is_object()) {
      return Corrupt("__metadata__: is a JSON {}, expected an object of strings",
                     value.type_name());
    }
    for (auto it = value.begin(); it != value.end(); ++it) {
      if (!it.value().is_string()) {
        return Corrupt("__metadata__: key {}: value is a JSON {}, expected a string",
                       Quote(it.key()), it.value().type_name());
      }
      file_.metadata_.emplace_back(it.key(), it.value().get<std::string>());
    }
    return OkStatus();
  }

  static Result<const Json*> Field(const Json& entry, std::string_view field) {
    auto it = entry.find(field);
    if (it == entry.end()) return Corrupt("missing field '{}'", field);
    return &*it;
  }

  Result<SafetensorsTensor> ReadTensor(const std::string& name, const Json& entry) {
    if (!entry.is_object()) {
      return Corrupt("is a JSON {}, expected an object with dtype, shape and data_offsets",
                     entry.type_name());
    }
    SafetensorsTensor t;
    t.name = name;

    WICK_ASSIGN_OR_RETURN(const Json* dtype, Field(entry, "dtype"));
    if (!dtype->is_string()) {
      return Corrupt("dtype: is a JSON {}, expected a string such as \"F32\"", dtype->type_name());
    }
    Result<SafetensorsDType> parsed = SafetensorsDTypeFromName(dtype->get<std::string>());
    if (!parsed.ok()) return std::move(parsed).error().With("dtype");
    t.dtype = *parsed;

    WICK_ASSIGN_OR_RETURN(const Json* shape, Field(entry, "shape"));
    if (!shape->is_array()) {
      return Corrupt("shape: is a JSON {}, expected an array of dimensions", shape->type_name());
    }
    if (shape->size() > kSafetensorsMaxDims) {
      return Corrupt("shape: has {} dimensions, at most {} are allowed", shape->size(),
                     kSafetensorsMaxDims);
    }
    t.n_elements = 1;
    for (size_t d = 0; d < shape->size(); ++d) {
      const Json& dim_value = (*shape)[d];
      std::optional<uint64_t> dim = AsUnsigned(dim_value);
      if (!dim || *dim > static_cast<uint64_t>(INT64_MAX)) {
        return Corrupt("shape: dimension {} is {}, expected a non-negative integer", d,
                       Show(dim_value));
      }
      if (*dim != 0 && t.n_elements > UINT64_MAX / *dim) {
        return Corrupt("shape: {}: the element count overflows 64 bits", Show(*shape));
      }
      t.shape.push_back(static_cast<int64_t>(*dim));
      t.n_elements *= *dim;
    }
    const uint64_t element_size = ElementSize(t.dtype);
    if (t.n_elements > UINT64_MAX / element_size) {
      return Corrupt("shape: {} of {}: the size in bytes overflows 64 bits", Show(*shape),
                     NameOf(t.dtype));
    }
    t.n_bytes = t.n_elements * element_size;

    WICK_ASSIGN_OR_RETURN(const Json* offsets, Field(entry, "data_offsets"));
    if (!offsets->is_array() || offsets->size() != 2) {
      return Corrupt("data_offsets: is {}, expected [begin, end]", Show(*offsets));
    }
    std::optional<uint64_t> begin = AsUnsigned((*offsets)[0]);
    std::optional<uint64_t> end = AsUnsigned((*offsets)[1]);
    if (!begin || !end) {
      return Corrupt("data_offsets: {}: begin and end must be non-negative integers",
                     Show(*offsets));
    }
    if (*begin > *end) {
      return Corrupt("data_offsets: begin {} is after end {}", *begin, *end);
    }
    if (*end - *begin != t.n_bytes) {
      return Corrupt("data_offsets: [{}, {}) holds {} bytes, but shape [{}] of {} needs {}", *begin,
                     *end, *end - *begin, fmt::join(t.shape, ", "), NameOf(t.dtype), t.n_bytes);
    }
    if (*end > data_size()) {
      return Corrupt(
          "data_offsets: [{}, {}) runs past the end of the data buffer, which holds {} "
          "bytes from file offset {}: truncated or bad offset",
          *begin, *end, data_size(), file_.data_offset());
    }
    t.offset = file_.data_offset() + *begin;
    t.data = file_.bytes_.subspan(t.offset, t.n_bytes);
    return t;
  }

  // The format requires the tensors to tile the data buffer exactly: sorted by offset, each
  // starts where the previous ended, the first at 0 and the last at the end of the file. Any
  // gap could hide data no reader looks at; any overlap lets two tensors alias.
  Status CheckLayout() {
    std::vector<SafetensorsTensor>& tensors = file_.tensors_;
    std::stable_sort(tensors.begin(), tensors.end(),
                     [](const SafetensorsTensor& a, const SafetensorsTensor& b) {
                       return a.offset != b.offset ? a.offset < b.offset : a.n_bytes < b.n_bytes;
                     });
    const uint64_t base = file_.data_offset();
    uint64_t expected = base;
    const SafetensorsTensor* previous = nullptr;
    for (const SafetensorsTensor& t : tensors) {
      if (t.offset < expected) {
        return Corrupt(
            "offset {}: tensor {}: data_offsets: [{}, {}) overlaps tensor {}, which ends at {}",
            t.offset, Quote(t.name), t.offset - base, t.offset - base + t.n_bytes,
            Quote(previous->name), expected - base);
      }
      if (t.offset > expected) {
        return Corrupt(
            "offset {}: tensor {}: data_offsets: begins at {}, leaving bytes [{}, {}) of the data "
            "buffer to no tensor",
            expected, Quote(t.name), t.offset - base, expected - base, t.offset - base);
      }
      expected = t.offset + t.n_bytes;
      previous = &t;
    }
    if (expected != file_.bytes_.size()) {
      std::string after = previous == nullptr ? "the header lists no tensors"
                                              : "after tensor " + Quote(previous->name);
      return Corrupt("offset {}: data buffer: its last {} bytes belong to no tensor ({})", expected,
                     file_.bytes_.size() - expected, after);
    }

    file_.by_name_.resize(tensors.size());
    std::iota(file_.by_name_.begin(), file_.by_name_.end(), 0u);
    std::sort(file_.by_name_.begin(), file_.by_name_.end(),
              [&](uint32_t a, uint32_t b) { return tensors[a].name < tensors[b].name; });
    return OkStatus();
  }

  SafetensorsFile& file_;
};

Result<SafetensorsFile> SafetensorsFile::Parse(std::span<const uint8_t> bytes, std::string name) {
  SafetensorsFile file;
  file.name_ = std::move(name);
  file.bytes_ = bytes;
  Status status = Parser(file).Run();
  if (!status.ok()) return std::move(status).error().With(file.name_);
  return file;
}

Result<SafetensorsFile> SafetensorsFile::Open(const std::string& path) {
  WICK_ASSIGN_OR_RETURN(MappedFile mapped, MappedFile::Open(path));
  auto shared = std::make_shared<MappedFile>(std::move(mapped));
  WICK_ASSIGN_OR_RETURN(SafetensorsFile file, Parse(shared->bytes(), path));
  file.file_ = std::move(shared);
  return file;
}

const SafetensorsTensor* SafetensorsFile::FindTensor(std::string_view name) const {
  auto it = std::lower_bound(by_name_.begin(), by_name_.end(), name,
                             [&](uint32_t i, std::string_view n) { return tensors_[i].name < n; });
  if (it == by_name_.end() || tensors_[*it].name != name) return nullptr;
  return &tensors_[*it];
}

Result<SafetensorsModel> SafetensorsModel::Open(const std::string& path) {
  std::error_code ec;
  fs::file_status status = fs::status(path, ec);
  if (status.type() == fs::file_type::not_found) {
    return Error(ErrorCode::kNotFound, fmt::format("{}: no such file or directory", path));
  }
  if (ec) return Error(ErrorCode::kIo, fmt::format("{}: cannot stat: {}", path, ec.message()));
  if (fs::is_directory(status)) return OpenDirectory(path);
  fs::path file(path);
  if (file.extension() == ".json") return OpenIndex(file);
  return OpenFile(file);
}

Result<SafetensorsModel> SafetensorsModel::OpenFile(const fs::path& path) {
  WICK_ASSIGN_OR_RETURN(SafetensorsFile file, SafetensorsFile::Open(path.string()));
  SafetensorsModel model;
  model.directory_ = DirectoryOf(path);
  model.files_.push_back(std::move(file));
  model.Finish();
  return model;
}

Result<SafetensorsModel> SafetensorsModel::OpenDirectory(const fs::path& dir) {
  std::error_code ec;
  if (fs::is_regular_file(dir / kIndexFileName, ec)) return OpenIndex(dir / kIndexFileName);
  if (fs::is_regular_file(dir / kSingleFileName, ec)) return OpenFile(dir / kSingleFileName);
  std::vector<fs::path> found;
  fs::directory_iterator it(dir, ec);
  for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
    std::error_code type_ec;
    if (it->path().extension() == ".safetensors" && it->is_regular_file(type_ec)) {
      found.push_back(it->path());
    }
  }
  if (ec) {
    return Error(ErrorCode::kIo,
                 fmt::format("{}: cannot list the directory: {}", dir.string(), ec.message()));
  }
  if (found.empty()) {
    return Error(ErrorCode::kNotFound,
                 fmt::format("{}: no {} and no .safetensors file in the directory", dir.string(),
                             kIndexFileName));
  }
  if (found.size() > 1) {
    std::sort(found.begin(), found.end());
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("{}: {} .safetensors files (first {}) and no {} to say how they fit "
                             "together; name one file",
                             dir.string(), found.size(), Quote(found[0].filename().string()),
                             kIndexFileName));
  }
  return OpenFile(found[0]);
}

Result<SafetensorsModel> SafetensorsModel::OpenIndex(const fs::path& path) {
  const std::string index_name = path.string();
  auto fail = [&](Error e) { return std::move(e).With(index_name); };
  WICK_ASSIGN_OR_RETURN(MappedFile mapped, MappedFile::Open(index_name));
  if (mapped.size() > kMaxIndexSize) {
    return fail(
        Corrupt("index is {} bytes, more than the {} allowed", mapped.size(), kMaxIndexSize));
  }
  Result<Json> root = ParseJson(mapped.bytes(), 0, "index");
  if (!root.ok()) return fail(std::move(root).error());
  auto weight_map = root->find("weight_map");
  if (weight_map == root->end()) return fail(Corrupt("index: missing field 'weight_map'"));
  if (!weight_map->is_object()) {
    return fail(
        Corrupt("weight_map: is a JSON {}, expected an object of tensor name to shard file name",
                weight_map->type_name()));
  }
  if (weight_map->empty()) return fail(Corrupt("weight_map: lists no tensors"));

  // (tensor, shard) in tensor-name order: nlohmann's objects are sorted maps.
  std::vector<std::pair<std::string, std::string>> entries;
  std::vector<std::string> shards;
  for (auto it = weight_map->begin(); it != weight_map->end(); ++it) {
    if (it.key().empty()) return fail(Corrupt("weight_map: a tensor has an empty name"));
    if (!it.value().is_string()) {
      return fail(Corrupt("weight_map: tensor {}: shard is a JSON {}, expected a file name",
                          Quote(it.key()), it.value().type_name()));
    }
    const auto& shard = it.value().get_ref<const std::string&>();
    if (!IsPlainFileName(shard)) {
      return fail(
          Corrupt("weight_map: tensor {}: shard {} is not a plain file name in the "
                  "index's directory; refusing to look elsewhere",
                  Quote(it.key()), Quote(shard)));
    }
    entries.emplace_back(it.key(), shard);
    shards.push_back(shard);
  }
  std::sort(shards.begin(), shards.end());
  shards.erase(std::unique(shards.begin(), shards.end()), shards.end());

  SafetensorsModel model;
  model.directory_ = DirectoryOf(path);
  model.files_.reserve(shards.size());
  for (const std::string& shard : shards) {
    Result<SafetensorsFile> file = SafetensorsFile::Open((model.directory_ / shard).string());
    if (!file.ok()) return fail(std::move(file).error().With("shard " + Quote(shard)));
    model.files_.push_back(std::move(*file));
  }
  auto shard_index = [&](const std::string& shard) {
    return static_cast<size_t>(std::lower_bound(shards.begin(), shards.end(), shard) -
                               shards.begin());
  };
  for (const auto& [tensor, shard] : entries) {
    if (model.files_[shard_index(shard)].FindTensor(tensor) == nullptr) {
      return fail(Corrupt("weight_map: tensor {} is mapped to shard {}, which does not contain it",
                          Quote(tensor), Quote(shard)));
    }
  }
  for (size_t i = 0; i < shards.size(); ++i) {
    for (const SafetensorsTensor& t : model.files_[i].tensors()) {
      auto entry = std::lower_bound(entries.begin(), entries.end(), t.name,
                                    [](const std::pair<std::string, std::string>& e,
                                       const std::string& n) { return e.first < n; });
      if (entry == entries.end() || entry->first != t.name) {
        return fail(Corrupt("shard {}: tensor {} is not listed in the weight_map", Quote(shards[i]),
                            Quote(t.name)));
      }
      if (entry->second != shards[i]) {
        return fail(
            Corrupt("shard {}: tensor {} is also in shard {}, which the weight_map names for it",
                    Quote(shards[i]), Quote(t.name), Quote(entry->second)));
      }
    }
  }
  model.Finish();
  return model;
}

void SafetensorsModel::Finish() {
  tensors_.clear();
  n_params_ = 0;
  total_bytes_ = 0;
  for (const SafetensorsFile& file : files_) {
    for (const SafetensorsTensor& t : file.tensors()) {
      tensors_.push_back(&t);
      n_params_ += t.n_elements;
      total_bytes_ += t.n_bytes;
    }
  }
  by_name_ = tensors_;
  std::sort(
      by_name_.begin(), by_name_.end(),
      [](const SafetensorsTensor* a, const SafetensorsTensor* b) { return a->name < b->name; });
}

const SafetensorsTensor* SafetensorsModel::FindTensor(std::string_view name) const {
  auto it =
      std::lower_bound(by_name_.begin(), by_name_.end(), name,
                       [](const SafetensorsTensor* t, std::string_view n) { return t->name < n; });
  if (it == by_name_.end() || (*it)->name != name) return nullptr;
  return *it;
}

}  // namespace wick
