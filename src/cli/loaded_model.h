// A model file opened for inference by the CLI commands: the mapped GGUF, its tokenizer and
// the model bound to it.
#pragma once

#include <memory>
#include <string>

#include "cli/model_resolver.h"
#include "core/error.h"
#include "io/gguf_file.h"
#include "model/llama.h"
#include "text/chat_template.h"
#include "text/tokenizer.h"

namespace wick::cli {

struct LoadedModel {
  GgufFile file;
  std::unique_ptr<Tokenizer> tokenizer;
  model::LlamaModel model;

  // `name` is a path or a hub reference (see model_resolver.h).
  static Result<std::unique_ptr<LoadedModel>> Load(const std::string& name,
                                                   const ResolveOptions& resolve = {});
};

// The longest context, from 16 up to `most`, whose KV caches for `n_seq` sequences fit in
// `budget` bytes (16 when none does).
int64_t ContextFitting(const model::HParams& hp, DType cache_type, int n_seq,
                       const model::KvCacheOptions& kv, uint64_t budget, int64_t most);
// Without --ctx-size: the training context, but no more than a quarter of the memory for the
// KV caches of `n_seq` sequences (long-context models would otherwise ask for tens of GiB).
int64_t DefaultContextSize(const model::HParams& hp, DType cache_type, int n_seq = 1,
                           const model::KvCacheOptions& kv = {});

// The template of --chat-template FILE when given, else the model's, or ChatML (with a warning
// on stderr naming `model_path`) when it has none.
Result<ChatTemplate> LoadChatTemplate(const LoadedModel& m, const std::string& model_path,
                                      const std::string& file);

}  // namespace wick::cli
