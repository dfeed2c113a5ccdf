// Model references as users type them, and choosing a repo's GGUF file(s) from its listing.
#include "hub/model_ref.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "test_support.h"

namespace wick::hub {
namespace {

constexpr uint64_t kGiB = uint64_t{1} << 30;
constexpr std::string_view kCommit = "0123456789abcdef0123456789abcdef01234567";

bool Contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

struct HubCase {
  std::string text;
  std::string repo;
  std::string revision;
  std::string quant;
  std::string file;
};

TEST(ModelRefTest, ParsesHubReferences) {
  const std::vector<HubCase> cases = {
      {"Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF:q4_k_m", "Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF",
       "main", "q4_k_m", ""},
      {"org/name", "org/name", "main", "", ""},
      {"org/name:Q8_0", "org/name", "main", "Q8_0", ""},
      {"org/name:IQ4_XS", "org/name", "main", "IQ4_XS", ""},
      {"org/name:F16", "org/name", "main", "F16", ""},
      {"org/name:bf16", "org/name", "main", "bf16", ""},
      {"org/name:UD-Q4_K_XL", "org/name", "main", "UD-Q4_K_XL", ""},
      {"org/name:model-Q8_0.gguf", "org/name", "main", "", "model-Q8_0.gguf"},
      {"org/name:Q4_K_M/m-00001-of-00002.GGUF", "org/name", "main", "",
       "Q4_K_M/m-00001-of-00002.GGUF"},
      {"org/name@v1.0:q4_k_m", "org/name", "v1.0", "q4_k_m", ""},
      {"org/name@refs/pr/1:Q8_0", "org/name", "refs/pr/1", "Q8_0", ""},
      {"org/name@" + std::string(kCommit), "org/name", std::string(kCommit), "", ""},
      {"my_org.x/a-b_c.d", "my_org.x/a-b_c.d", "main", "", ""},
      {"hf://org/name/path/to/file.gguf", "org/name", "main", "", "path/to/file.gguf"},
      {"hf://org/name@dev/file.gguf", "org/name", "dev", "", "file.gguf"},
      {"hf://org/name@refs/pr/3/sub/f.gguf", "org/name", "refs/pr/3", "", "sub/f.gguf"},
      {"hf://org/name@feature%2Fx/f.gguf", "org/name", "feature/x", "", "f.gguf"},
      {"hf://org/name", "org/name", "main", "", ""},
      {"hf://org/name@v2", "org/name", "v2", "", ""},
      {"hf.co/org/name:Q4_K_M", "org/name", "main", "Q4_K_M", ""},
      {"huggingface.co/org/name@v1", "org/name", "v1", "", ""},
  };
  for (const HubCase& c : cases) {
    SCOPED_TRACE(c.text);
    Result<ModelRef> ref = ParseModelRef(c.text);
    ASSERT_TRUE(ref.ok()) << ref.error().message();
    EXPECT_EQ(ref->kind, ModelRef::Kind::kHub);
    EXPECT_EQ(ref->repo, c.repo);
    EXPECT_EQ(ref->revision, c.revision);
    EXPECT_EQ(ref->quant, c.quant);
    EXPECT_EQ(ref->file, c.file);
    EXPECT_EQ(ref->Spec(), c.file.empty() ? c.quant : c.file);
  }
}

TEST(ModelRefTest, CanonicalSpellingParsesBackToItself) {
  for (std::string text :
       {"org/name", "org/name:q4_k_m", "org/name@v1:sub/m.gguf", "org/name@refs/pr/1:Q8_0"}) {
    Result<ModelRef> ref = ParseModelRef(text);
    ASSERT_TRUE(ref.ok()) << ref.error().message();
    EXPECT_EQ(ref->ToString(), text);
  }
  Result<ModelRef> url = ParseModelRef("hf://org/name@dev/sub/m.gguf");
  ASSERT_TRUE(url.ok());
  EXPECT_EQ(url->ToString(), "org/name@dev:sub/m.gguf");
}

TEST(ModelRefTest, PathsAreLocal) {
  for (std::string text : {"/abs/missing.gguf", "./m.gguf", "../models/x", "~/m.gguf", "model.gguf",
                           "Model.GGUF", "models/a/b.gguf", "a/b/c", "."}) {
    SCOPED_TRACE(text);
    Result<ModelRef> ref = ParseModelRef(text);
    ASSERT_TRUE(ref.ok()) << ref.error().message();
    EXPECT_EQ(ref->kind, ModelRef::Kind::kLocalPath);
    EXPECT_EQ(ref->path, text);
    EXPECT_EQ(ref->ToString(), text);
  }
}

TEST(ModelRefTest, AnExistingPathWinsOverAHubReading) {
  testing::TempDir dir;
  std::filesystem::create_directories(dir.path() / "org" / "name");
  testing::WriteFileBytes(dir.path() / "org" / "name:q4_k_m", {1});
  const std::filesystem::path previous = std::filesystem::current_path();
  std::filesystem::current_path(dir.path());
  Result<ModelRef> folder = ParseModelRef("org/name");
  Result<ModelRef> file = ParseModelRef("org/name:q4_k_m");
  Result<ModelRef> hub = ParseModelRef("org/other:q4_k_m");
  std::filesystem::current_path(previous);
  ASSERT_TRUE(folder.ok() && file.ok() && hub.ok());
  EXPECT_EQ(folder->kind, ModelRef::Kind::kLocalPath);
  EXPECT_EQ(file->kind, ModelRef::Kind::kLocalPath);
  EXPECT_EQ(hub->kind, ModelRef::Kind::kHub);
}

struct BadCase {
  std::string text;
  std::string why;  // a part of the message
};

TEST(ModelRefTest, BadReferencesSayWhatIsWrong) {
  const std::vector<BadCase> cases = {
      {"gpt2", "no such file, and not a hub model"},
      {"org//name:q4", "with one '/'"},
      {"-org/name", "may not start or end"},
      {"org/name-", "may not start or end"},
      {"org/.name", "may not start or end"},
      {"org/na--me", "\"--\""},
      {"org/na..me", "\"..\""},
      {"org/name.git", ".git"},
      {"org/" + std::string(97, 'a'), "longer than 96"},
      {"org/na me", "only letters, digits"},
      {"org/n\xc3\xa9", "only letters, digits"},
      {"org/name:", "nothing after ':'"},
      {"org/name@:q4", "revision '': empty"},
      {"org/name@a..b", "revision 'a..b'"},
      {"org/name@x/:q4", "revision 'x/'"},
      {"org/name@b.lock", "revision 'b.lock'"},
      {"org/name:q4 k", "neither a quant tag"},
      {"org/name:../x.gguf", "\"..\" component"},
      {"org/name:a//b.gguf", "empty"},
      {"hf://org", "expected hf://org/name/FILE.gguf"},
      {"hf://org/name/config.json", "not a GGUF file"},
      {"hf://org/name/../x.gguf", "\"..\" component"},
      {"hf://org/na--me/x.gguf", "\"--\""},
      {"hf.co/org/name/x.gguf", "with one '/'"},
      {"", "empty"},
  };
  for (const BadCase& c : cases) {
    SCOPED_TRACE(c.text);
    Result<ModelRef> ref = ParseModelRef(c.text);
    ASSERT_FALSE(ref.ok()) << "parsed as " << ref->ToString();
    EXPECT_EQ(ref.error().code(), ErrorCode::kInvalidArgument);
    const std::string& message = ref.error().message();
    EXPECT_TRUE(Contains(message, c.why)) << message;
    if (!c.text.empty()) {
      EXPECT_TRUE(Contains(message, Quote(c.text))) << message;
    }
  }
}

TEST(ModelRefTest, RepoIdRules) {
  for (const std::string& ok :
       std::vector<std::string>{"a/b", "A_1/b.c-d", "org/" + std::string(96, 'x'), "0/9"}) {
    EXPECT_TRUE(ValidateRepoId(ok).ok()) << ok;
  }
  for (std::string bad : {"a", "a/b/c", "/b", "a/", "a/b_.", "a./b", "a/b.GIT", "a/b@c"}) {
    Status status = ValidateRepoId(bad);
    ASSERT_FALSE(status.ok()) << bad;
    EXPECT_TRUE(Contains(status.error().message(), Quote(bad))) << status.error().message();
  }
}

TEST(ModelRefTest, RevisionAndPathRules) {
  for (const std::string& ok : std::vector<std::string>{"main", "v1.0", "refs/pr/12", "feature/x-y",
                                                        std::string(kCommit)}) {
    EXPECT_TRUE(ValidateRevision(ok).ok()) << ok;
  }
  for (std::string bad : {"", "/main", "main/", "a//b", "../x", "a/../b", ".hidden", "a/.b",
                          "x.lock", "a b", "a:b", "a~1", "a^", "a@b", "a\\b", "a\nb"}) {
    EXPECT_FALSE(ValidateRevision(bad).ok()) << bad;
  }
  for (std::string ok : {"m.gguf", "sub/dir/m.gguf", "a..b.gguf", ".gitattributes"}) {
    EXPECT_TRUE(ValidateRepoPath(ok).ok()) << ok;
  }
  for (std::string bad : {"", "/m.gguf", "a//b", "a/./b", "../m", "a/..", "a/", "a\tb"}) {
    EXPECT_FALSE(ValidateRepoPath(bad).ok()) << bad;
  }
}

TEST(ModelRefTest, GuessesQuantTags) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"Llama-3.2-1B-Instruct-Q4_K_M.gguf", "Q4_K_M"},
      {"qwen2.5-coder-1.5b-instruct-q4_k_m.gguf", "Q4_K_M"},
      {"model-q8_0.gguf", "Q8_0"},
      {"model.F16.gguf", "F16"},
      {"model-bf16.gguf", "BF16"},
      {"model-f32.gguf", "F32"},
      {"model-IQ2_XXS.gguf", "IQ2_XXS"},
      {"model-IQ4_NL.gguf", "IQ4_NL"},
      {"model-TQ1_0.gguf", "TQ1_0"},
      {"gpt-oss-20b-MXFP4.gguf", "MXFP4"},
      {"model-Q4_0_4_4.gguf", "Q4_0_4_4"},
      {"model-UD-Q4_K_XL.gguf", "Q4_K_XL"},
      {"Model-Q6_K_L.gguf", "Q6_K_L"},
      {"Q4_K_M/model-Q4_K_M-00001-of-00002.gguf", "Q4_K_M"},
      {"Q5_K_S/model-00001-of-00002.gguf", "Q5_K_S"},
      {"model.gguf", ""},
      {"Qwen2-7B.gguf", ""},
      {"model-Q4.gguf", ""},
      {"model-BF16X.gguf", ""},
      {"config.json", ""},
  };
  for (const auto& [name, quant] : cases) EXPECT_EQ(GuessQuant(name), quant) << name;
}

TEST(ModelRefTest, HumanSizes) {
  EXPECT_EQ(HumanSize(0), "0 B");
  EXPECT_EQ(HumanSize(1023), "1023 B");
  EXPECT_EQ(HumanSize(1536), "1.50 KiB");
  EXPECT_EQ(HumanSize(uint64_t{982} << 20), "982 MiB");
  EXPECT_EQ(HumanSize(uint64_t{45} * kGiB / 2), "22.5 GiB");
  EXPECT_EQ(HumanSize(uint64_t{3} << 40), "3.00 TiB");
}

Selection Select(const std::vector<RepoFile>& files, std::string_view spec) {
  Result<Selection> selection = SelectGguf(files, spec);
  EXPECT_TRUE(selection.ok()) << selection.error().message();
  return selection.ok() ? *selection : Selection{};
}

std::vector<std::string> Paths(const Selection& selection) {
  std::vector<std::string> paths;
  for (const RepoFile& file : selection.files) paths.push_back(file.path);
  return paths;
}

std::string SelectError(const std::vector<RepoFile>& files, std::string_view spec) {
  Result<Selection> selection = SelectGguf(files, spec);
  EXPECT_FALSE(selection.ok()) << "chose " << selection->files.front().path;
  return selection.ok() ? "" : selection.error().message();
}

TEST(SelectGgufTest, TheOnlyGgufIsTheDefault) {
  std::vector<RepoFile> files = {{"README.md", 10}, {"model.gguf", 100}, {"config.json", 5}};
  Selection selection = Select(files, "");
  EXPECT_EQ(Paths(selection), std::vector<std::string>{"model.gguf"});
  EXPECT_EQ(selection.quant, "");
  EXPECT_EQ(selection.TotalSize(), 100u);
}

TEST(SelectGgufTest, DefaultIsQ4KM) {
  std::vector<RepoFile> files = {
      {"m-Q8_0.gguf", 2 * kGiB}, {"m-Q4_K_M.gguf", kGiB}, {"m-F16.gguf", 4 * kGiB}};
  Selection selection = Select(files, "");
  EXPECT_EQ(Paths(selection), std::vector<std::string>{"m-Q4_K_M.gguf"});
  EXPECT_EQ(selection.quant, "Q4_K_M");
}

TEST(SelectGgufTest, NoDefaultListsTheQuants) {
  std::vector<RepoFile> files = {{"m-Q8_0.gguf", 3 * kGiB / 2}, {"m-F16.gguf", 3 * kGiB}};
  std::string message = SelectError(files, "");
  EXPECT_TRUE(Contains(message, "none is Q4_K_M")) << message;
  EXPECT_TRUE(Contains(message, "F16, Q8_0")) << message;
  EXPECT_TRUE(Contains(message, "Q8_0 m-Q8_0.gguf 1.50 GiB")) << message;
  EXPECT_TRUE(Contains(message, "F16 m-F16.gguf 3.00 GiB")) << message;
}

TEST(SelectGgufTest, QuantsMatchWholeTokensInAnyCase) {
  std::vector<RepoFile> files = {{"m-Q4_K_M.gguf", 1}, {"m-Q4_K_S.gguf", 2},
                                 {"m-BF16.gguf", 3},   {"m-F16.gguf", 4},
                                 {"m-Q4_0.gguf", 5},   {"m-Q4_0_4_4.gguf", 6}};
  EXPECT_EQ(Paths(Select(files, "q4_k_m")), std::vector<std::string>{"m-Q4_K_M.gguf"});
  EXPECT_EQ(Paths(Select(files, "f16")), std::vector<std::string>{"m-F16.gguf"});
  EXPECT_EQ(Paths(Select(files, "BF16")), std::vector<std::string>{"m-BF16.gguf"});
  EXPECT_EQ(Paths(Select(files, "Q4_0")), std::vector<std::string>{"m-Q4_0.gguf"});
  EXPECT_EQ(Select(files, "q4_k_s").quant, "Q4_K_S");
  std::string message = SelectError(files, "q4_k");
  EXPECT_TRUE(Contains(message, "no GGUF model tagged 'q4_k'")) << message;
  EXPECT_TRUE(Contains(message, "Q4_K_M m-Q4_K_M.gguf 1 B")) << message;
}

TEST(SelectGgufTest, MultiTokenTagsMatch) {
  std::vector<RepoFile> files = {{"m-UD-Q4_K_XL.gguf", 1}, {"m-Q4_K_M.gguf", 2}};
  Selection selection = Select(files, "ud-q4_k_xl");
  EXPECT_EQ(Paths(selection), std::vector<std::string>{"m-UD-Q4_K_XL.gguf"});
  EXPECT_EQ(selection.quant, "Q4_K_XL");
}

TEST(SelectGgufTest, SplitSetsComeWholeAndInOrder) {
  std::vector<RepoFile> files = {{"m-Q8_0-00003-of-00003.gguf", 3},
                                 {"m-Q8_0-00001-of-00003.gguf", 1},
                                 {"m-Q8_0-00002-of-00003.gguf", 2},
                                 {"m-Q4_K_M.gguf", 7}};
  Selection selection = Select(files, "Q8_0");
  EXPECT_EQ(Paths(selection),
            (std::vector<std::string>{"m-Q8_0-00001-of-00003.gguf", "m-Q8_0-00002-of-00003.gguf",
                                      "m-Q8_0-00003-of-00003.gguf"}));
  EXPECT_EQ(selection.TotalSize(), 6u);
  EXPECT_EQ(selection.quant, "Q8_0");
  // Naming any part brings the set.
  EXPECT_EQ(Select(files, "m-Q8_0-00002-of-00003.gguf").files.size(), 3u);
}

TEST(SelectGgufTest, ASplitSetWithAMissingPartIsAnError) {
  std::vector<RepoFile> files = {{"m-Q8_0-00001-of-00003.gguf", 1},
                                 {"m-Q8_0-00003-of-00003.gguf", 3}};
  Result<Selection> selection = SelectGguf(files, "q8_0");
  ASSERT_FALSE(selection.ok());
  EXPECT_EQ(selection.error().code(), ErrorCode::kNotFound);
  EXPECT_TRUE(
      Contains(selection.error().message(), "missing part 2 of 3 (m-Q8_0-00002-of-00003.gguf)"))
      << selection.error().message();
  EXPECT_FALSE(SelectGguf(files, "").ok());
}

TEST(SelectGgufTest, QuantsInSubfolders) {
  std::vector<RepoFile> files = {
      {"Q4_K_M/m-Q4_K_M-00002-of-00002.gguf", 2},
      {"Q4_K_M/m-Q4_K_M-00001-of-00002.gguf", 1},
      {"Q8_0/model-00001-of-00002.gguf", 3},
      {"Q8_0/model-00002-of-00002.gguf", 4},
      {"README.md", 1},
  };
  EXPECT_EQ(Paths(Select(files, "q4_k_m")),
            (std::vector<std::string>{"Q4_K_M/m-Q4_K_M-00001-of-00002.gguf",
                                      "Q4_K_M/m-Q4_K_M-00002-of-00002.gguf"}));
  Selection q8 = Select(files, "Q8_0");  // the tag only in the folder name
  EXPECT_EQ(Paths(q8), (std::vector<std::string>{"Q8_0/model-00001-of-00002.gguf",
                                                 "Q8_0/model-00002-of-00002.gguf"}));
  EXPECT_EQ(q8.quant, "Q8_0");
  EXPECT_EQ(Select(files, "").files.front().path, "Q4_K_M/m-Q4_K_M-00001-of-00002.gguf");
}

TEST(SelectGgufTest, ProjectorsAreNotModels) {
  std::vector<RepoFile> files = {
      {"model-Q4_K_M.gguf", 1}, {"mmproj-model-f16.gguf", 2}, {"model-mmproj-Q8_0.gguf", 3}};
  EXPECT_EQ(Paths(Select(files, "")), std::vector<std::string>{"model-Q4_K_M.gguf"});
  EXPECT_FALSE(SelectGguf(files, "f16").ok());
  EXPECT_FALSE(SelectGguf(files, "q8_0").ok());
  // Named exactly, a projector is what the user asked for.
  EXPECT_EQ(Paths(Select(files, "mmproj-model-f16.gguf")),
            std::vector<std::string>{"mmproj-model-f16.gguf"});
  std::vector<RepoFile> only = {{"model-Q8_0.gguf", 1}, {"mmproj-F16.gguf", 2}};
  EXPECT_EQ(Paths(Select(only, "")), std::vector<std::string>{"model-Q8_0.gguf"});
}

TEST(SelectGgufTest, AmbiguityListsTheChoices) {
  std::vector<RepoFile> files = {
      {"a-Q4_K_M.gguf", kGiB}, {"b-Q4_K_M.gguf", 2 * kGiB}, {"a-Q8_0.gguf", 3 * kGiB}};
  for (std::string_view spec : {"Q4_K_M", ""}) {
    Result<Selection> selection = SelectGguf(files, spec);
    ASSERT_FALSE(selection.ok());
    EXPECT_EQ(selection.error().code(), ErrorCode::kInvalidArgument);
    const std::string& message = selection.error().message();
    EXPECT_TRUE(Contains(message, "2 models match")) << message;
    EXPECT_TRUE(Contains(message, "org/name:FILE.gguf")) << message;
    EXPECT_TRUE(Contains(message, "Q4_K_M a-Q4_K_M.gguf 1.00 GiB")) << message;
    EXPECT_TRUE(Contains(message, "Q4_K_M b-Q4_K_M.gguf 2.00 GiB")) << message;
  }
}

TEST(SelectGgufTest, FilesByPathOrBaseName) {
  std::vector<RepoFile> files = {
      {"sub/m-Q8_0.gguf", 1}, {"other/m-Q4_K_M.gguf", 2}, {"m-Q4_K_M.gguf", 3}};
  EXPECT_EQ(Paths(Select(files, "sub/m-Q8_0.gguf")), std::vector<std::string>{"sub/m-Q8_0.gguf"});
  EXPECT_EQ(Paths(Select(files, "m-Q8_0.gguf")), std::vector<std::string>{"sub/m-Q8_0.gguf"});
  // An exact path beats base names.
  EXPECT_EQ(Paths(Select(files, "m-Q4_K_M.gguf")), std::vector<std::string>{"m-Q4_K_M.gguf"});
  std::string message = SelectError(files, "missing.gguf");
  EXPECT_TRUE(Contains(message, "no GGUF model with file 'missing.gguf'")) << message;
  EXPECT_TRUE(Contains(message, "sub/m-Q8_0.gguf")) << message;
  std::vector<RepoFile> twins = {{"a/m.gguf", 1}, {"b/m.gguf", 2}};
  EXPECT_TRUE(Contains(SelectError(twins, "m.gguf"), "2 models match"));
}

TEST(SelectGgufTest, ARepoWithoutGguf) {
  std::vector<RepoFile> files = {{"README.md", 1}, {"model.safetensors", 2}};
  for (std::string_view spec : {"", "q4_k_m"}) {
    Result<Selection> selection = SelectGguf(files, spec);
    ASSERT_FALSE(selection.ok());
    EXPECT_EQ(selection.error().code(), ErrorCode::kNotFound);
    EXPECT_TRUE(Contains(selection.error().message(), "no GGUF files"));
  }
}

}  // namespace
}  // namespace wick::hub
