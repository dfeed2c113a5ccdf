// The models of `wick serve`: one loaded for serving (-m, and each model of --models on its
// first request), and the list --models names: a directory of GGUF files, or a TOML file of
// [[model]] tables.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/device_setup.h"
#include "cli/loaded_model.h"
#include "core/error.h"
#include "engine/batch_engine.h"
#include "model/backend.h"
#include "server/model_pool.h"

namespace wick::cli {

struct ServeModelSpec {
  std::string id;             // the name clients use
  std::string path;           // local (hub names are resolved when the list is read)
  int64_t ctx_size = 0;       // per slot; 0: the model's, capped to fit (ContextFor)
  int parallel = 4;           // slots
  std::string chat_template;  // a Jinja file; empty: the model's
};

// What every served model shares.
struct ServeEngineOptions {
  int64_t batch_size = 512;
  int queue_size = 64;
  int threads = 0;  // 0: physical cores
  DType cache_type = DType::kF16;
  bool swa_full = false;       // --swa-full
  uint64_t memory_budget = 0;  // --max-memory; 0: none (the default context is not capped by it)
  DeviceOptions device;
};

// A model ready to serve; destroying it stops its engine and unmaps its file.
class ServeModel : public server::PooledModel {
 public:
  static Result<std::unique_ptr<ServeModel>> Load(const ServeModelSpec& spec,
                                                  const ServeEngineOptions& options,
                                                  int64_t created);
  ~ServeModel() override;

  const server::ServedModel& served() const override { return served_; }
  uint64_t memory_bytes() const override;
  engine::BatchEngine* engine() const { return engine_.get(); }
  // "4 slots x 512 positions, KV cache f16 1.0 MiB, 8 threads"
  std::string Summary() const;

 private:
  ServeModel() = default;

  // Declared in the order they are built; destroyed in reverse: the engine (and its thread)
  // goes first, the mapped file last.
  std::unique_ptr<LoadedModel> model_;
  std::optional<ChatTemplate> chat_template_;
  DeviceSetup devices_;
  std::unique_ptr<engine::BatchEngine> engine_;
  server::ServedModel served_;
  server::EngineShape shape_;
};

// The positions per slot: the spec's, else the model's training context capped so every slot's
// KV cache fits in a quarter of the memory (of the budget, when there is one).
int64_t ContextFor(const ServeModelSpec& spec, const model::HParams& hp,
                   const ServeEngineOptions& options);

// The memory the model will hold once loaded, from its header alone.
Result<uint64_t> EstimateServeModel(const ServeModelSpec& spec, const ServeEngineOptions& options);

// --models DIR: every *.gguf in it (a split model once, by its first part; mmproj* skipped), its
// id the file name without ".gguf" and the split suffix. --models FILE.toml: its [[model]]
// tables (id, model, ctx_size, parallel, chat_template). `defaults` fills what a table leaves
// out; hub names and paths go through ResolveModel.
Result<std::vector<ServeModelSpec>> ListServeModels(const std::string& dir_or_config,
                                                    const ServeModelSpec& defaults);

}  // namespace wick::cli
