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

int64_t ContextFitting(const model::HParams& hp, DType cache_type, int n_seq,
                       const model::KvCacheOptions& kv, uint64_t budget, int64_t most) {
  auto bytes = [&](int64_t ctx) {
    // A type no cache takes (KvCache::Create refuses it later) is sized as f32.
    Result<uint64_t> one = model::KvCache::TotalBytes(hp, ctx, cache_type, kv);
    if (!one.ok()) one = model::KvCache::TotalBytes(hp, ctx, DType::kF32, kv);
    return *one * static_cast<uint64_t>(std::max(n_seq, 1));
  };
  // The caches grow with the context (sliding-window layers only up to their window).
  int64_t lo = 16, hi = std::max<int64_t>(most, 16);
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo + 1) / 2;
    if (bytes(mid) <= budget) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  return lo;
}

int64_t DefaultContextSize(const model::HParams& hp, DType cache_type, int n_seq,
                           const model::KvCacheOptions& kv) {
  const double memory =
      static_cast<double>(sysconf(_SC_PHYS_PAGES)) * static_cast<double>(sysconf(_SC_PAGE_SIZE));
  return ContextFitting(hp, cache_type, n_seq, kv, static_cast<uint64_t>(memory / 4),
                        hp.n_ctx_train);
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
