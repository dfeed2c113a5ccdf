// Stop strings over streamed text: holds back text that could be the start of a stop string,
// and cuts at the first complete one, so a client never sees any part of a stop string.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace wick::engine {

class StopMatcher {
 public:
  explicit StopMatcher(std::vector<std::string> stop) : stop_(std::move(stop)) {}

  // Adds text; returns what is final. Sets `stopped` when a stop string has appeared (the
  // returned text then ends just before it, and everything after it is dropped).
  std::string Push(std::string_view text, bool& stopped);
  // What is held back, at the end of generation.
  std::string Flush() { return std::exchange(pending_, {}); }

 private:
  std::vector<std::string> stop_;
  std::string pending_;
};

}  // namespace wick::engine
