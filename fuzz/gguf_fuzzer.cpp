// libFuzzer entry point for the GGUF parser. Parsed files are walked completely (every
// metadata value, every tensor byte), so a view that strays outside the input trips ASan.
#include <cstddef>
#include <cstdint>

#include "io/gguf_file.h"
#include "io/gguf_writer.h"

namespace {

uint64_t Touch(const wick::GgufValue& v) {
  uint64_t sum = v.bits() + v.str().size();
  if (v.is_array()) {
    for (uint64_t i = 0; i < v.size(); ++i) sum += Touch(v.Element(i));
  }
  for (char c : v.str()) sum += static_cast<uint8_t>(c);
  return sum;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto file = wick::GgufFile::Parse({data, size}, "fuzz");
  if (!file.ok()) return 0;
  volatile uint64_t sum = 0;
  for (const auto& kv : file->metadata()) sum = sum + Touch(kv.value);
  for (const auto& t : file->tensors()) {
    for (uint8_t b : t.data) sum = sum + b;
  }
  // Whatever parses must also re-encode to a file that parses the same way.
  auto writer = wick::GgufWriter::CopyOf(*file);
  if (writer.ok()) {
    std::vector<uint8_t> bytes = writer->WriteToBuffer();
    auto again = wick::GgufFile::Parse(bytes, "fuzz-rewrite");
    if (!again.ok() || again->tensors().size() != file->tensors().size() ||
        again->metadata().size() != file->metadata().size()) {
      __builtin_trap();
    }
  }
  return 0;
}
