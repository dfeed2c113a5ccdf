// The pushdown automaton behind GrammarMatcher: a grammar flattened into positions, return
// stacks and parser states interned into small integers, and byte transitions memoised per
// state, so that after warm-up advancing over a byte is one table lookup.
//
// A state is the set of live heads (a position whose element is a byte set, and the stack to
// return to when its rule ends) plus `ended`: the bottom of the stack was reached, i.e. the
// whole grammar (or, for a walk started at one position, that position's rule) is complete.
// Calls in tail position do not push (the callee returns straight to the caller's caller), so
// right recursion — how repetition is written — runs in constant stack depth and a string's
// body is one state, however long the string.
//
// Internal to text/grammar; not thread-safe (CompiledGrammar locks around it).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "core/error.h"
#include "text/grammar/grammar.h"

namespace wick::text {

class GrammarAutomaton {
 public:
  struct Head {
    uint32_t pos = 0;
    uint32_t stack = 0;
    bool operator==(const Head&) const = default;
  };

  static constexpr uint32_t kDead = 0;    // no heads, not ended: nothing can follow
  static constexpr uint32_t kBottom = 0;  // the empty stack

  GrammarAutomaton() = default;  // empty; Create() makes a usable one
  // Validates and flattens `grammar`.
  static Result<GrammarAutomaton> Create(const Grammar& grammar);

  // The state before any byte.
  uint32_t initial() const { return initial_; }
  // The state of a walk that starts at one byte-set position with `stack` below it.
  uint32_t StateAt(uint32_t pos, uint32_t stack);

  // The top `frames` frames of `stack` as a stack of their own (over kBottom), and what is
  // left below them (kBottom when the stack is no deeper than that).
  std::pair<uint32_t, uint32_t> SplitStack(uint32_t stack, int frames);

  uint32_t Next(uint32_t state, uint8_t byte) {
    const size_t slot = static_cast<size_t>(state) * n_classes_ + byte_class_[byte];
    const int32_t cached = transitions_[slot];
    return cached >= 0 ? static_cast<uint32_t>(cached) : Compute(state, byte);
  }
  uint32_t Walk(uint32_t state, std::string_view bytes) {
    for (const char c : bytes) {
      state = Next(state, static_cast<uint8_t>(c));
      if (state == kDead) break;
    }
    return state;
  }

  bool ended(uint32_t state) const { return ended_[state] != 0; }
  bool has_heads(uint32_t state) const { return head_begin_[state + 1] > head_begin_[state]; }
  const Head* heads_begin(uint32_t state) const { return heads_.data() + head_begin_[state]; }
  const Head* heads_end(uint32_t state) const { return heads_.data() + head_begin_[state + 1]; }

  // The state reached when the heads' rules end and return to `stacks` (each a stack id):
  // the union of their continuations.
  uint32_t PopInto(const std::vector<uint32_t>& stacks);

  size_t n_states() const { return ended_.size(); }

  // A closure grew past kMaxClosure heads (a grammar so ambiguous that its parses multiply,
  // e.g. nested repetitions of repetitions): it was cut short, so results since are unsound.
  // Sticky; callers turn it into an error.
  bool overflowed() const { return overflowed_; }
  static constexpr size_t kMaxClosure = 4096;

 private:
  enum class Kind : uint8_t { kBytes, kRule, kEnd };
  struct Stack {
    uint32_t ret = 0;
    uint32_t parent = 0;
  };

  uint32_t Compute(uint32_t state, uint8_t byte);
  // Adds the heads reachable from (pos, stack) without consuming a byte.
  void Close(uint32_t pos, uint32_t stack);
  uint32_t Intern();  // the state made of scratch_heads_ / scratch_ended_
  uint32_t PushStack(uint32_t ret, uint32_t parent);
  void ClearVisited();

  // Positions: the elements of every alternative back to back, each alternative closed by an
  // kEnd position.
  std::vector<Kind> kind_;
  std::vector<uint32_t> arg_;  // byte set (kBytes) or rule (kRule)
  std::vector<std::vector<uint32_t>> rule_starts_;
  std::vector<ByteSet> sets_;
  std::array<uint8_t, 256> byte_class_ = {};
  uint32_t n_classes_ = 0;

  std::vector<Stack> stacks_;
  std::unordered_map<uint64_t, uint32_t> stack_ids_;

  std::vector<Head> heads_;
  std::vector<uint32_t> head_begin_;
  std::vector<uint8_t> ended_;
  std::unordered_map<std::string, uint32_t> state_ids_;
  std::vector<int32_t> transitions_;  // state * n_classes_ + class; -1: not computed
  std::unordered_map<uint64_t, uint32_t> position_states_;
  uint32_t initial_ = 0;

  std::vector<Head> scratch_heads_;
  std::vector<Head> visited_;
  std::unordered_set<uint64_t> visited_set_;  // once visited_ is long, for constant lookups
  bool overflowed_ = false;
  bool scratch_ended_ = false;
  std::string key_;
};

}  // namespace wick::text
