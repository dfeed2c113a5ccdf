#include "model/device.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "core/ascii.h"

namespace wick::model {

Result<DeviceRequest> ParseDevice(std::string_view text) {
  const std::string t = AsciiLower(text);
  if (t == "auto") return DeviceRequest{.kind = DeviceRequest::Kind::kAuto};
  if (t == "cpu") return DeviceRequest{.kind = DeviceRequest::Kind::kCpu};
  if (t == "cuda") return DeviceRequest{.kind = DeviceRequest::Kind::kCuda, .index = -1};
  if (t.rfind("cuda:", 0) == 0) {
    int index = -1;
    const char* first = t.data() + 5;
    const char* last = t.data() + t.size();
    auto [end, ec] = std::from_chars(first, last, index);
    if (ec == std::errc() && end == last && first != last && index >= 0) {
      return DeviceRequest{.kind = DeviceRequest::Kind::kCuda, .index = index};
    }
  }
  return Error(ErrorCode::kInvalidArgument,
               fmt::format("--device '{}': use auto, cpu, cuda or cuda:N", text));
}

namespace {

std::string Describe(const GpuDevice& d) {
  return fmt::format("CUDA device {}: {} (sm_{}, {})", d.index, d.name, d.compute_capability,
                     FormatBytes(d.total_bytes));
}

}  // namespace

Result<DeviceChoice> ChooseDevice(const DeviceRequest& request, const GpuProbe& probe) {
  using Kind = DeviceRequest::Kind;
  if (request.kind == Kind::kCpu) return DeviceChoice{.reason = "CPU (--device cpu)"};
  const GpuDevice* pick = nullptr;
  std::string why = probe.why_none;
  for (const GpuDevice& d : probe.devices) {
    if (request.kind == Kind::kCuda && request.index >= 0 && d.index != request.index) continue;
    if (d.usable) {
      pick = &d;
      break;
    }
    why = fmt::format("{} has compute capability {}.{}; wick's CUDA kernels need 8.0 or newer",
                      fmt::format("CUDA device {} ({})", d.index, d.name),
                      d.compute_capability / 10, d.compute_capability % 10);
  }
  if (request.kind == Kind::kCuda && request.index >= 0 && pick == nullptr && why.empty()) {
    why = fmt::format("there is no CUDA device {} ({} found)", request.index, probe.devices.size());
  }
  if (why.empty()) why = "no usable CUDA device";
  if (pick != nullptr) {
    return DeviceChoice{
        .cuda = true,
        .index = pick->index,
        .reason = Describe(*pick) + (request.kind == Kind::kAuto ? " (--device auto)" : "")};
  }
  if (request.kind == Kind::kCuda) {
    return Error(ErrorCode::kUnavailable, fmt::format("--device cuda: {}", why));
  }
  return DeviceChoice{.reason = fmt::format("CPU (--device auto: {})", why)};
}

Result<OffloadPlan> PlanOffload(const OffloadInputs& in, int64_t requested) {
  const auto n_layer = static_cast<int64_t>(in.layer_weight_bytes.size());
  if (requested > n_layer) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("--gpu-layers {}: the model has {} layers", requested, n_layer));
  }
  auto plan_for = [&](int64_t layers) {
    OffloadPlan p;
    p.gpu_layers = layers;
    p.output_on_gpu = layers == n_layer && layers > 0;
    for (int64_t l = n_layer - layers; l < n_layer; ++l) {
      p.weight_bytes += in.layer_weight_bytes[static_cast<size_t>(l)];
    }
    if (p.output_on_gpu) p.weight_bytes += in.output_weight_bytes;
    for (int64_t l = n_layer - layers; l < n_layer; ++l) {
      if (static_cast<size_t>(l) < in.layer_kv_bytes.size()) {
        p.kv_bytes += in.layer_kv_bytes[static_cast<size_t>(l)];
      }
    }
    p.work_bytes = layers > 0 ? in.work_bytes : 0;
    return p;
  };
  const uint64_t budget = in.free_bytes > in.reserve_bytes ? in.free_bytes - in.reserve_bytes : 0;
  if (requested >= 0) {
    OffloadPlan p = plan_for(requested);
    if (p.total_bytes() > budget) {
      return Error(ErrorCode::kOutOfRange,
                   fmt::format("--gpu-layers {} needs {} of GPU memory (weights {}, KV cache {}, "
                               "work buffers {}) but the device has {} free, {} of it usable "
                               "(use fewer layers, a smaller context or a smaller model)",
                               requested, FormatBytes(p.total_bytes()), FormatBytes(p.weight_bytes),
                               FormatBytes(p.kv_bytes), FormatBytes(p.work_bytes),
                               FormatBytes(in.free_bytes), FormatBytes(budget)));
    }
    return p;
  }
  for (int64_t layers = n_layer; layers > 0; --layers) {
    OffloadPlan p = plan_for(layers);
    if (p.total_bytes() <= budget) return p;
  }
  return plan_for(0);
}

std::string FormatBytes(uint64_t bytes) {
  const auto b = static_cast<double>(bytes);
  if (bytes >= (1ull << 30)) return fmt::format("{:.1f} GiB", b / (1ull << 30));
  if (bytes >= (1ull << 20)) return fmt::format("{:.0f} MiB", b / (1ull << 20));
  if (bytes >= (1ull << 10)) return fmt::format("{:.0f} KiB", b / (1ull << 10));
  return fmt::format("{} B", bytes);
}

}  // namespace wick::model
