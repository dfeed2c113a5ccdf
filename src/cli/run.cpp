// `wick run -m MODEL -p PROMPT`: generate text, streamed to stdout as it is made, with a
// timing line on stderr.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>

#include "cli/commands.h"
#include "cli/device_setup.h"
#include "cli/loaded_model.h"
#include "cli/routing.h"
#include "engine/batch_engine.h"
#include "engine/generator.h"
#include "text/grammar/gbnf.h"
#include "text/grammar/grammar_matcher.h"
#include "text/grammar/json_schema.h"

namespace wick::cli {

namespace {

struct RunOptions {
  std::string model;
  std::string prompt;
  std::string file;
  int64_t n_predict = -1;
  int64_t ctx_size = 0;
  int threads = 0;
  std::string cache_type = "f16";
  bool swa_full = false;
  std::vector<std::string> stop;
  sampling::SamplingParams sampling;
  std::string config;          // route through the providers of this file
  std::string route = "auto";  // the request's `model`: auto, a provider, provider/model
  std::string grammar_file;    // GBNF
  std::string json_schema;     // a schema, or @FILE
  DeviceOptions device;
};

// --grammar-file or --json-schema as a grammar for this model's vocabulary; null when neither.
Result<std::shared_ptr<text::CompiledGrammar>> OutputGrammar(const RunOptions& opts,
                                                             const Tokenizer& tokenizer) {
  if (opts.grammar_file.empty() && opts.json_schema.empty()) {
    return std::shared_ptr<text::CompiledGrammar>();
  }
  text::Grammar grammar;
  if (!opts.grammar_file.empty()) {
    WICK_ASSIGN_OR_RETURN(const std::string source, ReadTextInput("", opts.grammar_file));
    Result<text::Grammar> parsed = text::ParseGbnf(source);
    if (!parsed.ok()) return std::move(parsed).error().With(opts.grammar_file);
    grammar = std::move(*parsed);
  } else {
    std::string source = opts.json_schema;
    if (source.rfind('@', 0) == 0) {
      WICK_ASSIGN_OR_RETURN(source, ReadTextInput("", source.substr(1)));
    }
    const auto schema = nlohmann::json::parse(source, nullptr, false);
    if (schema.is_discarded()) {
      return Error(ErrorCode::kInvalidArgument, "--json-schema: not valid JSON");
    }
    Result<text::Grammar> built = text::JsonSchemaGrammar(schema);
    if (!built.ok()) return std::move(built).error().With("--json-schema");
    grammar = std::move(*built);
  }
  return text::CompiledGrammar::Create(std::move(grammar), text::VocabTrie::Build(tokenizer));
}

// With --config: the prompt goes through the router like a /v1/completions request, to the
// local model of -m or [local] (one sequence) or to a remote provider.
int RunRouted(const RunOptions& opts, const std::string& prompt) {
  Result<std::unique_ptr<CommandRouting>> routing =
      RouteForCommand(opts.config, opts.model, opts.ctx_size, opts.threads, "", opts.device);
  if (!routing.ok()) return ReportError(routing.error().message());

  api::CompletionRequest request;
  request.endpoint = api::Endpoint::kCompletion;
  request.model = opts.route;
  request.prompts = {prompt};
  request.max_tokens = opts.n_predict;
  request.stop = opts.stop;
  request.sampling = opts.sampling;
  request.seed_given = true;
  const auto start = std::chrono::steady_clock::now();
  bool wrote = false;
  provider::CancelToken cancel;
  auto result = (*routing)->routing.router->Stream(
      request, "",
      [&](const provider::Delta& d) {
        if (d.index != 0 || d.text.empty()) return true;
        wrote = true;
        std::fwrite(d.text.data(), 1, d.text.size(), stdout);
        return std::fflush(stdout) == 0;  // a closed pipe stops generation
      },
      cancel);
  if (wrote) std::fputc('\n', stdout);
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  if (const auto* e = std::get_if<provider::RouteError>(&result)) {
    return ReportError(RouteErrorMessage(*e));
  }
  const auto& info = std::get<provider::RouteInfo>(result);
  std::string path;
  for (const std::string& p : info.path) path += (path.empty() ? "" : " > ") + p;
  std::fprintf(stderr,
               "wick: %s (%s) | prompt %lld tokens | generated %lld tokens in %.0f ms | $%.6f%s "
               "| tried %s\n",
               info.provider.c_str(), info.model.c_str(),
               static_cast<long long>(info.usage.prompt_tokens),
               static_cast<long long>(info.usage.completion_tokens), ms, info.cost,
               info.cache_hit ? " (cache)" : "", path.c_str());
  return 0;
}

int RunRun(const RunOptions& opts) {
  Result<std::string> prompt = ReadTextInput(opts.prompt, opts.file);
  if (!prompt.ok()) return ReportError(prompt.error().message());
  if (!opts.config.empty()) {
    if (!opts.grammar_file.empty() || !opts.json_schema.empty()) {
      return ReportError(
          "--grammar-file and --json-schema work with a local model (-m), not "
          "--config");
    }
    return RunRouted(opts, *prompt);
  }
  if (opts.model.empty()) return ReportError("give -m MODEL, or --config with providers");
  auto load_start = std::chrono::steady_clock::now();
  Result<std::unique_ptr<LoadedModel>> loaded = LoadedModel::Load(opts.model);
  if (!loaded.ok()) return ReportError(loaded.error().message());
  LoadedModel& m = **loaded;
  const model::HParams& hp = m.model.hparams();
  Result<DType> cache_type = DTypeFromName(opts.cache_type);
  if (!cache_type.ok()) return ReportError(cache_type.error().message());
  const model::KvCacheOptions kv{.swa_full = opts.swa_full};
  const int64_t n_ctx =
      opts.ctx_size > 0 ? opts.ctx_size : DefaultContextSize(hp, *cache_type, 1, kv);
  Result<DeviceSetup> devices = SetUpDevice(
      opts.device, m.model,
      {.threads = opts.threads, .n_ctx = n_ctx, .kv_type = *cache_type, .kv_options = kv});
  if (!devices.ok()) return ReportError(devices.error().message());
  Result<model::KvCache> cache = m.model.NewCache(n_ctx, *cache_type, kv);
  if (!cache.ok()) return ReportError(cache.error().message());
  model::CpuBackend& backend = *devices->cpu;
  const double load_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - load_start)
          .count();
  Result<std::shared_ptr<text::CompiledGrammar>> grammar = OutputGrammar(opts, *m.tokenizer);
  if (!grammar.ok()) return ReportError(grammar.error().message());
  engine::Generator generator(m.model, *m.tokenizer, backend, *cache);
  engine::GenerateParams params{.prompt = *prompt,
                                .max_tokens = opts.n_predict,
                                .stop = opts.stop,
                                .sampling = opts.sampling,
                                .grammar = *grammar};
  bool wrote = false;
  auto sink = [&](std::string_view text) {
    wrote = true;
    std::fwrite(text.data(), 1, text.size(), stdout);
    return std::fflush(stdout) == 0;  // a closed pipe stops generation
  };
  // Reported once the prompt is known to fit, so that bad input stays a one-line error.
  auto report_setup = [&] {
    LogDevice(*devices);
    std::fprintf(stderr,
                 "wick: %s, %s, %lld layers; context %lld, KV cache %.1f MiB (%s); %d "
                 "threads%s\n",
                 opts.model.c_str(), hp.arch->name, static_cast<long long>(hp.n_layer),
                 static_cast<long long>(n_ctx), static_cast<double>(cache->bytes()) / (1 << 20),
                 std::string(NameOf(*cache_type)).c_str(), backend.pool().size(),
                 devices->gpu ? fmt::format("; {} memory in use {:.1f} MiB", devices->gpu->name(),
                                            static_cast<double>(devices->vram_bytes()) / (1 << 20))
                                    .c_str()
                              : "");
  };
  Result<engine::GenerateStats> stats = generator.Generate(params, sink, report_setup);
  if (wrote) std::fputc('\n', stdout);
  if (!stats.ok()) return ReportError(stats.error().message());
  auto rate = [](int64_t n, double ms) { return ms > 0 ? 1000.0 * n / ms : 0.0; };
  std::fprintf(stderr,
               "wick: load %.0f ms | prompt %lld tokens, %.1f t/s | generated %lld tokens, %.1f "
               "t/s\n",
               load_ms, static_cast<long long>(stats->prompt_tokens),
               rate(stats->prompt_tokens, stats->prompt_ms),
               static_cast<long long>(stats->generated_tokens),
               rate(stats->generated_tokens, stats->generate_ms));
  return 0;
}

}  // namespace

void RegisterRun(CLI::App& app, CommandRunner& runner) {
  auto opts = std::make_shared<RunOptions>();
  CLI::App* cmd = app.add_subcommand("run", "Generate text from a prompt");
  cmd->add_option("-m,--model,model", opts->model,
                  "GGUF model: a path, or org/name:QUANT from the Hugging Face hub");
  cmd->add_option("--config", opts->config,
                  "Route through the providers of this file (docs/providers.md)");
  cmd->add_option("--route", opts->route,
                  "With --config: auto (default), a provider name or provider/model");
  auto* prompt = cmd->add_option("-p,--prompt", opts->prompt, "Prompt text");
  auto* file = cmd->add_option("-f,--file", opts->file, "Read the prompt from a file ('-': stdin)");
  prompt->excludes(file);
  cmd->add_option("-n,--n-predict", opts->n_predict, "Tokens to generate (-1: until the end)");
  cmd->add_option("-c,--ctx-size", opts->ctx_size,
                  "Context size (default: the model's, capped to fit memory)");
  cmd->add_option("-t,--threads", opts->threads, "Threads (default: physical cores)");
  cmd->add_option("--cache-type", opts->cache_type, "KV cache type: f16 (default), f32, q8_0")
      ->check(CLI::IsMember({"f16", "f32", "q8_0"}, CLI::ignore_case));
  AddSwaFullFlag(*cmd, opts->swa_full);
  AddSamplingOptions(*cmd, opts->sampling);
  AddDeviceOptions(*cmd, opts->device);
  cmd->add_option("--stop", opts->stop, "Stop before this text (repeatable)");
  auto* grammar = cmd->add_option("--grammar-file", opts->grammar_file,
                                  "Constrain the output to this GBNF grammar (llama.cpp's format)");
  cmd->add_option("--json-schema", opts->json_schema,
                  "Constrain the output to JSON valid under this schema (text, or @FILE)")
      ->excludes(grammar);
  cmd->callback([opts, prompt, file, &runner] {
    if (prompt->count() == 0 && file->count() == 0) throw CLI::RequiredError("-p or -f");
    runner = [opts] { return RunRun(*opts); };
  });
}

}  // namespace wick::cli
