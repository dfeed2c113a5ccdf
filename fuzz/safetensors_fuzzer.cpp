// libFuzzer entry point for the safetensors parser. Every byte of every parsed tensor is read,
// so a view that strays outside the input trips ASan; lookups by name are checked too.
#include <cstddef>
#include <cstdint>

#include "io/safetensors_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto file = wick::SafetensorsFile::Parse({data, size}, "fuzz");
  if (!file.ok()) {
    // Errors are one line whatever the input held.
    for (char c : file.error().message()) {
      if (c == '\n') __builtin_trap();
    }
    return 0;
  }
  volatile uint64_t sum = 0;
  for (const auto& [key, value] : file->metadata()) sum = sum + key.size() + value.size();
  for (const auto& t : file->tensors()) {
    if (t.data.size() != t.n_bytes || file->FindTensor(t.name) != &t) __builtin_trap();
    for (uint8_t b : t.data) sum = sum + b;
  }
  return 0;
}
