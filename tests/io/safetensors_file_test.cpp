#include "io/safetensors_file.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "test_support.h"

namespace wick {
namespace {

using ::wick::testing::ReadFileBytes;
using ::wick::testing::TempDir;
using ::wick::testing::WriteFileBytes;

// 8-byte length, header text, then `data`.
std::vector<uint8_t> MakeFile(std::string_view header, const std::vector<uint8_t>& data) {
  std::vector<uint8_t> out(8 + header.size() + data.size());
  uint64_t n = header.size();
  std::memcpy(out.data(), &n, 8);
  std::copy(header.begin(), header.end(), out.begin() + 8);
  std::copy(data.begin(), data.end(), out.begin() + 8 + static_cast<ptrdiff_t>(header.size()));
  return out;
}

// A data buffer of `size` distinct-ish bytes, so views can be checked against it.
std::vector<uint8_t> Pattern(size_t size) {
  std::vector<uint8_t> data(size);
  for (size_t i = 0; i < size; ++i) data[i] = static_cast<uint8_t>(i * 7 + 3);
  return data;
}

struct Spec {
  std::string name;
  std::string dtype;
  std::vector<int64_t> shape;
};

// A valid file holding `specs` back to back in the given order, the header space-padded to a
// multiple of 8 as the reference writer does.
std::vector<uint8_t> BuildFile(const std::vector<Spec>& specs,
                               const nlohmann::json& metadata = nullptr) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.is_null()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const Spec& spec : specs) {
    uint64_t n = ElementSize(*SafetensorsDTypeFromName(spec.dtype));
    for (int64_t d : spec.shape) n *= static_cast<uint64_t>(d);
    header[spec.name] = {
        {"dtype", spec.dtype}, {"shape", spec.shape}, {"data_offsets", {offset, offset + n}}};
    offset += n;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  return MakeFile(text, Pattern(offset));
}

template <typename T>
::testing::AssertionResult FailsWith(const Result<T>& result, ErrorCode code,
                                     std::string_view needle) {
  if (result.ok()) return ::testing::AssertionFailure() << "unexpectedly succeeded";
  const std::string& message = result.error().message();
  if (message.find('\n') != std::string::npos) {
    return ::testing::AssertionFailure() << "message is not one line: " << message;
  }
  if (result.error().code() != code) {
    return ::testing::AssertionFailure()
           << "code " << static_cast<int>(result.error().code()) << ", message: " << message;
  }
  if (message.find(needle) == std::string::npos) {
    return ::testing::AssertionFailure() << "message lacks \"" << needle << "\": " << message;
  }
  return ::testing::AssertionSuccess();
}

TEST(SafetensorsDTypeTest, NamesAndSizesRoundTrip) {
  const std::vector<std::pair<std::string, size_t>> expected = {
      {"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2},    {"I64", 8},
      {"I32", 4}, {"I16", 2}, {"I8", 1},  {"U8", 1},      {"BOOL", 1},
      {"U64", 8}, {"U32", 4}, {"U16", 2}, {"F8_E5M2", 1}, {"F8_E4M3", 1}};
  for (const auto& [name, size] : expected) {
    Result<SafetensorsDType> dtype = SafetensorsDTypeFromName(name);
    ASSERT_TRUE(dtype.ok()) << name;
    EXPECT_EQ(NameOf(*dtype), name);
    EXPECT_EQ(ElementSize(*dtype), size) << name;
  }
  EXPECT_TRUE(FailsWith(SafetensorsDTypeFromName("f32"), ErrorCode::kUnsupported, "'f32'"));
  EXPECT_TRUE(FailsWith(SafetensorsDTypeFromName("F4"), ErrorCode::kUnsupported, "'F4'"));
}

TEST(SafetensorsFileTest, ParsesEveryDType) {
  for (const char* name : {"F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL",
                           "U64", "U32", "U16", "F8_E5M2", "F8_E4M3"}) {
    SCOPED_TRACE(name);
    std::vector<uint8_t> bytes = BuildFile({{"t", name, {2, 3}}});
    Result<SafetensorsFile> file = SafetensorsFile::Parse(bytes, "mem");
    ASSERT_TRUE(file.ok()) << file.error().message();
    ASSERT_EQ(file->tensors().size(), 1u);
    const SafetensorsTensor& t = file->tensors()[0];
    size_t size = ElementSize(*SafetensorsDTypeFromName(name));
    EXPECT_EQ(NameOf(t.dtype), name);
    EXPECT_EQ(t.shape, (std::vector<int64_t>{2, 3}));
    EXPECT_EQ(t.n_elements, 6u);
    EXPECT_EQ(t.n_bytes, 6 * size);
    EXPECT_EQ(t.offset, file->data_offset());
    EXPECT_EQ(file->data_offset(), 8 + file->header_size());
    EXPECT_EQ(file->file_size(), bytes.size());
    EXPECT_EQ(t.data.data(), bytes.data() + t.offset);  // a view, not a copy
    EXPECT_EQ(std::vector<uint8_t>(t.data.begin(), t.data.end()), Pattern(6 * size));
  }
}

TEST(SafetensorsFileTest, OrdersByOffsetAndFindsByName) {
  // Written in z, a, m order; the header's JSON object is alphabetical.
  std::vector<uint8_t> bytes =
      BuildFile({{"z", "F32", {4}}, {"a", "U8", {3}}, {"empty", "F16", {0, 5}}, {"m", "I64", {}}},
                {{"format", "pt"}, {"note", "hi"}});
  Result<SafetensorsFile> file = SafetensorsFile::Parse(bytes, "mem");
  ASSERT_TRUE(file.ok()) << file.error().message();
  std::vector<std::string> names;
  for (const SafetensorsTensor& t : file->tensors()) names.push_back(t.name);
  EXPECT_EQ(names, (std::vector<std::string>{"z", "a", "empty", "m"}));
  const SafetensorsTensor* m = file->FindTensor("m");
  ASSERT_NE(m, nullptr);
  EXPECT_TRUE(m->shape.empty());
  EXPECT_EQ(m->n_elements, 1u);  // a scalar
  EXPECT_EQ(m->n_bytes, 8u);
  const SafetensorsTensor* empty = file->FindTensor("empty");
  ASSERT_NE(empty, nullptr);
  EXPECT_EQ(empty->n_elements, 0u);
  EXPECT_TRUE(empty->data.empty());
  EXPECT_EQ(file->FindTensor("nope"), nullptr);
  EXPECT_EQ(file->FindTensor(""), nullptr);
  EXPECT_EQ(file->metadata(),
            (std::vector<std::pair<std::string, std::string>>{{"format", "pt"}, {"note", "hi"}}));
  // Copies share the bytes and stay searchable.
  SafetensorsFile copy = *file;
  EXPECT_EQ(copy.FindTensor("a"), &copy.tensors()[1]);
}

TEST(SafetensorsFileTest, AcceptsEmptyAndPaddedHeaders) {
  std::vector<uint8_t> empty = MakeFile("{}", {});
  Result<SafetensorsFile> file = SafetensorsFile::Parse(empty, "mem");
  ASSERT_TRUE(file.ok()) << file.error().message();
  EXPECT_TRUE(file->tensors().empty());
  std::vector<uint8_t> padded = MakeFile(
      "{\"t\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2],\"extra\":[1]}} \t\r\n",
      {1, 2});
  file = SafetensorsFile::Parse(padded, "mem");
  ASSERT_TRUE(file.ok()) << file.error().message();
  EXPECT_EQ(file->tensors()[0].data[1], 2);
}

TEST(SafetensorsFileTest, ReadsStories260K) {
  WICK_REQUIRE_SHARED(shared);
  const auto path = shared / "models" / "stories260K-hf" / "model.safetensors";
  Result<SafetensorsFile> file = SafetensorsFile::Open(path.string());
  ASSERT_TRUE(file.ok()) << file.error().message();
  EXPECT_EQ(file->header_size(), 4856u);
  EXPECT_EQ(file->file_size(), 1044992u);
  ASSERT_EQ(file->tensors().size(), 47u);
  EXPECT_EQ(file->metadata(), (std::vector<std::pair<std::string, std::string>>{{"format", "pt"}}));
  const SafetensorsTensor* embed = file->FindTensor("model.embed_tokens.weight");
  ASSERT_NE(embed, nullptr);
  EXPECT_EQ(embed->dtype, SafetensorsDType::kF32);
  EXPECT_EQ(embed->shape, (std::vector<int64_t>{512, 64}));
  EXPECT_EQ(embed->offset, 8u + 4856u);
  EXPECT_EQ(&file->tensors()[0], embed);
  const SafetensorsTensor* down = file->FindTensor("model.layers.4.mlp.down_proj.weight");
  ASSERT_NE(down, nullptr);
  EXPECT_EQ(down->shape, (std::vector<int64_t>{64, 172}));
  EXPECT_EQ(file->tensors().back().name, "model.norm.weight");
  EXPECT_EQ(file->FindTensor("lm_head.weight"), nullptr);  // tied to the embeddings

  std::vector<uint8_t> raw = ReadFileBytes(path);
  std::vector<uint8_t> view(down->data.begin(), down->data.end());
  EXPECT_EQ(view, std::vector<uint8_t>(
                      raw.begin() + static_cast<ptrdiff_t>(down->offset),
                      raw.begin() + static_cast<ptrdiff_t>(down->offset + down->n_bytes)));

  // The same model through its directory.
  Result<SafetensorsModel> model = SafetensorsModel::Open(path.parent_path().string());
  ASSERT_TRUE(model.ok()) << model.error().message();
  EXPECT_EQ(model->directory(), path.parent_path());
  ASSERT_EQ(model->files().size(), 1u);
  EXPECT_EQ(model->tensors().size(), 47u);
  EXPECT_EQ(model->total_bytes(), 1040128u);
  EXPECT_EQ(model->n_params(), 1040128u / 4);
  ASSERT_NE(model->FindTensor("model.norm.weight"), nullptr);
  EXPECT_EQ(model->FindTensor("model.norm.weight")->shape, (std::vector<int64_t>{64}));
}

TEST(SafetensorsCorruptTest, EveryTruncationFailsCleanly) {
  std::vector<uint8_t> bytes = BuildFile({{"w", "F32", {2, 2}}, {"b", "U8", {3}}});
  ASSERT_TRUE(SafetensorsFile::Parse(bytes, "mem").ok());
  for (size_t size = 0; size < bytes.size(); ++size) {
    std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + static_cast<ptrdiff_t>(size));
    Result<SafetensorsFile> file = SafetensorsFile::Parse(cut, "cut");
    ASSERT_FALSE(file.ok()) << "prefix of " << size << " bytes parsed";
    EXPECT_EQ(file.error().code(), ErrorCode::kCorrupt) << file.error().message();
    EXPECT_EQ(file.error().message().rfind("cut: ", 0), 0u) << file.error().message();
  }
}

TEST(SafetensorsCorruptTest, ByteFlipsNeverCrash) {
  std::vector<uint8_t> bytes = BuildFile({{"w", "F32", {2, 2}}, {"b", "U8", {3}}});
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (uint8_t value : {0x00, 0x22, 0x5b, 0x7b, 0x7d, 0xff}) {
      std::vector<uint8_t> bad = bytes;
      bad[i] = value;
      Result<SafetensorsFile> file = SafetensorsFile::Parse(bad, "flip");
      if (!file.ok()) continue;
      for (const SafetensorsTensor& t : file->tensors()) {
        ASSERT_GE(t.data.data(), bad.data());
        ASSERT_LE(t.data.data() + t.data.size(), bad.data() + bad.size());
      }
    }
  }
}

TEST(SafetensorsCorruptTest, HeaderLength) {
  std::vector<uint8_t> tiny = {1, 2, 3};
  EXPECT_TRUE(FailsWith(SafetensorsFile::Parse(tiny, "f"), ErrorCode::kCorrupt,
                        "f: offset 0: header length: file is 3 bytes"));
  std::vector<uint8_t> huge = MakeFile("{}", {});
  huge[5] = 1;  // 2^40 + 2 bytes
  EXPECT_TRUE(FailsWith(SafetensorsFile::Parse(huge, "f"), ErrorCode::kCorrupt,
                        "offset 0: header length: 1099511627778 bytes is more than"));
  std::vector<uint8_t> beyond = MakeFile("{}", {});
  beyond[0] = 3;
  EXPECT_TRUE(FailsWith(SafetensorsFile::Parse(beyond, "f"), ErrorCode::kCorrupt,
                        "header length: 3 bytes runs past the end of the 10-byte file"));
}

struct CorruptCase {
  const char* label;
  std::string header;
  size_t data_size;
  ErrorCode code;
  std::string needle;
};

TEST(SafetensorsCorruptTest, Catalogue) {
  auto u8 = [](const std::string& name, const std::string& offsets) {
    return "\"" + name + "\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":" + offsets + "}";
  };
  const std::vector<CorruptCase> cases = {
      {"empty header", "", 0, ErrorCode::kCorrupt, "offset 8: header: not valid JSON"},
      {"bad json", "{\"a\" 1}", 0, ErrorCode::kCorrupt, "offset 13: header: not valid JSON"},
      {"trailing junk", "{}x", 0, ErrorCode::kCorrupt, "offset 10: header: not valid JSON"},
      {"bad utf8", "{\"\xff\":1}", 0, ErrorCode::kCorrupt, "not valid JSON"},
      {"array", "[]", 0, ErrorCode::kCorrupt, "header: is a JSON array, expected an object"},
      {"deep", std::string(100, '[') + std::string(100, ']'), 0, ErrorCode::kCorrupt,
       "offset 72: header: JSON nested more than 64 levels deep"},
      {"duplicate", "{" + u8("a", "[0,4]") + "," + u8("a", "[0,4]") + "}", 4, ErrorCode::kCorrupt,
       "key 'a' appears twice"},
      {"metadata array", "{\"__metadata__\":[]}", 0, ErrorCode::kCorrupt,
       "__metadata__: is a JSON array"},
      {"metadata number", "{\"__metadata__\":{\"k\":1}}", 0, ErrorCode::kCorrupt,
       "__metadata__: key 'k': value is a JSON number"},
      {"empty name", "{" + u8("", "[0,4]") + "}", 4, ErrorCode::kCorrupt, "empty name"},
      {"entry string", "{\"t\":\"F32\"}", 0, ErrorCode::kCorrupt, "tensor 't': is a JSON string"},
      {"no dtype", "{\"t\":{\"shape\":[],\"data_offsets\":[0,0]}}", 0, ErrorCode::kCorrupt,
       "tensor 't': missing field 'dtype'"},
      {"dtype number", "{\"t\":{\"dtype\":4,\"shape\":[],\"data_offsets\":[0,4]}}", 4,
       ErrorCode::kCorrupt, "tensor 't': dtype: is a JSON number"},
      {"bad dtype", "{\"t\":{\"dtype\":\"F33\",\"shape\":[],\"data_offsets\":[0,4]}}", 4,
       ErrorCode::kUnsupported, "tensor 't': dtype: unknown dtype 'F33'"},
      {"quoted name", "{\"\\u0007x\":{\"dtype\":\"Q\",\"shape\":[],\"data_offsets\":[0,4]}}", 4,
       ErrorCode::kUnsupported, "tensor '\\x07x': dtype"},
      {"no shape", "{\"t\":{\"dtype\":\"U8\",\"data_offsets\":[0,4]}}", 4, ErrorCode::kCorrupt,
       "missing field 'shape'"},
      {"shape object", "{\"t\":{\"dtype\":\"U8\",\"shape\":{},\"data_offsets\":[0,4]}}", 4,
       ErrorCode::kCorrupt, "tensor 't': shape: is a JSON object"},
      {"negative dim", "{\"t\":{\"dtype\":\"U8\",\"shape\":[2,-2],\"data_offsets\":[0,4]}}", 4,
       ErrorCode::kCorrupt, "shape: dimension 1 is -2, expected a non-negative integer"},
      {"fraction dim", "{\"t\":{\"dtype\":\"U8\",\"shape\":[2.5],\"data_offsets\":[0,4]}}", 4,
       ErrorCode::kCorrupt, "shape: dimension 0 is 2.5"},
      {"string dim", "{\"t\":{\"dtype\":\"U8\",\"shape\":[\"4\"],\"data_offsets\":[0,4]}}", 4,
       ErrorCode::kCorrupt, "shape: dimension 0 is \"4\""},
      {"dim beyond 64 bits",
       "{\"t\":{\"dtype\":\"U8\",\"shape\":[" + std::string(30, '9') + "],\"data_offsets\":[0,4]}}",
       4, ErrorCode::kCorrupt, "shape: dimension 0 is 1e+30, expected a non-negative integer"},
      {"dim beyond int64",
       "{\"t\":{\"dtype\":\"U8\",\"shape\":[9223372036854775808],"
       "\"data_offsets\":[0,4]}}",
       4, ErrorCode::kCorrupt, "shape: dimension 0 is 9223372036854775808"},
      {"count overflow",
       "{\"t\":{\"dtype\":\"U8\",\"shape\":[4294967296,4294967296,2],\"data_offsets\":[0,4]}}", 4,
       ErrorCode::kCorrupt, "element count overflows"},
      {"bytes overflow",
       "{\"t\":{\"dtype\":\"F32\",\"shape\":[4611686018427387905],\"data_offsets\":[0,4]}}", 4,
       ErrorCode::kCorrupt, "size in bytes overflows"},
      {"no offsets", "{\"t\":{\"dtype\":\"U8\",\"shape\":[4]}}", 4, ErrorCode::kCorrupt,
       "missing field 'data_offsets'"},
      {"one offset", "{" + u8("t", "[0]") + "}", 4, ErrorCode::kCorrupt,
       "data_offsets: is [0], expected [begin, end]"},
      {"negative offset", "{" + u8("t", "[-4,0]") + "}", 4, ErrorCode::kCorrupt,
       "data_offsets: [-4,0]: begin and end must be non-negative"},
      {"reversed", "{" + u8("t", "[4,0]") + "}", 4, ErrorCode::kCorrupt,
       "data_offsets: begin 4 is after end 0"},
      {"wrong size", "{" + u8("t", "[0,3]") + "}", 3, ErrorCode::kCorrupt,
       "tensor 't': data_offsets: [0, 3) holds 3 bytes, but shape [4] of U8 needs 4"},
      {"out of range", "{" + u8("t", "[0,4]") + "}", 3, ErrorCode::kCorrupt,
       "tensor 't': data_offsets: [0, 4) runs past the end of the data buffer, which holds 3"},
      {"far out of range", "{" + u8("t", "[18446744073709551610,18446744073709551614]") + "}", 4,
       ErrorCode::kCorrupt, "runs past the end of the data buffer"},
      {"overlap", "{" + u8("a", "[0,4]") + "," + u8("b", "[2,6]") + "}", 6, ErrorCode::kCorrupt,
       "tensor 'b': data_offsets: [2, 6) overlaps tensor 'a', which ends at 4"},
      {"same range", "{" + u8("a", "[0,4]") + "," + u8("b", "[0,4]") + "}", 4, ErrorCode::kCorrupt,
       "overlaps tensor"},
      {"hole", "{" + u8("a", "[0,4]") + "," + u8("b", "[6,10]") + "}", 10, ErrorCode::kCorrupt,
       "tensor 'b': data_offsets: begins at 6, leaving bytes [4, 6) of the data buffer to no "
       "tensor"},
      {"late start", "{" + u8("a", "[2,6]") + "}", 6, ErrorCode::kCorrupt, "bytes [0, 2)"},
      {"trailing bytes", "{" + u8("a", "[0,4]") + "}", 9, ErrorCode::kCorrupt,
       "data buffer: its last 5 bytes belong to no tensor (after tensor 'a')"},
      {"data without tensors", "{}", 4, ErrorCode::kCorrupt, "the header lists no tensors"},
  };
  for (const CorruptCase& c : cases) {
    SCOPED_TRACE(c.label);
    std::vector<uint8_t> bytes = MakeFile(c.header, Pattern(c.data_size));
    Result<SafetensorsFile> file = SafetensorsFile::Parse(bytes, "bad.safetensors");
    EXPECT_TRUE(FailsWith(file, c.code, c.needle));
    if (!file.ok()) {
      EXPECT_EQ(file.error().message().rfind("bad.safetensors: ", 0), 0u);
    }
  }
}

TEST(SafetensorsCorruptTest, TooManyDimensions) {
  std::string shape = "1";
  for (int i = 1; i < 65; ++i) shape += ",1";
  std::vector<uint8_t> bytes =
      MakeFile("{\"t\":{\"dtype\":\"U8\",\"shape\":[" + shape + "],\"data_offsets\":[0,1]}}", {0});
  EXPECT_TRUE(FailsWith(SafetensorsFile::Parse(bytes, "f"), ErrorCode::kCorrupt,
                        "shape: has 65 dimensions, at most 64"));
}

TEST(SafetensorsFileTest, OpenReportsMissingFile) {
  TempDir dir;
  EXPECT_TRUE(FailsWith(SafetensorsFile::Open(dir.File("nope.safetensors").string()),
                        ErrorCode::kNotFound, "nope.safetensors"));
}

// Two shards and an index in a temporary directory; each test breaks one thing.
class SafetensorsShardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WriteFileBytes(dir_.File("model-00001-of-00002.safetensors"),
                   BuildFile({{"b", "F32", {2}}, {"a", "F16", {3}}}));
    WriteFileBytes(dir_.File("model-00002-of-00002.safetensors"), BuildFile({{"c", "I8", {5}}}));
    index_ = {{"metadata", {{"total_size", 19}}},
              {"weight_map",
               {{"a", "model-00001-of-00002.safetensors"},
                {"b", "model-00001-of-00002.safetensors"},
                {"c", "model-00002-of-00002.safetensors"}}}};
  }

  Result<SafetensorsModel> OpenWithIndex() {
    std::string text = index_.dump(2);
    WriteFileBytes(dir_.File("model.safetensors.index.json"),
                   std::vector<uint8_t>(text.begin(), text.end()));
    return SafetensorsModel::Open(dir_.File("model.safetensors.index.json").string());
  }

  TempDir dir_;
  nlohmann::json index_;
};

TEST_F(SafetensorsShardTest, OpensByIndexAndByDirectory) {
  Result<SafetensorsModel> model = OpenWithIndex();
  ASSERT_TRUE(model.ok()) << model.error().message();
  EXPECT_EQ(model->directory(), dir_.path());
  ASSERT_EQ(model->files().size(), 2u);
  std::vector<std::string> names;
  for (const SafetensorsTensor* t : model->tensors()) names.push_back(t->name);
  EXPECT_EQ(names, (std::vector<std::string>{"b", "a", "c"}));
  EXPECT_EQ(model->n_params(), 10u);
  EXPECT_EQ(model->total_bytes(), 19u);
  ASSERT_NE(model->FindTensor("c"), nullptr);
  EXPECT_EQ(model->FindTensor("c")->dtype, SafetensorsDType::kI8);
  EXPECT_EQ(model->FindTensor("c"), &model->files()[1].tensors()[0]);
  EXPECT_EQ(model->FindTensor("d"), nullptr);

  // Moving keeps the tensor pointers valid.
  SafetensorsModel moved = std::move(*model);
  EXPECT_EQ(moved.FindTensor("a")->shape, (std::vector<int64_t>{3}));

  Result<SafetensorsModel> by_dir = SafetensorsModel::Open(dir_.path().string());
  ASSERT_TRUE(by_dir.ok()) << by_dir.error().message();
  EXPECT_EQ(by_dir->tensors().size(), 3u);
}

TEST_F(SafetensorsShardTest, MissingShard) {
  index_["weight_map"]["c"] = "model-00003-of-00002.safetensors";
  EXPECT_TRUE(FailsWith(OpenWithIndex(), ErrorCode::kNotFound,
                        "model.safetensors.index.json: shard 'model-00003-of-00002.safetensors'"));
}

TEST_F(SafetensorsShardTest, TensorMissingFromShard) {
  index_["weight_map"]["d"] = "model-00002-of-00002.safetensors";
  EXPECT_TRUE(FailsWith(OpenWithIndex(), ErrorCode::kCorrupt,
                        "weight_map: tensor 'd' is mapped to shard "
                        "'model-00002-of-00002.safetensors', which does not contain it"));
}

TEST_F(SafetensorsShardTest, TensorNotInWeightMap) {
  index_["weight_map"].erase("b");
  EXPECT_TRUE(FailsWith(OpenWithIndex(), ErrorCode::kCorrupt,
                        "shard 'model-00001-of-00002.safetensors': tensor 'b' is not listed in "
                        "the weight_map"));
}

TEST_F(SafetensorsShardTest, TensorInTwoShards) {
  WriteFileBytes(dir_.File("model-00002-of-00002.safetensors"),
                 BuildFile({{"a", "F16", {3}}, {"c", "I8", {5}}}));
  EXPECT_TRUE(FailsWith(OpenWithIndex(), ErrorCode::kCorrupt,
                        "tensor 'a' is also in shard 'model-00001-of-00002.safetensors'"));
}

TEST_F(SafetensorsShardTest, RefusesShardsOutsideTheDirectory) {
  for (const char* shard :
       {"../model-00002-of-00002.safetensors", "sub/x.safetensors", "/etc/passwd", "..", ""}) {
    SCOPED_TRACE(shard);
    index_["weight_map"]["c"] = shard;
    EXPECT_TRUE(FailsWith(OpenWithIndex(), ErrorCode::kCorrupt, "is not a plain file name"));
  }
}

TEST_F(SafetensorsShardTest, BadIndexFiles) {
  index_ = {{"metadata", {}}};
  EXPECT_TRUE(FailsWith(OpenWithIndex(), ErrorCode::kCorrupt, "missing field 'weight_map'"));
  index_ = {{"weight_map", {{"a", 1}}}};
  EXPECT_TRUE(FailsWith(OpenWithIndex(), ErrorCode::kCorrupt,
                        "weight_map: tensor 'a': shard is a JSON number"));
  index_ = {{"weight_map", nlohmann::json::object()}};
  EXPECT_TRUE(FailsWith(OpenWithIndex(), ErrorCode::kCorrupt, "weight_map: lists no tensors"));
  WriteFileBytes(dir_.File("model.safetensors.index.json"), {'{', '"'});
  EXPECT_TRUE(FailsWith(SafetensorsModel::Open(dir_.path().string()), ErrorCode::kCorrupt,
                        "model.safetensors.index.json: offset"));
}

TEST_F(SafetensorsShardTest, CorruptShardNamesTheShard) {
  WriteFileBytes(dir_.File("model-00002-of-00002.safetensors"), {1, 2, 3});
  EXPECT_TRUE(FailsWith(OpenWithIndex(), ErrorCode::kCorrupt,
                        "shard 'model-00002-of-00002.safetensors': "));
}

TEST(SafetensorsModelTest, DirectoryChoices) {
  TempDir dir;
  EXPECT_TRUE(FailsWith(SafetensorsModel::Open(dir.path().string()), ErrorCode::kNotFound,
                        "no model.safetensors.index.json and no .safetensors file"));
  EXPECT_TRUE(FailsWith(SafetensorsModel::Open(dir.File("missing").string()), ErrorCode::kNotFound,
                        "no such file"));

  WriteFileBytes(dir.File("weights.safetensors"), BuildFile({{"x", "F32", {1}}}));
  Result<SafetensorsModel> model = SafetensorsModel::Open(dir.path().string());
  ASSERT_TRUE(model.ok()) << model.error().message();
  EXPECT_NE(model->FindTensor("x"), nullptr);

  WriteFileBytes(dir.File("other.safetensors"), BuildFile({{"y", "F32", {1}}}));
  EXPECT_TRUE(FailsWith(SafetensorsModel::Open(dir.path().string()), ErrorCode::kInvalidArgument,
                        "2 .safetensors files"));

  // model.safetensors wins over the others.
  WriteFileBytes(dir.File("model.safetensors"), BuildFile({{"z", "F32", {1}}}));
  model = SafetensorsModel::Open(dir.path().string());
  ASSERT_TRUE(model.ok()) << model.error().message();
  EXPECT_NE(model->FindTensor("z"), nullptr);

  // A file path opens that file alone.
  model = SafetensorsModel::Open(dir.File("other.safetensors").string());
  ASSERT_TRUE(model.ok()) << model.error().message();
  EXPECT_NE(model->FindTensor("y"), nullptr);
  EXPECT_EQ(model->directory(), dir.path());
}

}  // namespace
}  // namespace wick
