// The per-algorithm half of a tokenizer: turns one run of plain text (no special tokens in
// it any more) into ids. Tokenizer splits out special tokens and adds BOS/EOS around these.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "text/vocab.h"

namespace wick::text {

class Encoder {
 public:
  virtual ~Encoder() = default;
  // Appends the ids of `text`. `after_special` is true at the start of the input and right
  // after a special token (SentencePiece adds its space prefix there).
  virtual void Encode(std::string_view text, bool after_special,
                      std::vector<int32_t>* out) const = 0;
};

// Each keeps a reference to `vocab`, which must outlive it.
std::unique_ptr<Encoder> MakeSpmEncoder(const Vocab& vocab);
Result<std::unique_ptr<Encoder>> MakeBpeEncoder(const Vocab& vocab);
std::unique_ptr<Encoder> MakeWordPieceEncoder(const Vocab& vocab);

// The id of the byte token "<0xNN>", else of the one-byte text, else unk (may be kNoToken).
int32_t ByteToken(const Vocab& vocab, uint8_t byte);

}  // namespace wick::text
