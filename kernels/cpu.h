// Host only (not for CUDA device code): a memory hint (advise_huge_pages), and run-time CPU
// features for the few host functions built for more than the x86-64 baseline
// (io/jpeg_region.cpp forward_dct_avx2, jobs/localise/lengths.cpp and cell_keys.cpp): each such
// function carries __attribute__((target("avx2"))) itself -- never a whole file, so that no
// inline function shared with other files is compiled for a CPU the program may not run on -- and
// is called only when this says the CPU has the instructions.
#pragma once

#include <cstddef>
#include <cstdint>
#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace geoshard {

// Asks the kernel to back the whole 2 MiB pages inside [p, p + bytes) with transparent huge pages
// when they are first touched. Large arrays written once and then read (an output vector of
// hundreds of MB, a table column read from HDF5) otherwise cost one page fault per 4 KiB: on the
// 30M-segment region 25,700 faults, a fifth of the localiser's time (docs/benchmarks.md, seventh
// session). A hint: it changes no data; its failure, or a kernel without THP, leaves 4 KiB pages.
inline void advise_huge_pages(void* p, size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  constexpr uintptr_t huge = uintptr_t{2} << 20;
  const auto a = reinterpret_cast<uintptr_t>(p);
  const uintptr_t lo = (a + huge - 1) & ~(huge - 1);
  const uintptr_t hi = (a + bytes) & ~(huge - 1);
  if (hi > lo) madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_HUGEPAGE);
#else
  (void)p;
  (void)bytes;
#endif
}

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
