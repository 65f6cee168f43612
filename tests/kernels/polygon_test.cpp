// Tests of point-in-polygon and segment clipping (kernels/polygon.h): random star-shaped
// polygons with holes against independent references (winding number in long double, exact
// integer winding number on dyadic data, analytic rectangle clipping), >= 100,000 cases each.
#include "kernels/polygon.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "tests/kernels/test_util.h"

namespace geoshard {
namespace {

using geoshard::testing::star_polygon_with_hole;
using geoshard::testing::uniform;
using geoshard::testing::uniform_int;

constexpr int kCases = 100000;

// ---- references ----

// Winding number (Sunday's formulation) in long double; its parity is the even-odd rule. Also
// returns the distance to the nearest edge so callers can skip points the reference cannot
// resolve.
bool winding_inside_ld(const RingSetData& rs, double px, double py, long double* min_dist) {
  long wn = 0;
  long double best = 1e300L;
  const long double x = px, y = py;
  for (size_t r = 0; r + 1 < rs.ring_offsets.size(); ++r) {
    const size_t b = rs.ring_offsets[r], e = rs.ring_offsets[r + 1];
    for (size_t i = b; i < e; ++i) {
      const size_t j = i + 1 < e ? i + 1 : b;
      const long double ax = rs.lon[i], ay = rs.lat[i], bx = rs.lon[j], by = rs.lat[j];
      const long double is_left = (bx - ax) * (y - ay) - (x - ax) * (by - ay);
      if (ay <= y) {
        if (by > y && is_left > 0) ++wn;
      } else {
        if (by <= y && is_left < 0) --wn;
      }
      const long double ex = bx - ax, ey = by - ay, len2 = ex * ex + ey * ey;
      long double t = len2 > 0 ? ((x - ax) * ex + (y - ay) * ey) / len2 : 0;
      t = std::clamp(t, 0.0L, 1.0L);
      best = std::min(best, std::hypot(x - (ax + t * ex), y - (ay + t * ey)));
    }
  }
  *min_dist = best;
  return (wn % 2) != 0;
}

// Exact reference for dyadic data (all coordinates multiples of 2^-40, |v| < 2^8): integers
// scaled by 2^40 fit in 49 bits, determinants in __int128.
PipResult exact_pip_dyadic(const RingSetData& rs, double px, double py) {
  auto s = [](double v) { return static_cast<__int128>(std::ldexp(v, 40)); };
  const __int128 x = s(px), y = s(py);
  long wn = 0;
  for (size_t r = 0; r + 1 < rs.ring_offsets.size(); ++r) {
    const size_t b = rs.ring_offsets[r], e = rs.ring_offsets[r + 1];
    for (size_t i = b; i < e; ++i) {
      const size_t j = i + 1 < e ? i + 1 : b;
      const __int128 ax = s(rs.lon[i]), ay = s(rs.lat[i]), bx = s(rs.lon[j]), by = s(rs.lat[j]);
      const __int128 cross = (bx - ax) * (y - ay) - (x - ax) * (by - ay);
      if (cross == 0 && std::min(ax, bx) <= x && x <= std::max(ax, bx) && std::min(ay, by) <= y &&
          y <= std::max(ay, by))
        return PipResult::kBoundary;
      if (ay <= y) {
        if (by > y && cross > 0) ++wn;
      } else {
        if (by <= y && cross < 0) --wn;
      }
    }
  }
  return (wn % 2) != 0 ? PipResult::kInside : PipResult::kOutside;
}

// Liang-Barsky clip of a segment to the closed rectangle, long double.
bool clip_rect_ld(double x0, double y0, double x1, double y1, double xmin, double ymin, double xmax, double ymax,
                  long double* ta, long double* tb) {
  long double t0 = 0, t1 = 1;
  const long double dx = static_cast<long double>(x1) - x0, dy = static_cast<long double>(y1) - y0;
  const long double p[4] = {-dx, dx, -dy, dy};
  const long double q[4] = {static_cast<long double>(x0) - xmin, static_cast<long double>(xmax) - x0,
                            static_cast<long double>(y0) - ymin, static_cast<long double>(ymax) - y0};
  for (int k = 0; k < 4; ++k) {
    if (p[k] == 0) {
      if (q[k] < 0) return false;
      continue;
    }
    const long double r = q[k] / p[k];
    if (p[k] < 0) t0 = std::max(t0, r);
    else t1 = std::min(t1, r);
  }
  if (t0 > t1) return false;
  *ta = t0;
  *tb = t1;
  return true;
}

RingSetData random_polygon(std::mt19937_64& rng, double snap = 0.0) {
  // Dyadic polygons (snap > 0) are at least 1 degree wide so that snapping keeps vertices apart.
  const double R = std::max(std::pow(10.0, uniform(rng, -2.0, 1.0)), snap > 0 ? 1.0 : 0.0);
  const double cx = uniform(rng, -170.0, 170.0), cy = uniform(rng, -75.0, 75.0);
  const int n_hole = uniform_int(rng, 0, 3) == 0 ? 0 : static_cast<int>(uniform_int(rng, 3, 20));
  return star_polygon_with_hole(rng, snap > 0 ? std::round(cx) : cx, snap > 0 ? std::round(cy) : cy,
                                std::max(R, 0.1), static_cast<int>(uniform_int(rng, 8, 60)), n_hole, snap);
}

// An exact point on edge i of the ring set at fraction f (dyadic polygons only).
void edge_point(const RingSetData& rs, size_t i, double f, double* x, double* y) {
  size_t r = 0;
  while (rs.ring_offsets[r + 1] <= i) ++r;
  const size_t j = i + 1 < rs.ring_offsets[r + 1] ? i + 1 : rs.ring_offsets[r];
  *x = rs.lon[i] + f * (rs.lon[j] - rs.lon[i]);
  *y = rs.lat[i] + f * (rs.lat[j] - rs.lat[i]);
}

// ---- point in polygon ----

TEST(PointInPolygon, RandomPointsMatchWindingNumberReference) {
  std::mt19937_64 rng(31);
  int inside = 0, outside = 0, skipped = 0;
  for (int poly = 0; poly < 500; ++poly) {
    const RingSetData rs = random_polygon(rng);
    const RingSet view = rs.view();
    double xmin = 1e9, xmax = -1e9, ymin = 1e9, ymax = -1e9;
    for (size_t i = 0; i < rs.lon.size(); ++i) {
      xmin = std::min(xmin, rs.lon[i]), xmax = std::max(xmax, rs.lon[i]);
      ymin = std::min(ymin, rs.lat[i]), ymax = std::max(ymax, rs.lat[i]);
    }
    for (int k = 0; k < kCases / 500; ++k) {
      const double x = uniform(rng, xmin - 0.1 * (xmax - xmin), xmax + 0.1 * (xmax - xmin));
      const double y = uniform(rng, ymin - 0.1 * (ymax - ymin), ymax + 0.1 * (ymax - ymin));
      long double dist;
      const bool ref = winding_inside_ld(rs, x, y, &dist);
      if (dist < 1e-9L) {
        ++skipped;
        continue;
      }
      const PipResult got = point_in_rings(view, x, y);
      ASSERT_EQ(got, ref ? PipResult::kInside : PipResult::kOutside) << "poly " << poly << " pt " << x << "," << y;
      (ref ? inside : outside)++;
    }
  }
  EXPECT_GT(inside, kCases / 5);
  EXPECT_GT(outside, kCases / 5);
  EXPECT_LT(skipped, 10);
}

TEST(PointInPolygon, PointsOnEdgesAndVerticesAreBoundary) {
  std::mt19937_64 rng(32);
  for (int poly = 0; poly < 500; ++poly) {
    const RingSetData rs = random_polygon(rng, 1.0 / 1024);  // dyadic: edge points exact
    for (int k = 0; k < kCases / 500; ++k) {
      const size_t i = static_cast<size_t>(uniform_int(rng, 0, static_cast<int64_t>(rs.lon.size()) - 1));
      double x, y;
      edge_point(rs, i, static_cast<double>(uniform_int(rng, 0, 16)) / 16.0, &x, &y);
      ASSERT_EQ(point_in_rings(rs.view(), x, y), PipResult::kBoundary) << poly << " " << i;
    }
  }
  // Axis-aligned edges, vertices and the closing edge of a square.
  RingSetData sq;
  const double lx[] = {0, 4, 4, 0}, ly[] = {0, 0, 4, 4};
  sq.add_ring(lx, ly, 4);
  for (double t : {0.0, 0.5, 1.0, 2.0, 3.999, 4.0}) {
    EXPECT_EQ(point_in_rings(sq.view(), t, 0.0), PipResult::kBoundary) << t;
    EXPECT_EQ(point_in_rings(sq.view(), 0.0, t), PipResult::kBoundary) << t;  // closing edge
    EXPECT_EQ(point_in_rings(sq.view(), 4.0, t), PipResult::kBoundary) << t;
    EXPECT_EQ(point_in_rings(sq.view(), t, 4.0), PipResult::kBoundary) << t;
  }
  EXPECT_EQ(point_in_rings(sq.view(), 2.0, 2.0), PipResult::kInside);
  EXPECT_EQ(point_in_rings(sq.view(), std::nextafter(0.0, -1.0), 2.0), PipResult::kOutside);
  EXPECT_EQ(point_in_rings(sq.view(), std::nextafter(0.0, 1.0), 2.0), PipResult::kInside);
  EXPECT_EQ(point_in_rings(sq.view(), 5.0, 0.0), PipResult::kOutside);  // on the edge's line, beyond
}

TEST(PointInPolygon, NearEdgePointsMatchExactIntegerReference) {
  std::mt19937_64 rng(33);
  int counts[3] = {0, 0, 0};
  for (int poly = 0; poly < 500; ++poly) {
    const RingSetData rs = random_polygon(rng, 1.0 / 1024);
    for (int k = 0; k < kCases / 500; ++k) {
      const size_t i = static_cast<size_t>(uniform_int(rng, 0, static_cast<int64_t>(rs.lon.size()) - 1));
      double x, y;
      edge_point(rs, i, static_cast<double>(uniform_int(rng, 0, 16)) / 16.0, &x, &y);
      // Nudge by a few units of 2^-40 (stays exactly representable and dyadic).
      x += std::ldexp(static_cast<double>(uniform_int(rng, -3, 3)), -40);
      y += std::ldexp(static_cast<double>(uniform_int(rng, -3, 3)), -40);
      const PipResult want = exact_pip_dyadic(rs, x, y);
      ASSERT_EQ(point_in_rings(rs.view(), x, y), want) << poly << " " << i;
      ++counts[static_cast<int>(want)];
    }
  }
  EXPECT_GT(counts[0], 1000);
  EXPECT_GT(counts[1], 1000);
  EXPECT_GT(counts[2], 1000);
}

// twice_signed_area on dyadic rings (integers / 1024, so every product and sum is exact in
// double) against an exact int64 shoelace: the value, its sign flipping with the ring's
// direction, and its independence of the first vertex, of a repeated closing vertex and of the
// origin the products are taken about.
TEST(TwiceSignedArea, DyadicRingsMatchExactIntegerShoelace) {
  std::mt19937_64 rng(41);
  int positive = 0, negative = 0;
  for (int k = 0; k < kCases / 10; ++k) {
    const size_t n = static_cast<size_t>(uniform_int(rng, 3, 12));
    std::vector<int64_t> ix(n), iy(n);
    for (size_t v = 0; v < n; ++v) {
      ix[v] = uniform_int(rng, -4096, 4096);
      iy[v] = uniform_int(rng, -4096, 4096);
    }
    int64_t want = 0;  // exact, in units of 2^-20
    for (size_t v = 0, u = n - 1; v < n; u = v++) want += ix[u] * iy[v] - ix[v] * iy[u];
    std::vector<double> x(n + 1), y(n + 1);
    for (size_t v = 0; v <= n; ++v) {
      x[v] = std::ldexp(static_cast<double>(ix[v % n]), -10);
      y[v] = std::ldexp(static_cast<double>(iy[v % n]), -10);
    }
    const double exact = std::ldexp(static_cast<double>(want), -20);
    ASSERT_EQ(twice_signed_area(x.data(), y.data(), n, 0, 0), exact) << k;
    ASSERT_EQ(twice_signed_area(x.data(), y.data(), n + 1, 0, 0), exact) << k;  // closed
    ASSERT_EQ(twice_signed_area(x.data(), y.data(), n, x[0], y[0]), exact) << k;
    ASSERT_EQ(twice_signed_area(x.data(), y.data(), n, -1.5, 2.25), exact) << k;
    std::vector<double> rx(x.rbegin() + 1, x.rend()), ry(y.rbegin() + 1, y.rend());  // reversed
    ASSERT_EQ(twice_signed_area(rx.data(), ry.data(), n, 0, 0), -exact) << k;
    std::rotate(x.begin(), x.begin() + 1, x.end() - 1);  // starts at the second vertex
    std::rotate(y.begin(), y.begin() + 1, y.end() - 1);
    ASSERT_EQ(twice_signed_area(x.data(), y.data(), n, 0, 0), exact) << k;
    positive += want > 0;
    negative += want < 0;
  }
  EXPECT_GT(positive, 1000);
  EXPECT_GT(negative, 1000);
  const double sx[] = {0, 2, 2, 0}, sy[] = {0, 0, 3, 3};  // counter-clockwise 2 x 3 rectangle
  EXPECT_EQ(twice_signed_area(sx, sy, 4, 0, 0), 12.0);
  EXPECT_EQ(twice_signed_area(sx, sy, 0, 0, 0), 0.0);
}

TEST(PointInPolygon, EvenOddOverRings) {
  // Multipolygon: two disjoint squares; an island inside a hole.
  RingSetData rs;
  const double ax[] = {0, 1, 1, 0, 0}, ay[] = {0, 0, 1, 1, 0};  // closing vertex repeated
  const double bx[] = {2, 3, 3, 2}, by[] = {0, 0, 1, 1};
  rs.add_ring(ax, ay, 5);
  rs.add_ring(bx, by, 4);
  EXPECT_EQ(point_in_rings(rs.view(), 0.5, 0.5), PipResult::kInside);
  EXPECT_EQ(point_in_rings(rs.view(), 2.5, 0.5), PipResult::kInside);
  EXPECT_EQ(point_in_rings(rs.view(), 1.5, 0.5), PipResult::kOutside);
  RingSetData nested;
  const double o[] = {0, 10, 10, 0}, oy[] = {0, 0, 10, 10};
  const double h[] = {2, 8, 8, 2}, hy[] = {2, 2, 8, 8};
  const double is[] = {4, 6, 6, 4}, isy[] = {4, 4, 6, 6};
  nested.add_ring(o, oy, 4);
  nested.add_ring(h, hy, 4);
  nested.add_ring(is, isy, 4);
  EXPECT_EQ(point_in_rings(nested.view(), 1, 1), PipResult::kInside);
  EXPECT_EQ(point_in_rings(nested.view(), 3, 3), PipResult::kOutside);
  EXPECT_EQ(point_in_rings(nested.view(), 5, 5), PipResult::kInside);
  EXPECT_EQ(point_in_rings(nested.view(), 2, 5), PipResult::kBoundary);
  // Ray through vertices: a diamond, points level with its side vertices.
  RingSetData diamond;
  const double dx[] = {0, 1, 0, -1}, dy[] = {-1, 0, 1, 0};
  diamond.add_ring(dx, dy, 4);
  EXPECT_EQ(point_in_rings(diamond.view(), 0, 0), PipResult::kInside);
  EXPECT_EQ(point_in_rings(diamond.view(), -2, 0), PipResult::kOutside);
  EXPECT_EQ(point_in_rings(diamond.view(), 2, 0), PipResult::kOutside);
  EXPECT_EQ(point_in_rings(diamond.view(), -2, 1), PipResult::kOutside);
  EXPECT_EQ(point_in_rings(diamond.view(), 0, 1), PipResult::kBoundary);
  EXPECT_EQ(point_in_rings(RingSet{}, 0, 0), PipResult::kOutside);
}

// ---- clipping ----

// Checks the clip invariants of one segment; returns "" or a description. A midpoint is
// computed in doubles, so when an interval runs along an edge its midpoint can round to just
// outside; a midpoint within 1e-12 (relative) of an edge is accepted either way.
std::string check_clip(const RingSetData& rs, double x0, double y0, double x1, double y1,
                       const std::vector<TInterval>& iv) {
  const RingSet view = rs.view();
  const double dx = x1 - x0, dy = y1 - y0;
  const double tol = 1e-12 * (1.0 + std::fabs(x0) + std::fabs(y0) + std::fabs(dx) + std::fabs(dy));
  auto classify = [&](double t, bool want_inside) {
    const double x = x0 + t * dx, y = y0 + t * dy;
    const bool inside = point_in_rings(view, x, y) != PipResult::kOutside;
    if (inside == want_inside) return true;
    long double dist;
    winding_inside_ld(rs, x, y, &dist);
    return dist < tol;
  };
  double prev_end = 0.0;
  for (size_t k = 0; k < iv.size(); ++k) {
    if (!(iv[k].t0 >= 0.0 && iv[k].t1 <= 1.0 && iv[k].t1 > iv[k].t0)) return "interval out of [0,1] or empty";
    if (k > 0 && !(iv[k].t0 > iv[k - 1].t1)) return "intervals not sorted, disjoint and merged";
    if (!classify(0.5 * (iv[k].t0 + iv[k].t1), true)) return "inside midpoint is outside";
    if (iv[k].t0 - prev_end > 1e-9 && !classify(0.5 * (prev_end + iv[k].t0), false)) return "gap midpoint is inside";
    prev_end = iv[k].t1;
  }
  if (1.0 - prev_end > 1e-9 && !classify(0.5 * (prev_end + 1.0), false)) return "last gap midpoint is inside";
  return "";
}

TEST(ClipSegment, RandomSegmentsInsideAndGapsOutside) {
  std::mt19937_64 rng(34);
  int with_inside = 0, collinear = 0;
  for (int poly = 0; poly < 500; ++poly) {
    const bool dyadic = poly % 2 == 0;
    const RingSetData rs = random_polygon(rng, dyadic ? 1.0 / 1024 : 0.0);
    const RingSet view = rs.view();
    double cx = 0, cy = 0, R = 0;
    for (size_t i = 0; i < rs.lon.size(); ++i) cx += rs.lon[i], cy += rs.lat[i];
    cx /= static_cast<double>(rs.lon.size());
    cy /= static_cast<double>(rs.lon.size());
    for (size_t i = 0; i < rs.lon.size(); ++i) R = std::max(R, std::hypot(rs.lon[i] - cx, rs.lat[i] - cy));
    for (int k = 0; k < kCases / 500; ++k) {
      double x0, y0, x1, y1;
      const int kind = static_cast<int>(uniform_int(rng, 0, 3));
      if (kind <= 1 || !dyadic) {  // random, from short to crossing the whole polygon
        x0 = cx + uniform(rng, -1.3, 1.3) * R, y0 = cy + uniform(rng, -1.3, 1.3) * R;
        const double len = R * std::pow(10.0, uniform(rng, -3.0, 0.5)), a = uniform(rng, 0, 2 * M_PI);
        x1 = x0 + len * std::cos(a), y1 = y0 + len * std::sin(a);
      } else {  // along an edge (collinear, exact on dyadic data), possibly extended past it
        const size_t i = static_cast<size_t>(uniform_int(rng, 0, static_cast<int64_t>(rs.lon.size()) - 1));
        edge_point(rs, i, static_cast<double>(uniform_int(rng, -8, 7)) / 16.0, &x0, &y0);
        edge_point(rs, i, static_cast<double>(uniform_int(rng, 8, 24)) / 16.0, &x1, &y1);
        ++collinear;
      }
      const std::vector<TInterval> iv = clip_segment(view, x0, y0, x1, y1);
      const std::string e = check_clip(rs, x0, y0, x1, y1, iv);
      ASSERT_EQ(e, "") << "poly " << poly << " seg " << k;
      if (kind >= 2 && dyadic && (x0 != x1 || y0 != y1)) {
        // The part on the edge itself (fractions [max(f0,0), min(f1,1)]) is boundary => inside.
        double covered = 0;
        for (const TInterval& t : iv) covered += t.t1 - t.t0;
        ASSERT_GT(covered, 0.0);
      }
      with_inside += !iv.empty();
    }
  }
  EXPECT_GT(with_inside, kCases / 4);
  EXPECT_GT(collinear, 10000);
}

TEST(ClipSegment, AxisAlignedRectanglesMatchAnalyticClip) {
  std::mt19937_64 rng(35);
  int nonempty = 0, along_edge = 0;
  for (int i = 0; i < kCases; ++i) {
    // Rectangle on a dyadic grid so segments can run exactly along its sides.
    const double g = 1.0 / 64;
    const double xmin = std::round(uniform(rng, -170.0, 170.0) / g) * g, ymin = std::round(uniform(rng, -80.0, 80.0) / g) * g;
    const double w = g * static_cast<double>(uniform_int(rng, 1, 256)), h = g * static_cast<double>(uniform_int(rng, 1, 256));
    const double xmax = xmin + w, ymax = ymin + h;
    RingSetData rs;
    const double rx[] = {xmin, xmax, xmax, xmin}, ry[] = {ymin, ymin, ymax, ymax};
    rs.add_ring(rx, ry, 4);
    double x0 = uniform(rng, xmin - w, xmax + w), y0 = uniform(rng, ymin - h, ymax + h);
    double x1 = uniform(rng, xmin - w, xmax + w), y1 = uniform(rng, ymin - h, ymax + h);
    switch (i % 5) {
      case 1:  // horizontal on the bottom or top side's line
        y0 = y1 = uniform_int(rng, 0, 1) ? ymin : ymax;
        ++along_edge;
        break;
      case 2:  // vertical on the left or right side's line
        x0 = x1 = uniform_int(rng, 0, 1) ? xmin : xmax;
        ++along_edge;
        break;
      case 3:  // corner to corner or through corners
        x0 = xmin - w, y0 = ymin - h, x1 = xmax + w, y1 = ymax + h;
        break;
      default:
        break;
    }
    const std::vector<TInterval> iv = clip_segment(rs.view(), x0, y0, x1, y1);
    long double ta, tb;
    const bool ref = clip_rect_ld(x0, y0, x1, y1, xmin, ymin, xmax, ymax, &ta, &tb);
    if (!ref || tb - ta < 1e-12L) {
      ASSERT_TRUE(iv.empty() || (iv.size() == 1 && iv[0].t1 - iv[0].t0 < 1e-12)) << i;
      continue;
    }
    ASSERT_EQ(iv.size(), 1u) << i;
    ASSERT_NEAR(iv[0].t0, static_cast<double>(ta), 1e-12) << i;
    ASSERT_NEAR(iv[0].t1, static_cast<double>(tb), 1e-12) << i;
    ++nonempty;
  }
  EXPECT_GT(nonempty, kCases / 3);
  EXPECT_GT(along_edge, kCases / 3);
}

TEST(ClipSegment, BuffersTooSmallAndDegenerateCases) {
  RingSetData sq;
  const double lx[] = {0, 4, 4, 0}, ly[] = {0, 0, 4, 4};
  sq.add_ring(lx, ly, 4);
  const RingSet v = sq.view();
  double scratch[64];
  TInterval out[8];
  uint64_t n = 99;
  EXPECT_EQ(clip_segment(v, -1, 1, 5, 1, scratch, 3, out, 8, &n), ClipStatus::kScratchTooSmall);
  EXPECT_EQ(clip_segment(v, -1, 1, 5, 1, scratch, 64, out, 0, &n), ClipStatus::kOutputTooSmall);
  EXPECT_EQ(clip_segment(v, -1, 1, 5, 1, scratch, clip_scratch_size(v), out, clip_output_capacity(v), &n),
            ClipStatus::kOk);
  ASSERT_EQ(n, 1u);
  EXPECT_EQ(out[0].t0, 1.0 / 6.0);
  EXPECT_EQ(out[0].t1, 5.0 / 6.0);
  // Zero-length segment: no interval.
  EXPECT_TRUE(clip_segment(v, 1, 1, 1, 1).empty());
  // Touching a corner only: nothing; along a side: all of it; through a U-shaped notch: two parts.
  EXPECT_FALSE(clip_segment(v, -1, 5, 1, 3).empty());          // enters through the corner (0,4)
  EXPECT_TRUE(clip_segment(v, -1, 1, 1, -1).empty());          // touches (0,0) only
  auto iv = clip_segment(v, 0, 0, 4, 0);
  ASSERT_EQ(iv.size(), 1u);
  EXPECT_EQ(iv[0].t0, 0.0);
  EXPECT_EQ(iv[0].t1, 1.0);
  RingSetData u;
  const double ux[] = {0, 3, 3, 2, 2, 1, 1, 0}, uy[] = {0, 0, 3, 3, 1, 1, 3, 3};
  u.add_ring(ux, uy, 8);
  iv = clip_segment(u.view(), -1, 2, 4, 2);
  ASSERT_EQ(iv.size(), 2u);
  EXPECT_DOUBLE_EQ(iv[0].t0, 0.2);
  EXPECT_DOUBLE_EQ(iv[0].t1, 0.4);
  EXPECT_DOUBLE_EQ(iv[1].t0, 0.6);
  EXPECT_DOUBLE_EQ(iv[1].t1, 0.8);
  // Along the notch's bottom edge (y = 1, x in [1,2]) and the outer bottom: boundary is inside.
  iv = clip_segment(u.view(), -1, 1, 4, 1);
  ASSERT_EQ(iv.size(), 1u);
  EXPECT_DOUBLE_EQ(iv[0].t0, 0.2);
  EXPECT_DOUBLE_EQ(iv[0].t1, 0.8);
}

}  // namespace
}  // namespace geoshard
