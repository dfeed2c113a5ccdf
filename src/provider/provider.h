// A Provider answers OpenAI-style completion requests: the engine in this process (local) or
// an OpenAI-compatible endpoint (remote). The router (issue 11) picks one per request and
// falls back to the next on the failures that allow it, so a failure says what kind it is and
// whether any text had already reached the caller (then nothing may be retried or spliced).
//
// Streaming first: Stream passes text to a sink as it arrives; Complete is built on it.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "api/openai_protocol.h"
#include "provider/price.h"

namespace wick::provider {

enum class FailureKind {
  kConnect,        // no connection: refused, DNS, TLS
  kTimeout,        // connect, first-token or total timeout
  kRateLimited,    // 429 (retry_after from Retry-After)
  kServerError,    // 5xx other than 503
  kUnavailable,    // 503, loading, a full queue, an open circuit
  kContextLength,  // the prompt does not fit this provider's context
  kBadRequest,     // the request itself is wrong (other 4xx): another provider would refuse too
  kMalformed,      // the answer broke the protocol (bad SSE or JSON, wrong usage)
  kCancelled,      // the caller cancelled
};

const char* FailureName(FailureKind kind);

struct Failure {
  FailureKind kind = FailureKind::kServerError;
  int http_status = 0;  // the provider's, when it answered
  std::string message;
  std::chrono::milliseconds retry_after{0};
  // Text had already been passed to the sink: the caller's stream must end with an error, not
  // continue from another provider.
  bool after_first_token = false;
  // What had been generated before the failure, to be charged.
  api::Usage partial_usage;
};

// Most tool calls one choice may hold; an upstream numbering calls beyond it is broken.
inline constexpr int kMaxToolCalls = 128;

// One streamed piece of one choice.
struct Delta {
  int index = 0;
  std::string text;
  std::vector<api::TokenLogprob> logprobs;
  // "stop", "length" or "tool_calls" on a choice's last delta, else empty.
  std::string finish_reason;
  // Pieces of the choice's tool calls: a call's first piece has its id and name, later ones
  // more of its arguments (api::ToolCallDelta).
  std::vector<api::ToolCallDelta> tool_calls;
};

// Adds a delta to the choice it belongs to, creating choices up to its index; deltas with a
// negative index belong to no choice and are ignored. Tool-call pieces are assembled by their
// index: id and name set, arguments concatenated.
void AppendDelta(std::vector<api::ChoiceResult>& choices, const Delta& delta, bool logprobs);

// Whole calls as the pieces that carry them: one per call, with its id, name and all of its
// arguments.
std::vector<api::ToolCallDelta> ToolCallDeltas(const std::vector<api::ToolCall>& calls);

// Receives deltas as they arrive; returning false cancels the call.
using DeltaSink = std::function<bool(const Delta&)>;

// Set once, read by the provider as it works. A token made with a parent is also cancelled
// when the parent is: the router hands each attempt its own token under the client's, so
// that it can stop one provider (a missed deadline) without cancelling the request.
class CancelToken {
 public:
  CancelToken() = default;
  explicit CancelToken(const CancelToken* parent) : parent_(parent) {}
  CancelToken(const CancelToken&) = delete;
  CancelToken& operator=(const CancelToken&) = delete;

  void Cancel() { cancelled_.store(true); }
  bool cancelled() const {
    return cancelled_.load() || (parent_ != nullptr && parent_->cancelled());
  }

 private:
  std::atomic<bool> cancelled_{false};
  const CancelToken* parent_ = nullptr;
};

// What a finished call produced besides its text.
struct Outcome {
  api::Usage usage;
  std::string model;  // the model that answered, as the provider names it
};

struct Completion {
  std::vector<api::ChoiceResult> choices;
  Outcome outcome;
};

struct ProviderInfo {
  std::string name;                 // "local", "hf": what config and routes call it
  std::vector<std::string> models;  // model ids it serves; the first is its default
  int64_t context_length = 0;       // tokens per request (prompt and completion)
  Price price;
  bool local = false;
};

enum class Health { kHealthy, kUnhealthy };

class Provider {
 public:
  virtual ~Provider() = default;

  virtual const ProviderInfo& info() const = 0;

  // Runs `request` (its `model` one of info().models, or empty for the default), passing text
  // to `sink` as it is generated, until every choice has finished, the sink or `cancel` stops
  // it, or it fails. Thread-safe: the router calls it from many request threads at once.
  virtual std::variant<Outcome, Failure> Stream(const api::CompletionRequest& request,
                                                const DeltaSink& sink,
                                                const CancelToken& cancel) = 0;

  // An active health check: a cheap request to the provider.
  virtual Health Probe() = 0;

  // The prompt's exact token count where the provider knows its tokenizer (budget estimates);
  // nullopt where it does not (the router then estimates from the characters).
  virtual std::optional<int64_t> CountPromptTokens(const api::CompletionRequest&) const {
    return std::nullopt;
  }

  // The whole answer at once, built on Stream.
  std::variant<Completion, Failure> Complete(const api::CompletionRequest& request,
                                             const CancelToken& cancel);
};

}  // namespace wick::provider
