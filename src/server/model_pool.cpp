#include "server/model_pool.h"

#include <fmt/format.h>

#include <algorithm>

namespace wick::server {

namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

int64_t UnixSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

const char* ModelStateName(ModelState state) {
  switch (state) {
    case ModelState::kUnloaded:
      return "unloaded";
    case ModelState::kLoading:
      return "loading";
    case ModelState::kLoaded:
      return "loaded";
  }
  return "unloaded";
}

ModelLease::ModelLease(ModelLease&& other) noexcept
    : pool_(other.pool_), index_(other.index_), model_(other.model_) {
  other.pool_ = nullptr;
}

ModelLease::~ModelLease() {
  if (pool_ != nullptr) pool_->Release(index_);
}

ModelPool::ModelPool(std::vector<PoolEntry> entries, ModelLoader loader, ModelPoolOptions options)
    : loader_(std::move(loader)),
      options_(std::move(options)),
      load_seconds_({0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120}),
      swap_seconds_({0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120}) {
  slots_.reserve(entries.size());
  for (PoolEntry& e : entries) {
    Slot slot;
    slot.entry = std::move(e);
    slots_.push_back(std::move(slot));
  }
}

ModelPool::~ModelPool() {
  std::vector<std::unique_ptr<PooledModel>> models;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    for (Slot& s : slots_) models.push_back(std::move(s.model));
  }
  cv_.notify_all();
  models.clear();
}

std::vector<std::string> ModelPool::ids() const {
  std::vector<std::string> out;
  for (const Slot& s : slots_) out.push_back(s.entry.id);
  return out;
}

Result<ModelLease> ModelPool::Acquire(const std::string& id) {
  const auto it =
      std::find_if(slots_.begin(), slots_.end(), [&](const Slot& s) { return s.entry.id == id; });
  if (it == slots_.end()) return Error(ErrorCode::kNotFound, fmt::format("no model '{}'", id));
  const auto index = static_cast<size_t>(it - slots_.begin());
  Slot& slot = *it;
  if (slot.entry.estimated_bytes > options_.budget_bytes) {
    return Error(
        ErrorCode::kOutOfRange,
        fmt::format("the model '{}' needs about {} but the memory budget is {} "
                    "(--max-memory)",
                    id, HumanBytes(slot.entry.estimated_bytes), HumanBytes(options_.budget_bytes)));
  }
  const auto deadline = Clock::now() + options_.wait_for_memory;
  bool waiting = false;  // counted in memory_waiters_
  std::unique_lock lock(mu_);
  auto stop_waiting = [&] {
    if (!waiting) return;
    waiting = false;
    --memory_waiters_;
    cv_.notify_all();
  };
  for (;;) {
    if (stopping_) {
      stop_waiting();
      return Error(ErrorCode::kUnavailable, "the server is shutting down");
    }
    if (slot.state == ModelState::kLoaded) {
      // Requests waiting for memory go first: new leases would keep the busy models busy and
      // starve them. Once they are served (or give up), this one proceeds.
      if (memory_waiters_ > 0 && !waiting) {
        cv_.wait_until(lock, deadline, [&] { return stopping_ || memory_waiters_ == 0; });
        if (stopping_ || slot.state != ModelState::kLoaded) continue;
      }
      stop_waiting();
      ++slot.leases;
      slot.last_used = Clock::now();
      slot.last_used_unix = UnixSeconds();
      return ModelLease(this, index, &slot.model->served());
    }
    if (slot.state == ModelState::kLoading) {
      // Single flight: whoever started the load does it; the rest share its outcome.
      const uint64_t attempt = slot.attempts;
      cv_.wait(lock, [&] { return stopping_ || slot.state != ModelState::kLoading; });
      if (slot.state == ModelState::kUnloaded && slot.failed_attempt == attempt && slot.failure) {
        stop_waiting();
        Error failure = *slot.failure;
        return std::move(failure).With(fmt::format("loading model '{}'", id));
      }
      continue;
    }
    std::vector<size_t> victims;
    if (PickVictims(slot.entry.estimated_bytes, victims)) {
      stop_waiting();
      return Load(lock, index, victims);
    }
    // Models serving requests hold the memory: wait for a lease to end (or a load to fail).
    if (!waiting) {
      waiting = true;
      ++memory_waiters_;
      ++memory_waits_;
    }
    if (cv_.wait_until(lock, deadline) == std::cv_status::timeout &&
        !PickVictims(slot.entry.estimated_bytes, victims)) {
      if (slot.state != ModelState::kUnloaded) continue;
      stop_waiting();
      ++memory_timeouts_;
      return Error(ErrorCode::kUnavailable,
                   fmt::format("the model '{}' needs about {} but models serving requests hold "
                               "{} of the {} memory budget; try again later",
                               id, HumanBytes(slot.entry.estimated_bytes), HumanBytes(used_),
                               HumanBytes(options_.budget_bytes)));
    }
  }
}

bool ModelPool::PickVictims(uint64_t need, std::vector<size_t>& victims) const {
  victims.clear();
  uint64_t free = options_.budget_bytes > used_ ? options_.budget_bytes - used_ : 0;
  if (free >= need) return true;
  std::vector<size_t> idle;
  for (size_t i = 0; i < slots_.size(); ++i) {
    if (slots_[i].state == ModelState::kLoaded && slots_[i].leases == 0) idle.push_back(i);
  }
  std::sort(idle.begin(), idle.end(),
            [&](size_t a, size_t b) { return slots_[a].last_used < slots_[b].last_used; });
  for (size_t i : idle) {
    victims.push_back(i);
    free += slots_[i].bytes;
    if (free >= need) return true;
  }
  victims.clear();
  return false;
}

Result<ModelLease> ModelPool::Load(std::unique_lock<std::mutex>& lock, size_t index,
                                   std::vector<size_t> victims) {
  Slot& slot = slots_[index];
  const auto start = Clock::now();
  LoadEvent event{
      .id = slot.entry.id, .bytes = 0, .load_seconds = 0, .unloaded = {}, .unload_seconds = 0};
  std::vector<std::unique_ptr<PooledModel>> unloading;
  for (size_t v : victims) {
    Slot& victim = slots_[v];
    unloading.push_back(std::move(victim.model));
    used_ -= victim.bytes;
    victim.bytes = 0;
    victim.state = ModelState::kUnloaded;
    event.unloaded.push_back(victim.entry.id);
    ++unloads_;
  }
  // The estimate stays reserved while loading, so concurrent loads of other models see it.
  slot.state = ModelState::kLoading;
  slot.bytes = slot.entry.estimated_bytes;
  used_ += slot.bytes;
  ++slot.attempts;
  cv_.notify_all();
  lock.unlock();

  // Destroying an engine joins its thread; nothing here needs the lock.
  unloading.clear();
  const auto loading = Clock::now();
  event.unload_seconds = Seconds(loading - start);
  // A throwing loader (std::bad_alloc for the KV cache) must not leave the model "loading"
  // with its waiters asleep forever.
  Result<std::unique_ptr<PooledModel>> loaded = Error(ErrorCode::kIo, "the load did not finish");
  try {
    loaded = loader_(slot.entry);
  } catch (const std::exception& e) {
    loaded = Error(ErrorCode::kIo, e.what());
  }
  event.load_seconds = Seconds(Clock::now() - loading);

  lock.lock();
  used_ -= slot.bytes;
  if (!loaded.ok()) {
    slot.bytes = 0;
    slot.state = ModelState::kUnloaded;
    slot.failed_attempt = slot.attempts;
    slot.failure = loaded.error();
    ++load_failures_;
    cv_.notify_all();
    return std::move(loaded).error().With(fmt::format("loading model '{}'", slot.entry.id));
  }
  slot.model = std::move(*loaded);
  slot.bytes = slot.model->memory_bytes();
  used_ += slot.bytes;
  slot.state = ModelState::kLoaded;
  slot.failure.reset();
  slot.leases = 1;
  slot.last_used = Clock::now();
  slot.last_used_unix = UnixSeconds();
  ++loads_;
  load_seconds_.Observe(event.load_seconds);
  if (!event.unloaded.empty()) swap_seconds_.Observe(event.unload_seconds + event.load_seconds);
  event.bytes = slot.bytes;
  ModelLease lease(this, index, &slot.model->served());
  cv_.notify_all();
  lock.unlock();
  if (options_.on_load) options_.on_load(event);
  return lease;
}

void ModelPool::Release(size_t index) {
  {
    std::lock_guard lock(mu_);
    Slot& slot = slots_[index];
    --slot.leases;
    slot.last_used = Clock::now();
    slot.last_used_unix = UnixSeconds();
  }
  cv_.notify_all();
}

std::vector<ModelStatus> ModelPool::Models() const {
  std::lock_guard lock(mu_);
  std::vector<ModelStatus> out;
  for (const Slot& s : slots_) {
    ModelStatus st;
    st.id = s.entry.id;
    st.state = s.state;
    st.estimated_bytes = s.entry.estimated_bytes;
    st.bytes = s.state == ModelState::kLoaded ? s.bytes : s.entry.estimated_bytes;
    if (s.last_used_unix != 0) st.last_used = s.last_used_unix;
    st.leases = s.leases;
    out.push_back(std::move(st));
  }
  return out;
}

bool ModelPool::EngineTotals(engine::EngineStats& out) const {
  std::lock_guard lock(mu_);
  out = {};
  bool any = false;
  for (const Slot& s : slots_) {
    if (s.state != ModelState::kLoaded || s.model->served().engine == nullptr) continue;
    const engine::EngineStats e = s.model->served().engine->Stats();
    out.n_parallel += e.n_parallel;
    out.active += e.active;
    out.queued += e.queued;
    out.kv_cells_used += e.kv_cells_used;
    out.kv_cells_total += e.kv_cells_total;
    out.kv_bytes += e.kv_bytes;
    out.steps += e.steps;
    out.cancelled += e.cancelled;
    any = true;
  }
  return any;
}

void ModelPool::RenderMetrics(std::string& out) const {
  std::lock_guard lock(mu_);
  const auto loaded = std::count_if(slots_.begin(), slots_.end(),
                                    [](const Slot& s) { return s.state == ModelState::kLoaded; });
  auto line = [&](const char* name, const char* type, const char* help, auto value) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n{} {}\n", name, help, name, type, name, value);
  };
  line("wick_model_loads_total", "counter", "Models loaded (on a request for them).", loads_);
  line("wick_model_unloads_total", "counter", "Idle models unloaded to make room.", unloads_);
  line("wick_model_load_failures_total", "counter", "Loads that failed.", load_failures_);
  line("wick_model_memory_waits_total", "counter",
       "Requests that waited for models serving others to free memory.", memory_waits_);
  line("wick_model_memory_timeouts_total", "counter",
       "Requests answered 503 because the memory stayed held.", memory_timeouts_);
  line("wick_models_loaded", "gauge", "Models loaded now.", loaded);
  line("wick_models_total", "gauge", "Models this server can load.", slots_.size());
  line("wick_model_memory_used_bytes", "gauge",
       "Memory of the loaded models (estimates for those loading).", used_);
  line("wick_model_memory_budget_bytes", "gauge", "The memory budget (--max-memory).",
       options_.budget_bytes);
  out += "# HELP wick_model_load_seconds Time to load a model.\n";
  out += "# TYPE wick_model_load_seconds histogram\n";
  load_seconds_.Render("wick_model_load_seconds", out);
  out += "# HELP wick_model_swap_seconds Unloading idle models plus loading the one asked for.\n";
  out += "# TYPE wick_model_swap_seconds histogram\n";
  swap_seconds_.Render("wick_model_swap_seconds", out);
}

void ModelPool::Shutdown() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    for (Slot& s : slots_) {
      if (s.state == ModelState::kLoaded && s.model->served().engine != nullptr) {
        s.model->served().engine->CancelAll();
      }
    }
  }
  cv_.notify_all();
}

std::string HumanBytes(uint64_t bytes) {
  constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  auto value = static_cast<double>(bytes);
  size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(kUnits)) {
    value /= 1024;
    ++unit;
  }
  return unit == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.1f} {}", value, kUnits[unit]);
}

uint64_t KvCacheBytes(const model::HParams& hp, const EngineShape& shape) {
  // Every slot's cache as KvCache::Create makes it (sliding-window layers smaller).
  Result<uint64_t> slot =
      model::KvCache::TotalBytes(hp, shape.n_ctx, shape.kv_type, shape.KvOptions());
  const uint64_t bytes = slot.ok() ? *slot
                                   : 2 * static_cast<uint64_t>(hp.n_layer * hp.n_head_kv) *
                                         static_cast<uint64_t>(hp.head_dim * 4) *
                                         static_cast<uint64_t>(std::max<int64_t>(shape.n_ctx, 0));
  return bytes * static_cast<uint64_t>(shape.n_parallel);
}

uint64_t EstimateModelMemory(const model::HParams& hp, uint64_t file_bytes,
                             const EngineShape& shape) {
  // The forward pass's activations at a full batch (LlamaModel::Activations), and the
  // engine's logits, all f32.
  const auto per_row = static_cast<uint64_t>(2 * hp.n_embd + 2 * hp.n_head * hp.head_dim +
                                             2 * hp.n_head_kv * hp.head_dim + 2 * hp.n_ff);
  const uint64_t activations = 4 * per_row * static_cast<uint64_t>(shape.n_batch);
  const uint64_t logits =
      4 * static_cast<uint64_t>(shape.n_parallel) * static_cast<uint64_t>(hp.n_vocab + hp.n_embd);
  // The tokenizer's tables and the engine's small state.
  const uint64_t fixed = (uint64_t{4} << 20) + 64 * static_cast<uint64_t>(hp.n_vocab);
  return file_bytes + KvCacheBytes(hp, shape) + activations + logits + fixed;
}

}  // namespace wick::server
