// VocabTrie: the vocabulary's token bytes as a depth-first trie (see grammar_matcher.h).
#include <algorithm>
#include <numeric>

#include "text/grammar/grammar_matcher.h"

namespace wick::text {

std::shared_ptr<const VocabTrie> VocabTrie::Build(const Tokenizer& tokenizer) {
  const Vocab& vocab = tokenizer.vocab();
  std::vector<std::string> pieces(static_cast<size_t>(vocab.size()));
  for (int32_t id = 0; id < vocab.size(); ++id) {
    switch (vocab.Type(id)) {
      case TokenType::kControl:
      case TokenType::kUnused:
      case TokenType::kUnknown:
        break;  // not text a grammar can match
      default:
        pieces[static_cast<size_t>(id)] = tokenizer.TokenPiece(id);
    }
  }
  return FromPieces(std::move(pieces), vocab.eog, tokenizer.strips_leading_space());
}

std::shared_ptr<const VocabTrie> VocabTrie::FromPieces(std::vector<std::string> pieces,
                                                       std::vector<int32_t> eog,
                                                       bool strips_leading_space) {
  std::shared_ptr<VocabTrie> trie(new VocabTrie());
  trie->n_vocab_ = static_cast<int32_t>(pieces.size());
  trie->pieces_ = std::move(pieces);
  for (const int32_t id : eog) {
    if (id >= 0 && id < trie->n_vocab_) trie->pieces_[static_cast<size_t>(id)].clear();
  }
  trie->eog_ = std::move(eog);
  trie->strips_leading_space_ = strips_leading_space;

  std::vector<int32_t> order;
  for (int32_t id = 0; id < trie->n_vocab_; ++id) {
    if (!trie->pieces_[static_cast<size_t>(id)].empty()) order.push_back(id);
  }
  const auto& p = trie->pieces_;
  // Byte order (std::string compares as unsigned char), so that nodes come out in preorder.
  std::stable_sort(order.begin(), order.end(), [&p](int32_t a, int32_t b) {
    return p[static_cast<size_t>(a)] < p[static_cast<size_t>(b)];
  });

  // The root, then one node per new byte; `open` holds the nodes of the current path.
  trie->bytes_.push_back(0);
  trie->depth_.push_back(0);
  trie->next_.push_back(0);
  trie->token_begin_.push_back(0);
  std::vector<uint32_t> open = {0};
  std::string_view previous;
  auto close_to = [&](size_t depth) {
    while (open.size() > depth + 1) {
      trie->next_[open.back()] = static_cast<uint32_t>(trie->bytes_.size());
      open.pop_back();
    }
  };
  for (const int32_t id : order) {
    const std::string& piece = p[static_cast<size_t>(id)];
    size_t common = 0;
    while (common < previous.size() && common < piece.size() && previous[common] == piece[common]) {
      ++common;
    }
    close_to(common);
    for (size_t d = common; d < piece.size(); ++d) {
      open.push_back(static_cast<uint32_t>(trie->bytes_.size()));
      trie->bytes_.push_back(static_cast<uint8_t>(piece[d]));
      trie->depth_.push_back(static_cast<uint16_t>(std::min<size_t>(d + 1, 65535)));
      trie->next_.push_back(0);
      trie->token_begin_.push_back(static_cast<uint32_t>(trie->tokens_.size()));
    }
    trie->tokens_.push_back(id);
    previous = piece;
  }
  close_to(0);
  trie->next_[0] = static_cast<uint32_t>(trie->bytes_.size());
  trie->token_begin_.push_back(static_cast<uint32_t>(trie->tokens_.size()));
  return trie;
}

}  // namespace wick::text
