// kernels/cpu.h: advise_huge_pages is a hint that must never change data, must accept any range
// (empty, null, unaligned, smaller than a huge page), and on a Linux kernel whose transparent huge
// pages are enabled ("always" or "madvise") must actually get a written array huge pages.
#include "kernels/cpu.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace geoshard {
namespace {

TEST(AdviseHugePages, KeepsTheDataOfAnyRange) {
  std::vector<uint64_t> v(3 << 20);  // 24 MiB, touched
  std::mt19937_64 rng(11);
  for (auto& x : v) x = rng();
  const std::vector<uint64_t> before = v;
  advise_huge_pages(nullptr, 0);
  advise_huge_pages(v.data(), 0);
  advise_huge_pages(v.data() + 1, 4095);                // less than a huge page: no call
  advise_huge_pages(v.data() + 3, (v.size() - 6) * sizeof(uint64_t));  // unaligned ends
  advise_huge_pages(v.data(), v.size() * sizeof(uint64_t));
  std::uniform_int_distribution<size_t> at(0, v.size() - 1);
  for (int k = 0; k < 200; ++k) {
    const size_t a = at(rng), b = at(rng);
    advise_huge_pages(v.data() + std::min(a, b), (std::max(a, b) - std::min(a, b)) * sizeof(uint64_t));
  }
  EXPECT_TRUE(v == before);
}

// The AnonHugePages, in kB, of the mappings overlapping [p, p + bytes), from /proc/self/smaps
// (madvise splits a mapping where the advice changes, so the array may span several).
long anon_huge_kb(const void* p, size_t bytes) {
  std::ifstream in("/proc/self/smaps");
  const auto a = reinterpret_cast<uintptr_t>(p);
  std::string line;
  bool inside = false;
  long kb = 0;
  while (std::getline(in, line)) {
    unsigned long lo = 0, hi = 0;
    char dash = 0;
    std::istringstream head(line);
    if (head >> std::hex >> lo >> dash >> hi && dash == '-' && line.find(':') > line.find(' ')) {
      inside = lo < a + bytes && a < hi;
      continue;
    }
    if (inside && line.rfind("AnonHugePages:", 0) == 0) kb += std::stol(line.substr(14));
  }
  return kb;
}

bool thp_enabled() {
  std::ifstream in("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string s;
  std::getline(in, s);
  return s.find("[always]") != std::string::npos || s.find("[madvise]") != std::string::npos;
}

TEST(AdviseHugePages, WrittenArrayGetsHugePages) {
#if !defined(__linux__)
  GTEST_SKIP() << "transparent huge pages are a Linux feature";
#else
  if (!thp_enabled()) GTEST_SKIP() << "this kernel's transparent huge pages are off (/sys/kernel/mm/transparent_hugepage/enabled)";
  std::vector<uint64_t> v;
  v.reserve(4 << 20);  // 32 MiB: glibc maps it on its own
  const size_t bytes = v.capacity() * sizeof(uint64_t);
  ASSERT_EQ(anon_huge_kb(v.data(), bytes), 0) << "a fresh mapping should have no huge pages yet";
  advise_huge_pages(v.data(), bytes);
  v.resize(v.capacity(), 7);
  const long kb = anon_huge_kb(v.data(), bytes);
  // At least 14 of the 15+ whole 2 MiB pages inside (one may be refused when memory is fragmented).
  EXPECT_GE(kb, 14 * 2048) << "AnonHugePages of the array's mapping";
#endif
}

}  // namespace
}  // namespace geoshard
