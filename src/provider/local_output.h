// What the text a local sequence generates becomes in the answer: passed on as it comes, or,
// when the request offered tools, read for tool calls in the model's format. A stream then
// holds back the text from where a call could begin (ToolCallHoldFrom) until the sequence
// ends, and the calls go out as tool-call deltas with finish_reason "tool_calls"; text that
// turns out not to be a call goes out as content after all. The provider and the HTTP
// server's direct path both shape their choices with it, so the two answer alike.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "api/openai_protocol.h"
#include "provider/provider.h"
#include "text/tool_calls.h"

namespace wick::provider {

struct OutputPlan {
  bool tool_calls = false;  // tools were offered and tool_choice is not "none"
  text::ToolCallFormat format = text::ToolCallFormat::kGeneric;
};

// One choice's output; not thread-safe.
class ChoiceOutput {
 public:
  explicit ChoiceOutput(OutputPlan plan = {}) : plan_(plan) {}

  // The sequence's next text and the log-probabilities of its tokens: what to pass on now
  // (the log-probabilities of held-back text wait with it).
  Delta Push(int index, std::string_view text, std::vector<api::TokenLogprob> logprobs);

  // The sequence ended with `finish_reason` ("stop", "length"; "" when cancelled): the text
  // held back, as content, or as tool calls (new ids) with finish_reason "tool_calls" when the
  // sequence stopped by itself.
  Delta Finish(int index, std::string finish_reason);

 private:
  OutputPlan plan_;
  std::string text_;    // the whole output so far (with tool calls only)
  size_t emitted_ = 0;  // of text_, how much went out
  std::vector<api::TokenLogprob> held_logprobs_;
};

}  // namespace wick::provider
