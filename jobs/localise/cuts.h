// The exact cut of a road segment by the ORIGINAL edges of an area, shared by the geohash and
// the S2 localisers through pip_batcher.h: each edge's cut comes from kernels/polygon.h
// edge_cut (exact orientation predicates on exact coordinates, on the original segment, so a
// road drawn along a border stays collinear with it and counts as inside, as GEOS says); every
// other sub-interval between cuts is decided by its midpoint.
#pragma once

#include <algorithm>
#include <vector>

#include "kernels/polygon.h"
#include "kernels/predicates.h"

namespace geoshard::localise {

// Adds an edge's cut (kernels/polygon.h edge_cut) to the sub-interval ends `ts`, and a
// collinear overlap also to `overlaps`.
inline void add_cut(const EdgeCut& c, std::vector<double>& ts, std::vector<TInterval>& overlaps) {
  if (c.kind == EdgeCut::kCut) {
    ts.push_back(c.ta);
  } else if (c.kind == EdgeCut::kOverlap) {
    overlaps.push_back(TInterval{c.ta, c.tb});
    ts.push_back(c.ta);
    ts.push_back(c.tb);
  }
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
