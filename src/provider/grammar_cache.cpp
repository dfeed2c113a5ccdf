#include "provider/grammar_cache.h"

namespace wick::provider {

GrammarCache::GrammarCache(const Tokenizer* tokenizer, std::shared_ptr<const text::VocabTrie> trie,
                           size_t capacity)
    : tokenizer_(tokenizer), capacity_(capacity > 0 ? capacity : 1), trie_(std::move(trie)) {}

std::shared_ptr<const text::VocabTrie> GrammarCache::trie() {
  std::call_once(trie_once_, [this] {
    if (trie_ == nullptr) trie_ = text::VocabTrie::Build(*tokenizer_);
  });
  return trie_;
}

Result<std::shared_ptr<text::CompiledGrammar>> GrammarCache::Get(
    const std::string& key, const std::function<Result<text::Grammar>()>& build) {
  {
    std::lock_guard lock(mu_);
    for (auto it = lru_.begin(); it != lru_.end(); ++it) {
      if (it->first == key) {
        lru_.splice(lru_.begin(), lru_, it);
        ++hits_;
        return lru_.front().second;
      }
    }
  }
  // Built outside the lock: two requests racing on a new schema may both build it, and the
  // later one's copy is dropped, which costs less than holding every request up.
  WICK_ASSIGN_OR_RETURN(text::Grammar grammar, build());
  WICK_ASSIGN_OR_RETURN(std::shared_ptr<text::CompiledGrammar> compiled,
                        text::CompiledGrammar::Create(std::move(grammar), trie()));
  std::lock_guard lock(mu_);
  for (const Entry& entry : lru_) {
    if (entry.first == key) return entry.second;
  }
  lru_.emplace_front(key, compiled);
  if (lru_.size() > capacity_) lru_.pop_back();
  return compiled;
}

size_t GrammarCache::size() const {
  std::lock_guard lock(mu_);
  return lru_.size();
}

size_t GrammarCache::hits() const {
  std::lock_guard lock(mu_);
  return hits_;
}

}  // namespace wick::provider
