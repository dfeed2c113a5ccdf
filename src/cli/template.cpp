// `wick template (-m MODEL | --file FILE.jinja) --context CASE.json [--now TIME]`: renders a
// chat template for one context and prints exactly the text, for checking templates against
// Hugging Face's renders.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/loaded_model.h"
#include "text/chat_template.h"

namespace wick::cli {

namespace {

struct TemplateOptions {
  std::string model;
  std::string file;
  std::string context;
  std::string now;
};

int RunTemplate(const TemplateOptions& opts) {
  Result<std::string> context_text = ReadTextInput("", opts.context);
  if (!context_text.ok()) return ReportError(context_text.error().message());
  nlohmann::ordered_json context =
      nlohmann::ordered_json::parse(*context_text, nullptr, /*allow_exceptions=*/false);
  if (context.is_discarded() || !context.is_object()) {
    return ReportError(opts.context + ": not a JSON object");
  }
  // A whole case from a .cases.json file works too.
  if (context.contains("context") && context["context"].is_object()) {
    nlohmann::ordered_json inner = context["context"];
    context = std::move(inner);
  }

  std::unique_ptr<LoadedModel> loaded;
  Result<ChatTemplate> chat_template = Error(ErrorCode::kInvalidArgument, "no template");
  if (!opts.file.empty()) {
    Result<std::string> source = ReadTextInput("", opts.file);
    if (!source.ok()) return ReportError(source.error().message());
    chat_template = ChatTemplate::FromSource(*source, "", "");
    if (!chat_template.ok()) return ReportError(opts.file + ": " + chat_template.error().message());
  } else {
    Result<std::unique_ptr<LoadedModel>> model = LoadedModel::Load(opts.model);
    if (!model.ok()) return ReportError(model.error().message());
    loaded = std::move(*model);
    chat_template = ChatTemplate::FromGguf(loaded->file, *loaded->tokenizer);
    if (!chat_template.ok())
      return ReportError(opts.model + ": " + chat_template.error().message());
    if (chat_template->is_fallback()) {
      std::fprintf(stderr, "wick: warning: %s has no chat template; using ChatML\n",
                   opts.model.c_str());
    }
  }
  Result<std::string> text = chat_template->Render(std::move(context), {.now = opts.now});
  if (!text.ok()) {
    if (jinja::IsRaisedError(text.error())) {
      std::fprintf(stderr, "%s\n", text.error().message().c_str());
      return 3;
    }
    return ReportError(text.error().message());
  }
  std::fwrite(text->data(), 1, text->size(), stdout);
  return std::fflush(stdout) == 0 ? 0 : 1;
}

}  // namespace

void RegisterTemplate(CLI::App& app, CommandRunner& runner) {
  auto opts = std::make_shared<TemplateOptions>();
  CLI::App* cmd = app.add_subcommand("template", "Render a chat template for one context");
  auto* model = cmd->add_option("-m,--model", opts->model, "GGUF model (its chat template)");
  auto* file = cmd->add_option("--file", opts->file, "Template file (.jinja)");
  model->excludes(file);
  cmd->add_option("--context", opts->context,
                  "JSON context: messages, tools, add_generation_prompt, bos/eos tokens")
      ->required();
  cmd->add_option("--now", opts->now,
                  "Time for strftime_now (default: now), e.g. "
                  "2026-01-15T10:30:00");
  cmd->callback([opts, model, file, &runner] {
    if (model->count() == 0 && file->count() == 0) throw CLI::RequiredError("-m or --file");
    runner = [opts] { return RunTemplate(*opts); };
  });
}

}  // namespace wick::cli
