// The localiser's per-road length floor in a file of its own: compiled with the vectorisation
// flags (jobs/localise/CMakeLists.txt) that kernels/geodesic.h polyline_segments_m needs, which
// made the rest of localise.cpp slower when applied to all of it (docs/benchmarks.md).
#include "jobs/localise/lengths.h"

#include "kernels/cpu.h"
#include "kernels/geodesic.h"

namespace geoshard::localise {

#ifdef GEOSHARD_HOST_AVX2
namespace {
// The same loops vectorised four doubles wide. The target has no FMA and the flags allow no
// reassociation, so every product, sum and square root is rounded as in the SSE2 build: the same
// bits. Only this function is compiled for AVX2 (the kernels inlined into it), never an inline
// function shared with other files.
[[gnu::flatten]] __attribute__((target("avx2"))) double segments_avx2(const double* lon, const double* lat, size_t n,
                                                                     double* cos_lat, double* seg_m) {
  return polyline_segments_m(lon, lat, n, cos_lat, seg_m);
}
}  // namespace

double road_segments_m(const double* lon, const double* lat, size_t n, double* cos_lat, double* seg_m) {
  if (cpu_has_avx2()) return segments_avx2(lon, lat, n, cos_lat, seg_m);
  return polyline_segments_m(lon, lat, n, cos_lat, seg_m);
}
#else
double road_segments_m(const double* lon, const double* lat, size_t n, double* cos_lat, double* seg_m) {
  return polyline_segments_m(lon, lat, n, cos_lat, seg_m);
}
#endif

}  // namespace geoshard::localise
