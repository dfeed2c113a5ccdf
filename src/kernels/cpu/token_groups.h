// Runs a kernel templated on its token count over any number of tokens. The count is a
// template parameter so that each instance keeps its per-token accumulators in registers; this
// maps a run-time count onto the few instances a kernel needs.
#ifndef WICK_KERNELS_CPU_TOKEN_GROUPS_H_
#define WICK_KERNELS_CPU_TOKEN_GROUPS_H_

#include <type_traits>

namespace wick::kernels {

// Calls fn(std::integral_constant<int, N>{}, first) for consecutive groups of tokens covering
// [0, count): groups of kMax while they last, then of 4, then one of 3, 2 or 1. So a kernel is
// instantiated for kMax, 4, 3, 2 and 1 tokens only.
template <int kMax, class Fn>
void ForTokenGroups(int count, Fn&& fn) {
  static_assert(kMax >= 4);
  int first = 0;
  for (; count - first >= kMax; first += kMax) fn(std::integral_constant<int, kMax>{}, first);
  if constexpr (kMax > 4) {
    for (; count - first >= 4; first += 4) fn(std::integral_constant<int, 4>{}, first);
  }
  switch (count - first) {
    case 3:
      fn(std::integral_constant<int, 3>{}, first);
      break;
    case 2:
      fn(std::integral_constant<int, 2>{}, first);
      break;
    case 1:
      fn(std::integral_constant<int, 1>{}, first);
      break;
    default:
      break;
  }
}

}  // namespace wick::kernels

#endif  // WICK_KERNELS_CPU_TOKEN_GROUPS_H_
