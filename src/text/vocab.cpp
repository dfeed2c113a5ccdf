#include "text/vocab.h"

#include <algorithm>
#include <array>

namespace wick {
namespace {

constexpr std::string_view kModelKey = "tokenizer.ggml.model";

// Texts that end a turn in common chat formats. Models mark them control tokens but often
// leave them out of eos/eot metadata, so generation would run past the end of a reply.
constexpr std::array<std::string_view, 11> kEndMarkers = {
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "<|eom_id|>",
    "<EOT>",
    "<|end_of_text|>",
    "<|return|>",
    "<|call|>",
    "<｜end▁of▁sentence｜>",
};

Status ReadId(const GgufFile& file, std::string_view key, int32_t n_tokens, int32_t* id) {
  if (file.Find(key) == nullptr) return OkStatus();
  WICK_ASSIGN_OR_RETURN(int64_t value, file.Get<int64_t>(key));
  // Some converters write -1 (or 2^32 - 1) for "none".
  if (value == -1 || value == 0xFFFFFFFFll) {
    *id = kNoToken;
    return OkStatus();
  }
  if (value < 0 || value >= n_tokens) {
    return Error(ErrorCode::kCorrupt, "token id " + std::to_string(value) +
                                          " is outside the vocabulary of " +
                                          std::to_string(n_tokens) + " tokens")
        .With("key '" + std::string(key) + "'")
        .With(file.name());
  }
  *id = static_cast<int32_t>(value);
  return OkStatus();
}

Status ReadFlag(const GgufFile& file, std::string_view key, bool* flag) {
  WICK_ASSIGN_OR_RETURN(*flag, file.GetOr<bool>(key, *flag));
  return OkStatus();
}

Error KeyProblem(const GgufFile& file, std::string_view key, ErrorCode code, std::string message) {
  return Error(code, std::move(message)).With("key '" + std::string(key) + "'").With(file.name());
}

Result<VocabModel> ParseModel(const GgufFile& file, std::string_view name) {
  if (name == "llama") return VocabModel::kSentencePiece;
  if (name == "gpt2") return VocabModel::kBytePairBpe;
  if (name == "bert") return VocabModel::kWordPiece;
  return KeyProblem(
      file, kModelKey, ErrorCode::kUnsupported,
      "tokenizer model " + Quote(name) + " is not supported (supported: llama, gpt2, bert)");
}

Status ReadTokens(const GgufFile& file, Vocab* vocab) {
  WICK_ASSIGN_OR_RETURN(auto texts, file.GetStrings("tokenizer.ggml.tokens"));
  if (texts.empty() || texts.size() > 0x7FFFFFFF) {
    return KeyProblem(file, "tokenizer.ggml.tokens", ErrorCode::kCorrupt,
                      "vocabulary size " + std::to_string(texts.size()) + " is unusable");
  }
  const size_t n = texts.size();
  vocab->tokens.assign(texts.begin(), texts.end());
  vocab->token_ids.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    // The first id wins for duplicate texts, as in the reference tokenizers.
    vocab->token_ids.emplace(vocab->tokens[i], static_cast<int32_t>(i));
    vocab->max_token_bytes = std::max(vocab->max_token_bytes, vocab->tokens[i].size());
  }

  vocab->scores.assign(n, 0.0f);
  if (file.Find("tokenizer.ggml.scores") != nullptr) {
    WICK_ASSIGN_OR_RETURN(auto scores, file.GetArray<float>("tokenizer.ggml.scores"));
    if (scores.size() != n) {
      return KeyProblem(
          file, "tokenizer.ggml.scores", ErrorCode::kCorrupt,
          std::to_string(scores.size()) + " scores for " + std::to_string(n) + " tokens");
    }
    vocab->scores = std::move(scores);
  }

  vocab->types.assign(n, TokenType::kNormal);
  if (file.Find("tokenizer.ggml.token_type") != nullptr) {
    WICK_ASSIGN_OR_RETURN(auto types, file.GetArray<int32_t>("tokenizer.ggml.token_type"));
    if (types.size() != n) {
      return KeyProblem(
          file, "tokenizer.ggml.token_type", ErrorCode::kCorrupt,
          std::to_string(types.size()) + " types for " + std::to_string(n) + " tokens");
    }
    for (size_t i = 0; i < n; ++i) {
      if (types[i] < 0 || types[i] > static_cast<int32_t>(TokenType::kByte)) {
        return KeyProblem(
            file, "tokenizer.ggml.token_type", ErrorCode::kCorrupt,
            "token " + std::to_string(i) + " has unknown type " + std::to_string(types[i]));
      }
      vocab->types[i] = static_cast<TokenType>(types[i]);
    }
  }
  return OkStatus();
}

Status ReadMerges(const GgufFile& file, Vocab* vocab) {
  constexpr std::string_view kKey = "tokenizer.ggml.merges";
  if (file.Find(kKey) == nullptr) {
    if (vocab->model != VocabModel::kBytePairBpe) return OkStatus();
    return KeyProblem(file, kKey, ErrorCode::kNotFound, "missing (gpt2 tokenizers need merges)");
  }
  WICK_ASSIGN_OR_RETURN(auto merges, file.GetStrings(kKey));
  vocab->merge_ranks.reserve(merges.size());
  for (size_t i = 0; i < merges.size(); ++i) {
    // A merge line is "left right"; the left part may itself start with a space.
    if (merges[i].find(' ', 1) == std::string_view::npos) {
      return KeyProblem(file, kKey, ErrorCode::kCorrupt,
                        "merge " + std::to_string(i) + " " + Quote(merges[i]) +
                            " is not two tokens separated by a space");
    }
    vocab->merge_ranks.emplace(std::string(merges[i]), static_cast<int32_t>(i));
  }
  return OkStatus();
}

Status ReadSpecialIds(const GgufFile& file, Vocab* vocab) {
  const int32_t n = vocab->size();
  // The reference's defaults for files that predate the id keys.
  auto default_id = [&](int32_t id) { return id < n ? id : kNoToken; };
  if (vocab->model == VocabModel::kSentencePiece) {
    vocab->bos = default_id(1);
    vocab->eos = default_id(2);
    vocab->unk = default_id(0);
    vocab->add_bos = true;
  } else if (vocab->model == VocabModel::kWordPiece) {
    vocab->unk = default_id(100);
    vocab->cls = default_id(101);
    vocab->sep = default_id(102);
    vocab->pad = default_id(0);
  } else if (vocab->pre == "llama3" || vocab->pre == "llama-bpe" || vocab->pre == "llama-v3") {
    vocab->add_bos = true;
  }
  WICK_RETURN_IF_ERROR(ReadId(file, "tokenizer.ggml.bos_token_id", n, &vocab->bos));
  WICK_RETURN_IF_ERROR(ReadId(file, "tokenizer.ggml.eos_token_id", n, &vocab->eos));
  WICK_RETURN_IF_ERROR(ReadId(file, "tokenizer.ggml.eot_token_id", n, &vocab->eot));
  WICK_RETURN_IF_ERROR(ReadId(file, "tokenizer.ggml.eom_token_id", n, &vocab->eom));
  WICK_RETURN_IF_ERROR(ReadId(file, "tokenizer.ggml.unknown_token_id", n, &vocab->unk));
  // "seperator" is how the GGUF convention spells it.
  WICK_RETURN_IF_ERROR(ReadId(file, "tokenizer.ggml.seperator_token_id", n, &vocab->sep));
  WICK_RETURN_IF_ERROR(ReadId(file, "tokenizer.ggml.padding_token_id", n, &vocab->pad));
  WICK_RETURN_IF_ERROR(ReadId(file, "tokenizer.ggml.cls_token_id", n, &vocab->cls));
  WICK_RETURN_IF_ERROR(ReadId(file, "tokenizer.ggml.mask_token_id", n, &vocab->mask));
  if (vocab->model == VocabModel::kWordPiece && vocab->cls == kNoToken) vocab->cls = vocab->bos;

  WICK_RETURN_IF_ERROR(ReadFlag(file, "tokenizer.ggml.add_bos_token", &vocab->add_bos));
  WICK_RETURN_IF_ERROR(ReadFlag(file, "tokenizer.ggml.add_eos_token", &vocab->add_eos));
  WICK_RETURN_IF_ERROR(ReadFlag(file, "tokenizer.ggml.add_space_prefix", &vocab->add_space_prefix));
  // BERT vocabularies converted before the normaliser keys existed were all uncased.
  vocab->lowercase = vocab->model == VocabModel::kWordPiece;
  WICK_RETURN_IF_ERROR(ReadFlag(file, "tokenizer.ggml.normalizer.lowercase", &vocab->lowercase));
  vocab->strip_accents = vocab->lowercase;
  WICK_RETURN_IF_ERROR(
      ReadFlag(file, "tokenizer.ggml.normalizer.strip_accents", &vocab->strip_accents));
  if (vocab->add_bos && vocab->bos == kNoToken) {
    return KeyProblem(file, "tokenizer.ggml.add_bos_token", ErrorCode::kCorrupt,
                      "set, but the vocabulary has no BOS token");
  }
  if (vocab->add_eos && vocab->eos == kNoToken) {
    return KeyProblem(file, "tokenizer.ggml.add_eos_token", ErrorCode::kCorrupt,
                      "set, but the vocabulary has no EOS token");
  }
  return OkStatus();
}

void CollectEog(Vocab* vocab) {
  for (int32_t id : {vocab->eos, vocab->eot, vocab->eom}) {
    if (id != kNoToken) vocab->eog.push_back(id);
  }
  for (int32_t id = 0; id < vocab->size(); ++id) {
    if (vocab->types[id] != TokenType::kControl) continue;
    const std::string& text = vocab->tokens[id];
    if (std::find(kEndMarkers.begin(), kEndMarkers.end(), text) != kEndMarkers.end()) {
      vocab->eog.push_back(id);
    }
  }
  std::sort(vocab->eog.begin(), vocab->eog.end());
  vocab->eog.erase(std::unique(vocab->eog.begin(), vocab->eog.end()), vocab->eog.end());
}

}  // namespace

int32_t Vocab::Find(std::string_view text) const {
  auto it = token_ids.find(std::string(text));
  return it == token_ids.end() ? kNoToken : it->second;
}

int32_t Vocab::MergeRank(std::string_view left, std::string_view right) const {
  std::string key;
  key.reserve(left.size() + right.size() + 1);
  key.append(left).append(" ").append(right);
  auto it = merge_ranks.find(key);
  return it == merge_ranks.end() ? -1 : it->second;
}

bool Vocab::IsEog(int32_t id) const {
  return std::binary_search(eog.begin(), eog.end(), id);
}

Result<Vocab> LoadVocab(const GgufFile& file) {
  Vocab vocab;
  WICK_ASSIGN_OR_RETURN(std::string_view model, file.Get<std::string_view>(kModelKey));
  vocab.model_name = std::string(model);
  WICK_ASSIGN_OR_RETURN(vocab.model, ParseModel(file, model));
  WICK_ASSIGN_OR_RETURN(std::string_view pre,
                        file.GetOr<std::string_view>("tokenizer.ggml.pre", "default"));
  vocab.pre = std::string(pre);
  WICK_RETURN_IF_ERROR(ReadTokens(file, &vocab));
  WICK_RETURN_IF_ERROR(ReadMerges(file, &vocab));
  WICK_RETURN_IF_ERROR(ReadSpecialIds(file, &vocab));
  CollectEog(&vocab);
  return vocab;
}

}  // namespace wick
