// Constrained decoding: which tokens of a vocabulary can continue a Grammar from where a
// generation stands, as a bit mask, so sampling only ever picks tokens that keep the output
// valid.
//
// The parser is a pushdown automaton over bytes whose states (the set of grammar positions
// that are alive, each with its interned return stack) are interned too, with their byte
// transitions memoised, so walking a token's bytes is a table lookup per byte. A mask is the
// union, over the live positions, of a per-position cache built the first time the position is
// seen: a walk of the vocabulary trie from that position alone sorts every token into
// accepted (it stays inside the position's rule), rejected, or undecided (it finishes the
// rule mid-token, so what follows depends on the stack). Only the undecided ones, usually few,
// are checked against the real stack at each step. (The idea of XGrammar's adaptive token
// mask cache.)
//
//   auto trie = VocabTrie::Build(tokenizer);
//   WICK_ASSIGN_OR_RETURN(auto compiled, CompiledGrammar::Create(std::move(grammar), trie));
//   GrammarMatcher matcher(compiled);
//   matcher.FillMask(mask);  ...  WICK_RETURN_IF_ERROR(matcher.Advance(token));
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "text/grammar/grammar.h"
#include "text/tokenizer.h"

namespace wick::text {

// The vocabulary as a byte trie in depth-first order, for walking every token's bytes at once.
// Control tokens (BOS, EOS, <|im_end|>...) and tokens with no bytes are left out: a grammar
// constrains text, and end of generation is allowed separately when the grammar is complete.
class VocabTrie {
 public:
  static std::shared_ptr<const VocabTrie> Build(const Tokenizer& tokenizer);
  // For tests: token i has the bytes pieces[i]; `eog` are the end-of-generation ids.
  static std::shared_ptr<const VocabTrie> FromPieces(std::vector<std::string> pieces,
                                                     std::vector<int32_t> eog,
                                                     bool strips_leading_space = false);

  int32_t n_vocab() const { return n_vocab_; }
  size_t n_nodes() const { return bytes_.size(); }
  const std::string& piece(int32_t token) const { return pieces_[static_cast<size_t>(token)]; }
  // Whether the token is text the grammar sees (not a control token or empty).
  bool is_text(int32_t token) const { return !pieces_[static_cast<size_t>(token)].empty(); }
  const std::vector<int32_t>& eog() const { return eog_; }
  // Generated text loses the space its first piece starts with (SentencePiece), so the first
  // token is matched without it.
  bool strips_leading_space() const { return strips_leading_space_; }

 private:
  friend class CompiledGrammar;
  VocabTrie() = default;

  int32_t n_vocab_ = 0;
  std::vector<std::string> pieces_;  // "" for tokens left out
  std::vector<int32_t> eog_;
  bool strips_leading_space_ = false;
  // Node i (0 is the root, which has no byte): its byte, the index just past its subtree, and
  // the tokens whose bytes end there (token_begin_[i]..token_begin_[i + 1] in tokens_).
  std::vector<uint8_t> bytes_;
  std::vector<uint32_t> next_;
  std::vector<uint32_t> token_begin_;
  std::vector<int32_t> tokens_;
  std::vector<uint16_t> depth_;
};

// A grammar checked and prepared for one vocabulary, with the caches the matchers fill. Shared
// by every sequence that uses the same grammar; thread-safe (one lock, held per mask or step).
class CompiledGrammar {
 public:
  static Result<std::shared_ptr<CompiledGrammar>> Create(Grammar grammar,
                                                         std::shared_ptr<const VocabTrie> trie);
  ~CompiledGrammar();
  CompiledGrammar(const CompiledGrammar&) = delete;
  CompiledGrammar& operator=(const CompiledGrammar&) = delete;

  const Grammar& grammar() const;
  const VocabTrie& trie() const;
  // Interned parser states, for tests and logs.
  size_t n_states() const;

 private:
  friend class GrammarMatcher;
  struct Impl;
  explicit CompiledGrammar(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Where one generation stands in a grammar. Cheap to create; not thread-safe itself.
class GrammarMatcher {
 public:
  explicit GrammarMatcher(std::shared_ptr<CompiledGrammar> grammar);

  // Sets bit t of `mask` (n_vocab bits, resized here) for every token that may come next:
  // text tokens that keep the output a prefix of a sentence, and the end-of-generation tokens
  // when the output is already a whole sentence.
  void FillMask(std::vector<uint64_t>& mask);
  // Whether `token` may come next (one walk of its bytes; no mask needed).
  bool Accepts(int32_t token);
  // Moves past `token`; kInvalidArgument when it is not accepted (the state is unchanged).
  Status Advance(int32_t token);
  // Moves past raw bytes (a forced prefix); false, with the state unchanged, if not accepted.
  bool AdvanceBytes(std::string_view bytes);

  // The output so far is a whole sentence (end of generation is allowed).
  bool CanEnd() const;
  // Nothing may follow: the output is a whole sentence that cannot be extended.
  bool IsComplete() const;
  void Reset();
  // The grammar proved too ambiguous to follow (its parses multiplied past a limit): masks
  // are empty and Advance fails from then on, so generation stops with an error, not a hang.
  bool overflowed() const;

 private:
  std::shared_ptr<CompiledGrammar> grammar_;
  uint32_t state_ = 0;
  bool at_start_ = true;  // no token yet: a leading space may be dropped (strips_leading_space)
};

// Whether `text` is exactly a sentence of `grammar` (validation and tests; builds no trie).
Result<bool> GrammarAcceptsText(const Grammar& grammar, std::string_view text);

}  // namespace wick::text
