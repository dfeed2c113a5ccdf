// SentencePiece BPE as llama.cpp runs it on GGUF vocabularies: start from characters and
// keep merging the adjacent pair whose merged text is the highest-scoring token; characters
// that end up in no token fall back to byte tokens.
#include <queue>
#include <string>

#include "text/encoder.h"
#include "text/unicode.h"

namespace wick::text {
namespace {

constexpr std::string_view kSpaceMark = "\xE2\x96\x81";  // U+2581, SentencePiece's space

struct Symbol {
  int prev;
  int next;
  size_t start;
  size_t len;  // 0 once merged into its left neighbour
};

struct Bigram {
  int left;
  int right;
  float score;
  size_t len;  // bytes of the merged text, to spot pairs that changed since they were queued
};

struct BigramOrder {
  // The highest score first; the leftmost pair among equals, as sentencepiece does.
  bool operator()(const Bigram& a, const Bigram& b) const {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  }
};

class SpmEncoder : public Encoder {
 public:
  explicit SpmEncoder(const Vocab& vocab) : vocab_(vocab) {}

  void Encode(std::string_view raw, bool after_special, std::vector<int32_t>* out) const override {
    std::string text;
    text.reserve(raw.size() * 3 + 3);
    if (vocab_.add_space_prefix && after_special) text += kSpaceMark;
    for (char c : raw) {
      if (c == ' ') {
        text += kSpaceMark;
      } else {
        text += c;
      }
    }
    if (text.empty()) return;

    std::vector<Symbol> symbols;
    for (size_t pos = 0; pos < text.size();) {
      const size_t len =
          std::min(Utf8SequenceLength(static_cast<uint8_t>(text[pos])), text.size() - pos);
      const int index = static_cast<int>(symbols.size());
      symbols.push_back({index - 1, pos + len == text.size() ? -1 : index + 1, pos, len});
      pos += len;
    }

    std::priority_queue<Bigram, std::vector<Bigram>, BigramOrder> queue;
    auto try_pair = [&](int left, int right) {
      if (left < 0 || right < 0) return;
      const size_t len = symbols[left].len + symbols[right].len;
      const int32_t id = vocab_.Find(std::string_view(text).substr(symbols[left].start, len));
      if (id == kNoToken) return;
      queue.push({left, right, vocab_.scores[id], len});
    };
    for (int i = 1; i < static_cast<int>(symbols.size()); ++i) try_pair(i - 1, i);

    while (!queue.empty()) {
      const Bigram bigram = queue.top();
      queue.pop();
      Symbol& left = symbols[bigram.left];
      Symbol& right = symbols[bigram.right];
      if (left.len == 0 || right.len == 0 || left.len + right.len != bigram.len) continue;
      left.len += right.len;
      right.len = 0;
      left.next = right.next;
      if (right.next >= 0) symbols[right.next].prev = bigram.left;
      try_pair(left.prev, bigram.left);
      try_pair(bigram.left, left.next);
    }

    // Merged symbols are tokens by construction; only unmerged characters can be missing.
    for (int i = 0; i != -1; i = symbols[i].next) {
      const std::string_view piece =
          std::string_view(text).substr(symbols[i].start, symbols[i].len);
      const int32_t id = vocab_.Find(piece);
      if (id != kNoToken) {
        out->push_back(id);
        continue;
      }
      for (char c : piece) {
        const int32_t byte_id = ByteToken(vocab_, static_cast<uint8_t>(c));
        if (byte_id != kNoToken) out->push_back(byte_id);
      }
    }
  }

 private:
  const Vocab& vocab_;
};

}  // namespace

int32_t ByteToken(const Vocab& vocab, uint8_t byte) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  const char name[] = {'<', '0', 'x', kHex[byte >> 4], kHex[byte & 15], '>'};
  int32_t id = vocab.Find(std::string_view(name, sizeof(name)));
  if (id == kNoToken) id = vocab.Find(std::string_view(reinterpret_cast<const char*>(&byte), 1));
  return id == kNoToken ? vocab.unk : id;
}

std::unique_ptr<Encoder> MakeSpmEncoder(const Vocab& vocab) {
  return std::make_unique<SpmEncoder>(vocab);
}

}  // namespace wick::text
