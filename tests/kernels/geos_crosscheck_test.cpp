// Cross-check of clip_segment (kernels/polygon.h) against GEOS, the exact oracle named in
// DESIGN.md: for 20,000 random segments against random polygons with holes, the planar length
// (degrees) of our inside intervals equals the length of GEOSIntersection(polygon, segment).
#include <geos_c.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <random>
#include <vector>

#include "kernels/polygon.h"
#include "tests/kernels/test_util.h"

namespace geoshard {
namespace {

using geoshard::testing::star_polygon_with_hole;
using geoshard::testing::uniform;
using geoshard::testing::uniform_int;

// RAII for the reentrant GEOS API.
class Geos {
 public:
  Geos() : h_(GEOS_init_r()) {}
  ~Geos() { GEOS_finish_r(h_); }
  Geos(const Geos&) = delete;
  Geos& operator=(const Geos&) = delete;
  GEOSContextHandle_t h() const { return h_; }

  GEOSGeometry* ring(const RingSetData& rs, size_t r) const {
    const size_t b = rs.ring_offsets[r], e = rs.ring_offsets[r + 1], n = e - b;
    GEOSCoordSequence* cs = GEOSCoordSeq_create_r(h_, static_cast<unsigned>(n + 1), 2);
    for (size_t i = 0; i <= n; ++i) {
      const size_t v = b + (i % n);  // close the ring explicitly
      GEOSCoordSeq_setXY_r(h_, cs, static_cast<unsigned>(i), rs.lon[v], rs.lat[v]);
    }
    return GEOSGeom_createLinearRing_r(h_, cs);
  }
  GEOSGeometry* polygon(const RingSetData& rs) const {
    GEOSGeometry* shell = ring(rs, 0);
    std::vector<GEOSGeometry*> holes;
    for (size_t r = 1; r + 1 < rs.ring_offsets.size(); ++r) holes.push_back(ring(rs, r));
    return GEOSGeom_createPolygon_r(h_, shell, holes.data(), static_cast<unsigned>(holes.size()));
  }
  GEOSGeometry* segment(double x0, double y0, double x1, double y1) const {
    GEOSCoordSequence* cs = GEOSCoordSeq_create_r(h_, 2, 2);
    GEOSCoordSeq_setXY_r(h_, cs, 0, x0, y0);
    GEOSCoordSeq_setXY_r(h_, cs, 1, x1, y1);
    return GEOSGeom_createLineString_r(h_, cs);
  }

 private:
  GEOSContextHandle_t h_;
};

TEST(GeosCrossCheck, ClipLengthEqualsGeosIntersectionLength) {
  Geos geos;
  std::mt19937_64 rng(61);
  int compared = 0, nonzero = 0, collinear = 0;
  // Both sides round intersection points to doubles near |coordinate| ~ 100 (ulp 1.4e-14), so
  // differences are a few 1e-14 degrees absolute: ~1e-13 relative for typical lengths, more
  // for very short overlaps -- hence relative 1e-9 OR absolute 1e-12.
  double worst_rel = 0, worst_abs = 0;
  for (int poly = 0; poly < 200; ++poly) {
    const bool dyadic = poly % 2 == 1;
    const double R = dyadic ? uniform(rng, 1.0, 8.0) : std::pow(10.0, uniform(rng, -2.0, 1.0));
    const double cx = std::round(uniform(rng, -170, 170)), cy = std::round(uniform(rng, -75, 75));
    const RingSetData rs = star_polygon_with_hole(rng, cx, cy, R, static_cast<int>(uniform_int(rng, 8, 60)),
                                                  uniform_int(rng, 0, 3) ? static_cast<int>(uniform_int(rng, 3, 20)) : 0,
                                                  dyadic ? 1.0 / 1024 : 0.0);
    GEOSGeometry* g_poly = geos.polygon(rs);
    ASSERT_NE(g_poly, nullptr);
    if (GEOSisValid_r(geos.h(), g_poly) != 1) {  // snapping can (rarely) break validity
      GEOSGeom_destroy_r(geos.h(), g_poly);
      continue;
    }
    for (int k = 0; k < 100; ++k) {
      double x0, y0, x1, y1;
      if (dyadic && k % 4 == 3) {  // along an edge, possibly beyond it: collinear overlap
        const size_t i = static_cast<size_t>(uniform_int(rng, 0, static_cast<int64_t>(rs.lon.size()) - 1));
        size_t r = 0;
        while (rs.ring_offsets[r + 1] <= i) ++r;
        const size_t j = i + 1 < rs.ring_offsets[r + 1] ? i + 1 : rs.ring_offsets[r];
        const double f0 = static_cast<double>(uniform_int(rng, -8, 7)) / 16, f1 = static_cast<double>(uniform_int(rng, 8, 24)) / 16;
        x0 = rs.lon[i] + f0 * (rs.lon[j] - rs.lon[i]), y0 = rs.lat[i] + f0 * (rs.lat[j] - rs.lat[i]);
        x1 = rs.lon[i] + f1 * (rs.lon[j] - rs.lon[i]), y1 = rs.lat[i] + f1 * (rs.lat[j] - rs.lat[i]);
        ++collinear;
      } else if (k % 4 == 2) {  // from a vertex to a random point
        const size_t i = static_cast<size_t>(uniform_int(rng, 0, static_cast<int64_t>(rs.lon.size()) - 1));
        x0 = rs.lon[i], y0 = rs.lat[i];
        x1 = cx + uniform(rng, -1.3, 1.3) * R, y1 = cy + uniform(rng, -1.3, 1.3) * R;
      } else {
        x0 = cx + uniform(rng, -1.3, 1.3) * R, y0 = cy + uniform(rng, -1.3, 1.3) * R;
        x1 = cx + uniform(rng, -1.3, 1.3) * R, y1 = cy + uniform(rng, -1.3, 1.3) * R;
      }
      if (x0 == x1 && y0 == y1) continue;
      double ours = 0;
      for (const TInterval& t : clip_segment(rs.view(), x0, y0, x1, y1)) ours += (t.t1 - t.t0);
      ours *= std::hypot(x1 - x0, y1 - y0);

      GEOSGeometry* g_seg = geos.segment(x0, y0, x1, y1);
      GEOSGeometry* g_int = GEOSIntersection_r(geos.h(), g_poly, g_seg);
      ASSERT_NE(g_int, nullptr);
      double theirs = -1;
      ASSERT_EQ(GEOSLength_r(geos.h(), g_int, &theirs), 1);
      GEOSGeom_destroy_r(geos.h(), g_int);
      GEOSGeom_destroy_r(geos.h(), g_seg);

      const double scale = std::max(ours, theirs);
      ASSERT_LE(std::fabs(ours - theirs), 1e-9 * scale + 1e-12)
          << "poly " << poly << " seg " << k << " (" << x0 << "," << y0 << ")->(" << x1 << "," << y1 << ")";
      if (scale > 0) worst_rel = std::max(worst_rel, std::fabs(ours - theirs) / scale);
      worst_abs = std::max(worst_abs, std::fabs(ours - theirs));
      ++compared;
      nonzero += ours > 0;
    }
    GEOSGeom_destroy_r(geos.h(), g_poly);
  }
  EXPECT_GE(compared, 19000);
  EXPECT_GT(nonzero, compared / 3);
  EXPECT_GT(collinear, 2000);
  RecordProperty("worst_rel", std::to_string(worst_rel));
  std::printf("compared %d segments (%d with a non-empty clip, %d collinear), worst difference %.3g relative, "
              "%.3g degrees absolute\n", compared, nonzero, collinear, worst_rel, worst_abs);
}

}  // namespace
}  // namespace geoshard
