// std::bit_cast for the browser build, whose libc++ (LLVM 14, Debian's Emscripten) lacks it.
#pragma once

namespace wick {

template <class To, class From>
constexpr To BitCast(const From& from) noexcept {
  static_assert(sizeof(To) == sizeof(From));
  return __builtin_bit_cast(To, from);
}

}  // namespace wick
