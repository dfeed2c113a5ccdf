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

std::variant<Completion, Failure> Provider::Complete(const api::CompletionRequest& request,
                                                     const CancelToken& cancel) {
  Completion completion;
  auto choice = [&](int index) -> api::ChoiceResult& {
    while (completion.choices.size() <= static_cast<size_t>(index)) {
      api::ChoiceResult c;
      c.index = static_cast<int>(completion.choices.size());
      c.has_logprobs = request.logprobs;
      completion.choices.push_back(std::move(c));
    }
    return completion.choices[static_cast<size_t>(index)];
  };
  std::variant<Outcome, Failure> result = Stream(
      request,
      [&](const Delta& d) {
        if (d.index < 0) return true;  // not a choice of this request: ignored
        api::ChoiceResult& c = choice(d.index);
        c.text += d.text;
        c.logprobs.insert(c.logprobs.end(), d.logprobs.begin(), d.logprobs.end());
        if (!d.finish_reason.empty()) c.finish_reason = d.finish_reason;
        return true;
      },
      cancel);
  if (Failure* f = std::get_if<Failure>(&result)) return std::move(*f);
  completion.outcome = std::get<Outcome>(std::move(result));
  return completion;
}

}  // namespace wick::provider
