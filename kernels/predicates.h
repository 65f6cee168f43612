// Exact geometric predicates on doubles, for host and device.
//
// orient2d(a, b, c) returns a double whose SIGN is exactly the sign of the determinant
//     | bx-ax  by-ay |
//     | cx-ax  cy-ay |   = (bx-ax)(cy-ay) - (by-ay)(cx-ax)
// evaluated in exact real arithmetic on the double inputs: > 0 if c lies left of the directed
// line a->b (counter-clockwise turn), < 0 if right, == 0 exactly when the three points are
// collinear. The magnitude is an approximation of the determinant (only the sign is exact;
// orient2d_accurate below gives the value within 2^-40, for crossing parameters).
//
// Method (after Shewchuk, "Adaptive Precision Floating-Point Arithmetic and Fast Robust
// Geometric Predicates", 1997; written from the paper's ideas, not from its code):
//   1. Filter: evaluate in double; if |det| exceeds the a-priori error bound
//      (3 + 16 eps) eps * (|detleft| + |detright|) (eps = 2^-53) its sign is certain.
//      This settles all but near-degenerate inputs at the cost of a few flops.
//   2. Exact fallback: each coordinate difference becomes a two-term expansion (two_diff), the
//      products are formed exactly with FMA (two_prod) into 16 terms, which are summed into a
//      non-overlapping expansion with error-free two_sum steps. The sign of such an expansion
//      is the sign of its largest (last non-zero) component.
// Exactness holds as long as no intermediate product underflows (coordinate differences whose
// products are below ~1e-290); lon/lat data never comes close. Overflow is impossible for
// |coordinates| < 1e150.
//
// Determinism: the result's sign does not depend on the platform; FMA is only used where it
// is the exact error-free transform. The CUDA build compiles with -fmad=false so the filter
// arithmetic is also the same on host and device.
#pragma once

#include <cmath>

#include "kernels/hd.h"

namespace geoshard {

namespace detail {

// x + y == a + b exactly, x = fl(a + b) (Knuth's branch-free two-sum).
GEOSHARD_HD_INLINE void two_sum(double a, double b, double& x, double& y) {
  x = a + b;
  const double bv = x - a;
  const double av = x - bv;
  y = (a - av) + (b - bv);
}
GEOSHARD_HD_INLINE void two_diff(double a, double b, double& x, double& y) {
  x = a - b;
  const double bv = a - x;
  const double av = x + bv;
  y = (a - av) + (bv - b);
}
// x + y == a * b exactly (barring underflow), x = fl(a * b).
GEOSHARD_HD_INLINE void two_prod(double a, double b, double& x, double& y) {
  x = a * b;
  y = fma(a, b, -x);
}

// Adds b to the non-overlapping expansion e[0..n) (increasing magnitude) in place, dropping
// zero components; returns the new length (at most n + 1).
GEOSHARD_HD_INLINE int grow_expansion(double* e, int n, double b) {
  double q = b;
  int m = 0;
  for (int i = 0; i < n; ++i) {
    double sum, err;
    two_sum(q, e[i], sum, err);
    q = sum;
    if (err != 0.0) e[m++] = err;
  }
  if (q != 0.0 || m == 0) e[m++] = q;
  return m;
}

// Exact sign (as -1.0, 0.0, +1.0 times an approximation of the value) of the orientation
// determinant; slow path of orient2d.
GEOSHARD_HD_INLINE double orient2d_exact(double ax, double ay, double bx, double by, double cx,
                                         double cy) {
  double u1, u0, v1, v0, w1, w0, z1, z0;
  two_diff(bx, ax, u1, u0);  // bx - ax
  two_diff(cy, ay, v1, v0);  // cy - ay
  two_diff(by, ay, w1, w0);  // by - ay
  two_diff(cx, ax, z1, z0);  // cx - ax
  const double us[2] = {u1, u0}, vs[2] = {v1, v0}, ws[2] = {w1, w0}, zs[2] = {z1, z0};
  double e[17];
  int n = 0;
  e[n++] = 0.0;
  for (int i = 0; i < 2; ++i) {
    for (int j = 0; j < 2; ++j) {
      double p, q;
      two_prod(us[i], vs[j], p, q);
      n = grow_expansion(e, n, p);
      n = grow_expansion(e, n, q);
      two_prod(ws[i], zs[j], p, q);
      n = grow_expansion(e, n, -p);
      n = grow_expansion(e, n, -q);
    }
  }
  // Components increase in magnitude and do not overlap: the last one carries the sign, and
  // the sum of all is the correctly signed value up to rounding.
  double approx = 0.0;
  for (int i = 0; i < n; ++i) approx += e[i];
  const double top = e[n - 1];
  if (top == 0.0) return 0.0;
  // Guarantee the sign of the returned approximation (summation cannot flip it in practice,
  // but make it certain).
  if ((top > 0.0) != (approx > 0.0)) return top;
  return approx;
}

}  // namespace detail

// See the header comment: exact sign of (b - a) x (c - a).
GEOSHARD_HD_INLINE double orient2d(double ax, double ay, double bx, double by, double cx, double cy) {
  const double detleft = (bx - ax) * (cy - ay);
  const double detright = (by - ay) * (cx - ax);
  const double det = detleft - detright;
  // Shewchuk's ccwerrboundA with eps = 2^-53.
  constexpr double kEps = 1.1102230246251565404e-16;
  constexpr double kErrBound = (3.0 + 16.0 * kEps) * kEps;
  const double detsum = fabs(detleft) + fabs(detright);
  if (fabs(det) > kErrBound * detsum) return det;
  // Common degenerate case (axis-aligned data): both products have an exactly zero factor, so
  // the exact determinant is 0 -- no need for the slow path. (A difference of doubles is zero
  // only if they are equal.)
  if ((bx == ax || cy == ay) && (by == ay || cx == ax)) return 0.0;
  return detail::orient2d_exact(ax, ay, bx, by, cx, cy);
}

// orient2d's value to within 2^-40 relative (its sign exact): the filtered double when the
// filter promises that much, else the sum of the exact expansion. For parameters of crossings,
// t = o(U,V,A) / (o(U,V,A) - o(U,V,B)), which stays accurate where the two lines are nearly
// parallel (the plain cross-product formula does not).
GEOSHARD_HD_INLINE double orient2d_accurate(double ax, double ay, double bx, double by, double cx, double cy) {
  const double detleft = (bx - ax) * (cy - ay);
  const double detright = (by - ay) * (cx - ax);
  const double det = detleft - detright;
  constexpr double kEps = 1.1102230246251565404e-16;
  constexpr double kBound = (3.0 + 16.0 * kEps) * kEps * 1099511627776.0;  // ccwerrboundA * 2^40
  if (fabs(det) > kBound * (fabs(detleft) + fabs(detright))) return det;
  if ((bx == ax || cy == ay) && (by == ay || cx == ax)) return 0.0;
  return detail::orient2d_exact(ax, ay, bx, by, cx, cy);
}

// Sign of orient2d as -1, 0, +1.
GEOSHARD_HD_INLINE int orient2d_sign(double ax, double ay, double bx, double by, double cx, double cy) {
  const double d = orient2d(ax, ay, bx, by, cx, cy);
  return (d > 0.0) - (d < 0.0);
}

}  // namespace geoshard
