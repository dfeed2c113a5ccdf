// `wick tokenize -m MODEL (-p TEXT | -f FILE)`: the token ids of a text, as the model's
// tokenizer makes them.
#include <cstdio>

#include "cli/commands.h"
#include "cli/model_resolver.h"
#include "io/gguf_file.h"
#include "text/tokenizer.h"

namespace wick::cli {

namespace {

struct TokenizeOptions {
  std::string model;
  std::string prompt;
  std::string file;
  bool no_special = false;
  bool parse_special = false;
  bool pieces = false;
};

int RunTokenize(const TokenizeOptions& opts) {
  Result<std::string> path = ResolveModel(opts.model);
  if (!path.ok()) return ReportError(path.error().message());
  Result<GgufFile> file = GgufFile::Open(*path);
  if (!file.ok()) return ReportError(file.error().message());
  Result<std::unique_ptr<Tokenizer>> tokenizer = Tokenizer::FromGguf(*file);
  if (!tokenizer.ok()) return ReportError(tokenizer.error().message());
  Result<std::string> text = ReadTextInput(opts.prompt, opts.file);
  if (!text.ok()) return ReportError(text.error().message());
  std::vector<int32_t> ids =
      (*tokenizer)
          ->Encode(*text, {.add_special = !opts.no_special, .parse_special = opts.parse_special});
  std::string out;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (opts.pieces) {
      out += std::to_string(ids[i]) + " " + (*tokenizer)->TokenPiece(ids[i]) + "\n";
    } else {
      out += (i == 0 ? "" : " ") + std::to_string(ids[i]);
    }
  }
  if (!opts.pieces) out += "\n";
  std::fwrite(out.data(), 1, out.size(), stdout);
  return std::fflush(stdout) == 0 ? 0 : ReportError("cannot write to standard output");
}

}  // namespace

void RegisterTokenize(CLI::App& app, CommandRunner& runner) {
  auto opts = std::make_shared<TokenizeOptions>();
  CLI::App* cmd = app.add_subcommand("tokenize", "Print the token ids of a text");
  cmd->add_option("-m,--model", opts->model, "GGUF model or vocabulary file")->required();
  auto* prompt = cmd->add_option("-p,--prompt", opts->prompt, "Text to tokenize");
  auto* file = cmd->add_option("-f,--file", opts->file,
                               "Tokenize this file's bytes exactly ('-': standard input)");
  prompt->excludes(file);
  cmd->add_flag("--no-special", opts->no_special, "Do not add BOS/EOS tokens");
  cmd->add_flag("--parse-special", opts->parse_special,
                "Turn text such as <s> into the special tokens it spells");
  cmd->add_flag("--pieces", opts->pieces, "Print each id with its piece, one per line");
  cmd->callback([opts, prompt, file, &runner] {
    if (prompt->count() == 0 && file->count() == 0) {
      throw CLI::RequiredError("-p or -f");
    }
    runner = [opts] { return RunTokenize(*opts); };
  });
}

}  // namespace wick::cli
