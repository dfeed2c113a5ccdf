// --device and --gpu-layers as plain logic: parsing, the choice given what a probe found, and
// the offload plan against a device's free memory. No GPU needed.
#include "model/device.h"

#include <gtest/gtest.h>

namespace wick::model {
namespace {

GpuDevice Device(int index, int cc, uint64_t free_gib) {
  return {.index = index,
          .name = "Test GPU " + std::to_string(index),
          .compute_capability = cc,
          .total_bytes = 80ull << 30,
          .free_bytes = free_gib << 30,
          .usable = cc >= 80};
}

GpuProbe Probe(std::vector<GpuDevice> devices, std::string why_none = "") {
  GpuProbe p;
  p.devices = std::move(devices);
  p.why_none = std::move(why_none);
  return p;
}

TEST(DeviceTest, ParsesEveryForm) {
  EXPECT_EQ(ParseDevice("auto")->kind, DeviceRequest::Kind::kAuto);
  EXPECT_EQ(ParseDevice("CPU")->kind, DeviceRequest::Kind::kCpu);
  EXPECT_EQ(ParseDevice("cuda")->index, -1);
  EXPECT_EQ(ParseDevice("cuda:3")->index, 3);
  for (const char* bad : {"", "gpu", "cuda:", "cuda:-1", "cuda:x", "cuda:1x", "metal"}) {
    Result<DeviceRequest> r = ParseDevice(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.error().message().find("auto, cpu, cuda or cuda:N"), std::string::npos);
  }
}

TEST(DeviceTest, AutoTakesTheFirstUsableGpuAndSaysWhy) {
  GpuProbe probe = Probe({Device(0, 61, 10), Device(1, 90, 70)});
  Result<DeviceChoice> c = ChooseDevice(*ParseDevice("auto"), probe);
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->cuda);
  EXPECT_EQ(c->index, 1);
  EXPECT_NE(c->reason.find("Test GPU 1"), std::string::npos) << c->reason;
  EXPECT_NE(c->reason.find("sm_90"), std::string::npos) << c->reason;
}

TEST(DeviceTest, AutoFallsBackToTheCpuNamingTheReason) {
  GpuProbe none = Probe({}, "no NVIDIA driver");
  Result<DeviceChoice> c = ChooseDevice(*ParseDevice("auto"), none);
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->cuda);
  EXPECT_NE(c->reason.find("no NVIDIA driver"), std::string::npos) << c->reason;
  // A card too old is said, not hidden.
  GpuProbe old = Probe({Device(0, 61, 10)});
  c = ChooseDevice(*ParseDevice("auto"), old);
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->cuda);
  EXPECT_NE(c->reason.find("compute capability 6.1"), std::string::npos) << c->reason;
}

TEST(DeviceTest, AnExplicitGpuThatCannotBeUsedIsAnError) {
  GpuProbe probe = Probe({Device(0, 90, 70)});
  EXPECT_EQ(ChooseDevice(*ParseDevice("cuda:0"), probe)->index, 0);
  Result<DeviceChoice> c = ChooseDevice(*ParseDevice("cuda:2"), probe);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message().find("no CUDA device 2"), std::string::npos) << c.error().message();
  c = ChooseDevice(*ParseDevice("cuda"), Probe({}, "built without CUDA"));
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message().find("built without CUDA"), std::string::npos);
  // --device cpu never looks at the GPUs.
  c = ChooseDevice(*ParseDevice("cpu"), probe);
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->cuda);
}

OffloadInputs SevenB(uint64_t free_bytes) {
  OffloadInputs in;
  in.layer_weight_bytes.assign(32, 110ull << 20);  // ~3.4 GiB of layers
  in.output_weight_bytes = 70ull << 20;
  in.layer_kv_bytes.assign(32, 32ull << 20);  // 1 GiB of f16 cache at 4096 positions
  in.work_bytes = 300ull << 20;
  in.free_bytes = free_bytes;
  return in;
}

TEST(DeviceTest, PlanCountsTheKvCacheOfTheLayersItTakes) {
  // Gemma-like: five sliding-window layers (a small cache each) to one global layer.
  OffloadInputs in = SevenB(78ull << 30);
  for (size_t l = 0; l < in.layer_kv_bytes.size(); ++l) {
    in.layer_kv_bytes[l] = l % 6 == 5 ? 32ull << 20 : 4ull << 20;
  }
  Result<OffloadPlan> last3 = PlanOffload(in, 3);  // layers 29 (global), 30, 31
  ASSERT_TRUE(last3.ok());
  EXPECT_EQ(last3->kv_bytes, (32ull << 20) + 2 * (4ull << 20));
  Result<OffloadPlan> all = PlanOffload(in, -1);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->kv_bytes, 5 * (32ull << 20) + 27 * (4ull << 20));
}

TEST(DeviceTest, DefaultPlanTakesEveryLayerThatFits) {
  Result<OffloadPlan> all = PlanOffload(SevenB(78ull << 30), -1);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->gpu_layers, 32);
  EXPECT_TRUE(all->output_on_gpu);
  EXPECT_EQ(all->weight_bytes, 32 * (110ull << 20) + (70ull << 20));
  EXPECT_EQ(all->kv_bytes, 1ull << 30);
  // 3 GiB free, 512 MiB of it kept back: (2.5 GiB - 300 MiB) / 142 MiB per layer = 15 layers,
  // and no output (it goes only with every layer).
  Result<OffloadPlan> part = PlanOffload(SevenB(3ull << 30), -1);
  ASSERT_TRUE(part.ok());
  EXPECT_EQ(part->gpu_layers, 15);
  EXPECT_FALSE(part->output_on_gpu);
  EXPECT_LE(part->total_bytes(), (3ull << 30) - (512ull << 20));
  // Not even one layer: the CPU.
  Result<OffloadPlan> none = PlanOffload(SevenB(600ull << 20), -1);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->gpu_layers, 0);
  EXPECT_EQ(none->total_bytes(), 0u);
}

TEST(DeviceTest, ARequestThatDoesNotFitIsAnErrorWithTheNumbers) {
  Result<OffloadPlan> r = PlanOffload(SevenB(3ull << 30), 32);
  ASSERT_FALSE(r.ok());
  const std::string& m = r.error().message();
  EXPECT_NE(m.find("--gpu-layers 32 needs"), std::string::npos) << m;
  EXPECT_NE(m.find("KV cache 1.0 GiB"), std::string::npos) << m;
  EXPECT_NE(m.find("3.0 GiB free"), std::string::npos) << m;
  EXPECT_TRUE(PlanOffload(SevenB(3ull << 30), 10).ok());
  r = PlanOffload(SevenB(78ull << 30), 33);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("has 32 layers"), std::string::npos);
}

TEST(DeviceTest, FormatsSizes) {
  EXPECT_EQ(FormatBytes(512), "512 B");
  EXPECT_EQ(FormatBytes(3ull << 20), "3 MiB");
  EXPECT_EQ(FormatBytes(3ull << 29), "1.5 GiB");
}

}  // namespace
}  // namespace wick::model
