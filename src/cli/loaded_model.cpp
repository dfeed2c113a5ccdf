#include "cli/loaded_model.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "cli/commands.h"
#include "cli/model_resolver.h"
#include "engine/model_loader.h"

namespace wick::cli {

Result<std::unique_ptr<LoadedModel>> LoadedModel::Load(const std::string& name,
                                                       const ResolveOptions& resolve) {
  // A hub reference becomes the cached file's path (pulled first if need be).
  WICK_ASSIGN_OR_RETURN(const std::string path, ResolveModel(name, resolve));
  WICK_ASSIGN_OR_RETURN(GgufFile file, GgufFile::Open(path));
  auto loaded =
      std::unique_ptr<LoadedModel>(new LoadedModel{std::move(file), nullptr, model::LlamaModel{}});
  WICK_ASSIGN_OR_RETURN(engine::ModelAndTokenizer bound,
                        engine::LoadModelAndTokenizer(loaded->file));
  loaded->tokenizer = std::move(bound.tokenizer);
  loaded->model = std::move(bound.model);
  return loaded;
}

int64_t DefaultContextSize(const model::HParams& hp, DType cache_type, int n_seq,
                           const model::KvCacheOptions& kv) {
  const double head_bytes = static_cast<double>(
      BytesFor(cache_type, static_cast<uint64_t>(hp.head_dim)).value_or(hp.head_dim * 4));
  const double row = 2.0 * hp.n_head_kv * head_bytes;  // K and V of a layer and position
  // Layers that keep every position grow with the context; sliding-window layers keep a
  // window's, whatever the context.
  double per_token = 0, windows = 0;
  for (int64_t l = 0; l < hp.n_layer; ++l) {
    const int64_t rows = model::KvCache::LayerRows(hp, l, hp.n_ctx_train, kv);
    if (rows < hp.n_ctx_train) {
      windows += row * static_cast<double>(rows);
    } else {
      per_token += row;
    }
  }
  const double memory =
      static_cast<double>(sysconf(_SC_PHYS_PAGES)) * static_cast<double>(sysconf(_SC_PAGE_SIZE));
  const double budget = memory / 4 / std::max(n_seq, 1) - windows;
  if (per_token == 0) return std::max<int64_t>(16, hp.n_ctx_train);
  const auto fit = static_cast<int64_t>(std::max(budget, 0.0) / per_token);
  return std::max<int64_t>(16, std::min(hp.n_ctx_train, fit));
}

Result<ChatTemplate> LoadChatTemplate(const LoadedModel& m, const std::string& model_path,
                                      const std::string& file) {
  if (!file.empty()) {
    WICK_ASSIGN_OR_RETURN(std::string source, ReadTextInput("", file));
    return ChatTemplate::FromSource(source, *m.tokenizer);
  }
  WICK_ASSIGN_OR_RETURN(ChatTemplate chat_template, ChatTemplate::FromGguf(m.file, *m.tokenizer));
  if (chat_template.is_fallback()) {
    std::fprintf(stderr, "wick: warning: %s has no chat template; using ChatML\n",
                 model_path.c_str());
  }
  return chat_template;
}

}  // namespace wick::cli
