// The vocabulary of a tokenizer as a GGUF file describes it: token texts, scores, types,
// merges and the special-token ids, validated once so that the tokenizers can index freely.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/error.h"
#include "io/gguf_file.h"

namespace wick {

inline constexpr int32_t kNoToken = -1;

// tokenizer.ggml.token_type values (the sentencepiece enum that GGUF adopted).
enum class TokenType : uint8_t {
  kUndefined = 0,
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6,
};

// Which algorithm turns text into ids (tokenizer.ggml.model).
enum class VocabModel {
  kSentencePiece,  // "llama"
  kBytePairBpe,    // "gpt2"
  kWordPiece,      // "bert"
};

struct Vocab {
  VocabModel model = VocabModel::kSentencePiece;
  std::string model_name;  // tokenizer.ggml.model as written
  std::string pre;         // tokenizer.ggml.pre, "default" when absent

  std::vector<std::string> tokens;
  std::vector<float> scores;  // empty entries read as 0
  std::vector<TokenType> types;
  // Merge rank by "left right" (the merge line itself): lower merges first.
  std::unordered_map<std::string, int32_t> merge_ranks;
  std::unordered_map<std::string, int32_t> token_ids;
  size_t max_token_bytes = 0;

  int32_t bos = kNoToken;
  int32_t eos = kNoToken;
  int32_t eot = kNoToken;
  int32_t eom = kNoToken;
  int32_t unk = kNoToken;
  int32_t sep = kNoToken;
  int32_t pad = kNoToken;
  int32_t cls = kNoToken;
  int32_t mask = kNoToken;
  bool add_bos = false;
  bool add_eos = false;
  bool add_space_prefix = true;
  bool lowercase = false;      // WordPiece normaliser
  bool strip_accents = false;  // WordPiece normaliser
  // End-of-generation ids, sorted: eos, eot, eom and well-known end markers.
  std::vector<int32_t> eog;

  int32_t size() const { return static_cast<int32_t>(tokens.size()); }
  bool Valid(int32_t id) const { return id >= 0 && id < size(); }
  // The id of a token text, or kNoToken.
  int32_t Find(std::string_view text) const;
  // The rank of merging `left` and `right`, or -1 when the vocabulary has no such merge.
  int32_t MergeRank(std::string_view left, std::string_view right) const;
  bool IsEog(int32_t id) const;
  TokenType Type(int32_t id) const { return Valid(id) ? types[id] : TokenType::kUndefined; }
};

// Reads and checks the tokenizer.ggml.* keys; errors name the key at fault.
Result<Vocab> LoadVocab(const GgufFile& file);

}  // namespace wick
