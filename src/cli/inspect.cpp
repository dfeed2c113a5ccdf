// `wick inspect FILE`: what a GGUF or safetensors model holds, as text or JSON.
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "cli/commands.h"
#include "cli/model_resolver.h"
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

enum class FileKind { kGguf, kSafetensors, kUnknown };

// GGUF starts with its magic; a safetensors file with an 8-byte header length and then the
// JSON header's '{'.
FileKind SniffFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char head[9] = {};
  in.read(head, sizeof head);
  if (in.gcount() >= 4 && std::string_view(head, 4) == "GGUF") return FileKind::kGguf;
  if (in.gcount() == 9 && head[8] == '{') return FileKind::kSafetensors;
  return FileKind::kUnknown;
}

// A directory or an index .json is a (sharded) safetensors model; files are recognised by
// their first bytes, then by extension. Anything else is read as GGUF, so that the error
// says what is wrong with it.
Result<ModelSummary> Summarize(const InspectOptions& opts) {
  std::error_code ec;
  namespace fs = std::filesystem;
  if (!fs::exists(opts.path, ec)) {
    return Error(ErrorCode::kNotFound, opts.path + ": no such file or directory");
  }
  FileKind kind = fs::is_directory(opts.path, ec) ? FileKind::kSafetensors : SniffFile(opts.path);
  if (kind == FileKind::kUnknown) {
    auto ext = fs::path(opts.path).extension();
    if (ext == ".safetensors" || ext == ".json") kind = FileKind::kSafetensors;
  }
  if (kind == FileKind::kSafetensors) {
    WICK_ASSIGN_OR_RETURN(SafetensorsModel model, SafetensorsModel::Open(opts.path));
    return SummarizeSafetensors(model, opts.path, opts.full);
  }
  WICK_ASSIGN_OR_RETURN(const std::string path, ResolveModel(opts.path));
  WICK_ASSIGN_OR_RETURN(GgufFile file, GgufFile::Open(path));
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
