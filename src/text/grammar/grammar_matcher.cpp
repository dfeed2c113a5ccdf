#include "text/grammar/grammar_matcher.h"

#include <algorithm>
#include <optional>
#include <tuple>
#include <unordered_map>
#include <utility>

#include "text/grammar/grammar_automaton.h"

namespace wick::text {
namespace {

using Bits = std::vector<uint64_t>;

void SetBit(Bits& bits, int32_t i) {
  bits[static_cast<size_t>(i) >> 6] |= uint64_t{1} << (i & 63);
}
bool HasBit(const Bits& bits, int32_t i) {
  return (bits[static_cast<size_t>(i) >> 6] >> (i & 63)) & 1;
}

// What the vocabulary does at one byte-set position, whatever the stack below it.
struct PositionCache {
  // Tokens whose bytes all fit inside the position's rule (or end exactly where it ends).
  Bits accepted;
  // Tokens that leave the rule mid-token: the rest of their bytes, from `offset`, must be
  // checked against what the real stack continues with. Sorted by that rest, `lcp` the bytes
  // shared with the previous entry's rest, so one walk shares the work of common prefixes.
  struct Undecided {
    int32_t token = 0;
    uint16_t offset = 0;
    uint16_t lcp = 0;
  };
  std::vector<Undecided> undecided;
};

// How many frames of a head's stack its position cache is built with. Tokens are decided
// without the real stack until they return below these frames: with three, a token running
// through the end of a string (the character rule, the repetition, the string) into what
// follows it in an object is still decided once and for all.
constexpr int kCachedFrames = 3;

// A live position of a state with the top of its stack, and the state the rest of its stacks
// continue with (for undecided tokens).
struct StatePart {
  uint32_t pos = 0;
  uint32_t top = 0;
  std::optional<uint32_t> pop_state;
};

}  // namespace

struct CompiledGrammar::Impl {
  Grammar grammar;
  std::shared_ptr<const VocabTrie> trie;
  GrammarAutomaton automaton;
  std::mutex mu;
  std::unordered_map<uint64_t, std::unique_ptr<PositionCache>> positions;
  std::unordered_map<uint32_t, std::vector<StatePart>> state_parts;
  std::vector<uint32_t> walk;  // per-depth states, reused

  const PositionCache& CacheFor(uint32_t pos, uint32_t top);
  const std::vector<StatePart>& PartsOf(uint32_t state);
  void AddUndecided(const std::string& piece, int32_t token, uint64_t pops, uint32_t start,
                    std::vector<PositionCache::Undecided>& out);
  void CheckUndecided(const PositionCache& cache, uint32_t from, Bits& mask);
  void FillMask(uint32_t state, bool at_start, Bits& mask);
  uint32_t WalkToken(uint32_t state, bool at_start, int32_t token);
  // The state after `token`, or nullopt when it may not come next (an end-of-generation token
  // is allowed only where the grammar can end, and leaves the state as it is). A grammar that
  // has already overflowed accepts nothing; an overflow during this walk is the caller's to
  // report.
  std::optional<uint32_t> StepToken(uint32_t state, bool at_start, int32_t token);
};

const PositionCache& CompiledGrammar::Impl::CacheFor(uint32_t pos, uint32_t top) {
  const uint64_t key = (uint64_t{pos} << 32) | top;
  auto it = positions.find(key);
  if (it != positions.end()) return *it->second;

  const VocabTrie& t = *trie;
  auto cache = std::make_unique<PositionCache>();
  cache->accepted.assign((static_cast<size_t>(t.n_vocab_) + 63) / 64, 0);
  const uint32_t start = automaton.StateAt(pos, top);
  // Depth-indexed: the state after d bytes, and the depths at which the rule was left (bit
  // 63 stands for "somewhere past 62", resolved token by token).
  std::vector<uint32_t> state(1, start);
  std::vector<uint64_t> pops(1, 0);
  const auto n = static_cast<uint32_t>(t.bytes_.size());
  for (uint32_t i = 1; i < n;) {
    const size_t d = t.depth_[i];
    if (state.size() <= d) {
      state.resize(d + 1);
      pops.resize(d + 1);
    }
    const uint32_t next = automaton.Next(state[d - 1], t.bytes_[i]);
    if (next == GrammarAutomaton::kDead) {
      if (pops[d - 1] != 0) {
        for (uint32_t j = i; j < t.next_[i]; ++j) {
          for (uint32_t k = t.token_begin_[j]; k < t.token_begin_[j + 1]; ++k) {
            const int32_t token = t.tokens_[k];
            AddUndecided(t.pieces_[static_cast<size_t>(token)], token, pops[d - 1], start,
                         cache->undecided);
          }
        }
      }
      i = t.next_[i];
      continue;
    }
    state[d] = next;
    pops[d] = pops[d - 1];
    if (automaton.ended(next)) pops[d] |= uint64_t{1} << std::min<size_t>(d, 63);
    for (uint32_t k = t.token_begin_[i]; k < t.token_begin_[i + 1]; ++k) {
      SetBit(cache->accepted, t.tokens_[k]);
    }
    ++i;
  }

  auto& u = cache->undecided;
  std::sort(u.begin(), u.end(), [&t](const auto& a, const auto& b) {
    return std::string_view(t.pieces_[static_cast<size_t>(a.token)]).substr(a.offset) <
           std::string_view(t.pieces_[static_cast<size_t>(b.token)]).substr(b.offset);
  });
  for (size_t e = 1; e < u.size(); ++e) {
    const std::string_view x =
        std::string_view(t.pieces_[static_cast<size_t>(u[e - 1].token)]).substr(u[e - 1].offset);
    const std::string_view y =
        std::string_view(t.pieces_[static_cast<size_t>(u[e].token)]).substr(u[e].offset);
    size_t common = 0;
    while (common < x.size() && common < y.size() && x[common] == y[common]) ++common;
    u[e].lcp = static_cast<uint16_t>(std::min<size_t>(common, 65535));
  }
  return *positions.emplace(key, std::move(cache)).first->second;
}

void CompiledGrammar::Impl::AddUndecided(const std::string& piece, int32_t token, uint64_t pops,
                                         uint32_t start,
                                         std::vector<PositionCache::Undecided>& out) {
  if ((pops >> 63) & 1) {
    // Left past byte 62: find every exit of this (rare, long) token by walking it alone.
    pops &= ~(uint64_t{1} << 63);
    uint32_t s = start;
    for (size_t d = 0; d < piece.size() && s != GrammarAutomaton::kDead; ++d) {
      s = automaton.Next(s, static_cast<uint8_t>(piece[d]));
      if (d + 1 >= 63 && automaton.ended(s)) {
        out.push_back({token, static_cast<uint16_t>(std::min<size_t>(d + 1, 65535)), 0});
      }
    }
  }
  for (uint64_t bits = pops; bits != 0; bits &= bits - 1) {
    out.push_back({token, static_cast<uint16_t>(__builtin_ctzll(bits)), 0});
  }
}

const std::vector<StatePart>& CompiledGrammar::Impl::PartsOf(uint32_t state) {
  auto it = state_parts.find(state);
  if (it != state_parts.end()) return it->second;
  // (pos, top of stack, rest of stack), grouped by the first two. A copy: filling caches
  // interns new states, which may move the automaton's head storage.
  struct Split {
    uint32_t pos, top, rest;
  };
  std::vector<Split> split;
  for (auto h = automaton.heads_begin(state); h != automaton.heads_end(state); ++h) {
    split.push_back({h->pos, 0, h->stack});
  }
  for (Split& x : split) std::tie(x.top, x.rest) = automaton.SplitStack(x.rest, kCachedFrames);
  std::sort(split.begin(), split.end(), [](const Split& a, const Split& b) {
    return a.pos != b.pos ? a.pos < b.pos : a.top != b.top ? a.top < b.top : a.rest < b.rest;
  });
  std::vector<StatePart> parts;
  std::vector<uint32_t> rests;
  for (size_t i = 0; i < split.size();) {
    const uint32_t pos = split[i].pos;
    const uint32_t top = split[i].top;
    rests.clear();
    for (; i < split.size() && split[i].pos == pos && split[i].top == top; ++i) {
      rests.push_back(split[i].rest);
    }
    StatePart part{pos, top, std::nullopt};
    if (!CacheFor(pos, top).undecided.empty()) part.pop_state = automaton.PopInto(rests);
    parts.push_back(part);
  }
  return state_parts.emplace(state, std::move(parts)).first->second;
}

void CompiledGrammar::Impl::CheckUndecided(const PositionCache& cache, uint32_t from, Bits& mask) {
  const VocabTrie& t = *trie;
  walk.assign(1, from);
  size_t valid = 0;  // walk[0..valid] are the states after that many bytes of the last rest
  for (const PositionCache::Undecided& e : cache.undecided) {
    const std::string_view rest =
        std::string_view(t.pieces_[static_cast<size_t>(e.token)]).substr(e.offset);
    valid = std::min<size_t>(valid, e.lcp);
    if (HasBit(mask, e.token)) continue;
    if (walk.size() <= rest.size()) walk.resize(rest.size() + 1);
    uint32_t s = walk[valid];
    size_t d = valid;
    while (d < rest.size() && s != GrammarAutomaton::kDead) {
      s = automaton.Next(s, static_cast<uint8_t>(rest[d]));
      walk[++d] = s;
    }
    valid = d;
    if (s != GrammarAutomaton::kDead) SetBit(mask, e.token);
  }
}

void CompiledGrammar::Impl::FillMask(uint32_t state, bool at_start, Bits& mask) {
  const VocabTrie& t = *trie;
  mask.assign((static_cast<size_t>(t.n_vocab_) + 63) / 64, 0);
  if (automaton.ended(state)) {
    for (const int32_t id : t.eog_) {
      if (id >= 0 && id < t.n_vocab_) SetBit(mask, id);
    }
  }
  for (const StatePart& part : PartsOf(state)) {
    const PositionCache& cache = CacheFor(part.pos, part.top);
    for (size_t w = 0; w < mask.size(); ++w) mask[w] |= cache.accepted[w];
    if (part.pop_state) CheckUndecided(cache, *part.pop_state, mask);
  }
  if (at_start && t.strips_leading_space_) {
    // The first piece's leading space never reaches the output: match what follows it.
    for (uint32_t i = 1; i < t.bytes_.size(); i = t.next_[i]) {
      if (t.bytes_[i] != ' ') continue;
      for (uint32_t j = i; j < t.next_[i]; ++j) {
        for (uint32_t k = t.token_begin_[j]; k < t.token_begin_[j + 1]; ++k) {
          const int32_t token = t.tokens_[k];
          if (HasBit(mask, token)) continue;
          if (WalkToken(state, true, token) != GrammarAutomaton::kDead) SetBit(mask, token);
        }
      }
    }
  }
}

uint32_t CompiledGrammar::Impl::WalkToken(uint32_t state, bool at_start, int32_t token) {
  std::string_view piece = trie->pieces_[static_cast<size_t>(token)];
  if (at_start && trie->strips_leading_space_ && !piece.empty() && piece[0] == ' ') {
    piece.remove_prefix(1);
  }
  return automaton.Walk(state, piece);
}

std::optional<uint32_t> CompiledGrammar::Impl::StepToken(uint32_t state, bool at_start,
                                                         int32_t token) {
  if (token < 0 || token >= trie->n_vocab() || automaton.overflowed()) return std::nullopt;
  if (!trie->is_text(token)) {
    const auto& eog = trie->eog();
    if (!automaton.ended(state) || std::find(eog.begin(), eog.end(), token) == eog.end()) {
      return std::nullopt;
    }
    return state;
  }
  const uint32_t next = WalkToken(state, at_start, token);
  if (next == GrammarAutomaton::kDead) return std::nullopt;
  return next;
}

CompiledGrammar::CompiledGrammar(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CompiledGrammar::~CompiledGrammar() = default;

Result<std::shared_ptr<CompiledGrammar>> CompiledGrammar::Create(
    Grammar grammar, std::shared_ptr<const VocabTrie> trie) {
  if (trie == nullptr) return Error(ErrorCode::kInvalidArgument, "grammar: no vocabulary");
  WICK_ASSIGN_OR_RETURN(GrammarAutomaton automaton, GrammarAutomaton::Create(grammar));
  auto impl = std::make_unique<Impl>();
  impl->grammar = std::move(grammar);
  impl->trie = std::move(trie);
  impl->automaton = std::move(automaton);
  return std::shared_ptr<CompiledGrammar>(new CompiledGrammar(std::move(impl)));
}

const Grammar& CompiledGrammar::grammar() const {
  return impl_->grammar;
}
const VocabTrie& CompiledGrammar::trie() const {
  return *impl_->trie;
}
size_t CompiledGrammar::n_states() const {
  std::lock_guard lock(impl_->mu);
  return impl_->automaton.n_states();
}

GrammarMatcher::GrammarMatcher(std::shared_ptr<CompiledGrammar> grammar)
    : grammar_(std::move(grammar)) {
  Reset();
}

void GrammarMatcher::Reset() {
  state_ = grammar_->impl_->automaton.initial();
  at_start_ = true;
}

void GrammarMatcher::FillMask(std::vector<uint64_t>& mask) {
  CompiledGrammar::Impl& g = *grammar_->impl_;
  std::lock_guard lock(g.mu);
  g.FillMask(state_, at_start_, mask);
  if (g.automaton.overflowed()) std::fill(mask.begin(), mask.end(), 0);
}

bool GrammarMatcher::overflowed() const {
  CompiledGrammar::Impl& g = *grammar_->impl_;
  std::lock_guard lock(g.mu);
  return g.automaton.overflowed();
}

bool GrammarMatcher::Accepts(int32_t token) {
  CompiledGrammar::Impl& g = *grammar_->impl_;
  std::lock_guard lock(g.mu);
  return g.StepToken(state_, at_start_, token).has_value();
}

Status GrammarMatcher::Advance(int32_t token) {
  CompiledGrammar::Impl& g = *grammar_->impl_;
  std::lock_guard lock(g.mu);
  const std::optional<uint32_t> next = g.StepToken(state_, at_start_, token);
  if (!next) {
    return Error(ErrorCode::kInvalidArgument,
                 "grammar: token " + std::to_string(token) + " cannot follow the output so far");
  }
  if (!g.trie->is_text(token)) return OkStatus();  // end of generation: nothing to move past
  state_ = *next;
  at_start_ = false;
  if (g.automaton.overflowed()) {
    return Error(ErrorCode::kUnsupported,
                 "grammar: too ambiguous to follow (its parses multiply; nested repetitions?)");
  }
  return OkStatus();
}

bool GrammarMatcher::AdvanceBytes(std::string_view bytes) {
  CompiledGrammar::Impl& g = *grammar_->impl_;
  std::lock_guard lock(g.mu);
  const uint32_t next = g.automaton.Walk(state_, bytes);
  if (next == GrammarAutomaton::kDead || g.automaton.overflowed()) return false;
  state_ = next;
  if (!bytes.empty()) at_start_ = false;
  return true;
}

bool GrammarMatcher::CanEnd() const {
  CompiledGrammar::Impl& g = *grammar_->impl_;
  std::lock_guard lock(g.mu);
  return g.automaton.ended(state_);
}

bool GrammarMatcher::IsComplete() const {
  CompiledGrammar::Impl& g = *grammar_->impl_;
  std::lock_guard lock(g.mu);
  return g.automaton.ended(state_) && !g.automaton.has_heads(state_);
}

Result<bool> GrammarAcceptsText(const Grammar& grammar, std::string_view text) {
  WICK_ASSIGN_OR_RETURN(GrammarAutomaton automaton, GrammarAutomaton::Create(grammar));
  return automaton.ended(automaton.Walk(automaton.initial(), text));
}

}  // namespace wick::text
