// A build without the CUDA backend: no GPU to probe, and no backend to create.
#include <fmt/format.h>

#include "model/device.h"

namespace wick::model {

GpuProbe ProbeGpus() {
  GpuProbe probe;
  probe.why_none = "this wick was built without CUDA (configure with WICK_CUDA=on)";
  return probe;
}

Result<uint64_t> GpuFreeBytes(int index) {
  return Error(ErrorCode::kUnsupported,
               fmt::format("CUDA device {}: this wick was built without CUDA", index));
}

Result<std::unique_ptr<Backend>> CreateCudaBackend(int index) {
  return Error(ErrorCode::kUnsupported,
               fmt::format("CUDA device {}: this wick was built without CUDA", index));
}

}  // namespace wick::model
