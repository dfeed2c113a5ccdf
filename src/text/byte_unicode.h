// GPT-2's reversible mapping of bytes to printable code points: byte-level BPE vocabularies
// store every token as text in which each byte is one such code point ("Ġ" for a space).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace wick::text {

// The UTF-8 text of the code point that stands for `byte`.
const std::string& ByteToUnicode(uint8_t byte);
// The byte a code point stands for, or -1 when it stands for none.
int UnicodeToByte(uint32_t cp);
// Every byte of `raw` mapped to its code point.
std::string EncodeBytes(std::string_view raw);
// The inverse of EncodeBytes; code points that stand for no byte are copied unchanged.
std::string DecodeBytes(std::string_view encoded);

}  // namespace wick::text
