#include "core/error.h"

#include <fmt/format.h>

namespace wick {

std::string Quote(std::string_view text, size_t max_len) {
  std::string out = "'";
  size_t shown = 0;
  for (unsigned char c : text) {
    if (shown == max_len) {
      out += fmt::format("...' ({} bytes)", text.size());
      return out;
    }
    if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("\\x{:02x}", c);
    }
    ++shown;
  }
  out += "'";
  return out;
}

}  // namespace wick
