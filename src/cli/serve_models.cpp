#include "cli/serve_models.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <filesystem>
#include <regex>
#include <set>

#include "cli/model_resolver.h"
#include "io/gguf_file.h"
#include "provider/grammar_cache.h"

namespace wick::cli {

namespace fs = std::filesystem;

namespace {

// llama.cpp's gguf-split names: "name-00001-of-00003.gguf".
const std::regex& SplitName() {
  static const std::regex re(R"(^(.*)-(\d{5})-of-(\d{5})\.gguf$)");
  return re;
}

server::EngineShape ShapeFor(const ServeModelSpec& spec, const model::HParams& hp,
                             const ServeEngineOptions& options) {
  return {.n_ctx = ContextFor(spec, hp, options),
          .n_parallel = spec.parallel,
          .n_batch = options.batch_size,
          .kv_type = options.cache_type,
          .swa_full = options.swa_full};
}

Result<std::vector<ServeModelSpec>> ListDirectory(const fs::path& dir,
                                                  const ServeModelSpec& defaults) {
  std::vector<ServeModelSpec> specs;
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.size() <= 5 || name.substr(name.size() - 5) != ".gguf" || !e.is_regular_file(ec)) {
      continue;
    }
    std::string lower = name;
    std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
    if (lower.rfind("mmproj", 0) == 0) continue;  // a vision projector, not a model
    ServeModelSpec spec = defaults;
    spec.path = e.path().string();
    std::smatch m;
    if (std::regex_match(name, m, SplitName())) {
      if (m[2] != "00001") continue;  // the first part opens the others
      spec.id = m[1];
    } else {
      spec.id = name.substr(0, name.size() - 5);
    }
    specs.push_back(std::move(spec));
  }
  if (ec) return Error(ErrorCode::kIo, fmt::format("{}: {}", dir.string(), ec.message()));
  if (specs.empty()) {
    return Error(ErrorCode::kNotFound, fmt::format("{}: no GGUF model in it", dir.string()));
  }
  std::sort(specs.begin(), specs.end(),
            [](const ServeModelSpec& a, const ServeModelSpec& b) { return a.id < b.id; });
  return specs;
}

Result<std::vector<ServeModelSpec>> ListConfig(const fs::path& file,
                                               const ServeModelSpec& defaults) {
  const std::string source = file.string();
  toml::table root;
  try {
    root = toml::parse_file(source);
  } catch (const toml::parse_error& e) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("{}:{}:{}: {}", source, e.source().begin.line, e.source().begin.column,
                             e.description()));
  }
  auto fail = [&](const toml::source_region& at, const std::string& what) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("{}:{}:{}: {}", source, at.begin.line, at.begin.column, what));
  };
  for (const auto& [key, node] : root) {
    if (key.str() != "model") {
      return fail(key.source(),
                  fmt::format("unknown key '{}' (expected [[model]] tables)", key.str()));
    }
  }
  const toml::array* models = root["model"].as_array();
  if (models == nullptr || models->empty()) {
    return fail(root.source(), "no [[model]] table (each needs id and model)");
  }
  std::vector<ServeModelSpec> specs;
  for (size_t i = 0; i < models->size(); ++i) {
    const toml::table* t = models->get(i)->as_table();
    const std::string path = fmt::format("model[{}]", i);
    if (t == nullptr) return fail(models->get(i)->source(), path + ": expected a table");
    ServeModelSpec spec = defaults;
    std::string model;
    for (const auto& [key, node] : *t) {
      const std::string k(key.str());
      const std::string where = path + "." + k;
      if (k == "id" || k == "model" || k == "chat_template") {
        const auto* s = node.as_string();
        if (s == nullptr || s->get().empty()) {
          return fail(node.source(), where + ": expected a non-empty string");
        }
        (k == "id" ? spec.id : k == "model" ? model : spec.chat_template) = s->get();
      } else if (k == "ctx_size" || k == "parallel") {
        const auto* n = node.as_integer();
        const int64_t max = k == "parallel" ? 1024 : int64_t{1} << 24;
        if (n == nullptr || n->get() < 1 || n->get() > max) {
          return fail(node.source(),
                      fmt::format("{}: expected an integer from 1 to {}", where, max));
        }
        if (k == "parallel") {
          spec.parallel = static_cast<int>(n->get());
        } else {
          spec.ctx_size = n->get();
        }
      } else {
        return fail(key.source(), fmt::format("{}: unknown key (expected id, model, ctx_size, "
                                              "parallel, chat_template)",
                                              where));
      }
    }
    if (spec.id.empty()) return fail(t->source(), path + ": id is required");
    if (model.empty()) return fail(t->source(), path + ": model is required");
    // A relative path is relative to the file; anything else may be a hub name.
    const fs::path beside = file.parent_path() / model;
    std::error_code ec;
    const std::string name =
        fs::path(model).is_relative() && fs::exists(beside, ec) ? beside.string() : model;
    Result<std::string> resolved = ResolveModel(name);
    if (!resolved.ok()) return std::move(resolved).error().With(source + ": " + path + ".model");
    spec.path = *resolved;
    if (!spec.chat_template.empty() && fs::path(spec.chat_template).is_relative()) {
      spec.chat_template = (file.parent_path() / spec.chat_template).string();
    }
    specs.push_back(std::move(spec));
  }
  return specs;
}

}  // namespace

ServeModel::~ServeModel() = default;

Result<std::unique_ptr<ServeModel>> ServeModel::Load(const ServeModelSpec& spec,
                                                     const ServeEngineOptions& options,
                                                     int64_t created) {
  auto m = std::unique_ptr<ServeModel>(new ServeModel());
  WICK_ASSIGN_OR_RETURN(m->model_, LoadedModel::Load(spec.path));
  WICK_ASSIGN_OR_RETURN(ChatTemplate tmpl,
                        LoadChatTemplate(*m->model_, spec.path, spec.chat_template));
  m->chat_template_ = std::move(tmpl);
  const model::HParams& hp = m->model_->model.hparams();
  m->shape_ = ShapeFor(spec, hp, options);
  WICK_ASSIGN_OR_RETURN(m->devices_, SetUpDevice(options.device, m->model_->model,
                                                 {.threads = options.threads,
                                                  .n_ctx = m->shape_.n_ctx,
                                                  .kv_type = options.cache_type,
                                                  .n_seq = spec.parallel,
                                                  .max_batch_tokens = options.batch_size,
                                                  .kv_options = m->shape_.KvOptions()}));
  LogDevice(m->devices_);
  WICK_ASSIGN_OR_RETURN(m->engine_, engine::BatchEngine::Create(
                                        m->model_->model, *m->model_->tokenizer, *m->devices_.cpu,
                                        {.n_parallel = spec.parallel,
                                         .n_ctx = m->shape_.n_ctx,
                                         .kv_type = options.cache_type,
                                         .n_batch = options.batch_size,
                                         .queue_size = options.queue_size,
                                         .swa_full = options.swa_full}));
  // The trie constrained decoding (response_format, forced tool calls) walks, made once here.
  const Tokenizer* tokenizer = m->model_->tokenizer.get();
  m->served_ = {.id = spec.id,
                .tokenizer = tokenizer,
                .chat_template = &*m->chat_template_,
                .engine = m->engine_.get(),
                .n_ctx_train = hp.n_ctx_train,
                .created = created,
                .grammars = std::make_shared<provider::GrammarCache>(
                    tokenizer, text::VocabTrie::Build(*tokenizer))};
  return m;
}

uint64_t ServeModel::memory_bytes() const {
  const model::HParams& hp = model_->model.hparams();
  // The estimate's parts that are known exactly now: the KV caches as allocated.
  return server::EstimateModelMemory(hp, model_->file.total_size(), shape_) -
         server::KvCacheBytes(hp, shape_) + engine_->Stats().kv_bytes;
}

std::string ServeModel::Summary() const {
  return fmt::format("{} slots x {} positions, KV cache {} {:.1f} MiB, {} threads",
                     shape_.n_parallel, shape_.n_ctx, NameOf(shape_.kv_type),
                     static_cast<double>(engine_->Stats().kv_bytes) / (1024.0 * 1024.0),
                     devices_.cpu->pool().size());
}

int64_t ContextFor(const ServeModelSpec& spec, const model::HParams& hp,
                   const ServeEngineOptions& options) {
  if (spec.ctx_size > 0) return spec.ctx_size;
  const model::KvCacheOptions kv{.max_step = options.batch_size, .swa_full = options.swa_full};
  int64_t n_ctx = DefaultContextSize(hp, options.cache_type, spec.parallel, kv);
  if (options.memory_budget > 0) {
    n_ctx =
        ContextFitting(hp, options.cache_type, spec.parallel, kv, options.memory_budget / 4, n_ctx);
  }
  return n_ctx;
}

Result<uint64_t> EstimateServeModel(const ServeModelSpec& spec, const ServeEngineOptions& options) {
  WICK_ASSIGN_OR_RETURN(GgufFile file, GgufFile::Open(spec.path));
  Result<model::HParams> hp = model::HParams::FromGguf(file);
  if (!hp.ok()) return std::move(hp).error().With(spec.path);
  return server::EstimateModelMemory(*hp, file.total_size(), ShapeFor(spec, *hp, options));
}

Result<std::vector<ServeModelSpec>> ListServeModels(const std::string& dir_or_config,
                                                    const ServeModelSpec& defaults) {
  std::error_code ec;
  std::vector<ServeModelSpec> specs;
  if (fs::is_directory(dir_or_config, ec)) {
    WICK_ASSIGN_OR_RETURN(specs, ListDirectory(dir_or_config, defaults));
  } else if (fs::exists(dir_or_config, ec)) {
    WICK_ASSIGN_OR_RETURN(specs, ListConfig(dir_or_config, defaults));
  } else {
    return Error(ErrorCode::kNotFound,
                 fmt::format("{}: no such directory or file (--models)", dir_or_config));
  }
  std::set<std::string> seen;
  for (const ServeModelSpec& s : specs) {
    if (!seen.insert(s.id).second) {
      return Error(ErrorCode::kInvalidArgument,
                   fmt::format("{}: two models have the id '{}'", dir_or_config, s.id));
    }
  }
  return specs;
}

}  // namespace wick::cli
