// Segment x cell walk: splits one road segment into the pieces that fall in each geohash cell of
// one precision -- the "localise" step of DESIGN.md ("split each road into the pieces that fall
// in each cell, with their lengths").
//
// Geometry is planar in lon/lat (as in GEOS): the segment is the straight line
// P(t) = A + t (B - A), t in [0, 1]. The walk yields, in order from A to B, every cell whose
// half-open area [west,east) x [south,north) (geohash.h) contains a positive-length part of the
// segment, with that part as a Piece: the cell, its parameter range [t0, t1] and its end points.
//
// Rules (all decided EXACTLY: comparisons against the exact dyadic grid lines, and the exact
// orient2d predicate to decide whether the segment passes left of, right of or through a cell
// corner -- no epsilon anywhere):
//   * Cells are visited in order; each one once per entry (a segment is straight, so a cell is
//     entered at most once).
//   * A segment passing exactly through a grid corner steps diagonally: no zero-length piece in
//     the cells that only touch the corner, and no cell with a positive-length part is skipped.
//   * A segment (or part) lying exactly on a grid line belongs to the cell north (horizontal
//     line) or east (vertical line) of it -- the half-open rule of zkey(), so no length is counted
//     twice. On lon = +180 / lat = +90 it belongs to the last column / top row.
//   * The first piece starts at t0 = 0, the last ends at t1 = 1, and t0 of piece k+1 equals
//     t1 of piece k (bitwise), so the t-ranges partition [0, 1].
//   * Piece end points on a grid line carry the exact grid coordinate on the crossed axis (the
//     other coordinate is computed, then clamped into the cell's closed range and between the
//     previous piece end and B, so coordinates are monotone along the walk). Every piece's end points lie in its cell's closed bounds.
//   * A zero-length segment (A == B) yields exactly one piece, t in [0, 1], of length 0, in the
//     cell containing the point.
//   * Lengths: piece_length_m(haversine of the segment, t0, t1) (geodesic.h) -- additive.
//
// Numerical note: the cell SEQUENCE is exact; the t values and the computed coordinate of a
// crossing are rounded (a few ulps). t is clamped to be non-decreasing, so when a segment passes
// within a few ulps of a corner without touching it, the tiny piece in the corner-adjacent cell
// can get t1 == t0 (its geometric length is below rounding anyway). Random and grid-snapped
// segments in tests/kernels never hit this.
//
// Preconditions: finite endpoints with lon in [-180, 180], lat in [-90, 90]; the segment does
// not cross the antimeridian (the caller splits such a segment into two at +-180 first); precision
// in 0..12. The walk visits one cell per crossed grid line, so a segment spanning many cells at a
// fine precision yields many pieces (caller chooses the precision).
//
// SegmentWalker is a small value type that never allocates: usable in CUDA kernels. Example:
//   SegmentWalker w(lon0, lat0, lon1, lat1, 7);
//   for (Piece p; w.next(p);) use(p.cell, p.t0, p.t1);
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/geohash.h"
#include "kernels/hd.h"
#include "kernels/predicates.h"

namespace geoshard {

struct Piece {
  geohash::Cell cell;
  double t0 = 0.0, t1 = 0.0;              // parameter range along the segment
  double x0 = 0.0, y0 = 0.0, x1 = 0.0, y1 = 0.0;  // end points (lon, lat) of the piece
};

class SegmentWalker {
 public:
  GEOSHARD_HD SegmentWalker(double x0, double y0, double x1, double y1, int precision)
      : SegmentWalker(x0, y0, x1, y1, precision, Fields{}) {
    // Cell of the first positive-length part: the half-open cell of A, except that when A lies
    // on a grid line and the segment heads west (south), the part lies in the column (row)
    // west (south) of that line.
    // 64-bit shifts: at precision 0 the shift is 32, undefined for a 32-bit value (UBSan).
    start(uint64_t{geohash::detail::lon_index32(x0)}, uint64_t{geohash::detail::lat_index32(y0)});
  }
  // The same walk when the caller already has A's cell: a_key = geohash::zkey(x0, y0) with the
  // bits below the cell of `precision` cleared (or zkey itself). Saves the exact index search.
  GEOSHARD_HD SegmentWalker(double x0, double y0, double x1, double y1, int precision, uint64_t a_key)
      : SegmentWalker(x0, y0, x1, y1, precision, Fields{}) {
    start(uint64_t{geohash::detail::compact32(a_key >> 1)}, uint64_t{geohash::detail::compact32(a_key)});
  }

  // Writes the next piece into `out` and returns true, or returns false when the walk is over.
  GEOSHARD_HD bool next(Piece& out) {
    if (done_) return false;
    out.cell = geohash::Cell::from_xy(col_, row_, precision_);
    out.t0 = t_;
    out.x0 = px_;
    out.y0 = py_;

    // Next vertical / horizontal grid line ahead, and whether the segment strictly passes it
    // (ending exactly on a line is not a crossing: the end point stays in this cell).
    double X = 0.0, Y = 0.0;
    bool cross_x = false, cross_y = false;
    if (sx_ > 0 && col_ + 1 < ncol_) { X = xline(col_ + 1); cross_x = bx_ > X; }
    if (sx_ < 0 && col_ > 0) { X = xline(col_); cross_x = bx_ < X; }
    if (sy_ > 0 && row_ + 1 < nrow_) { Y = yline(row_ + 1); cross_y = by_ > Y; }
    if (sy_ < 0 && row_ > 0) { Y = yline(row_); cross_y = by_ < Y; }

    if (!cross_x && !cross_y) {
      out.t1 = 1.0;
      out.x1 = bx_;
      out.y1 = by_;
      done_ = true;
      return true;
    }

    // Which line comes first? With both ahead, the side of the corner C = (X, Y) relative to
    // the directed segment decides: t_x < t_y  <=>  orient(A, B, C) * sx * sy > 0 (multiply
    // (X-ax)/dx < (Y-ay)/dy by dx*dy); orient == 0 means the segment runs through C.
    int event = cross_x ? 1 : 2;  // 1: vertical line, 2: horizontal line, 3: corner
    if (cross_x && cross_y) {
      const int o = orient2d_sign(ax_, ay_, bx_, by_, X, Y) * sx_ * sy_;
      event = o > 0 ? 1 : (o < 0 ? 2 : 3);
    }

    double t, nx, ny;
    if (event == 1) {
      t = (X - ax_) / dx_;
      nx = X;
      ny = clamp_y(ay_ + (X - ax_) * (dy_ / dx_));
      col_ += sx_ > 0 ? 1 : -1;
    } else if (event == 2) {
      t = (Y - ay_) / dy_;
      ny = Y;
      nx = clamp_x(ax_ + (Y - ay_) * (dx_ / dy_));
      row_ += sy_ > 0 ? 1 : -1;
    } else {
      // Through the corner: compute t along the longer axis (smaller relative error).
      t = fabs(dx_) >= fabs(dy_) ? (X - ax_) / dx_ : (Y - ay_) / dy_;
      nx = X;
      ny = Y;
      col_ += sx_ > 0 ? 1 : -1;
      row_ += sy_ > 0 ? 1 : -1;
    }
    // Keep the t sequence monotone within [0, 1] despite rounding (see header).
    if (t < t_) t = t_;
    if (t > 1.0) t = 1.0;
    out.t1 = t;
    out.x1 = nx;
    out.y1 = ny;
    t_ = t;
    px_ = nx;
    py_ = ny;
    return true;
  }

  GEOSHARD_HD bool done() const { return done_; }

 private:
  // Exact grid lines of this precision: column k spans [xline(k), xline(k+1)).
  GEOSHARD_HD double xline(uint64_t k) const { return geohash::detail::lon_line32(k << shift_x_); }
  GEOSHARD_HD double yline(uint64_t k) const { return geohash::detail::lat_line32(k << shift_y_); }

  // Every field but the start cell (the public constructors then call start()).
  struct Fields {};
  GEOSHARD_HD SegmentWalker(double x0, double y0, double x1, double y1, int precision, Fields)
      : ax_(x0), ay_(y0), bx_(x1), by_(y1), dx_(x1 - x0), dy_(y1 - y0),
        sx_((x1 > x0) - (x1 < x0)), sy_((y1 > y0) - (y1 < y0)),
        precision_(precision),
        shift_x_(32 - geohash::lon_bits(precision)), shift_y_(32 - geohash::lat_bits(precision)),
        ncol_(geohash::columns(precision)), nrow_(geohash::rows(precision)),
        px_(x0), py_(y0) {}
  // col_, row_ from A's 32-bit column and row indices (see the first constructor).
  GEOSHARD_HD void start(uint64_t ix32, uint64_t iy32) {
    col_ = ix32 >> shift_x_;
    row_ = iy32 >> shift_y_;
    if (sx_ < 0 && col_ > 0 && ax_ == xline(col_)) --col_;
    if (sy_ < 0 && row_ > 0 && ay_ == yline(row_)) --row_;
  }
  // A computed crossing coordinate, clamped into the current cell's closed range on that axis
  // and between the current piece's start and the segment's end (so coordinates along the walk
  // are monotone): the exact value satisfies both, rounding may not.
  GEOSHARD_HD double clamp_range(double v, double lo, double hi, double a, double b) const {
    const double smin = a < b ? a : b, smax = a < b ? b : a;
    if (smin > lo) lo = smin;
    if (smax < hi) hi = smax;
    return v < lo ? lo : (v > hi ? hi : v);
  }
  GEOSHARD_HD double clamp_y(double y) const {
    return clamp_range(y, yline(row_), yline(row_ + 1), py_, by_);
  }
  GEOSHARD_HD double clamp_x(double x) const {
    return clamp_range(x, xline(col_), xline(col_ + 1), px_, bx_);
  }

  double ax_, ay_, bx_, by_, dx_, dy_;
  int sx_, sy_;
  int precision_;
  int shift_x_, shift_y_;
  uint64_t ncol_, nrow_;
  uint64_t col_ = 0, row_ = 0;
  double t_ = 0.0;
  double px_, py_;
  bool done_ = false;
};

// Host convenience: all pieces of the segment at `precision`.
inline std::vector<Piece> walk_segment(double x0, double y0, double x1, double y1, int precision) {
  std::vector<Piece> pieces;
  SegmentWalker walker(x0, y0, x1, y1, precision);
  for (Piece p; walker.next(p);) pieces.push_back(p);
  return pieces;
}

}  // namespace geoshard
