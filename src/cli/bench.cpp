// `wick bench -m MODEL`: prompt processing (pp) and generation (tg) speed, measured and
// reported the way llama-bench does (markdown table, or JSON with its field names), plus the
// effective weight bandwidth of generation.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>

#include "cli/commands.h"
#include "cli/device_setup.h"
#include "cli/loaded_model.h"
#include "engine/bench_run.h"

namespace wick::cli {

namespace {

struct BenchOptions {
  std::string model;
  int64_t n_prompt = 512;
  int64_t n_gen = 128;
  // Tokens already in the cache when each test starts (llama-bench's -d), one pass of every
  // test per depth.
  std::vector<int64_t> depths{0};
  int repetitions = 5;
  int threads = 0;
  DeviceOptions device;
  bool json = false;
  // Batched decode (llama-batched-bench): sequence counts, and each one's prompt and
  // generated tokens.
  std::vector<int> parallel;
  int64_t parallel_prompt = 128;
  int64_t parallel_gen = 128;
};

struct BatchedResult {
  int n_seq = 0;
  double decode_ts = 0;  // generated tokens of all sequences per second
};

struct TestResult {
  std::string name;  // pp512, tg128, tg128 @ d4096
  int64_t n_prompt = 0;
  int64_t n_gen = 0;
  int64_t n_depth = 0;
  std::vector<double> samples_ns;
  std::vector<double> samples_ts;
  double avg_ts = 0, stddev_ts = 0;
};

struct ModelFacts {
  std::string type;   // "llama 1.1B Q4_0"
  uint64_t size = 0;  // bytes of all tensors
  uint64_t params = 0;
  // Weight bytes one generated token reads: every tensor but the embedding table, of which
  // only a row is read (unless the output projection is tied to it).
  uint64_t bytes_per_token = 0;
};

ModelFacts Describe(const LoadedModel& m) {
  ModelFacts f;
  std::map<DType, uint64_t> by_type;
  const bool tied = m.file.FindTensor("output.weight") == nullptr;
  for (const GgufTensorInfo& t : m.file.tensors()) {
    f.size += t.n_bytes;
    f.params += t.n_elements;
    if (t.shape.size() >= 2) by_type[t.type] += t.n_bytes;
    const bool embedding = t.name == "token_embd.weight";
    f.bytes_per_token +=
        embedding && !tied ? t.n_bytes / static_cast<uint64_t>(t.shape[1]) : t.n_bytes;
  }
  DType main = DType::kF32;
  uint64_t most = 0;
  for (const auto& [type, bytes] : by_type) {
    if (bytes > most) most = bytes, main = type;
  }
  const double p = static_cast<double>(f.params);
  const std::string label = p >= 1e9   ? fmt::format("{:.1f}B", p / 1e9)
                            : p >= 1e6 ? fmt::format("{:.0f}M", p / 1e6)
                                       : fmt::format("{:.0f}K", p / 1e3);
  f.type = fmt::format("{} {} {}", m.model.hparams().arch->name, label, NameOf(main));
  return f;
}

std::string HumanSize(uint64_t bytes) {
  const double b = static_cast<double>(bytes);
  if (b >= 1024.0 * 1024 * 1024) return fmt::format("{:.2f} GiB", b / (1024.0 * 1024 * 1024));
  return fmt::format("{:.2f} MiB", b / (1024.0 * 1024));
}

std::string HumanParams(uint64_t n) {
  const double p = static_cast<double>(n);
  if (p >= 1e9) return fmt::format("{:.2f} B", p / 1e9);
  if (p >= 1e6) return fmt::format("{:.2f} M", p / 1e6);
  return fmt::format("{:.2f} K", p / 1e3);
}

void Summarize(TestResult& r) {
  const auto n = static_cast<double>(r.samples_ts.size());
  r.avg_ts = std::accumulate(r.samples_ts.begin(), r.samples_ts.end(), 0.0) / n;
  double var = 0;
  for (double s : r.samples_ts) var += (s - r.avg_ts) * (s - r.avg_ts);
  r.stddev_ts = n > 1 ? std::sqrt(var / (n - 1)) : 0.0;
}

int RunBench(const BenchOptions& opts) {
  if (opts.n_prompt < 0 || opts.n_gen < 0 || opts.repetitions < 1) {
    return ReportError("-p and -n must be >= 0 and -r >= 1");
  }
  if (opts.depths.empty()) return ReportError("-d needs at least one depth");
  Result<std::unique_ptr<LoadedModel>> loaded = LoadedModel::Load(opts.model);
  if (!loaded.ok()) return ReportError(loaded.error().message());
  LoadedModel& m = **loaded;
  const ModelFacts facts = Describe(m);
  const int64_t max_depth = *std::max_element(opts.depths.begin(), opts.depths.end());
  const int64_t n_ctx = max_depth + std::max<int64_t>({opts.n_prompt, opts.n_gen, 1});
  // The depth is filled in llama-bench's default micro-batches.
  const int64_t fill_batch = std::min<int64_t>(max_depth, 512);
  const int max_parallel =
      opts.parallel.empty() ? 0 : *std::max_element(opts.parallel.begin(), opts.parallel.end());
  const int64_t parallel_ctx = opts.parallel_prompt + opts.parallel_gen;
  // Room for the pp/tg cache and, at once, the largest batched run's caches.
  Result<DeviceSetup> devices = SetUpDevice(
      opts.device, m.model,
      {.threads = opts.threads,
       .n_ctx = n_ctx + (max_parallel > 0 ? parallel_ctx * max_parallel : 0),
       .max_batch_tokens =
           std::max<int64_t>({opts.n_prompt, opts.parallel_prompt, max_parallel, fill_batch})});
  if (!devices.ok()) return ReportError(devices.error().message());
  LogDevice(*devices);
  Result<model::KvCache> cache = m.model.NewCache(n_ctx);
  if (!cache.ok()) return ReportError(cache.error().message());
  model::CpuBackend& backend = *devices->cpu;
  std::vector<float> logits(static_cast<size_t>(m.model.hparams().n_vocab));
  std::mt19937 rng(42);

  std::vector<TestResult> results;
  for (int64_t depth : opts.depths) {
    const std::string at = depth > 0 ? fmt::format(" @ d{}", depth) : "";
    if (opts.n_prompt > 0) {
      TestResult& r = results.emplace_back();
      r.name = fmt::format("pp{}{}", opts.n_prompt, at);
      r.n_prompt = opts.n_prompt;
      r.n_depth = depth;
    }
    if (opts.n_gen > 0) {
      TestResult& r = results.emplace_back();
      r.name = fmt::format("tg{}{}", opts.n_gen, at);
      r.n_gen = opts.n_gen;
      r.n_depth = depth;
    }
  }
  for (TestResult& r : results) {
    const engine::ForwardRunShape shape{
        .n_prompt = r.n_prompt, .n_gen = r.n_gen, .n_depth = r.n_depth, .fill_batch = fill_batch};
    // A warm-up run pages the weights in and sizes every buffer.
    Result<double> warm = engine::TimeForwardRun(m.model, backend, *cache, logits, rng, shape);
    if (!warm.ok()) return ReportError(warm.error().message());
    for (int i = 0; i < opts.repetitions; ++i) {
      Result<double> ns = engine::TimeForwardRun(m.model, backend, *cache, logits, rng, shape);
      if (!ns.ok()) return ReportError(ns.error().message());
      r.samples_ns.push_back(*ns);
      r.samples_ts.push_back(1e9 * static_cast<double>(r.n_prompt + r.n_gen) / *ns);
    }
    Summarize(r);
  }
  std::vector<BatchedResult> batched;
  for (int n_seq : opts.parallel) {
    std::vector<model::KvCache> caches;
    for (int i = 0; i < n_seq; ++i) {
      // Each prompt goes in as one step.
      Result<model::KvCache> c =
          m.model.NewCache(std::max<int64_t>(parallel_ctx, 1), DType::kF16,
                           {.max_step = std::max<int64_t>(opts.parallel_prompt, 1)});
      if (!c.ok()) return ReportError(c.error().message());
      caches.push_back(std::move(*c));
    }
    model::DeviceBuffer batch_logits;
    // The warm-up sizes the buffers (and records the step on a GPU).
    Result<double> ns = engine::TimeBatchedDecode(m.model, backend, caches, batch_logits, rng,
                                                  opts.parallel_prompt, 3);
    if (ns.ok()) {
      ns = engine::TimeBatchedDecode(m.model, backend, caches, batch_logits, rng,
                                     opts.parallel_prompt, opts.parallel_gen);
    }
    if (!ns.ok()) return ReportError(ns.error().message());
    batched.push_back(
        {.n_seq = n_seq, .decode_ts = 1e9 * static_cast<double>(n_seq * opts.parallel_gen) / *ns});
  }

  const int threads = backend.pool().size();
  if (opts.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const TestResult& r : results) {
      const double avg_ns =
          std::accumulate(r.samples_ns.begin(), r.samples_ns.end(), 0.0) / r.samples_ns.size();
      nlohmann::json j = {{"model_filename", opts.model},
                          {"model_type", facts.type},
                          {"model_size", facts.size},
                          {"model_n_params", facts.params},
                          {"backend", devices->backend_label},
                          {"n_gpu_layers", m.model.gpu_layers()},
                          {"vram_bytes", devices->vram_bytes()},
                          {"n_threads", threads},
                          {"type_k", "f16"},
                          {"type_v", "f16"},
                          {"n_prompt", r.n_prompt},
                          {"n_gen", r.n_gen},
                          {"n_depth", r.n_depth},
                          {"avg_ns", static_cast<uint64_t>(avg_ns)},
                          {"avg_ts", r.avg_ts},
                          {"stddev_ts", r.stddev_ts},
                          {"samples_ns", r.samples_ns},
                          {"samples_ts", r.samples_ts}};
      if (r.n_gen > 0 && r.n_prompt == 0) {
        j["weight_bytes_per_token"] = facts.bytes_per_token;
        j["weight_gbps"] = r.avg_ts * static_cast<double>(facts.bytes_per_token) / 1e9;
      }
      out.push_back(j);
    }
    for (const BatchedResult& b : batched) {
      out.push_back({{"model_filename", opts.model},
                     {"backend", devices->backend_label},
                     {"n_parallel", b.n_seq},
                     {"n_prompt", opts.parallel_prompt},
                     {"n_gen", opts.parallel_gen},
                     {"avg_ts", b.decode_ts}});
    }
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  std::printf("| %-30s | %10s | %10s | %-10s | %7s | %15s | %20s |\n", "model", "size", "params",
              "backend", "threads", "test", "t/s");
  std::printf("| %s | %s: | %s: | %s | %s: | %s: | %s: |\n", std::string(30, '-').c_str(),
              std::string(9, '-').c_str(), std::string(9, '-').c_str(),
              std::string(10, '-').c_str(), std::string(6, '-').c_str(),
              std::string(14, '-').c_str(), std::string(19, '-').c_str());
  for (const TestResult& r : results) {
    std::printf("| %-30s | %10s | %10s | %-10s | %7d | %15s | %20s |\n", facts.type.c_str(),
                HumanSize(facts.size).c_str(), HumanParams(facts.params).c_str(),
                devices->backend_label.c_str(), threads, r.name.c_str(),
                fmt::format("{:.2f} ± {:.2f}", r.avg_ts, r.stddev_ts).c_str());
  }
  if (!batched.empty()) {
    std::printf("\n| %9s | %6s | %9s | %22s | %12s |\n", "sequences", "prompt", "generated",
                "decode t/s (all seqs)", "per sequence");
    std::printf("| --------: | -----: | --------: | ---------------------: | -----------: |\n");
    for (const BatchedResult& b : batched) {
      std::printf("| %9d | %6lld | %9lld | %22.1f | %12.1f |\n", b.n_seq,
                  static_cast<long long>(opts.parallel_prompt),
                  static_cast<long long>(opts.parallel_gen), b.decode_ts, b.decode_ts / b.n_seq);
    }
  }
  if (devices->gpu) {
    std::printf("\n%s: %lld/%lld layers on the GPU, %s of GPU memory in use\n",
                devices->gpu->name().c_str(), static_cast<long long>(m.model.gpu_layers()),
                static_cast<long long>(m.model.hparams().n_layer),
                HumanSize(devices->vram_bytes()).c_str());
  }
  for (const TestResult& r : results) {
    if (r.n_gen == 0 || r.n_prompt != 0) continue;
    const double gb = static_cast<double>(facts.bytes_per_token) / 1e9;
    std::printf("\n%s: %.3f GB of weights per token x %.2f t/s = %.1f GB/s\n", r.name.c_str(), gb,
                r.avg_ts, gb * r.avg_ts);
  }
  return 0;
}

}  // namespace

void RegisterBench(CLI::App& app, CommandRunner& runner) {
  auto opts = std::make_shared<BenchOptions>();
  CLI::App* cmd = app.add_subcommand("bench", "Measure prompt and generation speed (llama-bench)");
  cmd->add_option("-m,--model,model", opts->model,
                  "GGUF model: a path, or org/name:QUANT from the Hugging Face hub")
      ->required();
  cmd->add_option("-p,--n-prompt", opts->n_prompt, "Prompt tokens per pp test (0: skip)");
  cmd->add_option("-n,--n-gen", opts->n_gen, "Generated tokens per tg test (0: skip)");
  cmd->add_option("-d,--n-depth", opts->depths,
                  "Tokens already in the KV cache when each test starts, e.g. 0,4096 (default 0)")
      ->delimiter(',')
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("-r,--repetitions", opts->repetitions, "Timed runs per test");
  cmd->add_option("-t,--threads", opts->threads, "Threads (default: physical cores)");
  AddDeviceOptions(*cmd, opts->device);
  cmd->add_flag("--json", opts->json, "Print JSON with llama-bench's field names");
  cmd->add_option("--parallel", opts->parallel,
                  "Batched decode with these numbers of sequences at once (e.g. 1,16,64)")
      ->delimiter(',')
      ->check(CLI::PositiveNumber);
  cmd->add_option("--parallel-prompt", opts->parallel_prompt,
                  "Prompt tokens of each batched sequence (default 128)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--parallel-gen", opts->parallel_gen,
                  "Tokens each batched sequence generates, timed (default 128)")
      ->check(CLI::PositiveNumber);
  cmd->callback([opts, &runner] { runner = [opts] { return RunBench(*opts); }; });
}

}  // namespace wick::cli
