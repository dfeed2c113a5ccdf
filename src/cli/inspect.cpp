// `wick inspect FILE`: what a GGUF or safetensors model holds, as text or JSON.
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "cli/commands.h"
#include "cli/model_summary.h"
#include "io/gguf_file.h"
#include "io/safetensors_file.h"

namespace wick::cli {

namespace {

struct InspectOptions {
  std::string path;
  bool json = false;
  bool full = false;
};

bool StartsWithGgufMagic(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  return in.read(magic, 4) && std::string_view(magic, 4) == "GGUF";
}

// GGUF is recognised by its magic; a directory, an index .json or a .safetensors file is
// safetensors. Anything else is tried as GGUF so that the error names what is wrong.
Result<ModelSummary> Summarize(const InspectOptions& opts) {
  std::error_code ec;
  namespace fs = std::filesystem;
  if (!fs::exists(opts.path, ec)) {
    return Error(ErrorCode::kNotFound, opts.path + ": no such file or directory");
  }
  bool is_safetensors = fs::is_directory(opts.path, ec) ||
                        fs::path(opts.path).extension() == ".safetensors" ||
                        fs::path(opts.path).extension() == ".json";
  if (is_safetensors && !StartsWithGgufMagic(opts.path)) {
    WICK_ASSIGN_OR_RETURN(SafetensorsModel model, SafetensorsModel::Open(opts.path));
    return SummarizeSafetensors(model, opts.path, opts.full);
  }
  WICK_ASSIGN_OR_RETURN(GgufFile file, GgufFile::Open(opts.path));
  return SummarizeGguf(file, opts.full);
}

int RunInspect(const InspectOptions& opts) {
  Result<ModelSummary> summary = Summarize(opts);
  if (!summary.ok()) return ReportError(summary.error().message());
  std::string text = opts.json ? SummaryToJson(*summary).dump(
                                     2, ' ', false, nlohmann::json::error_handler_t::replace) +
                                     "\n"
                               : SummaryToText(*summary);
  std::fwrite(text.data(), 1, text.size(), stdout);
  return std::fflush(stdout) == 0 ? 0 : ReportError("cannot write to standard output");
}

}  // namespace

void RegisterInspect(CLI::App& app, CommandRunner& runner) {
  auto opts = std::make_shared<InspectOptions>();
  CLI::App* cmd = app.add_subcommand(
      "inspect", "Show what a GGUF or safetensors model holds: metadata, tokenizer, tensors");
  cmd->add_option("file", opts->path,
                  "A .gguf file, a .safetensors file, a model.safetensors.index.json or a "
                  "Hugging Face model directory")
      ->required();
  cmd->add_flag("--json", opts->json, "Print everything as one JSON object");
  cmd->add_flag("--full", opts->full, "Do not summarise long arrays (such as the vocabulary)");
  cmd->callback([opts, &runner] { runner = [opts] { return RunInspect(*opts); }; });
}

}  // namespace wick::cli
