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
[[gnu::flatten]] __attribute__((target("avx2"))) void series_avx2(const double* lon, const double* lat, size_t n,
                                                                 double* cos_lat, double* seg_m) {
  polyline_series_m(lon, lat, n, cos_lat, seg_m);
}
}  // namespace

double road_segments_m(const double* lon, const double* lat, size_t n, double* cos_lat, double* seg_m) {
  if (cpu_has_avx2()) return segments_avx2(lon, lat, n, cos_lat, seg_m);
  return polyline_segments_m(lon, lat, n, cos_lat, seg_m);
}
void run_series_m(const double* lon, const double* lat, size_t n, double* cos_lat, double* seg_m) {
  if (cpu_has_avx2()) return series_avx2(lon, lat, n, cos_lat, seg_m);
  polyline_series_m(lon, lat, n, cos_lat, seg_m);
}
#else
double road_segments_m(const double* lon, const double* lat, size_t n, double* cos_lat, double* seg_m) {
  return polyline_segments_m(lon, lat, n, cos_lat, seg_m);
}
void run_series_m(const double* lon, const double* lat, size_t n, double* cos_lat, double* seg_m) {
  polyline_series_m(lon, lat, n, cos_lat, seg_m);
}
#endif

double road_from_series(const double* win_seg, const double* lon, const double* lat, size_t n, double* fallback_cos,
                        double* fallback_seg, const double** seg_m, bool* from_window) {
  double len = 0.0;  // in vertex order, as polyline_segments_m sums
  for (size_t v = 0; v + 1 < n; ++v) len += win_seg[v];
  *from_window = len < kSeriesUnserved;  // false for NaN too
  if (*from_window) {
    *seg_m = win_seg;
    return len;
  }
  *seg_m = fallback_seg;
  return road_segments_m(lon, lat, n, fallback_cos, fallback_seg);
}

}  // namespace geoshard::localise
