// GPT-2 style byte-level BPE: the pre-tokenizer splits text into words, each word's bytes
// become printable code points, and adjacent symbols merge in the order of the merge list.
#include <string>

#include "text/byte_unicode.h"
#include "text/encoder.h"
#include "text/pre_tokenizer.h"
#include "text/symbol_merge.h"
#include "text/unicode.h"

namespace wick::text {
namespace {

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
    // Merge-list order: the earliest merge first.
    const std::vector<std::string_view> pieces =
        MergeSymbols(word, [&](std::string_view l, std::string_view r) -> std::optional<double> {
          const int32_t rank = vocab_.MergeRank(l, r);
          if (rank < 0) return std::nullopt;
          return -static_cast<double>(rank);
        });
    for (std::string_view piece : pieces) {
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
