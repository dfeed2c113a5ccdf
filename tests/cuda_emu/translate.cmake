# Writes the emulator's copy of a CUDA source: kernel<<<grid, block, smem, stream>>>(args)
# becomes ::wick_emu::Launch("kernel", kernel, grid, block, smem, stream)(args), and
# `extern __shared__ T name[];` a pointer to the block's dynamic shared memory.
# Usage: cmake -DIN=file.cu -DOUT=file.cpp -P translate.cmake
file(READ "${IN}" text)
string(REGEX REPLACE
       "([A-Za-z_][A-Za-z0-9_:]*(<[^<>;]*>)?)[ \t]*<<<([^;]*)>>>[ \t\n]*\\("
       "::wick_emu::Launch(\"\\1\", \\1, \\3)(" text "${text}")
string(REGEX REPLACE
       "extern[ \t]+__shared__[ \t]+(__align__\\([0-9]+\\)[ \t]+)?([A-Za-z0-9_:]+)[ \t]+([A-Za-z0-9_]+)\\[\\];"
       "\\2* \\3 = static_cast<\\2*>(::wick_emu::DynamicShared());" text "${text}")
if(text MATCHES "<<<|__shared__[^;]*\\[\\];")
  message(FATAL_ERROR "${IN}: a launch or dynamic shared array the emulator cannot translate")
endif()
get_filename_component(name "${IN}" NAME)
file(WRITE "${OUT}.tmp" "// Generated from ${IN} for the CUDA emulator: do not edit.\n#line 1 \"${IN}\"\n${text}")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUT}.tmp")
