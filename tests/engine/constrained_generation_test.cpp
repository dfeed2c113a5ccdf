// Constrained decoding end to end: random-weight models, which left alone write noise, must
// write JSON that parses and validates under every schema, every time (100 generations per
// schema and model, random sampling), through the batch engine and the single-sequence
// generator.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "engine/batch_engine.h"
#include "engine/generator.h"
#include "engine/test_model.h"
#include "json_schema_check.h"
#include "model/backend.h"
#include "test_support.h"
#include "text/grammar/gbnf.h"
#include "text/grammar/json_schema.h"

namespace wick::engine {
namespace {

// Bounded strings and arrays: a random-weight model picks among allowed tokens at random, so
// an unbounded string would end only when it happens to draw a quote.
const char* kSchemas[] = {
    // nested objects, optional properties
    R"({"type":"object","additionalProperties":false,"required":["user","ok"],
        "properties":{"user":{"type":"object","additionalProperties":false,
          "required":["id","name"],"properties":{"id":{"type":"integer"},
          "name":{"type":"string","maxLength":12},"email":{"type":"string","maxLength":16}}},
        "ok":{"type":"boolean"},"note":{"type":"null"}}})",
    // arrays with bounds, of objects and of numbers
    R"({"type":"object","additionalProperties":false,"required":["points","scores"],
        "properties":{"points":{"type":"array","minItems":1,"maxItems":3,"items":{
          "type":"object","additionalProperties":false,"required":["x","y"],
          "properties":{"x":{"type":"number"},"y":{"type":"number"}}}},
        "scores":{"type":"array","maxItems":4,"items":{"type":"integer"}}}})",
    // enums, const, anyOf
    R"({"type":"object","additionalProperties":false,"required":["level","value","v"],
        "properties":{"level":{"enum":["safe","caution","dangerous"]},"v":{"const":"1.0"},
        "value":{"anyOf":[{"type":"integer"},{"type":"string","maxLength":8},
          {"type":"array","maxItems":2,"items":{"type":"boolean"}}]}}})",
    // $ref / $defs, used twice
    R"({"$defs":{"place":{"type":"object","additionalProperties":false,"required":["city"],
          "properties":{"city":{"type":"string","maxLength":10},
          "zip":{"type":"string","pattern":"^[0-9]{5}$"}}}},
        "type":"object","additionalProperties":false,"required":["from","to"],
        "properties":{"from":{"$ref":"#/$defs/place"},"to":{"$ref":"#/$defs/place"}}})",
    // the shape `wick cmd` asks for, strings bounded
    R"({"type":"object","additionalProperties":false,"required":["cmd","explanation"],
        "properties":{"cmd":{"type":"string","maxLength":40},
        "explanation":{"type":"string","maxLength":40}}})",
};

// Under a sanitizer (10-50x slower) a few models and generations check memory and threads;
// the release build runs them all.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr size_t kModels = 2;
constexpr int kGenerations = 10;
#else
constexpr size_t kModels = 1000;
constexpr int kGenerations = 100;
#endif

std::vector<std::filesystem::path> SyntheticModels(const std::filesystem::path& shared) {
  std::vector<std::filesystem::path> out;
  for (const auto& e : std::filesystem::directory_iterator(shared / "models" / "synthetic")) {
    if (e.path().extension() == ".gguf") out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  if (out.size() > kModels) out.resize(kModels);
  return out;
}

TEST(ConstrainedGenerationTest, RandomModelsWriteValidJsonUnderEverySchema) {
  WICK_REQUIRE_SHARED(shared);
  const auto models = SyntheticModels(shared);
  ASSERT_FALSE(models.empty());
  for (const auto& path : models) {
    auto m = LoadTestModel(path);
    ASSERT_NE(m, nullptr) << path;
    auto trie = text::VocabTrie::Build(*m->tokenizer);
    model::CpuBackend backend(2);
    auto engine = BatchEngine::Create(*m->model, *m->tokenizer, backend,
                                      {.n_parallel = 8, .n_ctx = 512, .n_batch = 256});
    ASSERT_TRUE(engine.ok()) << engine.error().message();
    const std::vector<int32_t> prompt = m->tokenizer->Encode("Answer in JSON:");
    for (size_t s = 0; s < std::size(kSchemas); ++s) {
      const auto schema = nlohmann::json::parse(kSchemas[s]);
      auto grammar = text::JsonSchemaGrammar(schema);
      ASSERT_TRUE(grammar.ok()) << grammar.error().message();
      auto compiled = text::CompiledGrammar::Create(std::move(*grammar), trie);
      ASSERT_TRUE(compiled.ok()) << compiled.error().message();
      std::vector<SequenceParams> batch;
      for (int i = 0; i < kGenerations; ++i) {
        SequenceParams p;
        p.prompt = prompt;
        p.max_tokens = 400;
        p.sampling = {.temperature = 1.0f,
                      .top_k = 0,
                      .top_p = 1.0f,
                      .min_p = 0.0f,
                      .seed = static_cast<uint64_t>(1000 * s + static_cast<size_t>(i))};
        p.grammar = *compiled;
        batch.push_back(std::move(p));
      }
      // Submitted in groups the queue can take.
      const testing::JsonSchemaCheck check(schema);
      for (size_t first = 0; first < batch.size(); first += 50) {
        const size_t last = std::min(batch.size(), first + 50);
        std::vector<SequenceParams> group(std::make_move_iterator(batch.begin() + first),
                                          std::make_move_iterator(batch.begin() + last));
        auto handles = (*engine)->Submit(std::move(group));
        ASSERT_TRUE(handles.ok()) << handles.error().message();
        for (auto& h : *handles) {
          std::string text;
          SequenceEvent ev;
          do {
            ev = h->Next(std::chrono::milliseconds(100));
            text += ev.text;
          } while (!ev.done);
          ASSERT_EQ(ev.finish, FinishReason::kStop)
              << path.filename() << " schema " << s << ": " << ev.error << " output " << text;
          const auto parsed = nlohmann::json::parse(text, nullptr, false);
          ASSERT_FALSE(parsed.is_discarded())
              << path.filename() << " schema " << s << ": not JSON: " << text;
          const std::string why = check.Check(parsed);
          ASSERT_TRUE(why.empty())
              << path.filename() << " schema " << s << ": " << why << " in " << text;
        }
      }
    }
  }
}

TEST(ConstrainedGenerationTest, GeneratorFollowsAGbnfGrammarGreedily) {
  WICK_REQUIRE_SHARED(shared);
  auto m = LoadTestModel(shared / "models" / "stories260K.gguf");
  ASSERT_NE(m, nullptr);
  auto grammar = text::ParseGbnf(R"(root ::= "Once upon a time, " name " was " ("happy" | "sad") "."
                                   name ::= [A-Z] [a-z]{1,8})");
  ASSERT_TRUE(grammar.ok()) << grammar.error().message();
  auto compiled =
      text::CompiledGrammar::Create(std::move(*grammar), text::VocabTrie::Build(*m->tokenizer));
  ASSERT_TRUE(compiled.ok()) << compiled.error().message();
  auto cache = model::KvCache::Create(m->model->hparams(), 256);
  ASSERT_TRUE(cache.ok());
  model::CpuBackend backend(1);
  Generator generator(*m->model, *m->tokenizer, backend, *cache);
  std::string text;
  GenerateParams params;
  params.prompt = "Lily";
  params.max_tokens = 100;
  params.sampling.temperature = 0;
  params.grammar = *compiled;
  auto stats = generator.Generate(params, [&](std::string_view t) {
    text += t;
    return true;
  });
  ASSERT_TRUE(stats.ok()) << stats.error().message();
  EXPECT_EQ(stats->stop, StopReason::kEog);
  auto accepted = text::GrammarAcceptsText((*compiled)->grammar(), text);
  ASSERT_TRUE(accepted.ok());
  EXPECT_TRUE(*accepted) << text;
}

}  // namespace
}  // namespace wick::engine
