// Counter-based randomness for the synthetic region: every random choice is a pure function of
// (seed, what, where), so a feature's shape never depends on the order things were computed in
// and the output is identical on every platform (no std:: distributions, whose algorithms are
// implementation-defined).
#pragma once

#include <cstdint>

namespace geoshard::synth::detail {

inline uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

inline uint64_t mix(uint64_t h, uint64_t v) { return splitmix64(h ^ splitmix64(v + 0x632BE59BD9B4E019ull)); }

template <class... T>
inline uint64_t hkey(uint64_t seed, T... parts) {
  uint64_t h = splitmix64(seed);
  ((h = mix(h, static_cast<uint64_t>(static_cast<int64_t>(parts)))), ...);
  return h;
}

// [0, 1) with 53 random bits.
inline double unit(uint64_t h) { return static_cast<double>(h >> 11) * 0x1.0p-53; }

// A small sequential generator for loops that draw many numbers under one key.
class Rng {
 public:
  explicit Rng(uint64_t key) : state_(splitmix64(key)) {}
  uint64_t next() { return splitmix64(state_++); }
  double uniform() { return unit(next()); }
  double uniform(double a, double b) { return a + (b - a) * uniform(); }
  // Integer in [0, n); n > 0.
  uint64_t below(uint64_t n) { return static_cast<uint64_t>(uniform() * static_cast<double>(n)) % n; }
  int range(int lo, int hi_inclusive) { return lo + static_cast<int>(below(static_cast<uint64_t>(hi_inclusive - lo + 1))); }
  bool chance(double p) { return uniform() < p; }

 private:
  uint64_t state_;
};

}  // namespace geoshard::synth::detail
