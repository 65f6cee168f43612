// Tests of the geodesic lengths (kernels/geodesic.h) against an independent spherical formula
// (Vincenty's atan2 form of the great-circle distance, long double) and known values.
#include "kernels/geodesic.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <random>
#include <vector>

#include "kernels/segment_walk.h"
#include "tests/kernels/polyline_check.h"
#include "tests/kernels/test_util.h"

namespace geoshard {
namespace {

using geoshard::testing::uniform;

constexpr int kCases = 100000;

long double vincenty_sphere_m(double lon1, double lat1, double lon2, double lat2) {
  const long double d2r = 3.14159265358979323846264338327950288L / 180.0L;
  const long double p1 = lat1 * d2r, p2 = lat2 * d2r, dl = (static_cast<long double>(lon2) - lon1) * d2r;
  const long double a = std::cos(p2) * std::sin(dl);
  const long double b = std::cos(p1) * std::sin(p2) - std::sin(p1) * std::cos(p2) * std::cos(dl);
  const long double c = std::sin(p1) * std::sin(p2) + std::cos(p1) * std::cos(p2) * std::cos(dl);
  return static_cast<long double>(kEarthRadiusM) * std::atan2(std::sqrt(a * a + b * b), c);
}

TEST(Geodesic, KnownDistances) {
  const double quarter = kEarthRadiusM * M_PI / 2;
  EXPECT_NEAR(haversine_m(0, 0, 1, 0), kEarthRadiusM * M_PI / 180, 1e-6);
  EXPECT_NEAR(haversine_m(0, -90, 0, 90), 2 * quarter, 1e-6);
  EXPECT_NEAR(haversine_m(0, 0, 180, 0), 2 * quarter, 1e-6);  // antipodes: clamped, not NaN
  EXPECT_NEAR(haversine_m(17, 0, 17, 90), quarter, 1e-6);
  EXPECT_NEAR(haversine_m(-179.5, 10, 179.5, 10), haversine_m(0, 10, 1, 10), 1e-6);  // across +-180
  EXPECT_EQ(haversine_m(12.5, 41.9, 12.5, 41.9), 0.0);
  // Paris - London on the sphere: ~343.5 km (the ellipsoid gives 343.9 km, within 0.5%).
  EXPECT_NEAR(haversine_m(2.3522, 48.8566, -0.1276, 51.5072), 343.5e3, 1e3);
}

TEST(Geodesic, MatchesVincentySphereFormula) {
  std::mt19937_64 rng(51);
  for (int i = 0; i < kCases; ++i) {
    const double lon1 = uniform(rng, -180, 180), lat1 = uniform(rng, -90, 90);
    // Half the pairs short (1 mm .. 100 km), half anywhere.
    double lon2, lat2;
    if (i % 2) {
      const double d = std::pow(10.0, uniform(rng, -8.0, 0.0));
      lon2 = std::clamp(lon1 + uniform(rng, -d, d), -180.0, 180.0);
      lat2 = std::clamp(lat1 + uniform(rng, -d, d), -90.0, 90.0);
    } else {
      lon2 = uniform(rng, -180, 180), lat2 = uniform(rng, -90, 90);
    }
    const long double want = vincenty_sphere_m(lon1, lat1, lon2, lat2);
    if (want > 0.995L * kEarthRadiusM * M_PI) continue;  // haversine is ill-conditioned at antipodes
    const double got = haversine_m(lon1, lat1, lon2, lat2);
    ASSERT_NEAR(got, static_cast<double>(want), 1e-9 * static_cast<double>(want) + 1e-6) << i;
    ASSERT_EQ(got, haversine_m(lon2, lat2, lon1, lat1));  // symmetric, bit for bit
  }
}

TEST(Geodesic, PolylineLength) {
  EXPECT_EQ(polyline_length_m(nullptr, nullptr, 0), 0.0);
  const double lon[] = {0, 1, 1, 2}, lat[] = {0, 0, 1, 1};
  EXPECT_EQ(polyline_length_m(lon, lat, 1), 0.0);
  EXPECT_DOUBLE_EQ(polyline_length_m(lon, lat, 4),
                   haversine_m(0, 0, 1, 0) + haversine_m(1, 0, 1, 1) + haversine_m(1, 1, 2, 1));
}

// Piece lengths (t-fraction definition) add up to the segment length within 1e-9 relative; the
// haversine of the piece end points does not for long segments (why the definition exists).
TEST(Geodesic, PieceLengthsAreAdditive) {
  std::mt19937_64 rng(52);
  double worst_tfraction = 0, worst_haversine_100km = 0;
  for (int i = 0; i < kCases; ++i) {
    const double lat = uniform(rng, -70, 70), lon = uniform(rng, -170, 170), a = uniform(rng, 0, 2 * M_PI);
    const double len_deg = std::pow(10.0, uniform(rng, -5.0, 0.0));  // ~1 m .. 100 km
    const double x1 = lon + len_deg * std::cos(a), y1 = lat + len_deg * std::sin(a);
    int p = 1 + i % 9;  // coarser for long segments: at most ~64 cells per segment
    while (p > 1 && len_deg * static_cast<double>(geohash::columns(p)) / 360.0 > 64) --p;
    const double L = haversine_m(lon, lat, x1, y1);
    double sum = 0, sum_h = 0;
    SegmentWalker w(lon, lat, x1, y1, p);
    for (Piece pc; w.next(pc);) {
      sum += piece_length_m(L, pc.t0, pc.t1);
      sum_h += haversine_m(pc.x0, pc.y0, pc.x1, pc.y1);
    }
    ASSERT_NEAR(sum, L, 1e-9 * L) << i;
    worst_tfraction = std::max(worst_tfraction, std::fabs(sum - L) / L);
    if (len_deg > 0.5) worst_haversine_100km = std::max(worst_haversine_100km, std::fabs(sum_h - L) / L);
  }
  EXPECT_LT(worst_tfraction, 1e-12);
  EXPECT_GT(worst_haversine_100km, 1e-9);  // the alternative definition would break the promise
  RecordProperty("worst_tfraction", std::to_string(worst_tfraction));
}

// cos_lat (the localiser's per-vertex cosine) against libm over the whole latitude range,
// including the ends and zero.
TEST(Geodesic, CosLatMatchesLibm) {
  std::mt19937_64 rng(53);
  double worst = 0;
  for (int i = 0; i < 10 * kCases; ++i) {
    const double lat = i < 3 ? (i - 1) * 90.0 : uniform(rng, -90, 90);
    worst = std::max(worst, std::fabs(cos_lat(lat) - std::cos(lat * kDegToRad)));
  }
  EXPECT_LE(worst, 4.5e-16);
  EXPECT_EQ(cos_lat(0.0), 1.0);
  EXPECT_NEAR(cos_lat(60.0), 0.5, 2e-16);
  RecordProperty("worst_abs", std::to_string(worst));
}

// haversine_m_short (Taylor sin/asin for short segments, the localiser's length) with cos_lat's
// cosines, against haversine_m: relative difference far below the 1e-9 promise, for segments of
// 1 cm to 200 km (past the 127 km switch to haversine_m_cos) at every latitude up to 89.9.
TEST(Geodesic, ShortHaversineMatchesHaversine) {
  std::mt19937_64 rng(54);
  double worst = 0;
  for (int i = 0; i < kCases; ++i) {
    const double lat = uniform(rng, -89.9, 89.9), lon = uniform(rng, -179, 179), a = uniform(rng, 0, 2 * M_PI);
    const double d = std::pow(10.0, uniform(rng, -7.0, 0.3));  // degrees: ~1 cm .. 200 km
    const double lon2 = lon + d * std::cos(a), lat2 = std::clamp(lat + d * std::sin(a), -90.0, 90.0);
    const double ref = haversine_m(lon, lat, lon2, lat2);
    if (ref == 0) continue;
    const double got = haversine_m_short(lon, lat, cos_lat(lat), lon2, lat2, cos_lat(lat2));
    worst = std::max(worst, std::fabs(got - ref) / ref);
  }
  EXPECT_LT(worst, 1e-11);
  RecordProperty("worst_rel", std::to_string(worst));
}

// polyline_segments_m (the localiser's per-road loop, vectorised) against cos_lat and
// haversine_m_short vertex by vertex: the same bits for every segment and the same sum in vertex
// order, on random polylines of 0 to 40 vertices mixing short segments with long ones (past the
// switch to haversine_m_cos), odd and even counts (vector loops and their remainders).
// This file is compiled with the localiser's vectorisation flags (tests/kernels/CMakeLists.txt).
TEST(Geodesic, PolylineSegmentsMatchVertexByVertex) {
  geoshard::testing::check_polyline_segments(
      [](const double* lon, const double* lat, size_t n, double* c, double* seg) { return polyline_segments_m(lon, lat, n, c, seg); },
      55, kCases / 10);
}

}  // namespace
}  // namespace geoshard
