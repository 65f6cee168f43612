// Tests of the CPU batch loops (kernels/batch.h). The pip_batch cases come from
// tests/kernels/test_util.h's make_pip_cases, which tests/cuda runs through the GPU backend too.
#include "kernels/batch.h"

#include <gtest/gtest.h>

#include <random>
#include <stdexcept>
#include <vector>

#include "tests/kernels/test_util.h"

namespace geoshard {
namespace {

using geoshard::testing::make_pip_cases;
using geoshard::testing::uniform;

TEST(Batch, PipBatchMatchesElementFunction) {
  const auto pc = make_pip_cases(41, 300, 400);  // 120,000 points
  std::vector<PipResult> out(pc.lon.size());
  pip_batch(pc.view(), pc.lon, pc.lat, pc.poly_of_point, out);
  int counts[3] = {0, 0, 0};
  for (size_t i = 0; i < out.size(); ++i) {
    const RingSet rings = pc.view().polygon(pc.poly_of_point[i]);
    ASSERT_EQ(out[i], point_in_rings(rings, pc.lon[i], pc.lat[i])) << i;
    ++counts[static_cast<int>(out[i])];
  }
  // Point k of each polygon with k % 3 == 1 lies exactly on an edge: Boundary.
  for (size_t i = 0; i < out.size(); ++i) {
    if ((i % 400) % 3 == 1) {
      ASSERT_EQ(out[i], PipResult::kBoundary) << i;
    }
  }
  EXPECT_GT(counts[0], 10000);
  EXPECT_GT(counts[1], 10000);
  EXPECT_GE(counts[2], 40000);
}

TEST(Batch, PipBatchValidatesArguments) {
  const auto pc = make_pip_cases(42, 3, 3);
  std::vector<PipResult> out(pc.lon.size());
  std::vector<double> short_lat(pc.lat.begin(), pc.lat.end() - 1);
  EXPECT_THROW(pip_batch(pc.view(), pc.lon, short_lat, pc.poly_of_point, out), std::invalid_argument);
  std::vector<uint32_t> bad = pc.poly_of_point;
  bad[2] = 3;
  EXPECT_THROW(pip_batch(pc.view(), pc.lon, pc.lat, bad, out), std::out_of_range);
  pip_batch(pc.view(), {}, {}, {}, {});  // empty batch is fine
}

// edge_cut against exact rational arithmetic: the cases' coordinates are multiples of 1/8, so
// after scaling by 8 every orientation is an exact int64 cross product and every cut parameter
// an exact fraction. The kind must be the exact one, and ta, tb within 1e-14 of the exact
// values; a cut within 1e-12 of t0 or t1 may go either way (its sub-interval has no length).
TEST(EdgeCut, AgreesWithExactArithmetic) {
  using geoshard::testing::make_cut_cases;
  int counts[3] = {0, 0, 0};
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    const auto c = make_cut_cases(seed, 500, 6);
    for (size_t e = 0; e < c.ux.size(); ++e) {
      const size_t k = c.segment_of_edge[e];
      auto I = [](double v) { return static_cast<int64_t>(std::llround(v * 8)); };
      const int64_t ax = I(c.ax[k]), ay = I(c.ay[k]), bx = I(c.bx[k]), by = I(c.by[k]);
      const int64_t ux = I(c.ux[e]), uy = I(c.uy[e]), vx = I(c.vx[e]), vy = I(c.vy[e]);
      ASSERT_EQ(static_cast<double>(ux) / 8, c.ux[e]);
      auto cross = [](int64_t px, int64_t py, int64_t qx, int64_t qy) { return px * qy - py * qx; };
      auto sgn = [](int64_t v) { return (v > 0) - (v < 0); };
      const int64_t dx = bx - ax, dy = by - ay, ex = vx - ux, ey = vy - uy;
      const int oa = sgn(cross(dx, dy, ux - ax, uy - ay)), ob = sgn(cross(dx, dy, vx - ax, vy - ay));
      const double t0 = c.t0[k], t1 = c.t1[k];
      const EdgeCut got = edge_cut(c.ax[k], c.ay[k], c.bx[k], c.by[k], c.ux[e], c.uy[e], c.vx[e], c.vy[e], t0, t1);
      ++counts[got.kind];
      SCOPED_TRACE("seed " + std::to_string(seed) + " edge " + std::to_string(e));
      if (oa == ob && oa != 0) {
        EXPECT_EQ(got.kind, EdgeCut::kNone);
        continue;
      }
      if (oa == 0 && ob == 0) {  // collinear: the overlap of the projections with [t0, t1]
        const double dd = static_cast<double>(dx * dx + dy * dy);
        double tu = static_cast<double>((ux - ax) * dx + (uy - ay) * dy) / dd;
        double tv = static_cast<double>((vx - ax) * dx + (vy - ay) * dy) / dd;
        const double lo = std::max(std::min(tu, tv), t0), hi = std::min(std::max(tu, tv), t1);
        if (hi > lo + 1e-12) {
          ASSERT_EQ(got.kind, EdgeCut::kOverlap);
          EXPECT_NEAR(got.ta, lo, 1e-14);
          EXPECT_NEAR(got.tb, hi, 1e-14);
        } else if (!(hi > lo - 1e-12)) {
          EXPECT_EQ(got.kind, EdgeCut::kNone);
        }
        continue;
      }
      const int oc = sgn(cross(ex, ey, ax - ux, ay - uy)), od = sgn(cross(ex, ey, bx - ux, by - uy));
      if (oc == od && oc != 0) {
        EXPECT_EQ(got.kind, EdgeCut::kNone);
        continue;
      }
      // The lines cross at t = cross(U - A, E) / cross(D, E) exactly (not parallel here).
      const int64_t num = cross(ux - ax, uy - ay, ex, ey), den = cross(dx, dy, ex, ey);
      ASSERT_NE(den, 0);
      const double t = static_cast<double>(num) / static_cast<double>(den);
      if (t > t0 + 1e-12 && t < t1 - 1e-12) {
        ASSERT_EQ(got.kind, EdgeCut::kCut) << "t " << t;
        EXPECT_NEAR(got.ta, t, 1e-14);
      } else if (t < t0 - 1e-12 || t > t1 + 1e-12) {
        EXPECT_EQ(got.kind, EdgeCut::kNone) << "t " << t;
      } else if (got.kind == EdgeCut::kCut) {
        EXPECT_NEAR(got.ta, t, 1e-14);
      }
    }
  }
  // The cases reach every kind often.
  EXPECT_GT(counts[EdgeCut::kNone], 10000);
  EXPECT_GT(counts[EdgeCut::kCut], 5000);
  EXPECT_GT(counts[EdgeCut::kOverlap], 1000);
}

TEST(Batch, CutBatchMatchesElementFunction) {
  const auto c = geoshard::testing::make_cut_cases(44, 20000, 8);
  std::vector<EdgeCut> out(c.ux.size());
  cut_batch(c.view(), out);
  ASSERT_GT(out.size(), 50000u);
  for (size_t e = 0; e < out.size(); ++e) {
    const size_t k = c.segment_of_edge[e];
    const EdgeCut want = edge_cut(c.ax[k], c.ay[k], c.bx[k], c.by[k], c.ux[e], c.uy[e], c.vx[e], c.vy[e], c.t0[k], c.t1[k]);
    ASSERT_EQ(out[e].kind, want.kind) << e;
    ASSERT_EQ(out[e].ta, want.ta) << e;
    ASSERT_EQ(out[e].tb, want.tb) << e;
  }
}

TEST(Batch, CutBatchValidatesArguments) {
  auto c = geoshard::testing::make_cut_cases(45, 10, 4);
  std::vector<EdgeCut> out(c.ux.size());
  std::vector<EdgeCut> short_out(c.ux.size() - 1);
  EXPECT_THROW(cut_batch(c.view(), short_out), std::invalid_argument);
  c.segment_of_edge[1] = 10;
  EXPECT_THROW(cut_batch(c.view(), out), std::out_of_range);
  CutSet empty{};
  cut_batch(empty, {});  // an empty batch is fine
}

TEST(Batch, ZkeyBatch) {
  std::mt19937_64 rng(43);
  std::vector<double> lon(100000), lat(100000);
  for (size_t i = 0; i < lon.size(); ++i) lon[i] = uniform(rng, -180, 180), lat[i] = uniform(rng, -90, 90);
  std::vector<uint64_t> out(lon.size());
  zkey_batch(lon, lat, out);
  for (size_t i = 0; i < lon.size(); ++i) ASSERT_EQ(out[i], geohash::zkey(lon[i], lat[i]));
  std::vector<uint64_t> small(3);
  EXPECT_THROW(zkey_batch(lon, lat, small), std::invalid_argument);
}

TEST(Batch, PolylineLengthBatch) {
  std::mt19937_64 rng(44);
  std::vector<double> lon, lat;
  std::vector<uint64_t> offsets{0};
  for (int k = 0; k < 10000; ++k) {
    const int n = static_cast<int>(rng() % 6);  // includes empty and single-vertex polylines
    double x = uniform(rng, -170, 170), y = uniform(rng, -80, 80);
    for (int v = 0; v < n; ++v) {
      lon.push_back(x), lat.push_back(y);
      x += uniform(rng, -0.01, 0.01), y += uniform(rng, -0.01, 0.01);
    }
    offsets.push_back(lon.size());
  }
  std::vector<double> out(offsets.size() - 1);
  polyline_length_batch(lon, lat, offsets, out);
  for (size_t k = 0; k < out.size(); ++k)
    ASSERT_EQ(out[k], polyline_length_m(lon.data() + offsets[k], lat.data() + offsets[k], offsets[k + 1] - offsets[k]));
  std::vector<uint64_t> bad_offsets = offsets;
  bad_offsets.back() = lon.size() + 1;
  EXPECT_THROW(polyline_length_batch(lon, lat, bad_offsets, out), std::invalid_argument);
  std::vector<double> wrong(out.size() + 1);
  EXPECT_THROW(polyline_length_batch(lon, lat, offsets, wrong), std::invalid_argument);
}

}  // namespace
}  // namespace geoshard
