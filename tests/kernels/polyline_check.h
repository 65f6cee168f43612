// A check shared by the kernels' and the localiser's tests: a function computing a polyline's
// vertex cosines and segment lengths (kernels/geodesic.h polyline_segments_m, or the localiser's
// road_segments_m built for AVX2) must give cos_lat and haversine_m_short vertex by vertex, bit for
// bit, and their sum in vertex order. Random polylines of 0 to 40 vertices (vector loops and their
// remainders) mixing short segments with long ones (past the switch to haversine_m_cos).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "kernels/geodesic.h"
#include "tests/kernels/test_util.h"

namespace geoshard::testing {

// segments(lon, lat, n, cos_out, seg_out) -> length.
template <class Segments>
void check_polyline_segments(Segments&& segments, uint64_t seed, int cases) {
  std::mt19937_64 rng(seed);
  std::vector<double> lon, lat, c, seg;
  size_t longs = 0, count = 0;
  for (int i = 0; i < cases; ++i) {
    const size_t n = static_cast<size_t>(uniform(rng, 0, 41));
    lon.resize(n), lat.resize(n), c.assign(n, -1.0), seg.assign(n > 0 ? n - 1 : 0, -1.0);
    for (size_t v = 0; v < n; ++v) {
      const bool far = uniform(rng, 0, 1) < 0.1;
      const double step = far ? uniform(rng, 1.2, 3.0) : std::pow(10.0, uniform(rng, -7.0, -1.5));
      lon[v] = v == 0 ? uniform(rng, -170, 170) : std::clamp(lon[v - 1] + step * (uniform(rng, 0, 1) < 0.5 ? -1 : 1), -180.0, 180.0);
      lat[v] = v == 0 ? uniform(rng, -85, 85) : std::clamp(lat[v - 1] + uniform(rng, -step, step), -90.0, 90.0);
    }
    const double len = segments(lon.data(), lat.data(), n, c.data(), seg.data());
    double want_len = 0;
    for (size_t v = 0; v < n; ++v) ASSERT_EQ(c[v], cos_lat(lat[v])) << "case " << i << " vertex " << v;
    for (size_t v = 0; v + 1 < n; ++v) {
      const double want = haversine_m_short(lon[v], lat[v], cos_lat(lat[v]), lon[v + 1], lat[v + 1], cos_lat(lat[v + 1]));
      ASSERT_EQ(seg[v], want) << "case " << i << " segment " << v;
      want_len += want;
      ++count;
      longs += std::fabs(lat[v + 1] - lat[v]) * (0.5 * kDegToRad) >= 1e-2 || std::fabs(lon[v + 1] - lon[v]) * (0.5 * kDegToRad) >= 1e-2;
    }
    ASSERT_EQ(len, want_len) << "case " << i;
  }
  EXPECT_GT(longs, count / 20);  // both branches ran, often
  EXPECT_LT(longs, count / 2);
}

}  // namespace geoshard::testing
