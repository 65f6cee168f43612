// The exact cut of a road segment by the ORIGINAL edges of an area, shared by the geohash and
// the S2 localisers (localise.cpp, localise_s2.cpp): exact orientation predicates on exact
// coordinates, on the original segment, so a road drawn along a border stays collinear with it
// and counts as inside (GEOS semantics); every other sub-interval between cuts is decided by its
// midpoint, by the caller's point-in-area test.
#pragma once

#include <algorithm>
#include <vector>

#include "kernels/polygon.h"
#include "kernels/predicates.h"

namespace geoshard::localise {

// Adds to `ts` where segment A-B (parameter t along it) meets edge U-V within (t0, t1), or, when
// the two are collinear, their overlap within [t0, t1] to `overlaps` and its ends to `ts`.
inline void cut_at_edge(double ax, double ay, double bx, double by, double ux, double uy, double vx, double vy,
                        double t0, double t1, std::vector<double>& ts, std::vector<TInterval>& overlaps) {
  const double dx = bx - ax, dy = by - ay;
  const int oa = orient2d_sign(ax, ay, bx, by, ux, uy);
  const int ob = orient2d_sign(ax, ay, bx, by, vx, vy);
  if (oa == ob && oa != 0) return;
  if (oa == 0 && ob == 0) {
    double ta = detail::project_t(ax, ay, dx, dy, ux, uy), tb = detail::project_t(ax, ay, dx, dy, vx, vy);
    if (ta > tb) std::swap(ta, tb);
    ta = std::max(ta, t0);
    tb = std::min(tb, t1);
    if (tb > ta) {
      overlaps.push_back(TInterval{ta, tb});
      ts.push_back(ta);
      ts.push_back(tb);
    }
    return;
  }
  const int oc = orient2d_sign(ux, uy, vx, vy, ax, ay);
  const int od = orient2d_sign(ux, uy, vx, vy, bx, by);
  if (oc == od && oc != 0) return;
  double t;
  if (oa == 0) t = detail::project_t(ax, ay, dx, dy, ux, uy);
  else if (ob == 0) t = detail::project_t(ax, ay, dx, dy, vx, vy);
  else if (oc == 0) t = 0.0;
  else if (od == 0) t = 1.0;
  else {
    const double ex = vx - ux, ey = vy - uy;
    t = ((ux - ax) * ey - (uy - ay) * ex) / (dx * ey - dy * ex);
  }
  if (t > t0 && t < t1) ts.push_back(t);
}

// Sorts the cuts, returns the summed length of the sub-intervals within a collinear overlap
// (inside, whatever the midpoint says), and calls defer(midpoint t, length) for every other
// sub-interval: the caller decides those by their midpoints (in batches, pip_batcher.h) and adds
// the lengths of those inside.
template <class Defer>
double overlapped_between_cuts(std::vector<double>& ts, const std::vector<TInterval>& overlaps, Defer&& defer) {
  std::sort(ts.begin(), ts.end());
  double f = 0;
  for (size_t k = 0; k + 1 < ts.size(); ++k) {
    const double lo = ts[k], hi = ts[k + 1];
    if (!(hi > lo)) continue;
    bool in = false;
    for (const TInterval& o : overlaps) in = in || (o.t0 <= lo && hi <= o.t1);
    if (in) f += hi - lo;
    else defer(0.5 * (lo + hi), hi - lo);
  }
  return f;
}

}  // namespace geoshard::localise
