// `wick perplexity -m MODEL -f TEXT [--ctx-size N]`: perplexity the usual way — the text is
// cut into windows of N tokens, each starting with BOS, and only the predictions in the second
// half of each window are scored, so every scored token has at least N/2 tokens of context.
#include <fmt/format.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>

#include "cli/commands.h"
#include "cli/device_setup.h"
#include "cli/loaded_model.h"

namespace wick::cli {

namespace {

struct PerplexityOptions {
  std::string model;
  std::string file;
  int64_t ctx = 512;
  int threads = 0;
  DeviceOptions device;
};

int RunPerplexity(const PerplexityOptions& opts) {
  Result<std::string> read = ReadTextInput("", opts.file);
  if (!read.ok()) return ReportError(read.error().message());
  const std::string& text = *read;
  Result<std::unique_ptr<LoadedModel>> loaded = LoadedModel::Load(opts.model);
  if (!loaded.ok()) return ReportError(loaded.error().message());
  LoadedModel& m = **loaded;
  const int64_t ctx = opts.ctx;
  std::vector<int32_t> tokens = m.tokenizer->Encode(text, {.add_special = true});
  const auto n_windows = static_cast<int64_t>(tokens.size()) / ctx;
  if (n_windows == 0) {
    return ReportError(
        fmt::format("{}: {} tokens, fewer than one window of {}", opts.file, tokens.size(), ctx));
  }
  const int64_t n_vocab = m.model.hparams().n_vocab;
  Result<DeviceSetup> devices = SetUpDevice(
      opts.device, m.model, {.threads = opts.threads, .n_ctx = ctx, .max_batch_tokens = ctx});
  if (!devices.ok()) return ReportError(devices.error().message());
  Result<model::KvCache> cache = m.model.NewCache(ctx);
  if (!cache.ok()) return ReportError(cache.error().message());
  model::CpuBackend& backend = *devices->cpu;
  Result<model::DeviceBuffer> logits_buf = m.model.AllocateLogits(ctx, backend);
  if (!logits_buf.ok()) return ReportError(logits_buf.error().message());
  auto* logits = static_cast<float*>(logits_buf->data());
  const int32_t bos = m.tokenizer->vocab().bos;
  const bool tty = isatty(fileno(stderr)) != 0;

  double nll = 0;
  int64_t scored = 0;
  for (int64_t w = 0; w < n_windows; ++w) {
    std::vector<int32_t> window(tokens.begin() + w * ctx, tokens.begin() + (w + 1) * ctx);
    if (bos >= 0) window[0] = bos;
    cache->Clear();
    Status st = m.model.Forward(window, *cache, backend, logits);
    if (!st.ok()) return ReportError(st.error().message());
    for (int64_t j = ctx / 2; j < ctx - 1; ++j) {
      const float* row = logits + j * n_vocab;
      float max = row[0];
      for (int64_t v = 1; v < n_vocab; ++v) max = std::max(max, row[v]);
      double sum = 0;
      for (int64_t v = 0; v < n_vocab; ++v) sum += std::exp(static_cast<double>(row[v] - max));
      nll += std::log(sum) + max - row[window[static_cast<size_t>(j + 1)]];
      ++scored;
    }
    std::fprintf(stderr, "%s[%lld/%lld] perplexity %.4f%s", tty ? "\r" : "",
                 static_cast<long long>(w + 1), static_cast<long long>(n_windows),
                 std::exp(nll / static_cast<double>(scored)), tty ? "" : "\n");
  }
  if (tty) std::fputc('\n', stderr);
  std::printf("perplexity: %.4f over %lld scored tokens (%lld windows of %lld)\n",
              std::exp(nll / static_cast<double>(scored)), static_cast<long long>(scored),
              static_cast<long long>(n_windows), static_cast<long long>(ctx));
  return std::fflush(stdout) == 0 ? 0 : ReportError("cannot write to standard output");
}

}  // namespace

void RegisterPerplexity(CLI::App& app, CommandRunner& runner) {
  auto opts = std::make_shared<PerplexityOptions>();
  CLI::App* cmd = app.add_subcommand("perplexity", "Perplexity of a model over a text file");
  cmd->add_option("-m,--model,model", opts->model,
                  "GGUF model: a path, or org/name:QUANT from the Hugging Face hub")
      ->required();
  cmd->add_option("-f,--file", opts->file, "Text file")->required();
  cmd->add_option("-c,--ctx-size", opts->ctx, "Window size in tokens")
      ->check(CLI::Range(4, 1 << 20));
  cmd->add_option("-t,--threads", opts->threads, "Threads (default: physical cores)");
  AddDeviceOptions(*cmd, opts->device);
  cmd->callback([opts, &runner] { runner = [opts] { return RunPerplexity(*opts); }; });
}

}  // namespace wick::cli
