#include "cli/device_setup.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "model/device.h"

namespace wick::cli {

DeviceOptions DeviceOptionsFromEnv() {
  DeviceOptions opts;
  if (const char* env = std::getenv("WICK_DEVICE"); env != nullptr && *env != '\0') {
    opts.device = env;
  }
  return opts;
}

void AddDeviceOptions(CLI::App& cmd, DeviceOptions& opts) {
  opts.device = DeviceOptionsFromEnv().device;
  cmd.add_option("--device", opts.device,
                 "auto (default, or $WICK_DEVICE): a usable GPU, else the CPU; cpu, cuda or "
                 "cuda:N");
  cmd.add_option("--gpu-layers,--n-gpu-layers", opts.gpu_layers,
                 "Layers to run on the GPU, the last ones (default: all that fit)");
}

void AddSwaFullFlag(CLI::App& cmd, bool& swa_full) {
  cmd.add_flag("--swa-full", swa_full,
               "Full-size KV cache for sliding-window layers (Gemma 2/3): more memory, but a "
               "prefix is kept from anywhere in the context");
}

namespace {

// GPU memory a forward pass uses besides weights and caches: activations of the largest
// batch, its logits, and the backend's GEMM and attention scratch.
uint64_t WorkBytes(const model::HParams& hp, int64_t tokens) {
  const auto t = static_cast<uint64_t>(std::max<int64_t>(tokens, 1));
  const uint64_t activations = t *
                               static_cast<uint64_t>(3 * hp.n_embd + 2 * hp.n_head * hp.head_dim +
                                                     2 * hp.n_head_kv * hp.head_dim + 2 * hp.n_ff) *
                               4;
  const uint64_t logits = t * static_cast<uint64_t>(hp.n_vocab) * 4;
  const uint64_t gemm =
      t * static_cast<uint64_t>(std::max(hp.n_ff, hp.n_embd)) * 2 + (64ull << 20) + (32ull << 20);
  return activations + logits + gemm;
}

}  // namespace

Result<DeviceSetup> SetUpDevice(const DeviceOptions& opts, model::LlamaModel& model,
                                const DeviceNeeds& needs) {
  DeviceSetup setup;
  setup.cpu = std::make_unique<model::CpuBackend>(needs.threads);
  setup.backend_label = "CPU";
  WICK_ASSIGN_OR_RETURN(const model::DeviceRequest request, model::ParseDevice(opts.device));
  if (opts.gpu_layers == 0 && request.kind != model::DeviceRequest::Kind::kCuda) {
    setup.summary = "CPU (--gpu-layers 0)";
    return setup;
  }
  const model::GpuProbe probe =
      request.kind == model::DeviceRequest::Kind::kCpu ? model::GpuProbe{} : model::ProbeGpus();
  WICK_ASSIGN_OR_RETURN(const model::DeviceChoice choice, model::ChooseDevice(request, probe));
  if (!choice.cuda) {
    setup.summary = choice.reason;
    return setup;
  }
  const model::GpuDevice* gpu = nullptr;
  for (const model::GpuDevice& d : probe.devices) {
    if (d.index == choice.index) gpu = &d;
  }
  const model::HParams& hp = model.hparams();
  model::OffloadInputs in;
  for (int64_t l = 0; l < hp.n_layer; ++l)
    in.layer_weight_bytes.push_back(model.LayerWeightBytes(l));
  in.output_weight_bytes = model.OutputWeightBytes();
  for (int64_t l = 0; l < hp.n_layer; ++l) {
    // Sliding-window layers keep fewer positions.
    WICK_ASSIGN_OR_RETURN(
        const uint64_t kv_layer,
        model::KvCache::LayerBytes(hp, l, needs.n_ctx, needs.kv_type, needs.kv_options));
    in.layer_kv_bytes.push_back(kv_layer * static_cast<uint64_t>(std::max(needs.n_seq, 1)));
  }
  in.work_bytes = WorkBytes(hp, std::min(needs.max_batch_tokens, needs.n_ctx));
  WICK_ASSIGN_OR_RETURN(in.free_bytes, model::GpuFreeBytes(choice.index));
  Result<model::OffloadPlan> plan = model::PlanOffload(in, opts.gpu_layers);
  if (!plan.ok()) {
    return std::move(plan).error().With(
        fmt::format("CUDA device {} ({})", choice.index, gpu ? gpu->name : "?"));
  }
  if (plan->gpu_layers == 0 && opts.gpu_layers == 0) {
    setup.summary = fmt::format("CPU (--gpu-layers 0; {})", choice.reason);
    return setup;
  }
  if (plan->gpu_layers == 0) {
    setup.summary = fmt::format("CPU ({}: not one layer fits in its {} of free memory)",
                                choice.reason, model::FormatBytes(in.free_bytes));
    return setup;
  }
  WICK_ASSIGN_OR_RETURN(setup.gpu, model::CreateCudaBackend(choice.index));
  WICK_RETURN_IF_ERROR(model.Offload(*setup.gpu, plan->gpu_layers));
  setup.backend_label = "CUDA";
  setup.summary = fmt::format(
      "{}; {}/{} layers{} on the GPU, {} of weights uploaded, KV cache {} planned", choice.reason,
      plan->gpu_layers, hp.n_layer, plan->output_on_gpu ? " and the output" : "",
      model::FormatBytes(model.gpu_weight_bytes()), model::FormatBytes(plan->kv_bytes));
  return setup;
}

void LogDevice(const DeviceSetup& setup) {
  std::fprintf(stderr, "wick: device: %s\n", setup.summary.c_str());
}

}  // namespace wick::cli
