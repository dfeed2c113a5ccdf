// `wick synth --preset NAME --type TYPE -o FILE`: a random-weight GGUF with a real model's
// shapes, for benchmarks that need no download.
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <optional>

#include "cli/commands.h"
#include "model/synthetic.h"

namespace wick::cli {

namespace {

struct SynthCliOptions {
  std::string preset;
  std::string type;
  std::string output_type;
  std::string vocab_from;
  std::string output;
  uint64_t seed = 1;
};

int RunSynth(const SynthCliOptions& opts) {
  Result<const model::SynthPreset*> preset = model::FindSynthPreset(opts.preset);
  if (!preset.ok()) return ReportError(preset.error().message());
  Result<DType> type = DTypeFromName(opts.type);
  if (!type.ok()) return ReportError(type.error().message());
  model::SynthOptions so;
  so.preset = *preset;
  so.type = *type;
  so.seed = opts.seed;
  if (!opts.output_type.empty()) {
    Result<DType> output_type = DTypeFromName(opts.output_type);
    if (!output_type.ok()) return ReportError(output_type.error().message());
    so.output_type = *output_type;
  }
  std::optional<GgufFile> vocab;
  if (!opts.vocab_from.empty()) {
    Result<GgufFile> file = GgufFile::Open(opts.vocab_from);
    if (!file.ok()) return ReportError(file.error().message());
    vocab.emplace(std::move(*file));
    so.vocab_from = &*vocab;
  }
  Result<GgufWriter> writer = model::BuildSyntheticModel(so);
  if (!writer.ok()) return ReportError(writer.error().message());
  const auto start = std::chrono::steady_clock::now();
  Status written = writer->WriteFile(opts.output);
  if (!written.ok()) return ReportError(written.error().message());
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("wrote %s: preset %s, %s weights, %zu tensors, %.0f s\n", opts.output.c_str(),
              std::string((*preset)->name).c_str(), std::string(NameOf(*type)).c_str(),
              writer->tensor_count(), seconds);
  return 0;
}

}  // namespace

void RegisterSynth(CLI::App& app, CommandRunner& runner) {
  auto opts = std::make_shared<SynthCliOptions>();
  CLI::App* cmd =
      app.add_subcommand("synth", "Write a random-weight GGUF with a real model's shapes");
  std::string presets;
  for (const model::SynthPreset& p : model::SynthPresets()) {
    presets += (presets.empty() ? "" : ", ") + std::string(p.name);
  }
  cmd->add_option("--preset", opts->preset, "Shape: " + presets)->required();
  cmd->add_option("--type", opts->type, "Weight type (Q4_0, Q4_K, Q8_0, F16, ...)")->required();
  cmd->add_option("--output-type", opts->output_type,
                  "output.weight type (default: --type, Q6_K for k-quants)");
  cmd->add_option("--vocab-from", opts->vocab_from,
                  "Copy the tokenizer from this GGUF (default: a 32000-token byte-level vocab); "
                  "padded with unused [PADn] tokens to a preset's vocabulary size (qwen2-1.5b: "
                  "151936), a larger one is kept whole");
  cmd->add_option("--seed", opts->seed, "Random seed");
  cmd->add_option("-o,--output", opts->output, "Output GGUF")->required();
  cmd->callback([opts, &runner] { runner = [opts] { return RunSynth(*opts); }; });
}

}  // namespace wick::cli
