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

void AddSamplingOptions(CLI::App& cmd, sampling::SamplingParams& params) {
  cmd.add_option("--temp", params.temperature, "Temperature (0: greedy)");
  cmd.add_option("--top-k", params.top_k, "Top-k (0: off)");
  cmd.add_option("--top-p", params.top_p, "Top-p (1: off)");
  cmd.add_option("--min-p", params.min_p, "Min-p (0: off)");
  cmd.add_option("--repeat-penalty", params.repeat_penalty, "Repetition penalty");
  cmd.add_option("--repeat-last-n", params.repeat_last_n, "Penalty window");
  cmd.add_option("--seed", params.seed, "Random seed");
}

}  // namespace wick::cli
