// The VNNI dot-product instructions of the AVX3_DL kernels are EVEX-encoded (AVX512-VNNI), never
// VEX (AVX-VNNI): Highway picks AVX3_DL on CPUs that have only the former (Ice Lake, Zen 4),
// where a VEX vpdpbusd or vpdpwssd stops the process with SIGILL (vnni_evex-inl.h says why the
// compiler would emit one). A machine with AVX-VNNI runs either form, so the kernels' own tests
// cannot see this: the instructions are read from this binary, which links the kernels.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace wick {
namespace {

#if defined(__x86_64__)
TEST(VnniEncodingTest, KernelsHoldNoVexVnniInstructions) {
  if (std::system("objdump --version > /dev/null 2>&1") != 0) {
    GTEST_SKIP() << "objdump (binutils) not found: cannot read this binary's instructions";
  }
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  const std::string command = "objdump -d --no-show-raw-insn '" + self + "' 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::array<char, 4096> line{};
  std::string current_function, vex_functions;
  int instructions = 0, evex_vnni = 0;
  while (fgets(line.data(), static_cast<int>(line.size()), pipe) != nullptr) {
    const std::string text(line.data());
    if (text.find(">:") != std::string::npos) current_function = text;
    if (text.find('\t') != std::string::npos) ++instructions;
    if (text.find("vpdpbusd") == std::string::npos && text.find("vpdpwssd") == std::string::npos) {
      continue;
    }
    if (text.find("{vex}") != std::string::npos) {
      if (vex_functions.find(current_function) == std::string::npos) {
        vex_functions += current_function;
      }
    } else {
      ++evex_vnni;
    }
  }
  const int status = pclose(pipe);
  ASSERT_EQ(status, 0) << "objdump failed on " << self;
  ASSERT_GT(instructions, 10000) << "objdump listed almost no instructions";
  EXPECT_TRUE(vex_functions.empty()) << "VEX-encoded (AVX-VNNI) instructions in:\n"
                                     << vex_functions;
  // The k-quant and Q4_0 kernels of the AVX3_DL target use the EVEX forms: the scan saw them.
  EXPECT_GT(evex_vnni, 0) << "no vpdpbusd or vpdpwssd found: is the AVX3_DL target built?";
}
#endif

}  // namespace
}  // namespace wick
