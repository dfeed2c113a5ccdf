// One model's compiled grammars for constrained decoding (response_format, forced tool
// calls), kept by what defines them: a CompiledGrammar fills its token-mask caches as it is
// used, which is the expensive part, so requests with the same schema should share one. A
// small least-recently-used list; the model's vocabulary trie, which every grammar needs, is
// built on first use when the loader did not supply it.
#pragma once

#include <cstddef>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "core/error.h"
#include "text/grammar/grammar.h"
#include "text/grammar/grammar_matcher.h"
#include "text/tokenizer.h"

namespace wick::provider {

class GrammarCache {
 public:
  static constexpr size_t kDefaultCapacity = 32;

  // `tokenizer` must outlive the cache; `trie` may be null (built from the tokenizer when
  // first needed).
  explicit GrammarCache(const Tokenizer* tokenizer,
                        std::shared_ptr<const text::VocabTrie> trie = nullptr,
                        size_t capacity = kDefaultCapacity);

  // The vocabulary trie; built once, thread-safe.
  std::shared_ptr<const text::VocabTrie> trie();

  // The grammar compiled for `key` (a canonical text of everything that defines it), made
  // with `build` when it is not cached. Errors are build's or compilation's.
  Result<std::shared_ptr<text::CompiledGrammar>> Get(
      const std::string& key, const std::function<Result<text::Grammar>()>& build);

  size_t size() const;
  size_t hits() const;

 private:
  using Entry = std::pair<std::string, std::shared_ptr<text::CompiledGrammar>>;

  const Tokenizer* tokenizer_;
  const size_t capacity_;
  std::once_flag trie_once_;
  std::shared_ptr<const text::VocabTrie> trie_;
  mutable std::mutex mu_;
  std::list<Entry> lru_;  // most recently used first; a few dozen entries, searched linearly
  size_t hits_ = 0;
};

}  // namespace wick::provider
