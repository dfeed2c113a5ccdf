// UTF-8 decoding and the Unicode facts the tokenizers need (categories, case, NFD), on top
// of utf8proc. Tokenizer input is untrusted, so decoding never fails: bad bytes become
// U+FFFD, as the reference tokenizers do.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace wick::text {

inline constexpr uint32_t kReplacementChar = 0xFFFD;

// Bytes in the sequence that `lead` starts (1 for bytes that cannot start one).
size_t Utf8SequenceLength(uint8_t lead);
// Decodes one code point at `*pos` and advances; invalid input yields U+FFFD and skips a byte.
uint32_t DecodeUtf8(std::string_view text, size_t* pos);
// Decodes one code point at `*pos` and advances; false, leaving `*pos`, when the bytes there
// are not valid UTF-8 (overlong forms, surrogates and values past U+10FFFF included).
bool DecodeUtf8Strict(std::string_view text, size_t* pos, uint32_t* cp);
void AppendUtf8(uint32_t cp, std::string* out);
std::vector<uint32_t> DecodeAll(std::string_view text);
// `text` with every invalid sequence replaced by U+FFFD (so regex engines may skip checks).
std::string SanitizeUtf8(std::string_view text);

bool IsWhitespace(uint32_t cp);
bool IsControl(uint32_t cp);      // Cc/Cf, whitespace excluded
bool IsPunctuation(uint32_t cp);  // P*
bool IsSymbol(uint32_t cp);       // S*
bool IsMark(uint32_t cp);         // M*
bool IsCjkIdeograph(uint32_t cp);
uint32_t ToLower(uint32_t cp);
// Canonical decomposition (NFD) of a sequence of code points.
std::vector<uint32_t> Decompose(const std::vector<uint32_t>& cps);

}  // namespace wick::text
