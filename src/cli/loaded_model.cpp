#include "cli/loaded_model.h"

namespace wick::cli {

Result<std::unique_ptr<LoadedModel>> LoadedModel::Load(const std::string& path) {
  WICK_ASSIGN_OR_RETURN(GgufFile file, GgufFile::Open(path));
  WICK_ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> tokenizer, Tokenizer::FromGguf(file));
  // The model's views point into the file's map, which moving the GgufFile does not move.
  auto loaded = std::unique_ptr<LoadedModel>(
      new LoadedModel{std::move(file), std::move(tokenizer), model::LlamaModel{}});
  Result<model::LlamaModel> model = model::LlamaModel::Load(loaded->file);
  if (!model.ok()) return std::move(model).error().With(path);
  loaded->model = std::move(*model);
  if (loaded->model.hparams().n_vocab != loaded->tokenizer->size()) {
    return Error(ErrorCode::kCorrupt, path +
                                          ": the tokenizer and the model disagree on the "
                                          "vocabulary size");
  }
  return loaded;
}

}  // namespace wick::cli
