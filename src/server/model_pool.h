// Several models behind one server under a memory budget (wick serve --models DIR --max-memory
// 10GB). A model is loaded on its first request; when loading it would exceed the budget, the
// least recently used idle models are unloaded first. A model serving a request (one holding a
// ModelLease) is never unloaded: a request that needs its memory waits for the lease to end, up
// to `wait_for_memory`, then gets a 503; meanwhile new requests for the loaded models wait
// behind it, so that busy models drain and a swap is not starved. Concurrent requests for a
// model being loaded wait for that one load; a failed load is reported to each of them and
// tried again on the next request.
//
// Decisions are made from an estimate of each model's memory known before loading (mapped
// weights, every slot's KV cache, the forward pass's buffers: EstimateModelMemory), so nothing
// is loaded that would then have to be unloaded; once loaded, a model counts with its measured
// size. The pool knows nothing of files or engines: the CLI injects the loader.
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "model/hparams.h"
#include "model/kv_cache.h"
#include "server/http_server.h"
#include "server/metrics.h"

namespace wick::server {

// A loaded model as the pool owns it; destroying it unloads the model (and joins its engine).
class PooledModel {
 public:
  virtual ~PooledModel() = default;
  virtual const ServedModel& served() const = 0;
  virtual uint64_t memory_bytes() const = 0;  // what it holds now
};

struct PoolEntry {
  std::string id;                // what clients name in "model"
  std::string source;            // the path (or hub name) it loads from, for messages
  uint64_t estimated_bytes = 0;  // before loading: decides evictions
};

using ModelLoader = std::function<Result<std::unique_ptr<PooledModel>>(const PoolEntry&)>;

// One load, for the log line and the metrics.
struct LoadEvent {
  std::string id;
  uint64_t bytes = 0;
  double load_seconds = 0;
  std::vector<std::string> unloaded;  // idle models unloaded to make room
  double unload_seconds = 0;
};

struct ModelPoolOptions {
  uint64_t budget_bytes = 0;
  std::chrono::milliseconds wait_for_memory{120000};
  std::function<void(const LoadEvent&)> on_load = nullptr;  // called outside the pool's lock
};

enum class ModelState { kUnloaded, kLoading, kLoaded };
const char* ModelStateName(ModelState state);

struct ModelStatus {
  std::string id;
  ModelState state = ModelState::kUnloaded;
  uint64_t bytes = 0;  // measured when loaded, else the estimate
  uint64_t estimated_bytes = 0;
  std::optional<int64_t> last_used;  // unix seconds; none before the first request
  int leases = 0;                    // requests using it now
};

class ModelPool;

// The right to use one loaded model; it stays loaded until every lease on it is gone.
class ModelLease {
 public:
  ModelLease(ModelLease&& other) noexcept;
  ModelLease& operator=(ModelLease&& other) = delete;
  ModelLease(const ModelLease&) = delete;
  ModelLease& operator=(const ModelLease&) = delete;
  ~ModelLease();

  const ServedModel& model() const { return *model_; }

 private:
  friend class ModelPool;
  ModelLease(ModelPool* pool, size_t index, const ServedModel* model)
      : pool_(pool), index_(index), model_(model) {}

  ModelPool* pool_;
  size_t index_;
  const ServedModel* model_;
};

class ModelPool {
 public:
  ModelPool(std::vector<PoolEntry> entries, ModelLoader loader, ModelPoolOptions options);
  // Unloads every model; no lease may outlive the pool.
  ~ModelPool();
  ModelPool(const ModelPool&) = delete;
  ModelPool& operator=(const ModelPool&) = delete;

  // The model `id`, loaded if need be. Errors: kNotFound (no such id), kOutOfRange (larger
  // than the whole budget; the message names both sizes), kUnavailable (the budget stayed held
  // by models serving requests, or the pool is shutting down), or the loader's error.
  Result<ModelLease> Acquire(const std::string& id);

  std::vector<std::string> ids() const;
  std::vector<ModelStatus> Models() const;
  // The engines' gauges summed over the loaded models; false when none is loaded.
  bool EngineTotals(engine::EngineStats& out) const;
  // wick_model_* lines for /metrics.
  void RenderMetrics(std::string& out) const;
  uint64_t budget_bytes() const { return options_.budget_bytes; }

  // Cancels every running sequence and fails waiting and later Acquires (server shutdown).
  void Shutdown();

 private:
  friend class ModelLease;
  struct Slot {
    PoolEntry entry;
    ModelState state = ModelState::kUnloaded;
    std::unique_ptr<PooledModel> model;
    uint64_t bytes = 0;  // counted in used_: measured when loaded, reserved while loading
    int leases = 0;
    std::chrono::steady_clock::time_point last_used{};
    int64_t last_used_unix = 0;  // 0: never
    uint64_t attempts = 0;       // loads started
    uint64_t failed_attempt = 0;
    std::optional<Error> failure;  // of attempt `failed_attempt`
  };

  void Release(size_t index);
  // Picks idle loaded models, least recently used first, whose memory makes room for `need`
  // bytes; empty with false when even all of them would not.
  bool PickVictims(uint64_t need, std::vector<size_t>& victims) const;
  Result<ModelLease> Load(std::unique_lock<std::mutex>& lock, size_t index,
                          std::vector<size_t> victims);

  std::vector<Slot> slots_;
  ModelLoader loader_;
  ModelPoolOptions options_;

  mutable std::mutex mu_;
  std::condition_variable cv_;  // a load ended, a lease ended, a model was unloaded
  uint64_t used_ = 0;
  bool stopping_ = false;
  uint64_t loads_ = 0;
  uint64_t unloads_ = 0;
  uint64_t load_failures_ = 0;
  int memory_waiters_ = 0;  // requests waiting for memory now; new leases wait behind them
  uint64_t memory_waits_ = 0;
  uint64_t memory_timeouts_ = 0;
  Histogram load_seconds_;
  Histogram swap_seconds_;  // loads that unloaded others first: unload plus load
};

// The memory a model will hold once served, known before loading it: its weights (the whole
// mapped file), the KV cache of every slot, and the forward pass's buffers.
struct EngineShape {
  int64_t n_ctx = 0;
  int n_parallel = 1;
  int64_t n_batch = 512;
  DType kv_type = DType::kF16;
  bool swa_full = false;
  // The slots' caches, as the engine makes them (a step is at most n_batch tokens).
  model::KvCacheOptions KvOptions() const {
    return {.max_step = std::max<int64_t>(n_batch, 1), .swa_full = swa_full};
  }
};
uint64_t KvCacheBytes(const model::HParams& hp, const EngineShape& shape);
// "1.2 GiB", "512 B": sizes in messages and logs.
std::string HumanBytes(uint64_t bytes);
uint64_t EstimateModelMemory(const model::HParams& hp, uint64_t file_bytes,
                             const EngineShape& shape);

}  // namespace wick::server
