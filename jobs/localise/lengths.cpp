// The localiser's per-road length floor in a file of its own: compiled with the vectorisation
// flags (jobs/localise/CMakeLists.txt) that kernels/geodesic.h polyline_segments_m needs, which
// made the rest of localise.cpp slower when applied to all of it (docs/benchmarks.md).
#include "jobs/localise/lengths.h"

#include "kernels/geodesic.h"

namespace geoshard::localise {

double road_segments_m(const double* lon, const double* lat, size_t n, double* cos_lat, double* seg_m) {
  return polyline_segments_m(lon, lat, n, cos_lat, seg_m);
}

}  // namespace geoshard::localise
