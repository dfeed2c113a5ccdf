// What `wick inspect` reports about a model file, gathered once from either format and
// then printed as text or JSON.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "io/gguf_file.h"
#include "io/safetensors_file.h"

namespace wick::cli {

struct TensorRow {
  std::string name;
  std::string type;
  std::vector<int64_t> shape;
  uint64_t offset = 0;  // GGUF: from the data section; safetensors: from the file start
  uint64_t bytes = 0;
  uint64_t n_elements = 0;
  std::string file;  // shard, for sharded safetensors models
};

struct ModelSummary {
  std::string path;
  std::string format;  // "gguf" or "safetensors"
  std::optional<uint32_t> version;
  std::string format_detail;  // "alignment 32, data at offset 1234"
  std::string architecture;
  std::string name;
  std::vector<std::pair<std::string, std::string>> hyperparameters;
  std::vector<std::pair<std::string, std::string>> other_metadata;
  std::string tokenizer_model;
  std::optional<uint64_t> vocab_size;
  bool has_chat_template = false;
  std::vector<TensorRow> tensors;
  uint64_t n_params = 0;
  uint64_t file_size = 0;
  nlohmann::json metadata = nlohmann::json::object();
  nlohmann::json extra = nlohmann::json::object();  // format-specific fields for --json
};

ModelSummary SummarizeGguf(const GgufFile& file, bool full);
ModelSummary SummarizeSafetensors(const SafetensorsModel& model, const std::string& path,
                                  bool full);

nlohmann::json SummaryToJson(const ModelSummary& summary);
std::string SummaryToText(const ModelSummary& summary);

}  // namespace wick::cli
