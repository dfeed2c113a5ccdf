// `wick tokenize` against the reference test vectors in ../shared/vocab, through the binary,
// the way the vocab README says to check them.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "test_support.h"

namespace wick {
namespace {

using testing::RunWick;

std::vector<std::string> SplitCases(const std::string& text) {
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> cases;
  size_t start = 0, at;
  while ((at = text.find(sep, start)) != std::string::npos) {
    cases.push_back(text.substr(start, at - start));
    start = at + sep.size();
  }
  return cases;
}

TEST(TokenizeTest, SharedVocabVectors) {
  WICK_REQUIRE_SHARED(shared);
  testing::TempDir tmp;
  for (const char* vocab : {"ggml-vocab-llama-spm", "ggml-vocab-gpt-2", "ggml-vocab-bert-bge"}) {
    SCOPED_TRACE(vocab);
    const auto model = shared / "vocab" / (std::string(vocab) + ".gguf");
    std::vector<uint8_t> inp = testing::ReadFileBytes(model.string() + ".inp");
    std::vector<std::string> cases = SplitCases(std::string(inp.begin(), inp.end()));
    std::ifstream out(model.string() + ".out");
    ASSERT_FALSE(cases.empty());
    for (size_t i = 0; i < cases.size(); ++i) {
      std::string want;
      std::getline(out, want);
      while (!want.empty() && want.front() == ' ') want.erase(0, 1);
      auto path = tmp.File("case.txt");
      testing::WriteFileBytes(path, {cases[i].begin(), cases[i].end()});
      testing::CommandResult r =
          RunWick({"tokenize", "-m", model.string(), "-f", path.string(), "--no-special"});
      ASSERT_EQ(r.exit_code, 0) << r.err;
      EXPECT_EQ(r.out, want + "\n") << "case " << i;
    }
  }
}

TEST(TokenizeTest, PromptAndSpecialTokens) {
  WICK_REQUIRE_SHARED(shared);
  const auto model = (shared / "models/stories260K.gguf").string();
  testing::CommandResult r = RunWick({"tokenize", "-m", model, "-p", "Once upon a time"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "1 403 407 261 378\n");  // as in shared/golden/stories260K/once.json
  testing::CommandResult plain = RunWick({"tokenize", "-m", model, "-p", "<s>", "--no-special"});
  testing::CommandResult special =
      RunWick({"tokenize", "-m", model, "-p", "<s>", "--no-special", "--parse-special"});
  EXPECT_EQ(special.out, "1\n");
  EXPECT_NE(plain.out, special.out);
}

TEST(TokenizeTest, BadInputIsAOneLineError) {
  testing::CommandResult missing = RunWick({"tokenize", "-m", "/nonexistent.gguf", "-p", "x"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_EQ(missing.err.find('\n'), missing.err.size() - 1) << missing.err;
  EXPECT_EQ(RunWick({"tokenize", "-m", "x.gguf"}).exit_code, 2);  // neither -p nor -f
}

}  // namespace
}  // namespace wick
