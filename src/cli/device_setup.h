// `--device` and `--gpu-layers` for the commands that run a model: which backend runs it,
// how many layers go to the GPU, and the one log line that says so.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <memory>
#include <string>

#include "core/error.h"
#include "model/backend.h"
#include "model/llama.h"

namespace wick::cli {

struct DeviceOptions {
  std::string device = "auto";
  int64_t gpu_layers = -1;  // -1: all that fit
};

// The defaults: `auto`, or $WICK_DEVICE where it is set (for scripts, and for test suites that
// must run on the CPU whatever the machine has).
DeviceOptions DeviceOptionsFromEnv();

void AddDeviceOptions(CLI::App& cmd, DeviceOptions& opts);
// --swa-full: sliding-window layers keep every position (model::KvCacheOptions::swa_full).
void AddSwaFullFlag(CLI::App& cmd, bool& swa_full);

// The backends a command runs on: the CPU always (the embedding lookup and any layer left
// on the host), a GPU when one was chosen, with the model offloaded to it.
struct DeviceSetup {
  std::unique_ptr<model::CpuBackend> cpu;
  std::unique_ptr<model::Backend> gpu;  // null: CPU only
  std::string backend_label;            // "CPU", "CUDA"
  std::string summary;                  // what runs where, for the log

  // GPU memory in use now: weights, KV caches and buffers.
  uint64_t vram_bytes() const { return gpu ? gpu->bytes_in_use() : 0; }
};

struct DeviceNeeds {
  int threads = 0;
  int64_t n_ctx = 0;  // per sequence
  DType kv_type = DType::kF16;
  int n_seq = 1;
  // Largest batch of tokens one forward pass takes (a prompt), for the work buffers.
  int64_t max_batch_tokens = 512;
  model::KvCacheOptions kv_options = {};  // as the caches will be made
};

// Chooses the device (`--device`), plans the offload against the GPU's free memory and
// uploads the layers it takes. A request that cannot be met (no such GPU, too little memory)
// is an error with the numbers; `auto` falls back to the CPU, and the summary says why.
Result<DeviceSetup> SetUpDevice(const DeviceOptions& opts, model::LlamaModel& model,
                                const DeviceNeeds& needs);

// The one log line on stderr: which device runs what, and why. Commands print it once the
// input is known to be good, so that bad input stays a one-line error.
void LogDevice(const DeviceSetup& setup);

}  // namespace wick::cli
