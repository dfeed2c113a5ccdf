// `wick inspect` end to end: the binary on real files, and on broken ones, where it must
// exit 1 with one line naming the offset or field, never a signal or a hang.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "sample_gguf.h"
#include "test_support.h"

namespace wick {
namespace {

using nlohmann::json;
using testing::RunWick;

json InspectJson(const std::filesystem::path& path) {
  testing::CommandResult r = RunWick({"inspect", "--json", path.string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.signal, 0);
  json j = json::parse(r.out, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << r.out;
  return j;
}

struct Known {
  const char* path;
  size_t n_tensors;
  const char* architecture;
  uint64_t vocab_size;
};

constexpr Known kKnown[] = {
    {"models/stories260K.gguf", 48, "llama", 512},
    {"models/stories260K-ggufv1.gguf", 48, "llama", 512},
    {"models/stories260K-q4_k.gguf", 48, "llama", 512},
    {"models/llama-2-tiny-random.gguf", 12, "llama", 32000},
    {"models/synthetic/tiny2-bf16.gguf", 21, "llama", 512},
    {"models/synthetic/tiny2-q2_k.gguf", 21, "llama", 512},
    {"models/synthetic/tiny2-q3_k_m.gguf", 21, "llama", 512},
    {"models/synthetic/tiny2-q5_k_m.gguf", 21, "llama", 512},
    {"models/synthetic/tiny2-q6_k.gguf", 21, "llama", 512},
    {"models/synthetic/tiny2-q8_0.gguf", 21, "llama", 512},
    {"vocab/ggml-vocab-bert-bge.gguf", 0, "bert", 30522},
    {"vocab/ggml-vocab-gpt-2.gguf", 0, "gpt2", 50257},
    {"vocab/ggml-vocab-phi-3.gguf", 0, "phi3", 32064},
    {"models/stories260K-hf", 47, "llama", 512},
    {"models/stories260K-hf/model.safetensors", 47, "llama", 512},
};

TEST(InspectTest, JsonReportsWhatTheFilesHold) {
  WICK_REQUIRE_SHARED(shared);
  for (const Known& k : kKnown) {
    SCOPED_TRACE(k.path);
    json j = InspectJson(shared / k.path);
    ASSERT_TRUE(j.is_object());
    EXPECT_EQ(j["n_tensors"], k.n_tensors);
    EXPECT_EQ(j["tensors"].size(), k.n_tensors);
    EXPECT_EQ(j["architecture"], k.architecture);
    EXPECT_EQ(j["vocab_size"], k.vocab_size);
    EXPECT_EQ(j["file_size"].get<uint64_t>() > 0, true);
    for (const char* field : {"format", "version", "metadata", "n_params"}) {
      EXPECT_TRUE(j.contains(field)) << field;
    }
    for (const json& t : j["tensors"]) {
      for (const char* field : {"name", "type", "shape", "offset", "bytes"}) {
        EXPECT_TRUE(t.contains(field)) << field;
      }
    }
  }
}

TEST(InspectTest, GgufJsonDetails) {
  WICK_REQUIRE_SHARED(shared);
  json j = InspectJson(shared / "models/stories260K.gguf");
  EXPECT_EQ(j["format"], "gguf");
  EXPECT_EQ(j["version"], 3);
  EXPECT_EQ(j["metadata"]["general.architecture"], "llama");
  EXPECT_EQ(j["metadata"]["llama.block_count"], 5);
  EXPECT_EQ(j["metadata"]["llama.attention.layer_norm_rms_epsilon"], 1e-5);
  EXPECT_EQ(j["metadata"]["tokenizer.ggml.tokens"],
            json({{"type", "array"}, {"element_type", "string"}, {"len", 512}}));
  EXPECT_EQ(j["file_size"], 1185376);
  const json& first = j["tensors"][0];
  EXPECT_EQ(first["name"], "token_embd.weight");
  EXPECT_EQ(first["type"], "F32");
  EXPECT_EQ(first["shape"], json({64, 512}));
  EXPECT_EQ(first["bytes"], 64 * 512 * 4);

  testing::CommandResult full =
      RunWick({"inspect", "--json", "--full", (shared / "models/stories260K.gguf").string()});
  ASSERT_EQ(full.exit_code, 0);
  json jf = json::parse(full.out);
  ASSERT_TRUE(jf["metadata"]["tokenizer.ggml.tokens"].is_array());
  EXPECT_EQ(jf["metadata"]["tokenizer.ggml.tokens"].size(), 512u);
  EXPECT_EQ(jf["metadata"]["tokenizer.ggml.tokens"][1], "<s>");
}

TEST(InspectTest, TextReport) {
  WICK_REQUIRE_SHARED(shared);
  testing::CommandResult r =
      RunWick({"inspect", (shared / "models/stories260K-q4_k.gguf").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* expected : {"architecture", "llama", "hyper-parameters", "llama.block_count",
                               "512 tokens", "chat template", "tensors", "size by type", "Q5_0",
                               "Q8_0", "token_embd.weight", "GGUF v3"}) {
    EXPECT_NE(r.out.find(expected), std::string::npos) << expected << "\n" << r.out;
  }
}

void ExpectCleanFailure(const testing::CommandResult& r, const std::string& what) {
  EXPECT_FALSE(r.timed_out) << what;
  EXPECT_EQ(r.signal, 0) << what << ": killed by signal\n" << r.err;
  EXPECT_EQ(r.exit_code, 1) << what << "\n" << r.err;
  EXPECT_TRUE(r.out.empty()) << what;
  // One line: "wick: error: FILE: offset N: field: ..."
  ASSERT_FALSE(r.err.empty()) << what;
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << what << "\n" << r.err;
  EXPECT_EQ(r.err.rfind("wick: error: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find("offset "), std::string::npos) << what << "\n" << r.err;
}

TEST(InspectTest, TruncatedFilesFailWithOneLine) {
  testing::TempDir tmp;
  std::vector<uint8_t> bytes = testing::MakeSampleGgufBytes();
  std::filesystem::path whole = tmp.File("sample.gguf");
  testing::WriteFileBytes(whole, bytes);
  ASSERT_EQ(RunWick({"inspect", whole.string()}).exit_code, 0);
  // The parser's own test (GgufCorruptTest) cuts at every byte in-process; through the whole
  // command, which costs a process start each (about 0.4 s under ASan), every byte of the
  // header and first key, then every seventh byte (each key, value type, tensor record and the
  // data is cut somewhere inside), and the last few.
  std::vector<size_t> cuts;
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    if (cut < 64 || cut % 7 == 0 || cut + 8 >= bytes.size()) cuts.push_back(cut);
  }
  ASSERT_LT(cuts.size(), bytes.size() / 2);
  for (size_t cut : cuts) {
    std::filesystem::path path = tmp.File("cut.gguf");
    testing::WriteFileBytes(path, {bytes.begin(), bytes.begin() + static_cast<long>(cut)});
    ExpectCleanFailure(RunWick({"inspect", path.string()}, 30), "cut at " + std::to_string(cut));
  }
}

TEST(InspectTest, FlippedHeaderBytesFailWithOneLine) {
  testing::TempDir tmp;
  std::vector<uint8_t> bytes = testing::MakeSampleGgufBytes();
  for (size_t i = 0; i < 24; ++i) {
    std::vector<uint8_t> bad = bytes;
    bad[i] ^= 0xff;
    std::filesystem::path path = tmp.File("flip.gguf");
    testing::WriteFileBytes(path, bad);
    testing::CommandResult r = RunWick({"inspect", "--json", path.string()}, 30);
    ExpectCleanFailure(r, "byte " + std::to_string(i));
  }
}

TEST(InspectTest, RecognisesSafetensorsByContent) {
  WICK_REQUIRE_SHARED(shared);
  testing::TempDir tmp;
  std::filesystem::copy_file(shared / "models/stories260K-hf/model.safetensors",
                             tmp.File("weights.bin"));
  json j = InspectJson(tmp.File("weights.bin"));
  EXPECT_EQ(j["format"], "safetensors");
  EXPECT_EQ(j["n_tensors"], 47);
}

TEST(InspectTest, MissingAndForeignFiles) {
  testing::CommandResult missing = RunWick({"inspect", "/nonexistent/model.gguf"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("/nonexistent/model.gguf"), std::string::npos);

  testing::TempDir tmp;
  testing::WriteFileBytes(tmp.File("notes.txt"), {'h', 'e', 'l', 'l', 'o'});
  testing::CommandResult foreign = RunWick({"inspect", tmp.File("notes.txt").string()});
  EXPECT_EQ(foreign.exit_code, 1);
  EXPECT_NE(foreign.err.find("not a GGUF file"), std::string::npos) << foreign.err;

  testing::CommandResult usage = RunWick({"inspect"});
  EXPECT_EQ(usage.exit_code, 2);
}

}  // namespace
}  // namespace wick
