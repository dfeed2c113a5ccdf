// The forward pass split between two backends, on the CPU: a stand-in "device" that runs the
// CPU kernels on memory of its own, with uploaded copies of the weights. It walks every path
// the CUDA backend takes through the model (embeddings on the host, the residual stream
// crossing once, caches in device memory, logits copied back, steps bracketed by
// BeginStep/EndStep) and must give the CPU's logits bit for bit.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "io/gguf_file.h"
#include "model/backend.h"
#include "model/llama.h"
#include "model/synthetic.h"
#include "test_support.h"

namespace wick::model {
namespace {

// CPU kernels over "device" memory: every buffer and weight it hands out is its own copy,
// filled with NaN at allocation, so reading host memory where device memory is meant (or
// uninitialised memory) shows up in the logits.
class StandInDevice : public CpuBackend {
 public:
  StandInDevice() : CpuBackend(2) {}

  std::string name() const override { return "stand-in"; }
  bool host_memory() const override { return false; }

  Result<DeviceBuffer> Allocate(size_t bytes) override {
    WICK_ASSIGN_OR_RETURN(DeviceBuffer buf, CpuBackend::Allocate(bytes));
    std::memset(buf.data(), 0xff, bytes);  // NaN as f32
    in_use_ += bytes;
    return buf;
  }
  Status CopyToDevice(void* dst, const void* src, size_t bytes) override {
    ++to_device_;
    return CpuBackend::CopyToDevice(dst, src, bytes);
  }
  Status CopyToHost(void* dst, const void* src, size_t bytes) override {
    ++to_host_;
    return CpuBackend::CopyToHost(dst, src, bytes);
  }
  Result<TensorRef> Upload(const TensorRef& t) override {
    const size_t bytes = t.bytes();
    WICK_ASSIGN_OR_RETURN(DeviceBuffer buf, Allocate(bytes));
    std::memcpy(buf.data(), t.data, bytes);
    TensorRef placed = t;
    placed.data = buf.data();
    weights_.push_back(std::move(buf));
    return placed;
  }
  uint64_t bytes_in_use() const override { return in_use_; }
  void BeginStep(int64_t shape) override {
    EXPECT_FALSE(in_step_) << "a step began before the last one ended";
    in_step_ = true;
    if (shape >= 0) ++recordable_steps_;
  }
  Status EndStep() override {
    EXPECT_TRUE(in_step_) << "a step ended that never began";
    in_step_ = false;
    // As a GPU reports a fault of a step's kernels: when the step runs, at its end.
    if (fail_end_step_) return Error(ErrorCode::kIo, "stand-in: the step failed");
    return OkStatus();
  }
  void AbortStep() override { in_step_ = false; }

  int to_device_ = 0, to_host_ = 0, recordable_steps_ = 0;
  bool in_step_ = false;
  bool fail_end_step_ = false;

 private:
  uint64_t in_use_ = 0;
  std::vector<DeviceBuffer> weights_;
};

class OffloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SynthOptions options;
    options.preset = *FindSynthPreset("tiny");
    options.type = DType::kQ4_K;
    Result<GgufWriter> writer = BuildSyntheticModel(options);
    ASSERT_TRUE(writer.ok()) << writer.error().message();
    ASSERT_TRUE(writer->WriteFile(dir_.File("tiny.gguf").string()).ok());
    Result<GgufFile> file = GgufFile::Open(dir_.File("tiny.gguf").string());
    ASSERT_TRUE(file.ok()) << file.error().message();
    file_ = std::make_unique<GgufFile>(std::move(*file));
    cpu_model_ = std::make_unique<LlamaModel>(*LlamaModel::Load(*file_));
    n_vocab_ = cpu_model_->hparams().n_vocab;
  }

  std::unique_ptr<LlamaModel> Offloaded(int64_t layers) {
    auto m = std::make_unique<LlamaModel>(*LlamaModel::Load(*file_));
    Status st = m->Offload(device_, layers);
    EXPECT_TRUE(st.ok()) << st.error().message();
    return m;
  }

  std::vector<int32_t> Tokens(size_t n, uint32_t seed) const {
    std::mt19937 rng(seed);
    std::vector<int32_t> t(n);
    for (int32_t& id : t) id = static_cast<int32_t>(rng() % static_cast<uint32_t>(n_vocab_));
    return t;
  }

  // All prompt logits, then `steps` one-token steps: the same on the CPU and split.
  void ExpectSameAsCpu(LlamaModel& split, DType kv) {
    const std::vector<int32_t> prompt = Tokens(19, 1), next = Tokens(5, 2);
    KvCache cc = *cpu_model_->NewCache(64, kv);
    Result<KvCache> sc = split.NewCache(64, kv);
    ASSERT_TRUE(sc.ok()) << sc.error().message();
    std::vector<float> want(prompt.size() * n_vocab_), got(want.size());
    ASSERT_TRUE(cpu_model_->Forward(prompt, cc, cpu_, want.data()).ok());
    Status st = split.Forward(prompt, *sc, cpu_, got.data());
    ASSERT_TRUE(st.ok()) << st.error().message();
    EXPECT_EQ(got, want);
    for (int32_t t : next) {
      std::vector<float> w(n_vocab_), g(n_vocab_);
      ASSERT_TRUE(cpu_model_->Forward({&t, 1}, cc, cpu_, w.data(), true).ok());
      ASSERT_TRUE(split.Forward({&t, 1}, *sc, cpu_, g.data(), true).ok());
      EXPECT_EQ(g, w);
    }
    EXPECT_FALSE(device_.in_step_);
  }

  testing::TempDir dir_;
  std::unique_ptr<GgufFile> file_;
  std::unique_ptr<LlamaModel> cpu_model_;
  CpuBackend cpu_{2};
  StandInDevice device_;
  int64_t n_vocab_ = 0;
};

TEST_F(OffloadTest, EveryLayerAndTheOutput) {
  auto split = Offloaded(4);
  EXPECT_EQ(split->gpu_layers(), 4);
  EXPECT_TRUE(split->output_on_gpu());
  EXPECT_GT(split->gpu_weight_bytes(), 0u);
  Result<KvCache> cache = split->NewCache(64);
  ASSERT_TRUE(cache.ok());
  EXPECT_EQ(cache->device_of(0), &device_);
  EXPECT_GT(cache->device_bytes(), 0u);
  for (DType kv : {DType::kF16, DType::kF32, DType::kQ8_0}) ExpectSameAsCpu(*split, kv);
  // Decode steps are offered for recording; the input crossed once per step.
  EXPECT_GE(device_.recordable_steps_, 15);
}

TEST_F(OffloadTest, SomeLayersStayOnTheHost) {
  auto split = Offloaded(2);
  EXPECT_EQ(split->gpu_layers(), 2);
  EXPECT_FALSE(split->output_on_gpu());
  Result<KvCache> cache = split->NewCache(64);
  ASSERT_TRUE(cache.ok());
  EXPECT_EQ(cache->device_of(1), nullptr);
  EXPECT_EQ(cache->device_of(2), &device_);
  ExpectSameAsCpu(*split, DType::kF16);
  EXPECT_GT(device_.to_host_, 0);  // the last rows came back for the output on the CPU
}

TEST_F(OffloadTest, BatchedSequencesMatchTheCpu) {
  auto split = Offloaded(4);
  const std::vector<int32_t> p0 = Tokens(12, 3), p1 = Tokens(5, 4);
  KvCache c0 = *cpu_model_->NewCache(64), c1 = *cpu_model_->NewCache(64);
  KvCache s0 = *split->NewCache(64), s1 = *split->NewCache(64);
  std::vector<float> want(2 * n_vocab_), got(2 * n_vocab_);
  auto run = [&](LlamaModel& m, KvCache& a, KvCache& b, std::vector<float>& out) {
    std::vector<BatchSequence> batch{{.tokens = p0, .cache = &a, .logits = true, .prompt = true},
                                     {.tokens = p1, .cache = &b, .logits = false, .prompt = true}};
    EXPECT_TRUE(m.ForwardBatch(batch, cpu_, out.data()).ok());
    const int32_t t0 = 7, t1 = 9;
    batch = {{.tokens = {&t0, 1}, .cache = &a, .logits = true},
             {.tokens = {&t1, 1}, .cache = &b, .logits = true}};
    EXPECT_TRUE(m.ForwardBatch(batch, cpu_, out.data()).ok());
    // A step without logits still runs (and ends) on the device.
    const BatchSequence quiet{.tokens = {&t0, 1}, .cache = &a, .logits = false};
    EXPECT_TRUE(m.ForwardBatch({&quiet, 1}, cpu_, out.data()).ok());
  };
  run(*cpu_model_, c0, c1, want);
  run(*split, s0, s1, got);
  EXPECT_EQ(got, want);
  EXPECT_EQ(s0.n_past(), 14);
  EXPECT_FALSE(device_.in_step_);
}

// A step that fails as late as its end leaves every cache as it was: running the same
// tokens again gives the CPU's logits, as if the failed step never happened.
TEST_F(OffloadTest, AFailedStepLeavesTheCachesAsTheyWere) {
  for (int64_t layers : {4, 2}) {  // the output on the device, then on the host
    SCOPED_TRACE(layers);
    auto split = Offloaded(layers);
    const std::vector<int32_t> prompt = Tokens(9, 5);
    KvCache cc = *cpu_model_->NewCache(64), c0 = *split->NewCache(64), c1 = *split->NewCache(64);
    std::vector<float> want(n_vocab_), got(2 * n_vocab_);
    ASSERT_TRUE(cpu_model_->Forward(prompt, cc, cpu_, want.data(), true).ok());

    device_.fail_end_step_ = true;
    Status st = split->Forward(prompt, c0, cpu_, got.data(), true);
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.error().message().find("the step failed"), std::string::npos);
    EXPECT_EQ(c0.n_past(), 0);
    device_.fail_end_step_ = false;
    ASSERT_TRUE(split->Forward(prompt, c0, cpu_, got.data(), true).ok());
    EXPECT_EQ(std::vector<float>(got.begin(), got.begin() + n_vocab_), want);

    // The same for a batch: a decode step of two sequences, and a prompt without logits.
    ASSERT_TRUE(split->Forward(prompt, c1, cpu_, got.data(), true).ok());
    const int32_t t0 = 11, t1 = 13;
    const std::vector<BatchSequence> decode{{.tokens = {&t0, 1}, .cache = &c0, .logits = true},
                                            {.tokens = {&t1, 1}, .cache = &c1, .logits = true}};
    const BatchSequence quiet{.tokens = {&t1, 1}, .cache = &c1, .logits = false};
    device_.fail_end_step_ = true;
    EXPECT_FALSE(split->ForwardBatch(decode, cpu_, got.data()).ok());
    EXPECT_FALSE(split->ForwardBatch({&quiet, 1}, cpu_, got.data()).ok());
    EXPECT_EQ(c0.n_past(), 9);
    EXPECT_EQ(c1.n_past(), 9);
    device_.fail_end_step_ = false;
    ASSERT_TRUE(split->ForwardBatch(decode, cpu_, got.data()).ok());
    EXPECT_EQ(c0.n_past(), 10);
    ASSERT_TRUE(cpu_model_->Forward({&t1, 1}, cc, cpu_, want.data(), true).ok());
    EXPECT_EQ(std::vector<float>(got.begin() + n_vocab_, got.end()), want);
    EXPECT_FALSE(device_.in_step_);
  }
}

TEST_F(OffloadTest, CachesInTheWrongPlaceAndBadLayerCountsAreErrors) {
  auto split = Offloaded(4);
  KvCache host = *KvCache::Create(split->hparams(), 32);
  std::vector<float> logits(n_vocab_);
  const int32_t t = 3;
  Status st = split->Forward({&t, 1}, host, cpu_, logits.data());
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message().find("stand-in"), std::string::npos) << st.error().message();
  EXPECT_FALSE(split->Offload(device_, 1).ok());  // once only
  auto fresh = std::make_unique<LlamaModel>(*LlamaModel::Load(*file_));
  st = fresh->Offload(device_, 5);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message().find("has 4 layers"), std::string::npos);
}

TEST_F(OffloadTest, CacheLayersCopyThroughTheHost) {
  auto split = Offloaded(2);
  KvCache cache = *split->NewCache(16);
  std::vector<uint8_t> bytes(static_cast<size_t>(cache.row_bytes()) * 3);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i * 7);
  for (int64_t l = 0; l < 4; ++l) {
    ASSERT_TRUE(cache.WriteLayer(l, l % 2 == 1, bytes.data(), bytes.size()).ok());
    std::vector<uint8_t> back(bytes.size());
    ASSERT_TRUE(cache.ReadLayer(l, l % 2 == 1, back.data(), back.size()).ok());
    EXPECT_EQ(back, bytes) << "layer " << l;
  }
}

}  // namespace
}  // namespace wick::model
