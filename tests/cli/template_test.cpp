// `wick template`: the shared template vectors through the command line, raised errors with
// exit code 3, and a model's own template (or the ChatML fallback).
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "test_support.h"

namespace wick {
namespace {

using nlohmann::ordered_json;
using testing::RunWick;

ordered_json ReadJson(const std::filesystem::path& path) {
  std::ifstream in(path);
  return ordered_json::parse(in);
}

void WriteJson(const std::filesystem::path& path, const ordered_json& j) {
  std::ofstream(path) << j.dump();
}

TEST(TemplateTest, RendersTheSharedVectorsExactly) {
  WICK_REQUIRE_SHARED(shared);
  testing::TempDir dir;
  size_t checked = 0;
  for (const auto& entry : std::filesystem::directory_iterator(shared / "templates")) {
    const std::string name = entry.path().filename().string();
    if (name.size() < 11 || name.substr(name.size() - 11) != ".cases.json") continue;
    const ordered_json cases = ReadJson(entry.path());
    const auto jinja = entry.path().parent_path() / cases["template"].get<std::string>();
    // The first case of each file is enough here; the library test checks every case.
    const ordered_json& c = cases["cases"][0];
    SCOPED_TRACE(name + " " + c["name"].get<std::string>());
    WriteJson(dir.File("context.json"), c["context"]);
    testing::CommandResult r =
        RunWick({"template", "--file", jinja.string(), "--context",
                 dir.File("context.json").string(), "--now", cases["now"].get<std::string>()});
    if (c.contains("expected_error")) {
      EXPECT_EQ(r.exit_code, 3) << r.err;
      EXPECT_NE(r.err.find(c["expected_error"].get<std::string>()), std::string::npos) << r.err;
    } else {
      EXPECT_EQ(r.exit_code, 0) << r.err;
      EXPECT_EQ(r.out, c["expected"].get<std::string>());
    }
    ++checked;
  }
  EXPECT_GT(checked, 0u);
}

TEST(TemplateTest, RaisedErrorsExitWithCode3) {
  testing::TempDir dir;
  std::ofstream(dir.File("t.jinja"))
      << "{% if messages[0]['role'] != 'user' %}{{ raise_exception('first must be user') }}"
         "{% endif %}ok";
  WriteJson(dir.File("c.json"), {{"messages", {{{"role", "system"}, {"content", "x"}}}}});
  testing::CommandResult r = RunWick({"template", "--file", dir.File("t.jinja").string(),
                                      "--context", dir.File("c.json").string()});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.err, "first must be user\n");
  EXPECT_TRUE(r.out.empty());
}

TEST(TemplateTest, ModelsWithoutATemplateGetChatML) {
  WICK_REQUIRE_SHARED(shared);
  testing::TempDir dir;
  WriteJson(dir.File("c.json"), {{"messages", {{{"role", "user"}, {"content", "Hi"}}}},
                                 {"add_generation_prompt", true}});
  testing::CommandResult r =
      RunWick({"template", "-m", (shared / "models/stories260K.gguf").string(), "--context",
               dir.File("c.json").string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_NE(r.err.find("no chat template; using ChatML"), std::string::npos) << r.err;
}

TEST(TemplateTest, BadInputIsAOneLineError) {
  testing::TempDir dir;
  std::ofstream(dir.File("bad.jinja")) << "{% if %}";
  WriteJson(dir.File("c.json"), {{"messages", ordered_json::array()}});
  testing::CommandResult r = RunWick({"template", "--file", dir.File("bad.jinja").string(),
                                      "--context", dir.File("c.json").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;
  std::ofstream(dir.File("not.json")) << "{";
  r = RunWick({"template", "--file", dir.File("bad.jinja").string(), "--context",
               dir.File("not.json").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("not a JSON object"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace wick
