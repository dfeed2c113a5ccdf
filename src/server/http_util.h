// Small pieces both completion paths of the HTTP server use: OpenAI error responses and ids.
#pragma once

#include <fmt/format.h>
#include <httplib.h>

#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>

#include "api/openai_protocol.h"
#include "core/random.h"

namespace wick::server {

inline void SendError(httplib::Response& res, const api::ApiError& error) {
  res.status = error.status;
  res.set_content(api::Dump(api::ErrorBody(error)), "application/json");
}

inline api::ApiError MakeError(int status, std::string message, std::string type,
                               std::string param = {}, std::string code = {}) {
  api::ApiError e;
  e.status = status;
  e.message = std::move(message);
  e.type = std::move(type);
  e.param = std::move(param);
  e.code = std::move(code);
  return e;
}

// "chatcmpl-…" / "cmpl-…": 24 random hex digits after the prefix.
inline std::string NewId(std::string_view prefix) {
  return fmt::format("{}{:016x}{:08x}", prefix, RandomU64(), RandomU64() & 0xffffffffu);
}

inline int64_t UnixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace wick::server
