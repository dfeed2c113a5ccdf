// Random 64-bit values for ids and jitter, cheap on any thread: one seed from the operating
// system per process, then a counter through splitmix64. Request handlers run on short-lived
// threads, and seeding a generator per thread from std::random_device costs a system call
// each time; ids need to be unique and unguessable in practice, not cryptographic.
#pragma once

#include <atomic>
#include <cstdint>
#include <random>

namespace wick {

inline uint64_t RandomU64() {
  static const uint64_t seed = (static_cast<uint64_t>(std::random_device{}()) << 32) ^
                               static_cast<uint64_t>(std::random_device{}());
  static std::atomic<uint64_t> counter{0};
  uint64_t z = seed + 0x9e3779b97f4a7c15ull * (counter.fetch_add(1, std::memory_order_relaxed) + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

}  // namespace wick
