// Run-time CPU features for the few host functions built for more than the x86-64 baseline
// (io/jpeg_region.cpp forward_dct_avx2, jobs/localise/lengths.cpp and cell_keys.cpp): each such
// function carries __attribute__((target("avx2"))) itself -- never a whole file, so that no
// inline function shared with other files is compiled for a CPU the program may not run on -- and
// is called only when this says the CPU has the instructions. Host only (not for CUDA device code).
#pragma once

namespace geoshard {

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define GEOSHARD_HOST_AVX2 1
#endif

// Whether this CPU has AVX2 (checked once); false on other architectures and compilers.
inline bool cpu_has_avx2() {
#ifdef GEOSHARD_HOST_AVX2
  static const bool cpu = __builtin_cpu_supports("avx2");
  return cpu;
#else
  return false;
#endif
}

}  // namespace geoshard
