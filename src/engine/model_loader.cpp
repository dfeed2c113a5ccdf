#include "engine/model_loader.h"

namespace wick::engine {

Result<ModelAndTokenizer> LoadModelAndTokenizer(const GgufFile& file) {
  ModelAndTokenizer loaded;
  WICK_ASSIGN_OR_RETURN(loaded.tokenizer, Tokenizer::FromGguf(file));
  Result<model::LlamaModel> model = model::LlamaModel::Load(file);
  if (!model.ok()) return std::move(model).error().With(file.name());
  loaded.model = std::move(*model);
  if (loaded.model.hparams().n_vocab != loaded.tokenizer->size()) {
    return Error(ErrorCode::kCorrupt,
                 file.name() + ": the tokenizer and the model disagree on the vocabulary size");
  }
  return loaded;
}

}  // namespace wick::engine
