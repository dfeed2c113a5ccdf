// The cost of constrained decoding's hot path: compiling a JSON schema, and building the
// token mask at every step of a generation, on a real vocabulary (default: the 100k-token
// deepseek-llm one from the shared data). Each generation picks among the allowed tokens at
// random, as a random-weight model would, so every step needs the full mask (a trained model
// usually picks an allowed token first, and then no mask is built at all). Compile times are
// the median of 21; the masks of every step of every generation make the mean and p99, cold
// caches (a grammar position seen for the first time) included.
//
//   wick_grammar_mask [--vocab FILE] [--generations N] [--max-tokens N] [--one-core]
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "io/gguf_file.h"
#include "text/grammar/grammar_matcher.h"
#include "text/grammar/json_schema.h"
#include "text/tokenizer.h"

namespace {

using Clock = std::chrono::steady_clock;
double Micros(Clock::duration d) {
  return std::chrono::duration<double, std::micro>(d).count();
}

// The schemas of the tests and of `wick cmd`, from flat to recursive.
const char* kSchemas[][2] = {
    {"cmd", R"({"type":"object","additionalProperties":false,"required":["cmd","explanation"],
      "properties":{"cmd":{"type":"string"},"explanation":{"type":"string"}}})"},
    {"person", R"({"type":"object","required":["name","age","email"],
      "additionalProperties":false,"properties":{"name":{"type":"string","maxLength":20},
      "age":{"type":"integer","minimum":0,"maximum":150},"email":{"type":"string"},
      "tags":{"type":"array","items":{"type":"string"},"maxItems":4},
      "active":{"type":"boolean"}}})"},
    {"nested", R"({"type":"object","required":["user","items"],"additionalProperties":false,
      "properties":{"user":{"type":"object","required":["id","address"],
      "additionalProperties":false,"properties":{"id":{"type":"integer"},
      "address":{"type":"object","required":["city"],"additionalProperties":false,
      "properties":{"city":{"type":"string"},"zip":{"type":"string","pattern":"^[0-9]{5}$"}}}}},
      "items":{"type":"array","minItems":1,"maxItems":3,"items":{"type":"object",
      "required":["sku","qty"],"additionalProperties":false,"properties":{
      "sku":{"type":"string"},"qty":{"type":"number"}}}}}})"},
    {"enum-anyof", R"({"type":"object","required":["level","value"],
      "additionalProperties":false,"properties":{
      "level":{"enum":["safe","caution","dangerous"]},
      "value":{"anyOf":[{"type":"integer"},{"type":"string","maxLength":10},{"type":"null"},
      {"type":"array","items":{"type":"boolean"},"maxItems":3}]},
      "kind":{"const":"v1"}}})"},
    {"tree-ref", R"({"$defs":{"node":{"type":"object","required":["name"],
      "additionalProperties":false,"properties":{"name":{"type":"string","maxLength":8},
      "children":{"type":"array","maxItems":2,"items":{"$ref":"#/$defs/node"}}}}},
      "$ref":"#/$defs/node"})"},
    {"tool-call", R"({"type":"object","required":["name","arguments"],
      "additionalProperties":false,"properties":{"name":{"enum":["get_weather","search"]},
      "arguments":{"type":"object","required":["location","unit"],
      "additionalProperties":false,"properties":{"location":{"type":"string"},
      "unit":{"enum":["celsius","fahrenheit"]}}}}})"},
};

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("Constrained decoding: schema compile time and token mask cost per step");
  std::string vocab_path;
  int generations = 30;
  int max_tokens = 256;
  app.add_option("--vocab", vocab_path, "GGUF with the vocabulary (default: shared deepseek-llm)");
  app.add_option("--generations", generations, "Generations per schema");
  app.add_option("--max-tokens", max_tokens, "Tokens per generation, at most");
  CLI11_PARSE(app, argc, argv);
  if (vocab_path.empty()) {
    const char* shared = std::getenv("WICK_SHARED");
    vocab_path = std::string(shared != nullptr ? shared : "../shared") +
                 "/vocab/ggml-vocab-deepseek-llm.gguf";
  }

  auto file = wick::GgufFile::Open(vocab_path);
  if (!file.ok()) {
    fmt::print(stderr, "error: {}\n", file.error().message());
    return 1;
  }
  auto tokenizer = wick::Tokenizer::FromGguf(*file);
  if (!tokenizer.ok()) {
    fmt::print(stderr, "error: {}\n", tokenizer.error().message());
    return 1;
  }
  const auto trie_start = Clock::now();
  auto trie = wick::text::VocabTrie::Build(**tokenizer);
  fmt::print("vocabulary {}: {} tokens, trie of {} nodes built in {:.1f} ms\n", vocab_path,
             trie->n_vocab(), trie->n_nodes(), Micros(Clock::now() - trie_start) / 1000);
  fmt::print("{:<11} {:>10} {:>7} {:>8} {:>9} {:>9} {:>9} {:>9} {:>6}\n", "schema", "compile_ms",
             "gens", "tokens", "mean_us", "p50_us", "p99_us", "max_us", "valid");

  std::vector<double> all;
  std::mt19937 rng(1234);
  std::vector<uint64_t> mask;
  std::vector<int32_t> allowed;
  std::vector<int32_t> structural;
  for (const auto& [name, text] : kSchemas) {
    const auto schema = nlohmann::json::parse(text);
    // Compile: schema to grammar to automaton, as a request does (median of 21).
    std::vector<double> compile;
    std::shared_ptr<wick::text::CompiledGrammar> compiled;
    for (int i = 0; i < 21; ++i) {
      const auto t0 = Clock::now();
      auto grammar = wick::text::JsonSchemaGrammar(schema, {.strict = true});
      if (!grammar.ok()) {
        fmt::print(stderr, "{}: {}\n", name, grammar.error().message());
        return 1;
      }
      auto c = wick::text::CompiledGrammar::Create(std::move(*grammar), trie);
      if (!c.ok()) {
        fmt::print(stderr, "{}: {}\n", name, c.error().message());
        return 1;
      }
      compile.push_back(Micros(Clock::now() - t0) / 1000);
      compiled = *c;
    }

    std::vector<double> steps;
    int valid = 0;
    for (int g = 0; g < generations; ++g) {
      wick::text::GrammarMatcher matcher(compiled);
      std::string output;
      for (int step = 0; step < max_tokens && !matcher.IsComplete(); ++step) {
        const auto t0 = Clock::now();
        matcher.FillMask(mask);
        steps.push_back(Micros(Clock::now() - t0));
        allowed.clear();
        for (size_t w = 0; w < mask.size(); ++w) {
          for (uint64_t bits = mask[w]; bits != 0; bits &= bits - 1) {
            const auto t =
                static_cast<int32_t>(w * 64 + static_cast<size_t>(__builtin_ctzll(bits)));
            if (trie->is_text(t)) allowed.push_back(t);
          }
        }
        if (allowed.empty()) break;
        // Uniform over the allowed tokens, but a third of the time one holding JSON structure
        // (quotes, brackets, commas, digits): otherwise strings of a 100k vocabulary run on
        // for hundreds of tokens and the steps measured would almost all be inside strings.
        int32_t token = allowed[rng() % allowed.size()];
        if (rng() % 3 == 0) {
          structural.clear();
          for (const int32_t t : allowed) {
            if (trie->piece(t).find_first_of("\"{}[],:0123456789") != std::string::npos) {
              structural.push_back(t);
            }
          }
          if (!structural.empty()) token = structural[rng() % structural.size()];
        }
        if (!matcher.Advance(token).ok()) break;
        output += trie->piece(token);
      }
      if (matcher.IsComplete() && !nlohmann::json::parse(output, nullptr, false).is_discarded()) {
        ++valid;
      }
    }
    double sum = 0;
    for (double s : steps) sum += s;
    all.insert(all.end(), steps.begin(), steps.end());
    fmt::print("{:<11} {:>10.3f} {:>7} {:>8} {:>9.1f} {:>9.1f} {:>9.1f} {:>9.1f} {:>6}\n", name,
               Percentile(compile, 0.5), generations, steps.size(),
               steps.empty() ? 0 : sum / static_cast<double>(steps.size()), Percentile(steps, 0.5),
               Percentile(steps, 0.99),
               steps.empty() ? 0 : *std::max_element(steps.begin(), steps.end()), valid);
  }
  double sum = 0;
  for (double s : all) sum += s;
  fmt::print("all: {} masks, mean {:.1f} us, p50 {:.1f} us, p99 {:.1f} us, max {:.1f} us\n",
             all.size(), all.empty() ? 0 : sum / static_cast<double>(all.size()),
             Percentile(all, 0.5), Percentile(all, 0.99),
             all.empty() ? 0 : *std::max_element(all.begin(), all.end()));
  return 0;
}
