// The regex pre-tokenizers of byte-level BPE vocabularies, chosen by tokenizer.ggml.pre.
//
// A pre-tokenizer is a list of regexes applied in turn: each splits every piece left by the
// previous one into its matches and the text between them, so merges never cross a word.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace wick::text {

class PreTokenizer {
 public:
  // Errors name the pre-tokenizer when it is not one wick knows.
  static Result<PreTokenizer> ForName(std::string_view pre);

  // Splits valid UTF-8 into words (the caller replaces invalid sequences first).
  std::vector<std::string_view> Split(std::string_view text) const;

  // Llama 3 style: a word that is itself a token is emitted whole, without merging.
  bool ignore_merges() const { return ignore_merges_; }

 private:
  struct Regex;
  std::vector<std::shared_ptr<const Regex>> regexes_;
  bool ignore_merges_ = false;
};

}  // namespace wick::text
