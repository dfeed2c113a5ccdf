# The CUDA backend. WICK_CUDA=auto builds it when a CUDA compiler is found, on requires one,
# off never looks. Sets WICK_HAVE_CUDA. The CPU-only build needs no CUDA toolkit, and a
# CUDA-enabled binary starts on machines without a GPU or driver: the runtime is linked
# statically and cuBLAS is opened at run time.
set(WICK_HAVE_CUDA OFF)
if(EMSCRIPTEN OR WICK_CUDA STREQUAL "off")
  return()
endif()
if(NOT WICK_CUDA MATCHES "^(auto|on)$")
  message(FATAL_ERROR "WICK_CUDA is '${WICK_CUDA}': use auto, on or off")
endif()
if(WICK_SANITIZE OR WICK_FUZZ)
  # The sanitizer runtimes and nvcc's host code do not mix; those builds test the CPU.
  if(WICK_CUDA STREQUAL "on")
    message(FATAL_ERROR "WICK_CUDA=on cannot be combined with WICK_SANITIZE or WICK_FUZZ")
  endif()
  return()
endif()

# nvcc is often installed outside PATH (the toolkit's default prefix).
if(NOT CMAKE_CUDA_COMPILER AND NOT DEFINED ENV{CUDACXX} AND EXISTS /usr/local/cuda/bin/nvcc)
  set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
endif()
include(CheckLanguage)
check_language(CUDA)
if(NOT CMAKE_CUDA_COMPILER)
  if(WICK_CUDA STREQUAL "on")
    message(FATAL_ERROR "WICK_CUDA=on, but no CUDA compiler (nvcc) was found: install the "
                        "CUDA toolkit, set CMAKE_CUDA_COMPILER, or configure with WICK_CUDA=off")
  endif()
  message(STATUS "CUDA backend: off (no nvcc found)")
  return()
endif()

# Machine code for Ampere (A100, GA10x), Ada and Hopper, and PTX for Hopper that newer GPUs
# compile at load. Builds that only need to compile the code (CI) or run on one GPU may pass
# -DCMAKE_CUDA_ARCHITECTURES=90-real.
if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES OR CMAKE_CUDA_ARCHITECTURES STREQUAL "")
  set(CMAKE_CUDA_ARCHITECTURES 80-real 86-real 89-real 90)
endif()
if(CCACHE_PROGRAM)
  set(CMAKE_CUDA_COMPILER_LAUNCHER "${CCACHE_PROGRAM}")
endif()
enable_language(CUDA)
# C++20 device code, as the rest of wick. CMake 3.25 knows nvcc's dialects only up to C++17,
# so it is told the flag for C++20.
if(NOT CMAKE_CUDA20_STANDARD_COMPILE_OPTION)
  set(CMAKE_CUDA20_STANDARD_COMPILE_OPTION "-std=c++20")
  set(CMAKE_CUDA20_EXTENSION_COMPILE_OPTION "-std=c++20")
endif()
set(CMAKE_CUDA_STANDARD 20)
set(CMAKE_CUDA_STANDARD_REQUIRED ON)
find_package(CUDAToolkit REQUIRED)
# CMake 3.25 does not read nvcc 13's implicit directories: without these, a target's
# /usr/include becomes -isystem (breaking <cmath>'s #include_next) and the CUDA runtime that
# CMake links by name is not found.
if(NOT "/usr/include" IN_LIST CMAKE_CUDA_IMPLICIT_INCLUDE_DIRECTORIES)
  list(APPEND CMAKE_CUDA_IMPLICIT_INCLUDE_DIRECTORIES /usr/include)
endif()
if(NOT "${CUDAToolkit_LIBRARY_DIR}" IN_LIST CMAKE_CUDA_IMPLICIT_LINK_DIRECTORIES)
  list(APPEND CMAKE_CUDA_IMPLICIT_LINK_DIRECTORIES "${CUDAToolkit_LIBRARY_DIR}")
endif()
set(WICK_HAVE_CUDA ON)
message(STATUS "CUDA backend: on (nvcc ${CMAKE_CUDA_COMPILER_VERSION}, architectures "
               "${CMAKE_CUDA_ARCHITECTURES})")
