// `wick chat -m MODEL`: a multi-turn conversation in the terminal. Each turn re-renders the
// conversation with the model's chat template; the generator keeps the KV cache of the
// prefix that did not change, so only the new turn is evaluated. Ctrl-C stops an answer and
// returns to the prompt; Ctrl-D or /exit leaves.
#include <editline/readline.h>
#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "cli/commands.h"
#include "cli/loaded_model.h"
#include "engine/generator.h"
#include "text/chat_template.h"

namespace wick::cli {

namespace {

struct ChatOptions {
  std::string model;
  std::string chat_template;
  std::string system;
  int64_t ctx_size = 0;
  int64_t n_predict = -1;
  int threads = 0;
  bool timings = false;
  sampling::SamplingParams sampling;
};

std::atomic<bool> g_interrupted{false};

void OnInterrupt(int) {
  g_interrupted.store(true);
}

// Ctrl-C interrupts the answer being written instead of ending the process.
void InstallInterruptHandler() {
  struct sigaction action = {};
  action.sa_handler = OnInterrupt;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
}

// One line of input: with line editing and history on a terminal, plain lines otherwise.
// nullopt at the end of input.
std::optional<std::string> ReadLine(bool interactive) {
  if (!interactive) {
    std::string line;
    if (!std::getline(std::cin, line)) return std::nullopt;
    return line;
  }
  for (;;) {
    g_interrupted.store(false);
    char* raw = readline("> ");
    if (raw == nullptr) {
      if (g_interrupted.exchange(false)) {  // Ctrl-C at the prompt: a fresh prompt
        std::fputc('\n', stdout);
        continue;
      }
      return std::nullopt;
    }
    std::string line(raw);
    std::free(raw);
    if (!line.empty()) add_history(line.c_str());
    return line;
  }
}

class ChatSession {
 public:
  ChatSession(LoadedModel& m, const ChatTemplate& chat_template, model::Backend& backend,
              model::KvCache& cache, const ChatOptions& opts)
      : template_(chat_template),
        generator_(m.model, *m.tokenizer, backend, cache),
        opts_(opts),
        system_(opts.system) {
    Reset();
  }

  void Reset() {
    messages_ = nlohmann::ordered_json::array();
    if (!system_.empty()) messages_.push_back({{"role", "system"}, {"content", system_}});
  }

  // Handles /commands; false when the line is not one.
  bool Command(const std::string& line, bool& quit) {
    if (line.empty() || line[0] != '/') return false;
    std::istringstream in(line);
    std::string name;
    in >> name;
    std::string rest;
    std::getline(in, rest);
    if (!rest.empty() && rest[0] == ' ') rest.erase(0, 1);
    if (name == "/exit" || name == "/quit") {
      quit = true;
    } else if (name == "/reset") {
      Reset();
      std::printf("(conversation cleared)\n");
    } else if (name == "/system") {
      system_ = rest;
      Reset();
      std::printf("(system prompt set; conversation cleared)\n");
    } else if (name == "/save") {
      std::ofstream out(rest);
      if (rest.empty() || !(out << messages_.dump(2) << '\n')) {
        std::fprintf(stderr, "wick: cannot write %s\n",
                     rest.empty() ? "(no file given)" : rest.c_str());
      } else {
        std::printf("(saved %zu messages to %s)\n", messages_.size(), rest.c_str());
      }
    } else {
      std::printf("commands: /reset, /system TEXT, /save FILE, /exit\n");
    }
    return true;
  }

  // One user turn: renders the conversation, streams the answer, records it.
  void Turn(const std::string& user) {
    messages_.push_back({{"role", "user"}, {"content", user}});
    Result<std::string> prompt = template_.Apply(messages_, true);
    if (!prompt.ok()) {
      std::fprintf(stderr, "wick: the chat template failed: %s\n",
                   prompt.error().message().c_str());
      messages_.erase(messages_.size() - 1);
      return;
    }
    // The BOS token, unless the template already wrote it.
    const std::string& bos = template_.bos_token();
    engine::GenerateParams params;
    params.prompt = *prompt;
    params.max_tokens = opts_.n_predict;
    params.sampling = opts_.sampling;
    params.parse_special = true;  // the template writes the special tokens as text
    params.add_special = bos.empty() || prompt->rfind(bos, 0) != 0;
    params.reuse_prefix = true;
    std::string reply;
    g_interrupted.store(false);
    Result<engine::GenerateStats> stats = generator_.Generate(params, [&](std::string_view text) {
      reply += text;
      std::fwrite(text.data(), 1, text.size(), stdout);
      std::fflush(stdout);
      return !g_interrupted.load();
    });
    std::fputc('\n', stdout);
    if (!stats.ok()) {
      std::fprintf(stderr, "wick: %s (/reset starts over)\n", stats.error().message().c_str());
      messages_.erase(messages_.size() - 1);
      return;
    }
    if (stats->stop == engine::StopReason::kCancelled) std::printf("(stopped)\n");
    if (opts_.timings) {
      auto rate = [](int64_t n, double ms) { return ms > 0 ? 1000.0 * n / ms : 0.0; };
      std::fprintf(
          stderr,
          "wick: prompt %lld tokens (%lld reused), %.1f t/s | generated %lld tokens, %.1f t/s\n",
          static_cast<long long>(stats->prompt_tokens),
          static_cast<long long>(stats->reused_tokens),
          rate(stats->prompt_tokens - stats->reused_tokens, stats->prompt_ms),
          static_cast<long long>(stats->generated_tokens),
          rate(stats->generated_tokens, stats->generate_ms));
    }
    messages_.push_back({{"role", "assistant"}, {"content", reply}});
  }

 private:
  const ChatTemplate& template_;
  engine::Generator generator_;
  const ChatOptions& opts_;
  std::string system_;
  nlohmann::ordered_json messages_;
};

int RunChat(const ChatOptions& opts) {
  Result<std::unique_ptr<LoadedModel>> loaded = LoadedModel::Load(opts.model);
  if (!loaded.ok()) return ReportError(loaded.error().message());
  LoadedModel& m = **loaded;
  Result<ChatTemplate> chat_template = LoadChatTemplate(m, opts.model, opts.chat_template);
  if (!chat_template.ok()) return ReportError(chat_template.error().message());
  const model::HParams& hp = m.model.hparams();
  const int64_t n_ctx = opts.ctx_size > 0 ? opts.ctx_size : DefaultContextSize(hp, DType::kF16);
  Result<model::KvCache> cache = model::KvCache::Create(hp, n_ctx);
  if (!cache.ok()) return ReportError(cache.error().message());
  model::CpuBackend backend(opts.threads);
  const bool interactive = isatty(STDIN_FILENO) != 0;
  if (interactive) {
    std::fprintf(stderr, "wick: %s, context %lld; Ctrl-C stops an answer, Ctrl-D leaves, /help\n",
                 opts.model.c_str(), static_cast<long long>(n_ctx));
  }
  InstallInterruptHandler();
  ChatSession session(m, *chat_template, backend, *cache, opts);
  for (;;) {
    std::optional<std::string> line = ReadLine(interactive);
    if (!line) break;
    bool quit = false;
    if (session.Command(*line, quit)) {
      if (quit) break;
      continue;
    }
    if (line->empty()) continue;
    session.Turn(*line);
  }
  return 0;
}

}  // namespace

void RegisterChat(CLI::App& app, CommandRunner& runner) {
  auto opts = std::make_shared<ChatOptions>();
  CLI::App* cmd = app.add_subcommand("chat", "Chat with a model in the terminal");
  cmd->add_option("-m,--model", opts->model, "GGUF model")->required();
  cmd->add_option("--chat-template", opts->chat_template,
                  "Template file (default: the model's, else ChatML)");
  cmd->add_option("--system", opts->system, "System prompt");
  cmd->add_option("-c,--ctx-size", opts->ctx_size,
                  "Context size (default: the model's, capped to fit memory)");
  cmd->add_option("-n,--n-predict", opts->n_predict, "Most tokens per answer (-1: no limit)");
  cmd->add_option("-t,--threads", opts->threads, "Threads (default: physical cores)");
  AddSamplingOptions(*cmd, opts->sampling);
  cmd->add_flag("--timings", opts->timings, "A timing line per answer on stderr");
  cmd->callback([opts, &runner] { runner = [opts] { return RunChat(*opts); }; });
}

}  // namespace wick::cli
