// Every case of every chat template in ../shared/templates renders byte for byte as Python
// transformers rendered it (or fails with the message the template raised).
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "test_support.h"
#include "text/jinja/template.h"

namespace wick::jinja {
namespace {

std::string ReadText(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::vector<std::filesystem::path> CaseFiles(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.size() > 11 && name.substr(name.size() - 11) == ".cases.json") {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

TEST(ChatTemplateVectorsTest, EveryCaseRendersAsTransformersDoes) {
  WICK_REQUIRE_SHARED(shared);
  const std::filesystem::path dir = shared / "templates";
  if (!std::filesystem::is_directory(dir)) GTEST_SKIP() << "no " << dir;
  int cases = 0;
  int passed = 0;
  for (const std::filesystem::path& file : CaseFiles(dir)) {
    SCOPED_TRACE(file.filename().string());
    const auto spec = nlohmann::ordered_json::parse(ReadText(file));
    const std::string source = ReadText(dir / spec.at("template").get<std::string>());
    Result<Template> tmpl = Template::Parse(source);
    ASSERT_TRUE(tmpl.ok()) << tmpl.error().message();
    RenderOptions options;
    options.now = spec.value("now", "");
    for (const auto& test : spec.at("cases")) {
      ++cases;
      const std::string name = test.at("name").get<std::string>();
      SCOPED_TRACE(name);
      Result<std::string> rendered = tmpl->Render(test.at("context"), options);
      if (test.contains("expected_error")) {
        const std::string expected = test.at("expected_error").get<std::string>();
        ASSERT_FALSE(rendered.ok()) << "rendered instead of raising: " << *rendered;
        EXPECT_TRUE(IsRaisedError(rendered.error())) << rendered.error().message();
        EXPECT_EQ(rendered.error().message(), expected);
        passed += IsRaisedError(rendered.error()) && rendered.error().message() == expected;
      } else {
        ASSERT_TRUE(rendered.ok()) << rendered.error().message();
        const std::string expected = test.at("expected").get<std::string>();
        EXPECT_EQ(*rendered, expected);
        passed += *rendered == expected;
      }
    }
  }
  EXPECT_GT(cases, 0) << "no *.cases.json in " << dir;
  EXPECT_EQ(passed, cases);
  std::cout << passed << " of " << cases << " chat template cases match\n";
}

}  // namespace
}  // namespace wick::jinja
