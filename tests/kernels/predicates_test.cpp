// Tests of the exact orient2d predicate (kernels/predicates.h) on nearly collinear inputs, where
// a plain double evaluation gets the sign wrong, against exact integer arithmetic.
#include "kernels/predicates.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "tests/kernels/test_util.h"

namespace geoshard {
namespace {

using geoshard::testing::uniform;
using geoshard::testing::uniform_int;

constexpr int kCases = 100000;

// Every double in [1, 2) is an integer multiple of 2^-52: scaled differences fit in 53 bits and
// products in 106 bits, so __int128 evaluates the determinant exactly.
int exact_sign_unit_square(double ax, double ay, double bx, double by, double cx, double cy) {
  auto s = [](double v) { return static_cast<__int128>(std::ldexp(v, 52)); };
  const __int128 det = (s(bx) - s(ax)) * (s(cy) - s(ay)) - (s(by) - s(ay)) * (s(cx) - s(ax));
  return (det > 0) - (det < 0);
}

int naive_sign(double ax, double ay, double bx, double by, double cx, double cy) {
  const double d = (bx - ax) * (cy - ay) - (by - ay) * (cx - ax);
  return (d > 0) - (d < 0);
}

TEST(Orient2d, NearlyCollinearMatchesExactArithmetic) {
  std::mt19937_64 rng(21);
  int checked = 0, naive_wrong = 0, zeros = 0;
  for (int i = 0; checked < kCases; ++i) {
    const double ax = uniform(rng, 1.0, 2.0), ay = uniform(rng, 1.0, 2.0);
    const double bx = uniform(rng, 1.0, 2.0), by = uniform(rng, 1.0, 2.0);
    const double s = uniform(rng, 0.0, 1.0);  // between a and b: stays in the unit square
    double cx = ax + s * (bx - ax), cy = ay + s * (by - ay);  // on the line, up to rounding
    const int kx = static_cast<int>(uniform_int(rng, -2, 2)), ky = static_cast<int>(uniform_int(rng, -2, 2));
    for (int k = 0; k < std::abs(kx); ++k) cx = std::nextafter(cx, kx > 0 ? 3.0 : 0.0);
    for (int k = 0; k < std::abs(ky); ++k) cy = std::nextafter(cy, ky > 0 ? 3.0 : 0.0);
    if (i % 7 == 0) {  // exactly collinear: c = a + (b - a) * dyadic, all on a 2^-20 grid
      const double g = 1.0 / 1048576.0;
      const double ax2 = std::round(ax / g) * g, ay2 = std::round(ay / g) * g;
      const double dx = std::round((bx - ax) / g / 16) * g * 16, dy = std::round((by - ay) / g / 16) * g * 16;
      const double f = static_cast<double>(uniform_int(rng, 0, 16)) / 16.0;
      cx = ax2 + f * dx;
      cy = ay2 + f * dy;
      if (cx < 1.0 || cx >= 2.0 || cy < 1.0 || cy >= 2.0 || ax2 + dx < 1.0 || ax2 + dx >= 2.0 ||
          ay2 + dy < 1.0 || ay2 + dy >= 2.0)
        continue;
      ASSERT_EQ(orient2d_sign(ax2, ay2, ax2 + dx, ay2 + dy, cx, cy), 0);
      ++zeros;
      continue;
    }
    if (cx < 1.0 || cx >= 2.0 || cy < 1.0 || cy >= 2.0) continue;
    const int want = exact_sign_unit_square(ax, ay, bx, by, cx, cy);
    ASSERT_EQ(orient2d_sign(ax, ay, bx, by, cx, cy), want) << i;
    // Permutation rules of the determinant hold exactly.
    ASSERT_EQ(orient2d_sign(bx, by, cx, cy, ax, ay), want);
    ASSERT_EQ(orient2d_sign(bx, by, ax, ay, cx, cy), -want);
    naive_wrong += naive_sign(ax, ay, bx, by, cx, cy) != want;
    ++checked;
  }
  EXPECT_GT(zeros, 1000);
  // The inputs are hard: plain double arithmetic gets a good share of the signs wrong.
  EXPECT_GT(naive_wrong, checked / 100);
  RecordProperty("naive_wrong", naive_wrong);
}

// orient2d_accurate's value within 2^-40 of the exact determinant (int128, as above), sign
// exact: c on the line to within rounding, a little off it (1e-9 to 1e-3 of |b - a|: the
// filter's band, where a plain double determinant is off by more than 2^-40), and anywhere.
TEST(Orient2d, AccurateValueWithin2ToTheMinus40) {
  std::mt19937_64 rng(40);
  int checked = 0, plain_off = 0;
  while (checked < kCases) {
    const double ax = uniform(rng, 1.0, 2.0), ay = uniform(rng, 1.0, 2.0);
    const double bx = uniform(rng, 1.0, 2.0), by = uniform(rng, 1.0, 2.0);
    const double s = uniform(rng, 0.0, 1.0);
    double cx = ax + s * (bx - ax), cy = ay + s * (by - ay);
    const int kind = checked % 3;
    if (kind == 1) {
      const double off = std::pow(10.0, uniform(rng, -9.0, -3.0)) * (uniform_int(rng, 0, 1) ? 1 : -1);
      cx -= off * (by - ay), cy += off * (bx - ax);
    } else if (kind == 2) {
      cx = uniform(rng, 1.0, 2.0), cy = uniform(rng, 1.0, 2.0);
    }
    if (cx < 1.0 || cx >= 2.0 || cy < 1.0 || cy >= 2.0) continue;
    auto q = [](double v) { return static_cast<__int128>(std::ldexp(v, 52)); };
    const __int128 det = (q(bx) - q(ax)) * (q(cy) - q(ay)) - (q(by) - q(ay)) * (q(cx) - q(ax));
    const double want = std::ldexp(static_cast<double>(det), -104);
    const double got = orient2d_accurate(ax, ay, bx, by, cx, cy);
    ASSERT_EQ((got > 0) - (got < 0), (det > 0) - (det < 0)) << checked;
    ASSERT_LE(std::fabs(got - want), 0x1p-40 * std::fabs(want)) << checked << " kind " << kind;
    const double plain = (bx - ax) * (cy - ay) - (by - ay) * (cx - ax);
    plain_off += std::fabs(plain - want) > 0x1p-40 * std::fabs(want);
    ++checked;
  }
  EXPECT_GT(plain_off, kCases / 10);  // the cases need it
}

TEST(Orient2d, PermutationInvarianceAcrossMagnitudes) {
  std::mt19937_64 rng(22);
  for (int i = 0; i < kCases; ++i) {
    const double scale = std::pow(10.0, uniform(rng, -8.0, 8.0));
    const double ox = uniform(rng, -180.0, 180.0), oy = uniform(rng, -90.0, 90.0);
    const double ax = ox, ay = oy;
    const double bx = ox + scale * uniform(rng, -1.0, 1.0), by = oy + scale * uniform(rng, -1.0, 1.0);
    const double s = uniform(rng, -2.0, 3.0);
    const double cx = ax + s * (bx - ax), cy = ay + s * (by - ay);
    const int o = orient2d_sign(ax, ay, bx, by, cx, cy);
    ASSERT_EQ(orient2d_sign(bx, by, cx, cy, ax, ay), o);
    ASSERT_EQ(orient2d_sign(cx, cy, ax, ay, bx, by), o);
    ASSERT_EQ(orient2d_sign(bx, by, ax, ay, cx, cy), -o);
    ASSERT_EQ(orient2d_sign(ax, ay, cx, cy, bx, by), -o);
  }
}

TEST(Orient2d, SimpleCases) {
  EXPECT_GT(orient2d(0, 0, 1, 0, 0, 1), 0.0);
  EXPECT_LT(orient2d(0, 0, 1, 0, 0, -1), 0.0);
  EXPECT_EQ(orient2d(0, 0, 1, 1, 2, 2), 0.0);
  EXPECT_EQ(orient2d(5, 5, 5, 5, 1, 2), 0.0);
  // Classic failure of naive evaluation: 0.5 + k*2^-53 style points near the diagonal.
  const double e = std::ldexp(1.0, -53);
  EXPECT_EQ(orient2d_sign(0.5, 0.5, 12.0, 12.0, 24.0, 24.0), 0);
  EXPECT_EQ(orient2d_sign(0.5 + e, 0.5, 12.0, 12.0, 24.0, 24.0), -1);
  EXPECT_EQ(orient2d_sign(0.5, 0.5 + e, 12.0, 12.0, 24.0, 24.0), 1);
}

}  // namespace
}  // namespace geoshard
