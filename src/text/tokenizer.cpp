#include "text/tokenizer.h"

#include <algorithm>

#include "text/byte_unicode.h"
#include "text/encoder.h"
#include "text/unicode.h"

namespace wick {

Tokenizer::Tokenizer(Vocab vocab) : vocab_(std::move(vocab)) {}
Tokenizer::~Tokenizer() = default;

Result<std::unique_ptr<Tokenizer>> Tokenizer::FromGguf(const GgufFile& file) {
  WICK_ASSIGN_OR_RETURN(Vocab vocab, LoadVocab(file));
  std::unique_ptr<Tokenizer> tokenizer(new Tokenizer(std::move(vocab)));
  const Vocab& v = tokenizer->vocab_;  // encoders keep a reference to the owned copy
  switch (v.model) {
    case VocabModel::kSentencePiece:
      tokenizer->encoder_ = text::MakeSpmEncoder(v);
      break;
    case VocabModel::kBytePairBpe: {
      auto encoder = text::MakeBpeEncoder(v);
      if (!encoder.ok()) return std::move(encoder).error().With(file.name());
      tokenizer->encoder_ = std::move(encoder).value();
      break;
    }
    case VocabModel::kWordPiece:
      tokenizer->encoder_ = text::MakeWordPieceEncoder(v);
      break;
  }
  for (int32_t id = 0; id < v.size(); ++id) {
    const TokenType type = v.types[id];
    if ((type == TokenType::kControl || type == TokenType::kUserDefined ||
         type == TokenType::kUnknown) &&
        !v.tokens[id].empty()) {
      tokenizer->special_by_length_.push_back(id);
    }
  }
  std::stable_sort(tokenizer->special_by_length_.begin(), tokenizer->special_by_length_.end(),
                   [&v](int32_t a, int32_t b) { return v.tokens[a].size() > v.tokens[b].size(); });
  return tokenizer;
}

std::vector<Tokenizer::Fragment> Tokenizer::SplitSpecial(std::string_view text,
                                                         bool parse_special) const {
  std::vector<Fragment> fragments;
  if (text.empty()) return fragments;
  fragments.push_back({kNoToken, text});
  // Longest tokens first, so "<|im_end|>" is never cut up by a shorter token inside it.
  for (int32_t id : special_by_length_) {
    const TokenType type = vocab_.types[id];
    if (!parse_special && type != TokenType::kUserDefined) continue;
    const std::string_view special = vocab_.tokens[id];
    std::vector<Fragment> next;
    bool changed = false;
    for (const Fragment& fragment : fragments) {
      if (fragment.token != kNoToken || fragment.text.find(special) == std::string_view::npos) {
        next.push_back(fragment);
        continue;
      }
      changed = true;
      std::string_view rest = fragment.text;
      for (size_t at; (at = rest.find(special)) != std::string_view::npos;) {
        if (at > 0) next.push_back({kNoToken, rest.substr(0, at)});
        next.push_back({id, {}});
        rest.remove_prefix(at + special.size());
      }
      if (!rest.empty()) next.push_back({kNoToken, rest});
    }
    if (changed) fragments = std::move(next);
  }
  return fragments;
}

std::vector<int32_t> Tokenizer::Encode(std::string_view text, EncodeOptions options) const {
  std::vector<int32_t> ids;
  const bool bert = vocab_.model == VocabModel::kWordPiece;
  if (options.add_special) {
    if (bert && vocab_.cls != kNoToken) ids.push_back(vocab_.cls);
    if (!bert && vocab_.add_bos) ids.push_back(vocab_.bos);
  }
  bool after_special = true;
  for (const Fragment& fragment : SplitSpecial(text, options.parse_special)) {
    if (fragment.token != kNoToken) {
      ids.push_back(fragment.token);
      after_special = true;
    } else {
      encoder_->Encode(fragment.text, after_special, &ids);
      after_special = false;
    }
  }
  if (options.add_special) {
    if (bert && vocab_.sep != kNoToken) ids.push_back(vocab_.sep);
    if (!bert && vocab_.add_eos) ids.push_back(vocab_.eos);
  }
  return ids;
}

namespace {

std::string ReplaceSpaceMarks(std::string_view text) {
  constexpr std::string_view kMark = "\xE2\x96\x81";
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    if (text.compare(i, kMark.size(), kMark) == 0) {
      out += ' ';
      i += kMark.size();
    } else {
      out += text[i++];
    }
  }
  return out;
}

// "<0xNN>" → NN, else -1.
int ParseByteToken(std::string_view text) {
  if (text.size() != 6 || text.substr(0, 3) != "<0x" || text[5] != '>') return -1;
  int value = 0;
  for (char c : text.substr(3, 2)) {
    value *= 16;
    if (c >= '0' && c <= '9') {
      value += c - '0';
    } else if (c >= 'A' && c <= 'F') {
      value += c - 'A' + 10;
    } else if (c >= 'a' && c <= 'f') {
      value += c - 'a' + 10;
    } else {
      return -1;
    }
  }
  return value;
}

// Whether every code point of `text` is one of GPT-2's byte characters.
bool IsByteEncoded(std::string_view text) {
  for (size_t pos = 0; pos < text.size();) {
    if (text::UnicodeToByte(text::DecodeUtf8(text, &pos)) < 0) return false;
  }
  return true;
}

}  // namespace

std::string Tokenizer::TokenPiece(int32_t id) const {
  if (!vocab_.Valid(id)) return {};
  const std::string& text = vocab_.tokens[id];
  const TokenType type = vocab_.types[id];
  if (type == TokenType::kControl || type == TokenType::kUnknown) return text;
  switch (vocab_.model) {
    case VocabModel::kSentencePiece: {
      if (type == TokenType::kByte) {
        const int byte = ParseByteToken(text);
        if (byte >= 0) return std::string(1, static_cast<char>(byte));
      }
      return ReplaceSpaceMarks(text);
    }
    case VocabModel::kBytePairBpe:
      // User-defined tokens may be stored byte-encoded or as plain text.
      if (type == TokenType::kUserDefined && !IsByteEncoded(text)) return text;
      return text::DecodeBytes(text);
    case VocabModel::kWordPiece:
      if (text.size() > 2 && text.compare(0, 2, "##") == 0) return text.substr(2);
      if (type == TokenType::kUserDefined) return text;
      if (text.compare(0, 3, "\xE2\x96\x81") == 0) return ReplaceSpaceMarks(text);
      return " " + text;
  }
  return text;
}

bool Tokenizer::strips_leading_space() const {
  return (vocab_.model == VocabModel::kSentencePiece && vocab_.add_space_prefix) ||
         vocab_.model == VocabModel::kWordPiece;
}

std::string Tokenizer::Decode(const std::vector<int32_t>& ids) const {
  Detokenizer detokenizer(*this);
  std::string out;
  for (int32_t id : ids) out += detokenizer.Push(id);
  out += detokenizer.Flush();
  return out;
}

}  // namespace wick
