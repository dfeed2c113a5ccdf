#include "provider/provider.h"

namespace wick::provider {

const char* FailureName(FailureKind kind) {
  switch (kind) {
    case FailureKind::kConnect:
      return "connect";
    case FailureKind::kTimeout:
      return "timeout";
    case FailureKind::kRateLimited:
      return "rate_limited";
    case FailureKind::kServerError:
      return "server_error";
    case FailureKind::kUnavailable:
      return "unavailable";
    case FailureKind::kContextLength:
      return "context_length";
    case FailureKind::kBadRequest:
      return "bad_request";
    case FailureKind::kMalformed:
      return "malformed";
    case FailureKind::kCancelled:
      return "cancelled";
  }
  return "unknown";
}

void AppendDelta(std::vector<api::ChoiceResult>& choices, const Delta& delta, bool logprobs) {
  if (delta.index < 0) return;
  while (choices.size() <= static_cast<size_t>(delta.index)) {
    api::ChoiceResult c;
    c.index = static_cast<int>(choices.size());
    c.has_logprobs = logprobs;
    choices.push_back(std::move(c));
  }
  api::ChoiceResult& c = choices[static_cast<size_t>(delta.index)];
  c.text += delta.text;
  c.logprobs.insert(c.logprobs.end(), delta.logprobs.begin(), delta.logprobs.end());
  if (!delta.finish_reason.empty()) c.finish_reason = delta.finish_reason;
  for (const api::ToolCallDelta& piece : delta.tool_calls) {
    if (piece.index < 0 || piece.index >= kMaxToolCalls) continue;
    if (c.tool_calls.size() <= static_cast<size_t>(piece.index)) {
      c.tool_calls.resize(static_cast<size_t>(piece.index) + 1);
    }
    api::ToolCall& call = c.tool_calls[static_cast<size_t>(piece.index)];
    if (!piece.id.empty()) call.id = piece.id;
    if (!piece.name.empty()) call.name = piece.name;
    call.arguments += piece.arguments;
  }
}

std::vector<api::ToolCallDelta> ToolCallDeltas(const std::vector<api::ToolCall>& calls) {
  std::vector<api::ToolCallDelta> out;
  out.reserve(calls.size());
  for (size_t i = 0; i < calls.size(); ++i) {
    out.push_back({.index = static_cast<int>(i),
                   .id = calls[i].id,
                   .name = calls[i].name,
                   .arguments = calls[i].arguments});
  }
  return out;
}

std::variant<Completion, Failure> Provider::Complete(const api::CompletionRequest& request,
                                                     const CancelToken& cancel) {
  Completion completion;
  std::variant<Outcome, Failure> result = Stream(
      request,
      [&](const Delta& d) {
        AppendDelta(completion.choices, d, request.logprobs);
        return true;
      },
      cancel);
  if (Failure* f = std::get_if<Failure>(&result)) return std::move(*f);
  completion.outcome = std::get<Outcome>(std::move(result));
  return completion;
}

}  // namespace wick::provider
