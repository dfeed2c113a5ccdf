#include "provider/local_output.h"

#include <algorithm>
#include <utility>

namespace wick::provider {

Delta ChoiceOutput::Push(int index, std::string_view text,
                         std::vector<api::TokenLogprob> logprobs) {
  Delta d;
  d.index = index;
  if (!plan_.tool_calls) {
    d.text = std::string(text);
    d.logprobs = std::move(logprobs);
    return d;
  }
  text_.append(text);
  held_logprobs_.insert(held_logprobs_.end(), std::make_move_iterator(logprobs.begin()),
                        std::make_move_iterator(logprobs.end()));
  const size_t hold = std::max(emitted_, text::ToolCallHoldFrom(plan_.format, text_));
  if (hold > emitted_) {
    d.text = text_.substr(emitted_, hold - emitted_);
    emitted_ = hold;
  }
  // Log-probabilities go out with the text they belong to; while any is held they all wait.
  if (emitted_ == text_.size()) d.logprobs = std::exchange(held_logprobs_, {});
  return d;
}

Delta ChoiceOutput::Finish(int index, std::string finish_reason) {
  Delta d;
  d.index = index;
  d.finish_reason = std::move(finish_reason);
  if (!plan_.tool_calls) return d;
  d.logprobs = std::exchange(held_logprobs_, {});
  const std::string_view rest = std::string_view(text_).substr(emitted_);
  emitted_ = text_.size();
  if (rest.empty()) return d;
  // A cancelled sequence ends without an answer: what was held is dropped with it.
  if (d.finish_reason.empty()) return d;
  text::ParsedToolCalls parsed = text::ParseToolCalls(plan_.format, rest);
  d.text = std::move(parsed.content);
  for (size_t i = 0; i < parsed.calls.size(); ++i) {
    d.tool_calls.push_back({.index = static_cast<int>(i),
                            .id = api::NewToolCallId(),
                            .name = std::move(parsed.calls[i].name),
                            .arguments = std::move(parsed.calls[i].arguments_json)});
  }
  // A sequence cut off by its length keeps saying so; the calls it finished still count.
  if (!d.tool_calls.empty() && d.finish_reason == "stop") d.finish_reason = "tool_calls";
  return d;
}

}  // namespace wick::provider
