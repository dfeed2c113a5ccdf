// BERT's WordPiece: a basic tokenizer (clean, optionally lower-case and strip accents, split
// on whitespace, punctuation and CJK ideographs) and then greedy longest-match-first pieces.
//
// Vocabularies come in two spellings: Hugging Face's, where a piece inside a word carries a
// "##" prefix, and llama.cpp's converted one, where a word start carries "▁" instead.
#include <string>

#include "text/encoder.h"
#include "text/unicode.h"

namespace wick::text {
namespace {

constexpr std::string_view kSpaceMark = "\xE2\x96\x81";
// Hugging Face gives up on longer words ([UNK]) rather than search them.
constexpr size_t kMaxWordChars = 100;

class WordPieceEncoder : public Encoder {
 public:
  explicit WordPieceEncoder(const Vocab& vocab) : vocab_(vocab) {
    for (const std::string& token : vocab.tokens) {
      if (token.size() > 2 && token.compare(0, 2, "##") == 0) {
        hash_continuations_ = true;
        break;
      }
    }
  }

  void Encode(std::string_view text, bool /*after_special*/,
              std::vector<int32_t>* out) const override {
    for (const std::string& word : SplitWords(text)) {
      const size_t before = out->size();
      const bool ok = hash_continuations_ ? MatchHashStyle(word, out) : MatchMarkStyle(word, out);
      if (!ok) {
        out->resize(before);
        if (vocab_.unk != kNoToken) out->push_back(vocab_.unk);
      }
    }
  }

 private:
  std::vector<std::string> SplitWords(std::string_view text) const {
    std::vector<uint32_t> cps = DecodeAll(text);
    if (vocab_.strip_accents) cps = Decompose(cps);
    std::vector<std::string> words(1);
    auto finish_word = [&] {
      if (!words.back().empty()) words.emplace_back();
    };
    for (uint32_t cp : cps) {
      if (IsWhitespace(cp)) {
        finish_word();
        continue;
      }
      if (cp == 0 || cp == kReplacementChar || IsControl(cp)) continue;
      if (vocab_.strip_accents && IsMark(cp)) continue;
      const uint32_t c = vocab_.lowercase ? ToLower(cp) : cp;
      // BERT treats all non-alphanumeric ASCII as punctuation, symbols included.
      if (IsPunctuation(cp) || (cp < 0x7F && IsSymbol(cp)) || IsCjkIdeograph(cp)) {
        finish_word();
        AppendUtf8(c, &words.back());
        words.emplace_back();
      } else {
        AppendUtf8(c, &words.back());
      }
    }
    if (words.back().empty()) words.pop_back();
    return words;
  }

  // "##" spelling: the first piece as is, later ones with the prefix.
  bool MatchHashStyle(const std::string& word, std::vector<int32_t>* out) const {
    if (DecodeAll(word).size() > kMaxWordChars) return false;
    std::string candidate;
    for (size_t start = 0; start < word.size();) {
      int32_t found = kNoToken;
      size_t end = std::min(word.size(), start + vocab_.max_token_bytes);
      for (; end > start; --end) {
        candidate = start == 0 ? "" : "##";
        candidate.append(word, start, end - start);
        found = vocab_.Find(candidate);
        if (found != kNoToken) break;
      }
      if (found == kNoToken) return false;
      out->push_back(found);
      start = end;
    }
    return true;
  }

  // "▁" spelling: the word with the mark in front, matched piece by piece without prefixes.
  bool MatchMarkStyle(const std::string& word, std::vector<int32_t>* out) const {
    const std::string marked = std::string(kSpaceMark) + word;
    for (size_t start = 0; start < marked.size();) {
      int32_t found = kNoToken;
      size_t end = std::min(marked.size(), start + vocab_.max_token_bytes);
      for (; end > start; --end) {
        found = vocab_.Find(std::string_view(marked).substr(start, end - start));
        if (found != kNoToken) break;
      }
      if (found == kNoToken) return false;
      out->push_back(found);
      start = end;
    }
    return true;
  }

  const Vocab& vocab_;
  bool hash_continuations_ = false;
};

}  // namespace

std::unique_ptr<Encoder> MakeWordPieceEncoder(const Vocab& vocab) {
  return std::make_unique<WordPieceEncoder>(vocab);
}

}  // namespace wick::text
