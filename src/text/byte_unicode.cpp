#include "text/byte_unicode.h"

#include <array>

#include "text/unicode.h"

namespace wick::text {
namespace {

struct ByteTables {
  std::array<std::string, 256> to_text;
  std::array<int, 324> to_byte;  // indexed by code point; the mapping stays below 324
};

const ByteTables& Tables() {
  static const ByteTables tables = [] {
    ByteTables t;
    t.to_byte.fill(-1);
    // Printable Latin-1 bytes stand for themselves; the rest (controls, space, soft hyphen)
    // take the code points from 256 upwards, in byte order.
    uint32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
      const uint32_t cp = printable ? static_cast<uint32_t>(b) : next++;
      AppendUtf8(cp, &t.to_text[b]);
      t.to_byte[cp] = b;
    }
    return t;
  }();
  return tables;
}

}  // namespace

const std::string& ByteToUnicode(uint8_t byte) {
  return Tables().to_text[byte];
}

int UnicodeToByte(uint32_t cp) {
  const auto& to_byte = Tables().to_byte;
  return cp < to_byte.size() ? to_byte[cp] : -1;
}

std::string EncodeBytes(std::string_view raw) {
  std::string out;
  out.reserve(raw.size() * 2);
  for (char c : raw) out += ByteToUnicode(static_cast<uint8_t>(c));
  return out;
}

std::string DecodeBytes(std::string_view encoded) {
  std::string out;
  out.reserve(encoded.size());
  for (size_t pos = 0; pos < encoded.size();) {
    const size_t start = pos;
    const int byte = UnicodeToByte(DecodeUtf8(encoded, &pos));
    if (byte >= 0) {
      out.push_back(static_cast<char>(byte));
    } else {
      out.append(encoded.substr(start, pos - start));
    }
  }
  return out;
}

}  // namespace wick::text
