# Dependencies of the WebAssembly build, under the target names the native build gets from
# Debian, so src/CMakeLists.txt links the same names either way. scripts/build-wasm compiles
# PCRE2, utf8proc and Highway's runtime from Debian's source packages into WICK_WASM_DEPS
# (include/ and lib/) and links the header-only libraries' Debian headers into its include/.
set(WICK_WASM_DEPS "" CACHE PATH "Prefix holding the WebAssembly builds of the dependencies")
if(NOT WICK_WASM_DEPS OR NOT EXISTS "${WICK_WASM_DEPS}/lib/libpcre2-8.a")
  message(FATAL_ERROR "WICK_WASM_DEPS must name the prefix scripts/build-wasm fills "
                      "(got '${WICK_WASM_DEPS}')")
endif()
set(wasm_include "${WICK_WASM_DEPS}/include")

function(wick_wasm_library name)
  cmake_parse_arguments(arg "" "" "LIBS;DEFINES" ${ARGN})
  add_library(${name} INTERFACE IMPORTED GLOBAL)
  set_target_properties(${name} PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${wasm_include}"
                                           INTERFACE_COMPILE_DEFINITIONS "${arg_DEFINES}")
  if(arg_LIBS)
    set_target_properties(${name} PROPERTIES INTERFACE_LINK_LIBRARIES "${arg_LIBS}")
  endif()
endfunction()

wick_wasm_library(nlohmann_json::nlohmann_json)
# Debian's fmt, header-only: its compiled library is a host binary.
wick_wasm_library(fmt::fmt DEFINES FMT_HEADER_ONLY)
wick_wasm_library(Threads::Threads)
wick_wasm_library(PkgConfig::HWY LIBS "${WICK_WASM_DEPS}/lib/libhwy.a")
wick_wasm_library(PkgConfig::PCRE2 DEFINES PCRE2_STATIC LIBS "${WICK_WASM_DEPS}/lib/libpcre2-8.a")
wick_wasm_library(PkgConfig::UTF8PROC DEFINES UTF8PROC_STATIC
                  LIBS "${WICK_WASM_DEPS}/lib/libutf8proc.a")
