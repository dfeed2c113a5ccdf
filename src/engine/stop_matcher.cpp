#include "engine/stop_matcher.h"

#include <algorithm>

namespace wick::engine {

std::string StopMatcher::Push(std::string_view text, bool& stopped) {
  pending_ += text;
  size_t cut = std::string::npos;
  for (const std::string& s : stop_) {
    if (!s.empty()) cut = std::min(cut, pending_.find(s));
  }
  if (cut != std::string::npos) {
    stopped = true;
    std::string out = pending_.substr(0, cut);
    pending_.clear();
    return out;
  }
  // Keep the longest tail that is a prefix of some stop string.
  size_t keep = 0;
  for (const std::string& s : stop_) {
    if (s.empty()) continue;
    for (size_t len = std::min(s.size() - 1, pending_.size()); len > keep; --len) {
      if (pending_.compare(pending_.size() - len, len, s, 0, len) == 0) {
        keep = len;
        break;
      }
    }
  }
  std::string out = pending_.substr(0, pending_.size() - keep);
  pending_.erase(0, pending_.size() - keep);
  return out;
}

}  // namespace wick::engine
