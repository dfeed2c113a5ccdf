// What `--config` builds for a command: the remote providers of the file, the local model's
// provider when there is one, the usage ledger and the router over them all.
#pragma once

#include <memory>
#include <string>

#include "core/error.h"
#include "provider/clock.h"
#include "provider/config.h"
#include "provider/ledger.h"
#include "provider/local_provider.h"
#include "provider/router.h"

namespace wick::cli {

struct Routing {
  std::unique_ptr<provider::Ledger> ledger;
  std::unique_ptr<provider::Router> router;
  std::string summary;  // "routing over local, hf (local_first), ledger …"
};

// `local` (may be null) is the engine of -m or [local]; it becomes the first tier when the
// file's tiers do not name it. `config` keeps the tiers as used; `clock` must outlive the router.
Result<Routing> BuildRouting(provider::Config& config, const provider::LocalModel* local,
                             const provider::Clock& clock);

}  // namespace wick::cli
