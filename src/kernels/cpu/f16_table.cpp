#include "kernels/cpu/f16_table.h"

#include "core/half.h"

namespace wick::kernels {
namespace {

const float* BuildTable() {
  static float table[65536];
  for (uint32_t h = 0; h < 65536; ++h) table[h] = F16ToF32(static_cast<uint16_t>(h));
  return table;
}

}  // namespace

const float* const kF16ToF32Table = BuildTable();

}  // namespace wick::kernels
