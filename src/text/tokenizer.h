// wick::Tokenizer: text to token ids and back, built from a GGUF file's tokenizer metadata.
//
// Supports SentencePiece ("llama"), GPT-2 byte-level BPE ("gpt2", with the pre-tokenizer
// named by tokenizer.ggml.pre) and WordPiece ("bert"), matching llama.cpp's ids.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "io/gguf_file.h"
#include "text/vocab.h"

namespace wick {

namespace text {
class Encoder;
}

struct EncodeOptions {
  // Add the BOS/EOS (BERT: CLS/SEP) tokens the vocabulary asks for.
  bool add_special = true;
  // Text spelling a control token ("<s>", "<|im_end|>") becomes that token; otherwise it is
  // tokenized as plain text. User-defined tokens are always matched, as in the reference.
  bool parse_special = false;
};

class Tokenizer {
 public:
  // Errors name the key at fault; an unknown model or pre-tokenizer lists what is supported.
  static Result<std::unique_ptr<Tokenizer>> FromGguf(const GgufFile& file);
  ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // Never fails: invalid UTF-8 is tokenized as replacement characters or byte tokens.
  std::vector<int32_t> Encode(std::string_view text, EncodeOptions options = {}) const;

  // The bytes token `id` stands for: "▁" as a space, "<0x0A>" as byte 0x0A, GPT-2 byte
  // characters as their bytes. Control and user-defined tokens give their text; ids out of
  // range give "". A piece may be part of a UTF-8 character; see Detokenizer.
  std::string TokenPiece(int32_t id) const;
  // The text of a whole sequence (control tokens left out, the SentencePiece prefix removed).
  std::string Decode(const std::vector<int32_t>& ids) const;

  const Vocab& vocab() const { return vocab_; }
  int32_t size() const { return vocab_.size(); }
  bool IsEog(int32_t id) const { return vocab_.IsEog(id); }
  // Whether decoding removes the space that encoding put in front of the text.
  bool strips_leading_space() const;

 private:
  struct Fragment {
    int32_t token;          // kNoToken for text
    std::string_view text;  // only for text
  };

  explicit Tokenizer(Vocab vocab);
  std::vector<Fragment> SplitSpecial(std::string_view text, bool parse_special) const;

  Vocab vocab_;
  std::unique_ptr<text::Encoder> encoder_;
  // Control, user-defined and unknown tokens, longest text first.
  std::vector<int32_t> special_by_length_;
};

// Turns a stream of ids into text without ever returning part of a UTF-8 character: bytes of
// an incomplete character wait until the tokens that finish it arrive.
class Detokenizer {
 public:
  struct Options {
    bool render_control = false;  // include the text of control tokens ("</s>")
  };
  explicit Detokenizer(const Tokenizer& tokenizer) : Detokenizer(tokenizer, Options{}) {}
  Detokenizer(const Tokenizer& tokenizer, Options options);

  // The text that became complete with `id` (possibly empty).
  std::string Push(int32_t id);
  // Whatever is still held (an incomplete character's bytes, as they are), then resets.
  std::string Flush();

 private:
  const Tokenizer& tokenizer_;
  Options options_;
  std::string pending_;
  bool at_start_ = true;
};

}  // namespace wick
