// Property tests of the segment x cell walk (kernels/segment_walk.h): >= 100,000 random
// segments and >= 100,000 grid-snapped segments, each checked against every invariant of the
// header and against an independent reference (all grid-line crossings in long double, cells
// of the sub-interval midpoints).
#include "kernels/segment_walk.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/geodesic.h"
#include "tests/kernels/test_util.h"

namespace geoshard {
namespace {

using geohash::Cell;
using geoshard::testing::uniform;
using geoshard::testing::uniform_int;

constexpr int kCases = 100000;

double xline(uint64_t k, int p) { return geohash::detail::lon_line32(k << (32 - geohash::lon_bits(p))); }
double yline(uint64_t k, int p) { return geohash::detail::lat_line32(k << (32 - geohash::lat_bits(p))); }

bool in_closed(const geohash::Bounds& b, double x, double y) {
  return b.west <= x && x <= b.east && b.south <= y && y <= b.north;
}

bool are_neighbours(Cell a, Cell b) {
  for (int d = 0; d < 8; ++d)
    if (a.neighbour(static_cast<geohash::Direction>(d)) == b) return true;
  return false;
}

// Reference: cells of the sub-intervals between all grid-line crossings, computed in long
// double; sub-intervals shorter than kTinyDeg are dropped (their midpoint could round onto a
// line). Returns the cells in order with their lengths in degrees.
constexpr double kTinyDeg = 1e-11;
void reference_walk(double x0, double y0, double x1, double y1, int p, std::vector<Cell>& cells) {
  cells.clear();
  const long double dx = static_cast<long double>(x1) - x0, dy = static_cast<long double>(y1) - y0;
  std::vector<long double> ts{0.0L, 1.0L};
  if (dx != 0) {
    const double W = 360.0 / static_cast<double>(geohash::columns(p));
    const int64_t lo = static_cast<int64_t>(std::floor((std::min(x0, x1) + 180.0) / W)) - 1;
    const int64_t hi = static_cast<int64_t>(std::floor((std::max(x0, x1) + 180.0) / W)) + 2;
    for (uint64_t k = static_cast<uint64_t>(std::max<int64_t>(lo, 0));
         k <= std::min<uint64_t>(static_cast<uint64_t>(hi), geohash::columns(p)); ++k) {
      const double X = xline(k, p);
      if (X > std::min(x0, x1) && X < std::max(x0, x1)) ts.push_back((X - static_cast<long double>(x0)) / dx);
    }
  }
  if (dy != 0) {
    const double H = 180.0 / static_cast<double>(geohash::rows(p));
    const int64_t lo = static_cast<int64_t>(std::floor((std::min(y0, y1) + 90.0) / H)) - 1;
    const int64_t hi = static_cast<int64_t>(std::floor((std::max(y0, y1) + 90.0) / H)) + 2;
    for (uint64_t k = static_cast<uint64_t>(std::max<int64_t>(lo, 0));
         k <= std::min<uint64_t>(static_cast<uint64_t>(hi), geohash::rows(p)); ++k) {
      const double Y = yline(k, p);
      if (Y > std::min(y0, y1) && Y < std::max(y0, y1)) ts.push_back((Y - static_cast<long double>(y0)) / dy);
    }
  }
  std::sort(ts.begin(), ts.end());
  const long double len = std::sqrt(dx * dx + dy * dy);
  for (size_t i = 0; i + 1 < ts.size(); ++i) {
    if ((ts[i + 1] - ts[i]) * len < kTinyDeg) continue;
    const long double tm = 0.5L * (ts[i] + ts[i + 1]);
    const Cell c = Cell::from_point(static_cast<double>(x0 + tm * dx), static_cast<double>(y0 + tm * dy), p);
    if (cells.empty() || cells.back() != c) cells.push_back(c);
  }
}

struct WalkStats {
  size_t pieces = 0;
  size_t diagonal_steps = 0;
};

// Checks every invariant of segment_walk.h for one segment; returns "" or a description.
std::string check_walk(double x0, double y0, double x1, double y1, int p, WalkStats* stats = nullptr,
                       bool check_reference = true) {
  std::ostringstream err;
  err.precision(17);
  err << "segment (" << x0 << "," << y0 << ")->(" << x1 << "," << y1 << ") p=" << p << ": ";
  const std::vector<Piece> pieces = walk_segment(x0, y0, x1, y1, p);
  if (pieces.empty()) return err.str() + "no pieces";
  const bool zero = x0 == x1 && y0 == y1;
  if (zero) {
    if (pieces.size() != 1 || pieces[0].t0 != 0.0 || pieces[0].t1 != 1.0 ||
        pieces[0].cell != Cell::from_point(x0, y0, p))
      return err.str() + "zero-length segment must give one piece [0,1] in the point's cell";
    return "";
  }
  if (pieces.front().t0 != 0.0 || pieces.back().t1 != 1.0) return err.str() + "t does not span [0,1]";
  if (pieces.front().x0 != x0 || pieces.front().y0 != y0 || pieces.back().x1 != x1 || pieces.back().y1 != y1)
    return err.str() + "piece chain does not start at A / end at B";
  const double seg_len = std::hypot(x1 - x0, y1 - y0);
  const double seg_m = haversine_m(x0, y0, x1, y1);
  double sum_planar = 0.0, sum_m = 0.0;
  for (size_t k = 0; k < pieces.size(); ++k) {
    const Piece& pc = pieces[k];
    if (pc.cell.precision != p || !pc.cell.is_valid()) return err.str() + "bad cell";
    if (!(pc.t1 > pc.t0)) return err.str() + "zero-length piece " + std::to_string(k);
    if (pc.x0 == pc.x1 && pc.y0 == pc.y1) return err.str() + "piece with equal end points " + std::to_string(k);
    const geohash::Bounds b = pc.cell.bounds();
    if (!in_closed(b, pc.x0, pc.y0) || !in_closed(b, pc.x1, pc.y1))
      return err.str() + "piece end point outside its cell " + std::to_string(k);
    const double plen = std::hypot(pc.x1 - pc.x0, pc.y1 - pc.y0);
    if (plen > 1e-12 * std::max(1.0, seg_len)) {
      const double mx = 0.5 * (pc.x0 + pc.x1), my = 0.5 * (pc.y0 + pc.y1);
      if (!pc.cell.contains_point(mx, my)) return err.str() + "piece midpoint outside half-open cell " + std::to_string(k);
    }
    if (k > 0) {
      const Piece& prev = pieces[k - 1];
      if (prev.t1 != pc.t0) return err.str() + "t gap/overlap at piece " + std::to_string(k);
      if (prev.x1 != pc.x0 || prev.y1 != pc.y0) return err.str() + "end point chain broken at " + std::to_string(k);
      if (!are_neighbours(prev.cell, pc.cell)) return err.str() + "consecutive cells not neighbours at " + std::to_string(k);
      if (stats && prev.cell.ix() != pc.cell.ix() && prev.cell.iy() != pc.cell.iy()) ++stats->diagonal_steps;
      // On the crossed axis the end point is the exact grid line.
      const geohash::Bounds pb = prev.cell.bounds();
      if (prev.cell.ix() != pc.cell.ix() && !(pc.x0 == pb.east || pc.x0 == pb.west))
        return err.str() + "crossing x is not the exact grid line at " + std::to_string(k);
      if (prev.cell.iy() != pc.cell.iy() && !(pc.y0 == pb.north || pc.y0 == pb.south))
        return err.str() + "crossing y is not the exact grid line at " + std::to_string(k);
    }
    sum_planar += plen;
    sum_m += piece_length_m(seg_m, pc.t0, pc.t1);
  }
  // Distinct cells (a straight segment enters a cell once).
  std::vector<Cell> sorted;
  for (const Piece& pc : pieces) sorted.push_back(pc.cell);
  std::sort(sorted.begin(), sorted.end());
  if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) return err.str() + "cell visited twice";
  if (std::fabs(sum_planar - seg_len) > 1e-9 * seg_len) return err.str() + "planar piece lengths do not add up";
  if (std::fabs(sum_m - seg_m) > 1e-9 * seg_m) return err.str() + "piece lengths (m) do not add up";
  if (check_reference) {
    std::vector<Cell> ref;
    reference_walk(x0, y0, x1, y1, p, ref);
    // Every reference cell appears, in order; extra walk cells may only be tiny pieces.
    size_t j = 0;
    for (const Piece& pc : pieces) {
      if (j < ref.size() && ref[j] == pc.cell) {
        ++j;
      } else if (std::hypot(pc.x1 - pc.x0, pc.y1 - pc.y0) > 2 * kTinyDeg) {
        return err.str() + "cell sequence differs from the reference";
      }
    }
    if (j != ref.size()) return err.str() + "reference cell missing from the walk";
  }
  if (stats) stats->pieces += pieces.size();
  return "";
}

void clamp_to_world(double& x, double& y) {
  x = std::clamp(x, -180.0, 180.0);
  y = std::clamp(y, -90.0, 90.0);
}

TEST(SegmentWalk, RandomSegments) {
  std::mt19937_64 rng(11);
  WalkStats stats;
  for (int i = 0; i < kCases; ++i) {
    const int p = static_cast<int>(uniform_int(rng, 1, 9));
    const double W = 360.0 / static_cast<double>(geohash::columns(p)), H = 180.0 / static_cast<double>(geohash::rows(p));
    const double x0 = uniform(rng, -180.0, 180.0), y0 = uniform(rng, -90.0, 90.0);
    const double cells = std::pow(10.0, uniform(rng, -9.0, std::log10(8.0)));  // tiny .. 8 cells
    const double a = uniform(rng, 0.0, 2.0 * M_PI);
    double x1 = x0 + cells * W * std::cos(a), y1 = y0 + cells * H * std::sin(a);
    clamp_to_world(x1, y1);
    const std::string e = check_walk(x0, y0, x1, y1, p, &stats);
    ASSERT_EQ(e, "") << "case " << i;
  }
  EXPECT_GT(stats.pieces, static_cast<size_t>(kCases));
  RecordProperty("pieces", static_cast<int>(stats.pieces));
}

TEST(SegmentWalk, GridSnappedSegments) {
  std::mt19937_64 rng(12);
  WalkStats stats;
  int kinds[6] = {0, 0, 0, 0, 0, 0};
  for (int i = 0; i < kCases; ++i) {
    const int p = static_cast<int>(uniform_int(rng, 1, 9));
    const int64_t ncol = static_cast<int64_t>(geohash::columns(p)), nrow = static_cast<int64_t>(geohash::rows(p));
    const double W = 360.0 / static_cast<double>(ncol), H = 180.0 / static_cast<double>(nrow);
    const int64_t c0 = uniform_int(rng, 0, ncol), r0 = uniform_int(rng, 0, nrow);
    auto cx = [&](int64_t c) { return xline(static_cast<uint64_t>(std::clamp<int64_t>(c, 0, ncol)), p); };
    auto cy = [&](int64_t r) { return yline(static_cast<uint64_t>(std::clamp<int64_t>(r, 0, nrow)), p); };
    double x0, y0, x1, y1;
    const int kind = i % 6;
    ++kinds[kind];
    switch (kind) {
      case 0:  // both end points grid corners
        x0 = cx(c0), y0 = cy(r0);
        x1 = cx(c0 + uniform_int(rng, -4, 4)), y1 = cy(r0 + uniform_int(rng, -4, 4));
        break;
      case 1:  // horizontal along a grid line
        y0 = y1 = cy(r0);
        x0 = uniform(rng, -180.0, 180.0);
        x1 = x0 + uniform(rng, -4.0, 4.0) * W;
        if (uniform_int(rng, 0, 1)) x1 = cx(static_cast<int64_t>(std::floor((x1 + 180.0) / W)));  // on a line
        break;
      case 2:  // vertical along a grid line
        x0 = x1 = cx(c0);
        y0 = uniform(rng, -90.0, 90.0);
        y1 = y0 + uniform(rng, -4.0, 4.0) * H;
        if (uniform_int(rng, 0, 1)) y1 = cy(static_cast<int64_t>(std::floor((y1 + 90.0) / H)));  // on a line
        break;
      case 3: {  // diagonal through a corner, end points off the grid (dyadic fractions: exact)
        const int64_t a = uniform_int(rng, -2, 2), b = uniform_int(rng, -2, 2) | 1;
        const double f = static_cast<double>(uniform_int(rng, 1, 15)) / 16.0;
        const double g = static_cast<double>(uniform_int(rng, 1, 47)) / 16.0;
        x0 = cx(c0) - f * static_cast<double>(a) * W, y0 = cy(r0) - f * static_cast<double>(b) * H;
        x1 = cx(c0) + g * static_cast<double>(a) * W, y1 = cy(r0) + g * static_cast<double>(b) * H;
        break;
      }
      case 4:  // from a point on a vertical grid line to a point on a horizontal one
        x0 = cx(c0), y0 = uniform(rng, -90.0, 90.0);
        x1 = uniform(rng, -180.0, 180.0), y1 = cy(r0);
        x1 = x0 + std::clamp(x1 - x0, -4 * W, 4 * W);
        y1 = y0 + std::clamp(y1 - y0, -4 * H, 4 * H);
        y1 = cy(static_cast<int64_t>(std::floor((y1 + 90.0) / H)));
        break;
      default: {  // end points on a finer grid (edge midpoints, quarter points...)
        const int q = p + static_cast<int>(uniform_int(rng, 1, 2));
        const int64_t fc = c0 << (geohash::lon_bits(q) - geohash::lon_bits(p));
        const int64_t fr = r0 << (geohash::lat_bits(q) - geohash::lat_bits(p));
        const int64_t fn = static_cast<int64_t>(geohash::columns(q)), fm = static_cast<int64_t>(geohash::rows(q));
        x0 = xline(static_cast<uint64_t>(std::clamp<int64_t>(fc + uniform_int(rng, -8, 8), 0, fn)), q);
        y0 = yline(static_cast<uint64_t>(std::clamp<int64_t>(fr + uniform_int(rng, -8, 8), 0, fm)), q);
        x1 = xline(static_cast<uint64_t>(std::clamp<int64_t>(fc + uniform_int(rng, -8, 8), 0, fn)), q);
        y1 = yline(static_cast<uint64_t>(std::clamp<int64_t>(fr + uniform_int(rng, -8, 8), 0, fm)), q);
        break;
      }
    }
    clamp_to_world(x0, y0);
    clamp_to_world(x1, y1);
    const std::string e = check_walk(x0, y0, x1, y1, p, &stats);
    ASSERT_EQ(e, "") << "case " << i << " kind " << kind;
  }
  // Corner crossings really were exercised.
  EXPECT_GT(stats.diagonal_steps, 10000u);
}

std::vector<std::pair<uint64_t, uint64_t>> cols_rows(const std::vector<Piece>& pieces) {
  std::vector<std::pair<uint64_t, uint64_t>> out;
  for (const Piece& p : pieces) out.emplace_back(p.cell.ix(), p.cell.iy());
  return out;
}
using CR = std::vector<std::pair<uint64_t, uint64_t>>;

TEST(SegmentWalk, AlongGridLineBelongsNorthAndEast) {
  // p = 1: 8 columns x 4 rows of 45 degrees.
  auto pieces = walk_segment(-180.0, 0.0, -45.0, 0.0, 1);  // along the equator, eastward
  EXPECT_EQ(cols_rows(pieces), (CR{{0, 2}, {1, 2}, {2, 2}}));
  ASSERT_EQ(pieces.size(), 3u);
  EXPECT_EQ(pieces[0].t1, 1.0 / 3.0);
  EXPECT_EQ(pieces[1].x1, -90.0);
  pieces = walk_segment(-45.0, 0.0, -180.0, 0.0, 1);  // westward: same cells, reverse order
  EXPECT_EQ(cols_rows(pieces), (CR{{2, 2}, {1, 2}, {0, 2}}));
  pieces = walk_segment(0.0, -90.0, 0.0, 90.0, 1);  // along the prime meridian: east column
  EXPECT_EQ(cols_rows(pieces), (CR{{4, 0}, {4, 1}, {4, 2}, {4, 3}}));
  pieces = walk_segment(0.0, 90.0, 0.0, -90.0, 1);
  EXPECT_EQ(cols_rows(pieces), (CR{{4, 3}, {4, 2}, {4, 1}, {4, 0}}));
}

TEST(SegmentWalk, DiagonalThroughCornersSkipsTouchingCells) {
  auto pieces = walk_segment(0.0, 0.0, 90.0, 90.0, 1);
  EXPECT_EQ(cols_rows(pieces), (CR{{4, 2}, {5, 3}}));
  pieces = walk_segment(90.0, 90.0, 0.0, 0.0, 1);
  EXPECT_EQ(cols_rows(pieces), (CR{{5, 3}, {4, 2}}));
  pieces = walk_segment(-10.0, 10.0, 55.0, -55.0, 1);  // through corner (0,0) and (45,-45), heading SE
  EXPECT_EQ(cols_rows(pieces), (CR{{3, 2}, {4, 1}, {5, 0}}));
  ASSERT_EQ(pieces.size(), 3u);
  EXPECT_EQ(pieces[0].x1, 0.0);
  EXPECT_EQ(pieces[0].y1, 0.0);
  EXPECT_EQ(check_walk(-10.0, 10.0, 55.0, -55.0, 1), "");
}

TEST(SegmentWalk, AntimeridianAndPoles) {
  for (int p = 1; p <= 9; ++p) {
    const uint64_t last_col = geohash::columns(p) - 1, top_row = geohash::rows(p) - 1;
    const double H = 180.0 / static_cast<double>(geohash::rows(p));
    // Ending / starting on +-180.
    EXPECT_EQ(check_walk(179.0, 10.0, 180.0, 10.2, p), "") << p;
    EXPECT_EQ(check_walk(180.0, 10.0, 179.0, 10.2, p), "") << p;
    EXPECT_EQ(check_walk(-180.0, -10.0, -179.0, -10.2, p), "") << p;
    EXPECT_EQ(check_walk(-179.0, -10.0, -180.0, -10.2, p), "") << p;
    // Along lon = +180: last column; along -180: first column.
    const double h3 = std::min(3 * H, 80.0);
    for (const Piece& pc : walk_segment(180.0, -h3, 180.0, h3, p)) EXPECT_EQ(pc.cell.ix(), last_col);
    for (const Piece& pc : walk_segment(-180.0, h3, -180.0, -h3, p)) EXPECT_EQ(pc.cell.ix(), 0u);
    EXPECT_EQ(check_walk(180.0, -h3, 180.0, h3, p), "");
    // Along the poles: top / bottom row.
    for (const Piece& pc : walk_segment(10.0, 90.0, 20.0, 90.0, p)) EXPECT_EQ(pc.cell.iy(), top_row);
    for (const Piece& pc : walk_segment(20.0, -90.0, 10.0, -90.0, p)) EXPECT_EQ(pc.cell.iy(), 0u);
    EXPECT_EQ(check_walk(10.0, 90.0, 20.0, 90.0, p), "");
    EXPECT_EQ(check_walk(10.0, 89.0, 10.0, 90.0, p), "");
    EXPECT_EQ(check_walk(10.0, -90.0, 10.5, -89.0, p), "");
    // The world's corner.
    EXPECT_EQ(check_walk(179.5, 89.5, 180.0, 90.0, p), "");
    EXPECT_EQ(check_walk(180.0, 90.0, 179.5, 89.5, p), "");
    EXPECT_EQ(walk_segment(180.0, 90.0, 179.5, 89.5, p).front().cell, Cell::from_xy(last_col, top_row, p));
  }
}

TEST(SegmentWalk, ZeroLengthSegment) {
  std::mt19937_64 rng(13);
  for (int i = 0; i < 1000; ++i) {
    const int p = static_cast<int>(uniform_int(rng, 0, 12));
    double x = uniform(rng, -180.0, 180.0), y = uniform(rng, -90.0, 90.0);
    if (i % 2) x = xline(static_cast<uint64_t>(uniform_int(rng, 0, geohash::columns(p))), p);
    if (i % 4 < 2) y = yline(static_cast<uint64_t>(uniform_int(rng, 0, geohash::rows(p))), p);
    const auto pieces = walk_segment(x, y, x, y, p);
    ASSERT_EQ(pieces.size(), 1u);
    EXPECT_EQ(pieces[0].t0, 0.0);
    EXPECT_EQ(pieces[0].t1, 1.0);
    EXPECT_EQ(pieces[0].cell, Cell::from_point(x, y, p));
    EXPECT_EQ(piece_length_m(haversine_m(x, y, x, y), pieces[0].t0, pieces[0].t1), 0.0);
  }
  // At a grid corner: the cell north-east of it.
  EXPECT_EQ(walk_segment(0.0, 0.0, 0.0, 0.0, 1)[0].cell, Cell::from_xy(4, 2, 1));
}

TEST(SegmentWalk, PrecisionZeroAndTwelve) {
  auto pieces = walk_segment(-170.0, -80.0, 170.0, 80.0, 0);
  ASSERT_EQ(pieces.size(), 1u);
  EXPECT_EQ(pieces[0].cell, Cell::world());
  // Precision 12: cells of ~3.4e-7 x 1.7e-7 degrees; a 1e-5 degree segment crosses ~90 cells.
  EXPECT_EQ(check_walk(10.0, 20.0, 10.00001, 20.000007, 12), "");
  EXPECT_GT(walk_segment(10.0, 20.0, 10.00001, 20.000007, 12).size(), 50u);
}

// The constructor given A's cell key walks exactly as the one that finds it: same pieces, bit
// for bit, on random and grid-snapped segments at every precision, with the key at the cell's
// precision (key_lo) and the full zkey.
TEST(SegmentWalk, GivenStartKeyWalksTheSame) {
  std::mt19937_64 rng(12);
  size_t pieces = 0;
  for (int i = 0; i < kCases; ++i) {
    const int p = static_cast<int>(uniform_int(rng, 0, 12));
    const double W = 360.0 / static_cast<double>(geohash::columns(p)), H = 180.0 / static_cast<double>(geohash::rows(p));
    double x0 = uniform(rng, -180.0, 180.0), y0 = uniform(rng, -90.0, 90.0);
    if (i % 3 == 0) {  // A on a grid line or corner
      x0 = std::min(180.0, -180.0 + W * std::floor((x0 + 180.0) / W));
      if (i % 2 == 0) y0 = std::min(90.0, -90.0 + H * std::floor((y0 + 90.0) / H));
    }
    const double cells = std::pow(10.0, uniform(rng, -9.0, std::log10(8.0)));
    const double a = i % 5 == 0 ? M_PI * static_cast<double>(uniform_int(rng, 0, 7)) / 4 : uniform(rng, 0.0, 2.0 * M_PI);
    double x1 = x0 + cells * W * std::cos(a), y1 = y0 + cells * H * std::sin(a);
    clamp_to_world(x1, y1);
    const uint64_t z = geohash::zkey(x0, y0);
    const uint64_t key_lo = p == 0 ? 0 : z & ~(~uint64_t{0} >> (5 * p));
    SegmentWalker plain(x0, y0, x1, y1, p), keyed(x0, y0, x1, y1, p, key_lo), full(x0, y0, x1, y1, p, z);
    for (Piece u; plain.next(u);) {
      Piece k, f;
      ASSERT_TRUE(keyed.next(k)) << "case " << i;
      ASSERT_TRUE(full.next(f)) << "case " << i;
      for (const Piece* q : {&k, &f}) {
        ASSERT_EQ(q->cell, u.cell) << "case " << i;
        ASSERT_EQ(q->t0, u.t0);
        ASSERT_EQ(q->t1, u.t1);
        ASSERT_EQ(q->x0, u.x0);
        ASSERT_EQ(q->y0, u.y0);
        ASSERT_EQ(q->x1, u.x1);
        ASSERT_EQ(q->y1, u.y1);
      }
      ++pieces;
    }
    Piece extra;
    ASSERT_FALSE(keyed.next(extra));
    ASSERT_FALSE(full.next(extra));
  }
  EXPECT_GT(pieces, static_cast<size_t>(kCases));
}

TEST(SegmentWalk, WalkerMatchesVectorApi) {
  SegmentWalker w(1.0, 2.0, 3.0, 4.0, 3);
  std::vector<Piece> a;
  for (Piece p; w.next(p);) a.push_back(p);
  EXPECT_TRUE(w.done());
  Piece extra;
  EXPECT_FALSE(w.next(extra));
  const auto b = walk_segment(1.0, 2.0, 3.0, 4.0, 3);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].cell, b[i].cell);
}

}  // namespace
}  // namespace geoshard
