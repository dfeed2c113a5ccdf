// GPT-2 style byte-level BPE: the pre-tokenizer splits text into words, each word's bytes
// become printable code points, and adjacent symbols merge in the order of the merge list.
#include <queue>
#include <string>

#include "text/byte_unicode.h"
#include "text/encoder.h"
#include "text/pre_tokenizer.h"
#include "text/unicode.h"

namespace wick::text {
namespace {

struct Symbol {
  int prev;
  int next;
  size_t start;
  size_t len;  // 0 once merged into its left neighbour
};

struct Bigram {
  int left;
  int right;
  int32_t rank;
  size_t len;  // bytes of the merged text, to spot pairs that changed since they were queued
};

struct BigramOrder {
  // The earliest merge first; the leftmost pair among equals.
  bool operator()(const Bigram& a, const Bigram& b) const {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  }
};

class BpeEncoder : public Encoder {
 public:
  BpeEncoder(const Vocab& vocab, PreTokenizer pre) : vocab_(vocab), pre_(std::move(pre)) {}

  void Encode(std::string_view raw, bool /*after_special*/,
              std::vector<int32_t>* out) const override {
    // Regexes need valid UTF-8; the reference also turns bad bytes into U+FFFD here.
    const std::string text = SanitizeUtf8(raw);
    for (std::string_view word : pre_.Split(text)) EncodeWord(EncodeBytes(word), out);
  }

 private:
  void EncodeWord(const std::string& word, std::vector<int32_t>* out) const {
    if (word.empty()) return;
    if (pre_.ignore_merges()) {
      const int32_t id = vocab_.Find(word);
      if (id != kNoToken) {
        out->push_back(id);
        return;
      }
    }
    std::vector<Symbol> symbols;
    for (size_t pos = 0; pos < word.size();) {
      const size_t len =
          std::min(Utf8SequenceLength(static_cast<uint8_t>(word[pos])), word.size() - pos);
      const int index = static_cast<int>(symbols.size());
      symbols.push_back({index - 1, pos + len == word.size() ? -1 : index + 1, pos, len});
      pos += len;
    }
    const std::string_view view(word);
    std::priority_queue<Bigram, std::vector<Bigram>, BigramOrder> queue;
    auto try_pair = [&](int left, int right) {
      if (left < 0 || right < 0) return;
      const int32_t rank = vocab_.MergeRank(view.substr(symbols[left].start, symbols[left].len),
                                            view.substr(symbols[right].start, symbols[right].len));
      if (rank < 0) return;
      queue.push({left, right, rank, symbols[left].len + symbols[right].len});
    };
    for (int i = 1; i < static_cast<int>(symbols.size()); ++i) try_pair(i - 1, i);

    while (!queue.empty()) {
      const Bigram bigram = queue.top();
      queue.pop();
      Symbol& left = symbols[bigram.left];
      Symbol& right = symbols[bigram.right];
      // Symbols only grow, so a pair whose lengths still add up is the pair that was queued.
      if (left.len == 0 || right.len == 0 || left.len + right.len != bigram.len ||
          left.next != bigram.right) {
        continue;
      }
      left.len += right.len;
      right.len = 0;
      left.next = right.next;
      if (right.next >= 0) symbols[right.next].prev = bigram.left;
      try_pair(left.prev, bigram.left);
      try_pair(bigram.left, left.next);
    }

    for (int i = 0; i != -1; i = symbols[i].next) {
      const std::string_view piece = view.substr(symbols[i].start, symbols[i].len);
      const int32_t id = vocab_.Find(piece);
      if (id != kNoToken) {
        out->push_back(id);
        continue;
      }
      // A merge produced text that is no token (a broken vocabulary): emit its characters.
      for (size_t pos = 0; pos < piece.size();) {
        const size_t start = pos;
        DecodeUtf8(piece, &pos);
        const int32_t char_id = vocab_.Find(piece.substr(start, pos - start));
        if (char_id != kNoToken) {
          out->push_back(char_id);
        } else if (vocab_.unk != kNoToken) {
          out->push_back(vocab_.unk);
        }
      }
    }
  }

  const Vocab& vocab_;
  PreTokenizer pre_;
};

}  // namespace

Result<std::unique_ptr<Encoder>> MakeBpeEncoder(const Vocab& vocab) {
  WICK_ASSIGN_OR_RETURN(PreTokenizer pre, PreTokenizer::ForName(vocab.pre));
  return std::unique_ptr<Encoder>(std::make_unique<BpeEncoder>(vocab, std::move(pre)));
}

}  // namespace wick::text
