// Which device runs a model, and how much of it: `--device auto|cpu|cuda[:N]` and
// `--gpu-layers N`. The choice and the memory plan are plain functions of what the GPU probe
// found, so they are tested without a GPU; only ProbeGpus and CreateCudaBackend touch CUDA.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "model/backend.h"

namespace wick::model {

struct DeviceRequest {
  enum class Kind { kAuto, kCpu, kCuda };
  Kind kind = Kind::kAuto;
  int index = -1;  // cuda:N; -1 for plain "cuda" (the first usable device)
};

// "auto", "cpu", "cuda", "cuda:N" (case-insensitive); anything else names the accepted forms.
Result<DeviceRequest> ParseDevice(std::string_view text);

struct GpuDevice {
  int index = 0;
  std::string name;
  int compute_capability = 0;  // 90 for sm_90
  uint64_t total_bytes = 0;
  uint64_t free_bytes = 0;  // filled by GpuFreeBytes for the chosen device; else the total
  bool usable = false;      // new enough for the kernels this build carries
};

struct GpuProbe {
  std::vector<GpuDevice> devices;
  // Why no device can be used: "this wick was built without CUDA", "no NVIDIA driver", …
  std::string why_none;
};

// The devices this process can use, without starting a context on any of them. Built without
// CUDA: none, and says so.
GpuProbe ProbeGpus();

// Free memory of device `index` now (this starts the CUDA context on it).
Result<uint64_t> GpuFreeBytes(int index);

struct DeviceChoice {
  bool cuda = false;
  int index = 0;       // the CUDA device when `cuda`
  std::string reason;  // one line for the log: what was chosen and why
};

// auto: the first usable GPU, else the CPU (the reason says why no GPU); cpu: the CPU;
// cuda[:N]: that GPU, or an error saying why it cannot be used.
Result<DeviceChoice> ChooseDevice(const DeviceRequest& request, const GpuProbe& probe);

// What an offload needs in GPU memory, and how many layers it puts there.
struct OffloadInputs {
  std::vector<uint64_t> layer_weight_bytes;  // per layer
  uint64_t output_weight_bytes = 0;          // output norm and projection
  std::vector<uint64_t> layer_kv_bytes;      // every sequence's cache, per layer
  uint64_t work_bytes = 0;                   // activations, logits, scratch, cuBLAS workspace
  uint64_t free_bytes = 0;                   // the device's free memory now
  // Memory left alone for the driver, other processes and fragmentation.
  uint64_t reserve_bytes = 512ull << 20;
};

struct OffloadPlan {
  int64_t gpu_layers = 0;
  bool output_on_gpu = false;  // exactly when every layer is offloaded
  uint64_t weight_bytes = 0;
  uint64_t kv_bytes = 0;
  uint64_t work_bytes = 0;
  uint64_t total_bytes() const { return weight_bytes + kv_bytes + work_bytes; }
};

// The last `requested` layers (llama.cpp's -ngl), or with requested < 0 as many as fit.
// Layers are offloaded from the last one down, and the output goes with them only when every
// layer does. A request that does not fit is an error with the numbers.
Result<OffloadPlan> PlanOffload(const OffloadInputs& in, int64_t requested);

// "1.5 GiB", "312 MiB": sizes for messages.
std::string FormatBytes(uint64_t bytes);

// A CUDA backend on device `index`. Built without CUDA: an error saying so.
Result<std::unique_ptr<Backend>> CreateCudaBackend(int index);

}  // namespace wick::model
