// `wick logits -m MODEL -p PROMPT [--top K] [--greedy N]`: the prompt's token ids, the top-K
// logits at every position and an optional greedy continuation, as JSON in the schema of the
// shared golden files, so a run can be compared with the reference file by file.
#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/device_setup.h"
#include "cli/loaded_model.h"
#include "sampling/top_logits.h"

namespace wick::cli {

namespace {

struct LogitsOptions {
  std::string model;
  std::string prompt;
  std::string file;
  int top = 10;
  int greedy = 0;
  int threads = 0;
  DeviceOptions device;
};

nlohmann::json TopK(const float* logits, int64_t n_vocab, int k) {
  nlohmann::json top = nlohmann::json::array();
  for (int32_t id : sampling::TopLogitIds({logits, static_cast<size_t>(n_vocab)},
                                          static_cast<size_t>(std::max(k, 0)))) {
    top.push_back({id, logits[id]});
  }
  return top;
}

int RunLogits(const LogitsOptions& opts) {
  Result<std::string> read = ReadTextInput(opts.prompt, opts.file);
  if (!read.ok()) return ReportError(read.error().message());
  const std::string& prompt = *read;
  Result<std::unique_ptr<LoadedModel>> loaded = LoadedModel::Load(opts.model);
  if (!loaded.ok()) return ReportError(loaded.error().message());
  LoadedModel& m = **loaded;
  std::vector<int32_t> tokens = m.tokenizer->Encode(prompt, {.add_special = true});
  if (tokens.empty()) return ReportError("the prompt is empty");
  const int64_t n_vocab = m.model.hparams().n_vocab;
  const int64_t n_ctx = static_cast<int64_t>(tokens.size()) + std::max(opts.greedy, 0);
  Result<DeviceSetup> devices = SetUpDevice(
      opts.device, m.model, {.threads = opts.threads, .n_ctx = n_ctx, .max_batch_tokens = n_ctx});
  if (!devices.ok()) return ReportError(devices.error().message());
  Result<model::KvCache> cache = m.model.NewCache(n_ctx);
  if (!cache.ok()) return ReportError(cache.error().message());
  model::CpuBackend& backend = *devices->cpu;

  std::vector<float> logits(tokens.size() * static_cast<size_t>(n_vocab));
  Status st = m.model.Forward(tokens, *cache, backend, logits.data());
  if (!st.ok()) return ReportError(st.error().message());

  nlohmann::json positions = nlohmann::json::array();
  for (size_t p = 0; p < tokens.size(); ++p) {
    positions.push_back(
        {{"pos", p}, {"top", TopK(logits.data() + p * n_vocab, n_vocab, opts.top)}});
  }
  nlohmann::json greedy = nlohmann::json::array();
  std::string greedy_text;
  const float* last = logits.data() + (tokens.size() - 1) * static_cast<size_t>(n_vocab);
  std::vector<float> step(last, last + n_vocab);
  for (int i = 0; i < opts.greedy; ++i) {
    auto next = static_cast<int32_t>(std::max_element(step.begin(), step.end()) - step.begin());
    greedy.push_back(next);
    greedy_text += m.tokenizer->TokenPiece(next);
    if (m.tokenizer->IsEog(next) || i + 1 == opts.greedy) break;
    st = m.model.Forward({&next, 1}, *cache, backend, step.data());
    if (!st.ok()) return ReportError(st.error().message());
  }
  nlohmann::json out = {{"model", opts.model},     {"prompt", prompt},
                        {"add_special", true},     {"n_vocab", n_vocab},
                        {"prompt_tokens", tokens}, {"positions", positions},
                        {"greedy", greedy},        {"greedy_text", greedy_text}};
  std::string text = out.dump(1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  std::fwrite(text.data(), 1, text.size(), stdout);
  return std::fflush(stdout) == 0 ? 0 : ReportError("cannot write to standard output");
}

}  // namespace

void RegisterLogits(CLI::App& app, CommandRunner& runner) {
  auto opts = std::make_shared<LogitsOptions>();
  CLI::App* cmd = app.add_subcommand(
      "logits", "Print a prompt's tokens, top logits per position and greedy tokens as JSON");
  cmd->add_option("-m,--model,model", opts->model,
                  "GGUF model: a path, or org/name:QUANT from the Hugging Face hub")
      ->required();
  auto* prompt = cmd->add_option("-p,--prompt", opts->prompt, "Prompt text");
  auto* file = cmd->add_option("-f,--file", opts->file, "Read the prompt from this file");
  prompt->excludes(file);
  cmd->add_option("--top", opts->top, "Logits to print per position")->check(CLI::Range(1, 1000));
  cmd->add_option("--greedy", opts->greedy, "Greedy tokens to generate after the prompt")
      ->check(CLI::Range(0, 100000));
  cmd->add_option("-t,--threads", opts->threads, "Threads (default: physical cores)");
  AddDeviceOptions(*cmd, opts->device);
  cmd->callback([opts, prompt, file, &runner] {
    if (prompt->count() == 0 && file->count() == 0) throw CLI::RequiredError("-p or -f");
    runner = [opts] { return RunLogits(*opts); };
  });
}

}  // namespace wick::cli
