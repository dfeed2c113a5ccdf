// libFuzzer entry point for the grammar front-ends and the matcher: the input is parsed as
// GBNF and as a JSON Schema; whatever compiles is walked over the input's own bytes through a
// tiny vocabulary (masks, accepts and advances), so a bad transition or stack trips ASan.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "text/grammar/gbnf.h"
#include "text/grammar/grammar_matcher.h"
#include "text/grammar/json_schema.h"

namespace {

void Walk(wick::text::Grammar grammar, std::string_view input) {
  static const auto trie = wick::text::VocabTrie::FromPieces(
      {"</s>", "{", "}", "\"", "a",    "ab",   " ",    "\n",   "0", "12", "[",
       "]",    ",", ":", "\\", "\xC3", "\xA9", "true", "null", "-", "."},
      {0});
  auto compiled = wick::text::CompiledGrammar::Create(std::move(grammar), trie);
  if (!compiled.ok()) return;
  wick::text::GrammarMatcher matcher(*compiled);
  std::vector<uint64_t> mask;
  for (size_t i = 0; i < input.size() && i < 64; ++i) {
    matcher.FillMask(mask);
    const auto token = static_cast<int32_t>(static_cast<uint8_t>(input[i]) % trie->n_vocab());
    const bool allowed = (mask[static_cast<size_t>(token) / 64] >> (token % 64)) & 1;
    if (allowed != matcher.Accepts(token)) __builtin_trap();  // the mask and the walk disagree
    if (allowed && !matcher.IsComplete()) (void)matcher.Advance(token);
  }
  (void)wick::text::GrammarAcceptsText((*compiled)->grammar(), input);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return 0;  // long inputs only make slow grammars, not new paths
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  auto gbnf = wick::text::ParseGbnf(input);
  if (gbnf.ok()) Walk(std::move(*gbnf), input);
  const auto schema = nlohmann::ordered_json::parse(input, nullptr, false);
  if (!schema.is_discarded()) {
    auto grammar = wick::text::JsonSchemaGrammar(schema);
    if (grammar.ok()) Walk(std::move(*grammar), input);
  }
  return 0;
}
