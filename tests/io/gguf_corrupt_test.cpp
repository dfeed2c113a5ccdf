// A catalogue of broken GGUF files: each must give an error naming the offset or field,
// never a crash or a read outside the buffer (this binary also runs under ASan + UBSan).
#include <gtest/gtest.h>

#include <cstring>

#include "io/gguf_file.h"
#include "sample_gguf.h"
#include "test_support.h"

namespace wick {
namespace {

// Encodes GGUF bytes field by field, with no validation, so tests can write what the
// real writer refuses to.
class RawGguf {
 public:
  explicit RawGguf(uint32_t version = 3, bool wide = true) : wide_(wide) {
    bytes_ = {'G', 'G', 'U', 'F'};
    U32(version);
  }
  RawGguf& U8(uint8_t v) { return Put(v); }
  RawGguf& U32(uint32_t v) { return Put(v); }
  RawGguf& U64(uint64_t v) { return Put(v); }
  RawGguf& Count(uint64_t v) { return wide_ ? U64(v) : U32(static_cast<uint32_t>(v)); }
  RawGguf& Str(std::string_view s) {
    Count(s.size());
    bytes_.insert(bytes_.end(), s.begin(), s.end());
    return *this;
  }
  RawGguf& Header(uint64_t n_tensors, uint64_t n_kv) { return Count(n_tensors).Count(n_kv); }
  RawGguf& KvU32(std::string_view key, uint32_t v) { return Str(key).U32(4).U32(v); }
  RawGguf& Tensor(std::string_view name, std::vector<uint64_t> dims, uint32_t type,
                  uint64_t offset) {
    Str(name).U32(static_cast<uint32_t>(dims.size()));
    for (uint64_t d : dims) Count(d);
    return U32(type).U64(offset);
  }
  RawGguf& PadTo(size_t alignment) {
    while (bytes_.size() % alignment != 0) bytes_.push_back(0);
    return *this;
  }
  RawGguf& Zeros(size_t n) {
    bytes_.resize(bytes_.size() + n, 0);
    return *this;
  }
  const std::vector<uint8_t>& bytes() const { return bytes_; }

 private:
  template <typename T>
  RawGguf& Put(T v) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    bytes_.insert(bytes_.end(), p, p + sizeof v);
    return *this;
  }
  bool wide_;
  std::vector<uint8_t> bytes_;
};

struct CorruptCase {
  const char* what;
  std::vector<uint8_t> bytes;
  const char* expected;  // a substring of the error message
};

std::vector<CorruptCase> Catalogue() {
  std::vector<CorruptCase> cases;
  auto add = [&](const char* what, const RawGguf& raw, const char* expected) {
    cases.push_back({what, raw.bytes(), expected});
  };
  cases.push_back({"empty file", {}, "offset 0: magic"});
  cases.push_back({"three bytes", {'G', 'G', 'U'}, "offset 0: magic"});
  cases.push_back({"bad magic", {'G', 'G', 'M', 'L', 3, 0, 0, 0}, "expected 'GGUF'"});
  add("version 0", RawGguf(0).Header(0, 0), "offset 4: version: unsupported GGUF version 0");
  add("version 4", RawGguf(4).Header(0, 0), "unsupported GGUF version 4");
  add("big endian", RawGguf(0x03000000).Header(0, 0), "big-endian");
  add("no counts", RawGguf(3), "offset 8: tensor_count: truncated");
  add("huge tensor count", RawGguf().Header(1ull << 40, 0), "offset 8: tensor_count");
  add("huge kv count", RawGguf().Header(0, 1ull << 40), "offset 16: metadata_kv_count");
  add("key length past end", RawGguf().Header(0, 1).U64(1000).Zeros(8),
      "metadata entry 0: offset 24: key: length 1000 runs past");
  add("empty key", RawGguf().Header(0, 1).Str("").U32(4).U32(1), "not a valid GGUF key");
  add("key with newline", RawGguf().Header(0, 1).Str("a\nb").U32(4).U32(1),
      "key 'a\\x0ab' is not a valid GGUF key");
  add("non-ascii key", RawGguf().Header(0, 1).Str("gen\xe9ral").U32(4).U32(1),
      "not a valid GGUF key");
  add("duplicate key", RawGguf().Header(0, 2).KvU32("a.b", 1).KvU32("a.b", 2), "duplicate key");
  add("unknown value type", RawGguf().Header(0, 1).Str("a.b").U32(13).U32(0),
      "value type: unknown value type id 13");
  add("bool of 2", RawGguf().Header(0, 1).Str("a.b").U32(7).U8(2).Zeros(4), "bool must be 0 or 1");
  add("bool array of 7", RawGguf().Header(0, 1).Str("a.b").U32(9).U32(7).U64(2).U8(1).U8(7),
      "element 1: bool must be 0 or 1");
  add("string length past end", RawGguf().Header(0, 1).Str("a.b").U32(8).U64(1u << 30),
      "key 'a.b': offset 39: string length: length 1073741824 runs past the end");
  add("array length past end", RawGguf().Header(0, 1).Str("a.b").U32(9).U32(4).U64(1u << 30),
      "array length: 1073741824 elements of uint32 cannot fit");
  add("string array truncated",
      RawGguf().Header(0, 1).Str("a.b").U32(9).U32(8).U64(3).Str("x").Str("y").U64(100),
      "key 'a.b': element 2: offset");
  add("array element type invalid", RawGguf().Header(0, 1).Str("a.b").U32(9).U32(77).U64(0),
      "array element type: unknown value type id 77");
  {
    RawGguf deep;
    deep.Header(0, 1).Str("a.b").U32(9);
    for (int i = 0; i < 20; ++i) deep.U32(9).U64(1);
    deep.U32(4).U64(0);
    add("nested too deep", deep, "nested more than");
  }
  add("alignment zero", RawGguf().Header(0, 1).KvU32("general.alignment", 0),
      "key 'general.alignment': 0 is not a power of two");
  add("alignment three", RawGguf().Header(0, 1).KvU32("general.alignment", 3),
      "not a power of two");
  add("alignment string", RawGguf().Header(0, 1).Str("general.alignment").U32(8).Str("32"),
      "key 'general.alignment': expected uint32, found string");

  auto one_tensor = [](std::vector<uint64_t> dims, uint32_t type, uint64_t offset,
                       size_t data_bytes, std::string_view name = "w") {
    RawGguf raw;
    raw.Header(1, 0).Tensor(name, std::move(dims), type, offset).PadTo(32).Zeros(data_bytes);
    return raw;
  };
  add("tensor ok baseline is not corrupt? (checked separately)", one_tensor({8}, 0, 0, 32), "");
  add("tensor name empty", one_tensor({8}, 0, 0, 32, ""), "is not a valid tensor name");
  add("tensor name 65 bytes", one_tensor({8}, 0, 0, 32, std::string(65, 'n')),
      "is not a valid tensor name");
  add("tensor name bad utf8", one_tensor({8}, 0, 0, 32, "w\xff"), "is not a valid tensor name");
  add("zero dims", one_tensor({}, 0, 0, 32), "tensor 'w': offset 33: n_dimensions: 0");
  add("five dims", one_tensor({1, 1, 1, 1, 1}, 0, 0, 32), "n_dimensions: 5");
  add("element count overflow", one_tensor({1ull << 32, 1ull << 32}, 0, 0, 32),
      "makes the element count overflow");
  add("unknown type id", one_tensor({8}, 99, 0, 32), "type: unknown tensor type id 99");
  add("removed type id", one_tensor({32}, 31, 0, 32), "Q4_0_4_4");
  add("row not whole blocks", one_tensor({33}, 2, 0, 32),
      "row length 33 is not a multiple of the Q4_0 block size 32");
  add("byte size overflow", one_tensor({1ull << 62, 1}, 28, 0, 32), "overflow");
  add("misaligned offset", one_tensor({8}, 0, 4, 32), "data offset 4 is not a multiple");
  add("data past end", one_tensor({8}, 0, 0, 16), "runs past the end of the file");
  add("offset far past end", one_tensor({8}, 0, 1ull << 40, 32), "runs past the end of the file");
  add("offset overflows", one_tensor({8}, 0, UINT64_MAX - 31, 32), "overflow");
  {
    RawGguf raw;
    raw.Header(2, 0).Tensor("a", {16}, 0, 0).Tensor("b", {8}, 0, 32).PadTo(32).Zeros(64);
    add("overlapping tensors", raw, "tensor 'b': data at 32 overlaps tensor 'a'");
  }
  {
    RawGguf raw;
    raw.Header(2, 0).Tensor("a", {8}, 0, 0).Tensor("a", {8}, 0, 32).PadTo(32).Zeros(64);
    add("duplicate tensor", raw, "tensor 'a': duplicate tensor name");
  }
  {
    RawGguf raw;
    raw.Header(1, 0).Tensor("a", {4}, 0, 0).PadTo(32).Zeros(16);
    add("last tensor padding missing", raw, "data section: needs 32 bytes");
  }
  {
    RawGguf raw;
    raw.Header(1, 0).Tensor("a", {4}, 0, 0);
    add("data section missing", raw, "data section: starts at offset");
  }
  return cases;
}

TEST(GgufCorruptTest, CatalogueGivesNamedErrors) {
  for (const CorruptCase& c : Catalogue()) {
    SCOPED_TRACE(c.what);
    Result<GgufFile> file = GgufFile::Parse(c.bytes, "bad.gguf");
    if (std::string_view(c.expected).empty()) {
      EXPECT_TRUE(file.ok()) << file.error().message();
      continue;
    }
    ASSERT_FALSE(file.ok());
    const std::string& msg = file.error().message();
    EXPECT_NE(msg.find(c.expected), std::string::npos) << msg;
    EXPECT_EQ(msg.rfind("bad.gguf: ", 0), 0u) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
}

TEST(GgufCorruptTest, VersionOneCountsAreThirtyTwoBits) {
  RawGguf raw(1, /*wide=*/false);
  raw.Header(1, 1).Str("general.name").U32(8).Str("v1").Tensor("w", {8}, 0, 0).PadTo(32).Zeros(32);
  Result<GgufFile> file = GgufFile::Parse(raw.bytes(), "v1.gguf");
  ASSERT_TRUE(file.ok()) << file.error().message();
  EXPECT_EQ(file->version(), 1u);
  EXPECT_EQ(*file->Get<std::string_view>("general.name"), "v1");
  EXPECT_EQ(file->tensors()[0].shape, (std::vector<int64_t>{8}));
}

// An error must name where it happened: an offset, or the key or tensor at fault.
void ExpectLocatedError(const Result<GgufFile>& file, size_t cut) {
  ASSERT_FALSE(file.ok()) << "truncated at " << cut << " still parses";
  const std::string& msg = file.error().message();
  EXPECT_NE(msg.find("offset "), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
}

TEST(GgufCorruptTest, TruncationAtEveryByteIsAnError) {
  std::vector<uint8_t> bytes = testing::MakeSampleGgufBytes();
  ASSERT_TRUE(GgufFile::Parse(bytes, "sample.gguf").ok());
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    // A copy of exactly `cut` bytes, so ASan sees any read past its end.
    std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + static_cast<long>(cut));
    ExpectLocatedError(GgufFile::Parse(prefix, "sample.gguf"), cut);
  }
}

TEST(GgufCorruptTest, TruncatingRealModelsIsAnError) {
  WICK_REQUIRE_SHARED(shared);
  for (const char* name : {"models/stories260K-q4_k.gguf", "models/stories260K-ggufv1.gguf"}) {
    std::vector<uint8_t> bytes = testing::ReadFileBytes(shared / name);
    Result<GgufFile> whole = GgufFile::Parse(bytes, name);
    ASSERT_TRUE(whole.ok()) << whole.error().message();
    // Every byte through the header and a stride through the data, plus its last bytes.
    std::vector<size_t> cuts;
    for (size_t cut = 0; cut < bytes.size(); cut += cut < whole->data_offset() + 64 ? 1 : 997) {
      cuts.push_back(cut);
    }
    for (size_t back = 1; back <= 64; ++back) cuts.push_back(bytes.size() - back);
    for (size_t cut : cuts) {
      std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + static_cast<long>(cut));
      ExpectLocatedError(GgufFile::Parse(prefix, name), cut);
    }
  }
}

TEST(GgufCorruptTest, FlippingAnyFixedHeaderByteIsAnError) {
  std::vector<uint8_t> bytes = testing::MakeSampleGgufBytes();
  for (size_t i = 0; i < 24; ++i) {
    for (uint8_t mask : {0xffu, 0x01u, 0x80u, 0x10u}) {
      // Version 3 with its low bit flipped is version 2, which has the same layout.
      if (i == 4 && mask == 0x01) continue;
      std::vector<uint8_t> bad = bytes;
      bad[i] ^= mask;
      Result<GgufFile> file = GgufFile::Parse(bad, "flip.gguf");
      ASSERT_FALSE(file.ok()) << "byte " << i << " ^ " << int(mask);
      EXPECT_EQ(file.error().message().find('\n'), std::string::npos);
    }
  }
}

// Flips in the metadata and tensor infos can leave a valid file (a changed string or
// number), but must never crash, hang or read out of bounds; most are caught.
TEST(GgufCorruptTest, FlippingMetadataBytesNeverCrashes) {
  std::vector<uint8_t> bytes = testing::MakeSampleGgufBytes();
  Result<GgufFile> whole = GgufFile::Parse(bytes, "sample.gguf");
  ASSERT_TRUE(whole.ok());
  size_t caught = 0, total = 0;
  for (size_t i = 0; i < whole->data_offset(); ++i) {
    std::vector<uint8_t> bad = bytes;
    bad[i] ^= 0xff;
    Result<GgufFile> file = GgufFile::Parse(bad, "flip.gguf");
    ++total;
    if (!file.ok()) {
      ++caught;
      EXPECT_EQ(file.error().message().find('\n'), std::string::npos);
    }
  }
  // Flipped key or tensor-name characters, type ids, lengths and counts are all caught;
  // what gets through are changed values (numbers, string contents, padding).
  EXPECT_GT(caught * 2, total) << caught << " of " << total;
}

}  // namespace
}  // namespace wick
