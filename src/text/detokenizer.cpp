#include "text/tokenizer.h"
#include "text/unicode.h"

namespace wick {

Detokenizer::Detokenizer(const Tokenizer& tokenizer, Options options)
    : tokenizer_(tokenizer), options_(options) {}

std::string Detokenizer::Push(int32_t id) {
  const TokenType type = tokenizer_.vocab().Type(id);
  if (type == TokenType::kControl && !options_.render_control) return {};
  std::string piece = tokenizer_.TokenPiece(id);
  // Encoding put a space in front of the text; the first piece gives it back.
  if (at_start_ && !piece.empty()) {
    if (tokenizer_.strips_leading_space() && piece[0] == ' ') piece.erase(0, 1);
    at_start_ = false;
  }
  pending_ += piece;

  // Hold back a trailing lead byte whose character is not complete yet. Anything else,
  // invalid bytes included, goes out now so that bad input can never stall the stream.
  size_t keep_from = pending_.size();
  for (size_t back = 1; back <= 3 && back <= pending_.size(); ++back) {
    const auto byte = static_cast<uint8_t>(pending_[pending_.size() - back]);
    if ((byte & 0xC0) == 0x80) continue;  // a continuation byte: look further back
    const size_t need = text::Utf8SequenceLength(byte);
    if (byte >= 0xC0 && need > back) keep_from = pending_.size() - back;
    break;
  }
  std::string out = pending_.substr(0, keep_from);
  pending_.erase(0, keep_from);
  return out;
}

std::string Detokenizer::Flush() {
  std::string out = std::move(pending_);
  pending_.clear();
  at_start_ = true;
  return out;
}

}  // namespace wick
