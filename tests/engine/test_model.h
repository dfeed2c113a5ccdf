// A shared model file loaded for engine tests: the mapped GGUF, its tokenizer and the model.
#pragma once

#include <filesystem>
#include <memory>

#include "io/gguf_file.h"
#include "model/llama.h"
#include "text/tokenizer.h"

namespace wick::engine {

struct TestModel {
  GgufFile file;
  std::unique_ptr<Tokenizer> tokenizer;
  std::unique_ptr<model::LlamaModel> model;
};

// nullptr when the file does not open or load.
inline std::unique_ptr<TestModel> LoadTestModel(const std::filesystem::path& path) {
  auto loaded = std::make_unique<TestModel>();
  Result<GgufFile> file = GgufFile::Open(path);
  if (!file.ok()) return nullptr;
  loaded->file = std::move(*file);
  Result<std::unique_ptr<Tokenizer>> tokenizer = Tokenizer::FromGguf(loaded->file);
  Result<model::LlamaModel> model = model::LlamaModel::Load(loaded->file);
  if (!tokenizer.ok() || !model.ok()) return nullptr;
  loaded->tokenizer = std::move(*tokenizer);
  loaded->model = std::make_unique<model::LlamaModel>(std::move(*model));
  return loaded;
}

}  // namespace wick::engine
