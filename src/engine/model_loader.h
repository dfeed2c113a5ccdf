// A GGUF file's tokenizer and model, checked against each other: what every front end (the
// command line, the browser build) needs before it can generate.
#pragma once

#include <memory>

#include "core/error.h"
#include "io/gguf_file.h"
#include "model/llama.h"
#include "text/tokenizer.h"

namespace wick::engine {

struct ModelAndTokenizer {
  std::unique_ptr<Tokenizer> tokenizer;
  model::LlamaModel model;
};

// The model's weights view `file`'s bytes, which must outlive it (moving a GgufFile keeps
// them where they are). Errors name the file: an unknown architecture, a missing or misshapen
// tensor, a tokenizer whose vocabulary is not the model's.
Result<ModelAndTokenizer> LoadModelAndTokenizer(const GgufFile& file);

}  // namespace wick::engine
