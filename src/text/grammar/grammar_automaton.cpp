#include "text/grammar/grammar_automaton.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <map>

namespace wick::text {

Result<GrammarAutomaton> GrammarAutomaton::Create(const Grammar& grammar) {
  WICK_RETURN_IF_ERROR(grammar.Validate());
  GrammarAutomaton a;
  a.sets_ = grammar.byte_sets();

  // Bytes that every set treats alike share a class, so transition tables are short.
  std::map<std::vector<uint32_t>, uint8_t> classes;
  for (int b = 0; b < 256; ++b) {
    std::vector<uint32_t> signature;
    for (uint32_t s = 0; s < a.sets_.size(); ++s) {
      if (a.sets_[s].Has(static_cast<uint8_t>(b))) signature.push_back(s);
    }
    auto [it, added] = classes.try_emplace(std::move(signature), a.n_classes_);
    if (added) ++a.n_classes_;
    a.byte_class_[static_cast<size_t>(b)] = it->second;
  }

  const std::vector<GrammarRule>& rules = grammar.rules();
  a.rule_starts_.resize(rules.size());
  for (size_t r = 0; r < rules.size(); ++r) {
    for (const GrammarSequence& alt : rules[r].alternatives) {
      a.rule_starts_[r].push_back(static_cast<uint32_t>(a.kind_.size()));
      for (const GrammarElement& e : alt) {
        a.kind_.push_back(e.kind == GrammarElement::Kind::kBytes ? Kind::kBytes : Kind::kRule);
        a.arg_.push_back(e.index);
      }
      a.kind_.push_back(Kind::kEnd);
      a.arg_.push_back(0);
    }
  }

  a.stacks_.push_back({});  // kBottom
  a.Intern();               // kDead: the empty state
  a.scratch_heads_.clear();
  a.scratch_ended_ = false;
  a.ClearVisited();
  for (const uint32_t start : a.rule_starts_[grammar.root()]) a.Close(start, kBottom);
  a.initial_ = a.Intern();
  if (a.overflowed_) {
    return Error(ErrorCode::kUnsupported,
                 fmt::format("grammar: too ambiguous (more than {} parses alive at the start; "
                             "nested repetitions of repetitions?)",
                             kMaxClosure));
  }
  return a;
}

void GrammarAutomaton::ClearVisited() {
  visited_.clear();
  visited_set_.clear();
}

uint32_t GrammarAutomaton::PushStack(uint32_t ret, uint32_t parent) {
  const uint64_t key = (uint64_t{ret} << 32) | parent;
  auto [it, added] = stack_ids_.try_emplace(key, static_cast<uint32_t>(stacks_.size()));
  if (added) stacks_.push_back({ret, parent});
  return it->second;
}

void GrammarAutomaton::Close(uint32_t pos, uint32_t stack) {
  const Head head{pos, stack};
  const uint64_t key = (uint64_t{pos} << 32) | stack;
  if (visited_.size() < 32) {
    if (std::find(visited_.begin(), visited_.end(), head) != visited_.end()) return;
  } else {
    if (visited_set_.empty()) {
      for (const Head& v : visited_) visited_set_.insert((uint64_t{v.pos} << 32) | v.stack);
    }
    if (!visited_set_.insert(key).second) return;
  }
  if (visited_.size() >= kMaxClosure) {
    overflowed_ = true;
    return;
  }
  visited_.push_back(head);
  switch (kind_[pos]) {
    case Kind::kBytes:
      scratch_heads_.push_back(head);
      return;
    case Kind::kRule: {
      // A call in tail position returns straight to our caller: no frame to push.
      const uint32_t ret = pos + 1;
      const uint32_t callee_stack = kind_[ret] == Kind::kEnd ? stack : PushStack(ret, stack);
      for (const uint32_t start : rule_starts_[arg_[pos]]) Close(start, callee_stack);
      return;
    }
    case Kind::kEnd:
      if (stack == kBottom) {
        scratch_ended_ = true;
      } else {
        const Stack frame = stacks_[stack];
        Close(frame.ret, frame.parent);
      }
      return;
  }
}

uint32_t GrammarAutomaton::Intern() {
  std::sort(scratch_heads_.begin(), scratch_heads_.end(), [](const Head& x, const Head& y) {
    return x.pos != y.pos ? x.pos < y.pos : x.stack < y.stack;
  });
  scratch_heads_.erase(std::unique(scratch_heads_.begin(), scratch_heads_.end()),
                       scratch_heads_.end());
  key_.assign(1, scratch_ended_ ? '\1' : '\0');
  const size_t bytes = scratch_heads_.size() * sizeof(Head);
  key_.resize(1 + bytes);
  if (bytes > 0) std::memcpy(key_.data() + 1, scratch_heads_.data(), bytes);
  auto [it, added] = state_ids_.try_emplace(key_, static_cast<uint32_t>(ended_.size()));
  if (added) {
    if (head_begin_.empty()) head_begin_.push_back(0);
    heads_.insert(heads_.end(), scratch_heads_.begin(), scratch_heads_.end());
    head_begin_.push_back(static_cast<uint32_t>(heads_.size()));
    ended_.push_back(scratch_ended_ ? 1 : 0);
    transitions_.resize(transitions_.size() + n_classes_, -1);
  }
  return it->second;
}

uint32_t GrammarAutomaton::Compute(uint32_t state, uint8_t byte) {
  scratch_heads_.clear();
  scratch_ended_ = false;
  ClearVisited();
  for (uint32_t h = head_begin_[state]; h < head_begin_[state + 1]; ++h) {
    const Head head = heads_[h];
    if (sets_[arg_[head.pos]].Has(byte)) Close(head.pos + 1, head.stack);
  }
  const uint32_t next = Intern();
  transitions_[static_cast<size_t>(state) * n_classes_ + byte_class_[byte]] =
      static_cast<int32_t>(next);
  return next;
}

uint32_t GrammarAutomaton::StateAt(uint32_t pos, uint32_t stack) {
  const uint64_t key = (uint64_t{pos} << 32) | stack;
  auto it = position_states_.find(key);
  if (it != position_states_.end()) return it->second;
  scratch_heads_.assign(1, Head{pos, stack});
  scratch_ended_ = false;
  const uint32_t state = Intern();
  position_states_.emplace(key, state);
  return state;
}

std::pair<uint32_t, uint32_t> GrammarAutomaton::SplitStack(uint32_t stack, int frames) {
  uint32_t rets[8];
  int n = 0;
  uint32_t rest = stack;
  while (n < frames && n < 8 && rest != kBottom) {
    rets[n++] = stacks_[rest].ret;
    rest = stacks_[rest].parent;
  }
  uint32_t top = kBottom;
  for (int i = n - 1; i >= 0; --i) top = PushStack(rets[i], top);
  return {top, rest};
}

uint32_t GrammarAutomaton::PopInto(const std::vector<uint32_t>& stacks) {
  scratch_heads_.clear();
  scratch_ended_ = false;
  ClearVisited();
  for (const uint32_t stack : stacks) {
    if (stack == kBottom) {
      scratch_ended_ = true;
    } else {
      const Stack frame = stacks_[stack];
      Close(frame.ret, frame.parent);
    }
  }
  return Intern();
}

}  // namespace wick::text
