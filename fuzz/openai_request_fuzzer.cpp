// libFuzzer entry point for the OpenAI request parser: any body gives a request or a 400-class
// error with a message, never a crash; and whatever it accepts survives the response builders.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "api/openai_protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace wick::api;
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  for (Endpoint endpoint : {Endpoint::kChat, Endpoint::kCompletion}) {
    auto parsed = ParseCompletionRequest(body, endpoint, {.n_vocab = 32000, .max_n = 16});
    if (const auto* error = std::get_if<ApiError>(&parsed)) {
      if (error->message.empty() || error->status < 400) __builtin_trap();
      if (Dump(ErrorBody(*error)).empty()) __builtin_trap();
      continue;
    }
    const auto& request = std::get<CompletionRequest>(parsed);
    if (request.n < 1 || request.n > 16) __builtin_trap();
    if (endpoint == Endpoint::kCompletion && request.prompts.empty()) __builtin_trap();
    ResponseMeta meta{
        .id = "cmpl-x", .created = 1, .model = request.model, .system_fingerprint = ""};
    ChoiceResult choice;
    choice.text = request.model;  // arbitrary bytes, maybe invalid UTF-8
    choice.finish_reason = "stop";
    if (Dump(CompletionResponse(endpoint, meta, {choice}, {})).empty()) __builtin_trap();
  }
  return 0;
}
