// Tests of the localiser's grid over area boxes (jobs/localise/box_grid.h): every query against a
// brute-force scan over all boxes, on many random layouts (small and large boxes, points, lines,
// boxes sharing edges with the query, degenerate extents), plus the limits and bad input.
#include "jobs/localise/box_grid.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace geoshard::localise {
namespace {

struct Boxes {
  std::vector<double> x0, y0, x1, y1;
  void add(double a, double b, double c, double d) {
    x0.push_back(a);
    y0.push_back(b);
    x1.push_back(c);
    y1.push_back(d);
  }
  size_t size() const { return x0.size(); }
};

std::vector<uint32_t> brute(const Boxes& b, double x0, double y0, double x1, double y1) {
  std::vector<uint32_t> r;
  for (size_t i = 0; i < b.size(); ++i)
    if (!(x1 < b.x0[i] || x0 > b.x1[i] || y1 < b.y0[i] || y0 > b.y1[i])) r.push_back(static_cast<uint32_t>(i));
  return r;
}

// A value on a coarse lattice (so boxes and queries often share edges exactly) or anywhere.
double coord(std::mt19937_64& g, double lo, double hi) {
  std::uniform_real_distribution<double> u(lo, hi);
  if (g() % 3 == 0) return lo + (hi - lo) * static_cast<double>(g() % 17) / 16.0;
  return u(g);
}

// `layouts` random layouts of up to 300 boxes; 200 queries each; every answer equals the scan.
TEST(BoxGrid, QueriesMatchBruteForce) {
  std::mt19937_64 g(20261207);
  size_t nonempty = 0, total = 0;
  for (int layout = 0; layout < 400; ++layout) {
    Boxes b;
    const double ox = coord(g, -180, 170), oy = coord(g, -90, 80);
    const double span = std::pow(10.0, -4.0 + static_cast<double>(g() % 6));  // 1e-4 .. 10 degrees
    const double sizes[] = {span * 1e-3, span * 0.05, span * 0.5};
    const size_t n = 1 + g() % 300;
    for (size_t i = 0; i < n; ++i) {
      const double s = sizes[g() % 3];
      const double a = coord(g, ox, ox + span), c = coord(g, oy, oy + span);
      const int kind = static_cast<int>(g() % 8);  // 0: a point, 1: a horizontal line, 2: a vertical one
      const double w = kind == 0 || kind == 2 ? 0 : std::uniform_real_distribution<double>(0, s)(g);
      const double h = kind == 0 || kind == 1 ? 0 : std::uniform_real_distribution<double>(0, s)(g);
      b.add(a, c, a + w, c + h);
    }
    const BoxGrid grid(b.x0, b.y0, b.x1, b.y1);
    ASSERT_TRUE(grid.usable());
    std::vector<uint32_t> out(n + 1);
    for (int q = 0; q < 200; ++q) {
      // Queries inside, around and outside the extent; some are a box of the layout itself.
      double x0, y0, x1, y1;
      if (q % 5 == 0) {
        const size_t i = g() % n;
        x0 = b.x0[i], y0 = b.y0[i], x1 = b.x1[i], y1 = b.y1[i];
      } else {
        const double s = sizes[g() % 3] * 2;
        x0 = coord(g, ox - span * 0.2, ox + span * 1.2);
        y0 = coord(g, oy - span * 0.2, oy + span * 1.2);
        x1 = x0 + std::uniform_real_distribution<double>(0, s)(g);
        y1 = y0 + std::uniform_real_distribution<double>(0, s)(g);
      }
      const std::vector<uint32_t> want = brute(b, x0, y0, x1, y1);
      size_t count = 99;
      ASSERT_TRUE(grid.query(x0, y0, x1, y1, out.data(), n, &count));
      std::vector<uint32_t> got(out.begin(), out.begin() + static_cast<long>(count));
      std::sort(got.begin(), got.end());
      ASSERT_EQ(got, want) << "layout " << layout << " query " << q;  // each box once (sorted, no repeats)
      // With room for fewer than the answer: false; with exactly enough: true.
      if (!want.empty()) {
        EXPECT_FALSE(grid.query(x0, y0, x1, y1, out.data(), want.size() - 1, &count));
        EXPECT_TRUE(grid.query(x0, y0, x1, y1, out.data(), want.size(), &count));
        EXPECT_EQ(count, want.size());
        ++nonempty;
      }
      ++total;
    }
  }
  // The layouts exercise both answers.
  EXPECT_GT(nonempty, total / 10);
  EXPECT_LT(nonempty, total - total / 10);
}

// Fill: summed box area over the extent's area.
TEST(BoxGrid, FillIsSummedAreaOverExtent) {
  Boxes b;
  b.add(0, 0, 1, 1);
  b.add(9, 9, 10, 10);
  b.add(4, 4, 6, 5);
  EXPECT_DOUBLE_EQ(BoxGrid(b.x0, b.y0, b.x1, b.y1).fill(), 4.0 / 100.0);
  Boxes overlap;  // overlapping boxes count twice: above 1
  overlap.add(0, 0, 2, 2);
  overlap.add(0, 0, 2, 2);
  EXPECT_DOUBLE_EQ(BoxGrid(overlap.x0, overlap.y0, overlap.x1, overlap.y1).fill(), 2.0);
}

// All boxes on one point or one line (an extent without area): still exact.
TEST(BoxGrid, DegenerateExtents) {
  Boxes point, line;
  for (int i = 0; i < 5; ++i) point.add(3, 4, 3, 4);
  for (int i = 0; i < 50; ++i) line.add(i, 7, i + 0.5, 7);
  const BoxGrid gp(point.x0, point.y0, point.x1, point.y1), gl(line.x0, line.y0, line.x1, line.y1);
  ASSERT_TRUE(gp.usable());
  ASSERT_TRUE(gl.usable());
  EXPECT_EQ(gp.fill(), 0.0);
  uint32_t out[64];
  size_t count = 0;
  ASSERT_TRUE(gp.query(3, 4, 3, 4, out, 64, &count));
  EXPECT_EQ(count, 5u);
  ASSERT_TRUE(gp.query(3.0000001, 4, 5, 5, out, 64, &count));
  EXPECT_EQ(count, 0u);
  ASSERT_TRUE(gl.query(10.25, 6, 12, 7, out, 64, &count));
  std::sort(out, out + count);
  ASSERT_EQ(count, 3u);  // boxes 10 ([10, 10.5]), 11, and 12 ([12, 12.5], met at x = 12 only); not 9 or 13
  EXPECT_EQ(out[0], 10u);
  EXPECT_EQ(out[1], 11u);
  EXPECT_EQ(out[2], 12u);
  ASSERT_TRUE(gl.query(10.25, 7.0000001, 12, 8, out, 64, &count));
  EXPECT_EQ(count, 0u);
}

// No boxes, non-finite or inverted boxes: unusable, and every query says "not known" (false),
// never "nothing there".
TEST(BoxGrid, BadInputIsUnusable) {
  const std::vector<double> none;
  uint32_t out[4];
  size_t count = 7;
  EXPECT_FALSE(BoxGrid(none, none, none, none).usable());
  EXPECT_FALSE(BoxGrid().query(0, 0, 1, 1, out, 4, &count));
  EXPECT_EQ(count, 0u);
  for (const double bad : {NAN, INFINITY, -INFINITY}) {
    Boxes b;
    b.add(0, 0, 1, 1);
    b.add(2, bad, 3, 3);
    EXPECT_FALSE(BoxGrid(b.x0, b.y0, b.x1, b.y1).usable());
  }
  Boxes inverted;
  inverted.add(0, 0, 1, 1);
  inverted.add(3, 3, 2, 4);
  EXPECT_FALSE(BoxGrid(inverted.x0, inverted.y0, inverted.x1, inverted.y1).usable());
  Boxes ok;
  ok.add(0, 0, 1, 1);
  const BoxGrid g(ok.x0, ok.y0, ok.x1, ok.y1);
  EXPECT_FALSE(g.query(NAN, 0, 1, 1, out, 4, &count));
  EXPECT_FALSE(g.query(0, 0, INFINITY, 1, out, 4, &count));
  EXPECT_TRUE(g.query(0.5, 0.5, 0.5, 0.5, out, 4, &count));
  EXPECT_EQ(count, 1u);
}

}  // namespace
}  // namespace geoshard::localise
