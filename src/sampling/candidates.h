// Candidates: the tokens a sampler chain is still choosing between, each with its logit and,
// once Softmax() has run, its probability.
//
// Samplers narrow and reshape this list in place rather than copying it, because the first
// samplers of a chain see the whole vocabulary (often 150k entries) for every token generated.
// The container remembers how long a prefix is known to be sorted so that top-k, top-p and
// min-p, one after another, sort only as much as they need.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace wick::sampling {

// Returned by Candidates::selected() while no final sampler has picked a token.
inline constexpr int32_t kNoToken = -1;

struct TokenData {
  int32_t id;
  float logit;
  float prob;  // valid only after Candidates::Softmax()
};

class Candidates {
 public:
  Candidates() = default;
  explicit Candidates(std::span<const float> logits) { Assign(logits); }

  // Refills from one logit per vocabulary entry (token id = index), reusing the storage.
  // Logits must not be NaN (SamplerChain rejects them before they get here); -inf bans.
  void Assign(std::span<const float> logits);

  size_t size() const { return data_.size(); }
  bool empty() const { return data_.empty(); }
  TokenData& operator[](size_t i) { return data_[i]; }
  const TokenData& operator[](size_t i) const { return data_[i]; }
  std::span<TokenData> tokens() { return data_; }
  std::span<const TokenData> tokens() const { return data_; }

  // The entry for token `id`, or nullptr if it is no longer a candidate. Constant time while
  // the list is still in vocabulary order, as it is for the first samplers of a chain.
  TokenData* Find(int32_t id);

  // Puts the `k` highest logits first, in descending order with ties broken by lower id (so
  // results never depend on the sort's stability); the rest stay in unspecified order.
  void SortTopK(size_t k);
  void Sort() { SortTopK(data_.size()); }
  // How many leading entries are known to be in sorted order.
  size_t sorted_prefix() const { return sorted_prefix_; }
  // Samplers that change logits other than by an order-preserving map must call this.
  void InvalidateOrder() { sorted_prefix_ = 0; }

  // Keeps the first `n` entries.
  void Truncate(size_t n);
  // Moves entries that fail `keep` to the end (keeping the survivors' order) and drops them.
  template <typename Pred>
  size_t KeepIf(Pred keep);

  // Fills `prob` with the softmax of the logits. Entries at -inf get 0; if every logit is -inf
  // every probability is 0, which the final samplers report as "nothing to pick".
  void Softmax();
  // Index of the highest logit, ties to the lower id; 0 when empty (check empty() first).
  size_t ArgMax() const;

  // The final sampler of a chain records its choice here.
  void Select(size_t index) { selected_ = data_[index].id; }
  int32_t selected() const { return selected_; }

 private:
  std::vector<TokenData> data_;
  size_t sorted_prefix_ = 0;
  int32_t selected_ = kNoToken;
};

template <typename Pred>
size_t Candidates::KeepIf(Pred keep) {
  size_t kept = 0;
  // A stable in-place compaction: survivors keep their relative order, so a sorted prefix
  // stays sorted (the largest survivors are still first).
  for (size_t i = 0; i < data_.size(); ++i) {
    if (keep(data_[i])) data_[kept++] = data_[i];
  }
  Truncate(kept);
  return kept;
}

}  // namespace wick::sampling
