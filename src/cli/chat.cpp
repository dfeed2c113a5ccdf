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
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "cli/commands.h"
#include "cli/device_setup.h"
#include "cli/loaded_model.h"
#include "cli/routing.h"
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
  bool swa_full = false;
  sampling::SamplingParams sampling;
  std::string config;          // route through the providers of this file
  std::string route = "auto";  // with --config: auto, a provider, provider/model
  DeviceOptions device;
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

// Writes the assistant's reply to the conversation to stdout as it comes, into `reply`; false
// when the turn failed (already reported), and it is then dropped.
using Answerer = std::function<bool(const nlohmann::ordered_json& messages, std::string& reply)>;

class ChatSession {
 public:
  ChatSession(Answerer answer, const ChatOptions& opts)
      : answer_(std::move(answer)), system_(opts.system) {
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

  // One user turn: the answer streamed, then recorded.
  void Turn(const std::string& user) {
    messages_.push_back({{"role", "user"}, {"content", user}});
    std::string reply;
    g_interrupted.store(false);
    if (!answer_(messages_, reply)) {
      messages_.erase(messages_.size() - 1);
      return;
    }
    messages_.push_back({{"role", "assistant"}, {"content", reply}});
  }

 private:
  Answerer answer_;
  std::string system_;
  nlohmann::ordered_json messages_;
};

// The model of -m in this process: each turn re-rendered with its template, the unchanged
// prefix's KV cache kept.
Answerer LocalAnswerer(const ChatTemplate& chat_template, engine::Generator& generator,
                       const ChatOptions& opts) {
  return [&chat_template, &generator, &opts](const nlohmann::ordered_json& messages,
                                             std::string& reply) {
    Result<std::string> prompt = chat_template.Apply(messages, true);
    if (!prompt.ok()) {
      std::fprintf(stderr, "wick: the chat template failed: %s\n",
                   prompt.error().message().c_str());
      return false;
    }
    // The BOS token, unless the template already wrote it.
    const std::string& bos = chat_template.bos_token();
    engine::GenerateParams params;
    params.prompt = *prompt;
    params.max_tokens = opts.n_predict;
    params.sampling = opts.sampling;
    params.parse_special = true;  // the template writes the special tokens as text
    params.add_special = bos.empty() || prompt->rfind(bos, 0) != 0;
    params.reuse_prefix = true;
    Result<engine::GenerateStats> stats = generator.Generate(params, [&](std::string_view text) {
      reply += text;
      std::fwrite(text.data(), 1, text.size(), stdout);
      std::fflush(stdout);
      return !g_interrupted.load();
    });
    std::fputc('\n', stdout);
    if (!stats.ok()) {
      std::fprintf(stderr, "wick: %s (/reset starts over)\n", stats.error().message().c_str());
      return false;
    }
    if (stats->stop == engine::StopReason::kCancelled) std::printf("(stopped)\n");
    if (opts.timings) {
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
    return true;
  };
}

// --config: each turn a chat request through the router (a remote provider, or the local one).
Answerer RoutedAnswerer(provider::Router& router, const ChatOptions& opts) {
  return [&router, &opts](const nlohmann::ordered_json& messages, std::string& reply) {
    api::CompletionRequest request;
    request.endpoint = api::Endpoint::kChat;
    request.model = opts.route;
    request.messages = messages;
    request.max_tokens = opts.n_predict;
    request.sampling = opts.sampling;
    request.seed_given = true;
    provider::CancelToken cancel;
    auto result = router.Stream(
        request, "",
        [&](const provider::Delta& d) {
          if (d.index != 0 || d.text.empty()) return !g_interrupted.load();
          reply += d.text;
          std::fwrite(d.text.data(), 1, d.text.size(), stdout);
          std::fflush(stdout);
          return !g_interrupted.load();
        },
        cancel);
    std::fputc('\n', stdout);
    if (const auto* e = std::get_if<provider::RouteError>(&result)) {
      if (g_interrupted.load() && !reply.empty()) {
        std::printf("(stopped)\n");
        return true;
      }
      std::fprintf(stderr, "wick: %s\n", e->error.message.c_str());
      return false;
    }
    if (opts.timings) {
      const auto& info = std::get<provider::RouteInfo>(result);
      std::fprintf(stderr, "wick: %s (%s) | prompt %lld tokens | generated %lld tokens | $%.6f\n",
                   info.provider.c_str(), info.model.c_str(),
                   static_cast<long long>(info.usage.prompt_tokens),
                   static_cast<long long>(info.usage.completion_tokens), info.cost);
    }
    return true;
  };
}

int Converse(Answerer answer, const ChatOptions& opts, const std::string& banner) {
  const bool interactive = isatty(STDIN_FILENO) != 0;
  if (interactive) {
    std::fprintf(stderr, "wick: %s; Ctrl-C stops an answer, Ctrl-D leaves, /help\n",
                 banner.c_str());
  }
  InstallInterruptHandler();
  ChatSession session(std::move(answer), opts);
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

int RunRoutedChat(const ChatOptions& opts) {
  Result<std::unique_ptr<CommandRouting>> routing = RouteForCommand(
      opts.config, opts.model, opts.ctx_size, opts.threads, opts.chat_template, opts.device);
  if (!routing.ok()) return ReportError(routing.error().message());
  return Converse(RoutedAnswerer(*(*routing)->routing.router, opts), opts,
                  (*routing)->routing.summary);
}

int RunChat(const ChatOptions& opts) {
  if (!opts.config.empty()) return RunRoutedChat(opts);
  if (opts.model.empty()) return ReportError("give -m MODEL, or --config with providers");
  Result<std::unique_ptr<LoadedModel>> loaded = LoadedModel::Load(opts.model);
  if (!loaded.ok()) return ReportError(loaded.error().message());
  LoadedModel& m = **loaded;
  Result<ChatTemplate> chat_template = LoadChatTemplate(m, opts.model, opts.chat_template);
  if (!chat_template.ok()) return ReportError(chat_template.error().message());
  const model::HParams& hp = m.model.hparams();
  const model::KvCacheOptions kv{.swa_full = opts.swa_full};
  const int64_t n_ctx =
      opts.ctx_size > 0 ? opts.ctx_size : DefaultContextSize(hp, DType::kF16, 1, kv);
  Result<DeviceSetup> devices = SetUpDevice(
      opts.device, m.model, {.threads = opts.threads, .n_ctx = n_ctx, .kv_options = kv});
  if (!devices.ok()) return ReportError(devices.error().message());
  LogDevice(*devices);
  Result<model::KvCache> cache = m.model.NewCache(n_ctx, DType::kF16, kv);
  if (!cache.ok()) return ReportError(cache.error().message());
  engine::Generator generator(m.model, *m.tokenizer, *devices->cpu, *cache);
  return Converse(LocalAnswerer(*chat_template, generator, opts), opts,
                  fmt::format("{}, context {}", opts.model, n_ctx));
}

}  // namespace

void RegisterChat(CLI::App& app, CommandRunner& runner) {
  auto opts = std::make_shared<ChatOptions>();
  CLI::App* cmd = app.add_subcommand("chat", "Chat with a model in the terminal");
  cmd->add_option("-m,--model,model", opts->model,
                  "GGUF model: a path, or org/name:QUANT from the Hugging Face hub");
  cmd->add_option("--config", opts->config,
                  "Chat through the providers of this file (docs/providers.md)");
  cmd->add_option("--route", opts->route,
                  "With --config: auto (default), a provider name or provider/model");
  cmd->add_option("--chat-template", opts->chat_template,
                  "Template file (default: the model's, else ChatML)");
  cmd->add_option("--system", opts->system, "System prompt");
  cmd->add_option("-c,--ctx-size", opts->ctx_size,
                  "Context size (default: the model's, capped to fit memory)");
  cmd->add_option("-n,--n-predict", opts->n_predict, "Most tokens per answer (-1: no limit)");
  AddSwaFullFlag(*cmd, opts->swa_full);
  AddDeviceOptions(*cmd, opts->device);
  cmd->add_option("-t,--threads", opts->threads, "Threads (default: physical cores)");
  AddSamplingOptions(*cmd, opts->sampling);
  cmd->add_flag("--timings", opts->timings, "A timing line per answer on stderr");
  cmd->callback([opts, &runner] { runner = [opts] { return RunChat(*opts); }; });
}

}  // namespace wick::cli
