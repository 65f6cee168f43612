// kernels/geodesic.h polyline_segments_m, compiled vectorised (lengths.cpp): the segment lengths
// (seg_m, n - 1 values) and vertex cosines (cos_lat, n values) of a road of n vertices; returns
// its length. The same bits as polyline_segments_m; built four lanes wide for AVX2 where the CPU
// has it (kernels/cpu.h cpu_has_avx2()).
#pragma once

#include <cstddef>

namespace geoshard::localise {

double road_segments_m(const double* lon, const double* lat, size_t n, double* cos_lat, double* seg_m);

}  // namespace geoshard::localise
