// The merge loop both BPE flavours share: start from the UTF-8 characters of a piece of text
// and keep merging the adjacent pair with the highest priority (the leftmost among equals)
// until no adjacent pair has one. SentencePiece ranks a pair by the score of the token the
// merge makes, GPT-2 BPE by its place in the merge list; the loop is the same.
#pragma once

#include <algorithm>
#include <optional>
#include <queue>
#include <string_view>
#include <vector>

#include "text/unicode.h"

namespace wick::text {

// `priority(left, right)` returns the pair's priority, or nullopt when it does not merge.
// Returns the final pieces, in order, as views into `text`.
template <typename PriorityFn>
std::vector<std::string_view> MergeSymbols(std::string_view text, PriorityFn priority) {
  struct Symbol {
    int prev;
    int next;
    size_t start;
    size_t len;  // 0 once merged into its left neighbour
  };
  struct Pair {
    int left;
    int right;
    double priority;
    size_t len;  // bytes of the merged text, to spot pairs that changed since they were queued
  };
  struct PairOrder {
    bool operator()(const Pair& a, const Pair& b) const {
      return a.priority < b.priority || (a.priority == b.priority && a.left > b.left);
    }
  };

  std::vector<Symbol> symbols;
  for (size_t pos = 0; pos < text.size();) {
    const size_t len =
        std::min(Utf8SequenceLength(static_cast<uint8_t>(text[pos])), text.size() - pos);
    const int index = static_cast<int>(symbols.size());
    symbols.push_back({index - 1, pos + len == text.size() ? -1 : index + 1, pos, len});
    pos += len;
  }
  std::priority_queue<Pair, std::vector<Pair>, PairOrder> queue;
  auto try_pair = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    const Symbol& l = symbols[static_cast<size_t>(left)];
    const Symbol& r = symbols[static_cast<size_t>(right)];
    std::optional<double> p = priority(text.substr(l.start, l.len), text.substr(r.start, r.len));
    if (p) queue.push({left, right, *p, l.len + r.len});
  };
  for (int i = 1; i < static_cast<int>(symbols.size()); ++i) try_pair(i - 1, i);

  while (!queue.empty()) {
    const Pair pair = queue.top();
    queue.pop();
    Symbol& left = symbols[static_cast<size_t>(pair.left)];
    Symbol& right = symbols[static_cast<size_t>(pair.right)];
    // Symbols only grow, so a pair whose lengths still add up is the pair that was queued.
    if (left.len == 0 || right.len == 0 || left.len + right.len != pair.len ||
        left.next != pair.right) {
      continue;
    }
    left.len += right.len;
    right.len = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[static_cast<size_t>(right.next)].prev = pair.left;
    try_pair(left.prev, pair.left);
    try_pair(pair.left, left.next);
  }

  std::vector<std::string_view> pieces;
  for (int i = symbols.empty() ? -1 : 0; i != -1; i = symbols[static_cast<size_t>(i)].next) {
    pieces.push_back(
        text.substr(symbols[static_cast<size_t>(i)].start, symbols[static_cast<size_t>(i)].len));
  }
  return pieces;
}

}  // namespace wick::text
