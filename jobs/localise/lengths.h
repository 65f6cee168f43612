// kernels/geodesic.h polyline_segments_m, compiled vectorised (lengths.cpp): the segment lengths
// (seg_m, n - 1 values) and vertex cosines (cos_lat, n values) of a road of n vertices; returns
// its length. The same bits as polyline_segments_m; built four lanes wide for AVX2 where the CPU
// has it (kernels/cpu.h cpu_has_avx2()).
#pragma once

#include <cstddef>

namespace geoshard::localise {

double road_segments_m(const double* lon, const double* lat, size_t n, double* cos_lat, double* seg_m);

// kernels/geodesic.h polyline_series_m, compiled alike: the series over a run of n vertices
// holding many roads back to back; a value >= kSeriesUnserved (or NaN) marks a segment
// road_segments_m must compute (road_from_series does).
void run_series_m(const double* lon, const double* lat, size_t n, double* cos_lat, double* seg_m);

// A road of n >= 1 vertices whose segments' series are at win_seg (run_series_m's output from the
// road's first vertex on): its length, and *seg_m set to its n - 1 segment lengths: win_seg itself,
// or, when the series does not serve one of them, road_segments_m's, written to fallback_cos (n)
// and fallback_seg (n - 1); *from_window tells which. The same bits as road_segments_m either way.
double road_from_series(const double* win_seg, const double* lon, const double* lat, size_t n, double* fallback_cos,
                        double* fallback_seg, const double** seg_m, bool* from_window);

}  // namespace geoshard::localise
