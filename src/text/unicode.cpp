#include "text/unicode.h"

#include <utf8proc.h>

namespace wick::text {

size_t Utf8SequenceLength(uint8_t lead) {
  if (lead < 0x80) return 1;
  if ((lead & 0xE0) == 0xC0) return 2;
  if ((lead & 0xF0) == 0xE0) return 3;
  if ((lead & 0xF8) == 0xF0) return 4;
  return 1;
}

uint32_t DecodeUtf8(std::string_view text, size_t* pos) {
  utf8proc_int32_t cp = -1;
  const auto* bytes = reinterpret_cast<const utf8proc_uint8_t*>(text.data() + *pos);
  const utf8proc_ssize_t n =
      utf8proc_iterate(bytes, static_cast<utf8proc_ssize_t>(text.size() - *pos), &cp);
  if (n <= 0 || cp < 0) {
    *pos += 1;
    return kReplacementChar;
  }
  *pos += static_cast<size_t>(n);
  return static_cast<uint32_t>(cp);
}

bool DecodeUtf8Strict(std::string_view text, size_t* pos, uint32_t* cp) {
  if (*pos >= text.size()) return false;
  utf8proc_int32_t value = -1;
  const auto* bytes = reinterpret_cast<const utf8proc_uint8_t*>(text.data() + *pos);
  const utf8proc_ssize_t n =
      utf8proc_iterate(bytes, static_cast<utf8proc_ssize_t>(text.size() - *pos), &value);
  if (n <= 0 || value < 0) return false;
  *pos += static_cast<size_t>(n);
  *cp = static_cast<uint32_t>(value);
  return true;
}

void AppendUtf8(uint32_t cp, std::string* out) {
  utf8proc_uint8_t buf[4];
  const utf8proc_ssize_t n = utf8proc_encode_char(static_cast<utf8proc_int32_t>(cp), buf);
  out->append(reinterpret_cast<const char*>(buf), static_cast<size_t>(n));
}

std::vector<uint32_t> DecodeAll(std::string_view text) {
  std::vector<uint32_t> cps;
  cps.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) cps.push_back(DecodeUtf8(text, &pos));
  return cps;
}

std::string SanitizeUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    const size_t start = pos;
    const uint32_t cp = DecodeUtf8(text, &pos);
    if (cp == kReplacementChar && pos - start == 1) {
      AppendUtf8(cp, &out);
    } else {
      out.append(text.substr(start, pos - start));
    }
  }
  return out;
}

namespace {
utf8proc_category_t Category(uint32_t cp) {
  return utf8proc_category(static_cast<utf8proc_int32_t>(cp));
}
}  // namespace

bool IsWhitespace(uint32_t cp) {
  // The White_Space property: ASCII and Latin-1 controls that act as spaces, plus Z*.
  if ((cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85) return true;
  const auto cat = Category(cp);
  return cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_ZL || cat == UTF8PROC_CATEGORY_ZP;
}

bool IsControl(uint32_t cp) {
  if (IsWhitespace(cp)) return false;
  const auto cat = Category(cp);
  return cat == UTF8PROC_CATEGORY_CC || cat == UTF8PROC_CATEGORY_CF;
}

bool IsPunctuation(uint32_t cp) {
  const auto cat = Category(cp);
  return cat >= UTF8PROC_CATEGORY_PC && cat <= UTF8PROC_CATEGORY_PO;
}

bool IsSymbol(uint32_t cp) {
  const auto cat = Category(cp);
  return cat >= UTF8PROC_CATEGORY_SM && cat <= UTF8PROC_CATEGORY_SO;
}

bool IsMark(uint32_t cp) {
  const auto cat = Category(cp);
  return cat >= UTF8PROC_CATEGORY_MN && cat <= UTF8PROC_CATEGORY_ME;
}

bool IsCjkIdeograph(uint32_t cp) {
  // The blocks BERT's basic tokenizer splits per character (its _is_chinese_char).
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
         (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
         (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

uint32_t ToLower(uint32_t cp) {
  return static_cast<uint32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp)));
}

std::vector<uint32_t> Decompose(const std::vector<uint32_t>& cps) {
  std::vector<uint32_t> out;
  out.reserve(cps.size());
  utf8proc_int32_t buf[32];
  for (uint32_t cp : cps) {
    int last_boundclass = 0;
    const utf8proc_ssize_t n = utf8proc_decompose_char(static_cast<utf8proc_int32_t>(cp), buf, 32,
                                                       UTF8PROC_DECOMPOSE, &last_boundclass);
    if (n <= 0 || n > 32) {
      out.push_back(cp);
      continue;
    }
    for (utf8proc_ssize_t i = 0; i < n; ++i) out.push_back(static_cast<uint32_t>(buf[i]));
  }
  return out;
}

}  // namespace wick::text
