// SentencePiece BPE as llama.cpp runs it on GGUF vocabularies: start from characters and
// keep merging the adjacent pair whose merged text is the highest-scoring token; characters
// that end up in no token fall back to byte tokens.
#include <string>

#include "text/encoder.h"
#include "text/symbol_merge.h"
#include "text/unicode.h"

namespace wick::text {
namespace {

constexpr std::string_view kSpaceMark = "\xE2\x96\x81";  // U+2581, SentencePiece's space

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

    // The pair whose merged text is the highest-scoring token first.
    const std::vector<std::string_view> pieces =
        MergeSymbols(text, [&](std::string_view l, std::string_view r) -> std::optional<double> {
          const int32_t id = vocab_.Find(std::string_view(l.data(), l.size() + r.size()));
          if (id == kNoToken) return std::nullopt;
          return vocab_.scores[static_cast<size_t>(id)];
        });
    // Merged symbols are tokens by construction; only unmerged characters can be missing.
    for (std::string_view piece : pieces) {
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
