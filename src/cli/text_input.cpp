#include <fstream>
#include <iostream>
#include <iterator>

#include "cli/commands.h"

namespace wick::cli {

Result<std::string> ReadTextInput(const std::string& text, const std::string& file) {
  if (file.empty()) return text;
  if (file == "-") {
    return std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) return Error(ErrorCode::kNotFound, file + ": cannot open");
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace wick::cli
