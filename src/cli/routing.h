// What `--config` builds for a command: the remote providers of the file, the local model's
// provider when there is one, the usage ledger and the router over them all.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "cli/device_setup.h"
#include "cli/loaded_model.h"
#include "cli/model_resolver.h"
#include "core/error.h"
#include "engine/batch_engine.h"
#include "model/backend.h"
#include "provider/clock.h"
#include "provider/config.h"
#include "provider/ledger.h"
#include "provider/local_provider.h"
#include "provider/router.h"

namespace wick::cli {

// A model loaded to be a provider: one BatchEngine over it.
struct LocalEngine {
  std::unique_ptr<LoadedModel> model;
  std::optional<ChatTemplate> chat_template;
  DeviceSetup devices;
  std::unique_ptr<engine::BatchEngine> engine;
  provider::LocalModel local;  // points into the above
};

// Loads `path` (or a hub reference, pulled as `resolve` says) with `parallel` slots of `n_ctx`
// positions (0: the model's, capped to fit), on the device `device` chooses.
Result<std::unique_ptr<LocalEngine>> LoadLocalEngine(
    const std::string& path, int64_t n_ctx, int parallel, int threads,
    const std::string& chat_template_file = "", const ResolveOptions& resolve = {},
    const DeviceOptions& device = DeviceOptionsFromEnv());

struct Routing {
  std::unique_ptr<provider::Ledger> ledger;
  std::unique_ptr<provider::Router> router;
  std::string summary;  // "routing over local, hf (local_first), ledger …"
};

// `local` (may be null) is the engine of -m or [local]; it becomes the first tier when the
// file's tiers do not name it. `config` keeps the tiers as used; `clock` must outlive the router.
Result<Routing> BuildRouting(provider::Config& config, const provider::LocalModel* local,
                             const provider::Clock& clock);

// Everything `run --config` and `chat --config` need: the file, the local model of -m or
// [local] (one sequence at a time), and the router over it and the remotes.
struct CommandRouting {
  provider::Config config;
  std::unique_ptr<LocalEngine> local;
  provider::SystemClock clock;
  Routing routing;
};

// A routed request's failure as one line: "message (HTTP status, code)".
std::string RouteErrorMessage(const provider::RouteError& error);

Result<std::unique_ptr<CommandRouting>> RouteForCommand(
    const std::string& config_path, const std::string& model_flag, int64_t ctx_size, int threads,
    const std::string& chat_template_file, const DeviceOptions& device = DeviceOptionsFromEnv());

}  // namespace wick::cli
