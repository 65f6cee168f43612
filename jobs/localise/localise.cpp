#include "jobs/localise/localise.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <set>
#include <stdexcept>

#include "jobs/localise/cell_keys.h"
#include "jobs/localise/lengths.h"
#include "jobs/localise/pip_batcher.h"
#include "kernels/cpu.h"
#include "kernels/geodesic.h"
#include "kernels/geohash.h"
#include "kernels/polygon.h"
#include "kernels/segment_walk.h"

namespace geoshard::localise {
namespace {

// advise_huge_pages (kernels/cpu.h) for v's reserved but unused room.
template <class T>
void advise_huge_tail(std::vector<T>& v) {
  advise_huge_pages(v.data() + v.size(), (v.capacity() - v.size()) * sizeof(T));
}

// The full rings of area a (all polygons; even-odd over them is the area, as the polygons of a
// valid multipolygon do not overlap).
RingSet area_rings(const AreaLayer& l, uint32_t a) {
  const uint64_t r0 = l.ring_offset[l.polygon_offset[a]];
  const uint64_t r1 = l.ring_offset[l.polygon_offset[a + 1]];
  RingSet rs;
  rs.lon = l.lon.data();
  rs.lat = l.lat.data();
  rs.ring_offsets = l.vertex_offset.data() + r0;
  rs.n_rings = r1 - r0;
  return rs;
}

// Fraction of the piece (x0,y0)-(x1,y1) inside the closed ring set.
double inside_fraction(const RingSet& rings, double x0, double y0, double x1, double y1,
                       std::vector<double>& scratch, std::vector<TInterval>& out) {
  const uint64_t ns = clip_scratch_size(rings), no = clip_output_capacity(rings);
  if (scratch.size() < ns) scratch.resize(ns);
  if (out.size() < no) out.resize(no);
  uint64_t n = 0;
  const ClipStatus st = clip_segment(rings, x0, y0, x1, y1, scratch.data(), scratch.size(), out.data(), out.size(), &n);
  if (st != ClipStatus::kOk) throw std::logic_error("clip_segment: buffers too small");
  double f = 0;
  for (uint64_t i = 0; i < n; ++i) f += out[i].t1 - out[i].t0;
  return f;
}

// Every original edge of every area, by the cells of precision p it runs through (the walk's
// half-open rule: an edge along a grid line is listed in the cell north/east of it; a road piece
// strictly inside a cell meets such an edge at most at its end, which is a cut already).
void index_edges(LayerData& d, int p) {
  const AreaLayer& l = d.areas;
  for (uint32_t a = 0; a < l.areas(); ++a) {
    const uint64_t r0 = l.ring_offset[l.polygon_offset[a]], r1 = l.ring_offset[l.polygon_offset[a + 1]];
    for (uint64_t r = r0; r < r1; ++r) {
      for (uint64_t v = l.vertex_offset[r]; v + 1 < l.vertex_offset[r + 1]; ++v) {
        if (l.lon[v] == l.lon[v + 1] && l.lat[v] == l.lat[v + 1]) continue;
        SegmentWalker w(l.lon[v], l.lat[v], l.lon[v + 1], l.lat[v + 1], p);
        for (Piece pc; w.next(pc);) d.edges.push_back(CellEdge{pc.cell.key_lo(), a, v});
      }
    }
  }
  std::sort(d.edges.begin(), d.edges.end(), [](const CellEdge& x, const CellEdge& y) {
    if (x.key != y.key) return x.key < y.key;
    if (x.area != y.area) return x.area < y.area;
    return x.v < y.v;
  });
}

// In a boundary cell, the part of a segment inside area `a` is found from the area's ORIGINAL
// edges in the cell (exact predicates on exact coordinates, on the original segment, so a road
// drawn along a border stays collinear with it: inside, as GEOS says); each sub-interval between
// cuts is inside when it overlaps an edge collinearly, else by its midpoint against the area
// clipped to the cell (equal to the area in the open cell): the localiser hands the segment and
// the edges to the batcher (pip_batcher.h), which cuts and tests in batches.
// The edges of area a in the cell with key_lo cell_key: a range of d.edges.
std::pair<const CellEdge*, const CellEdge*> cell_edges(const LayerData& d, uint64_t cell_key, uint32_t a) {
  auto cmp = [](const CellEdge& x, const CellEdge& y) { return x.key != y.key ? x.key < y.key : x.area < y.area; };
  const auto r = std::equal_range(d.edges.begin(), d.edges.end(), CellEdge{cell_key, a, 0}, cmp);
  return {d.edges.data() + (r.first - d.edges.begin()), d.edges.data() + (r.second - d.edges.begin())};
}

// x - 1e-9 rounded down to a float / x + 1e-9 rounded up: the box is then at least 1e-9 degrees
// wider than the exact values on every side, far beyond the rounding of a walk's piece ends or
// of a cut job's midpoints (~1e-14 degrees).
float float_below(double x) {
  const double v = x - 1e-9;
  float f = static_cast<float>(v);
  if (static_cast<double>(f) > v) f = std::nextafter(f, -std::numeric_limits<float>::infinity());
  return f;
}
float float_above(double x) {
  const double v = x + 1e-9;
  float f = static_cast<float>(v);
  if (static_cast<double>(f) < v) f = std::nextafter(f, std::numeric_limits<float>::infinity());
  return f;
}

}  // namespace

std::vector<int8_t> area_sides(const AreaLayer& l) {
  std::vector<int8_t> left(l.lon.size(), 0);
  for (size_t p = 0; p + 1 < l.ring_offset.size(); ++p) {
    for (uint64_t r = l.ring_offset[p]; r < l.ring_offset[p + 1]; ++r) {
      const uint64_t v0 = l.vertex_offset[r], v1 = l.vertex_offset[r + 1];
      if (v1 - v0 < 3) continue;
      const double twice = twice_signed_area(l.lon.data() + v0, l.lat.data() + v0, v1 - v0, l.lon[v0], l.lat[v0]);
      if (!(twice != 0)) continue;  // degenerate or NaN: no side
      const bool shell = r == l.ring_offset[p];
      const int8_t side = (twice > 0) == shell ? 1 : -1;
      std::fill(left.begin() + static_cast<ptrdiff_t>(v0), left.begin() + static_cast<ptrdiff_t>(v1), side);
    }
  }
  return left;
}

// Per entry of layer d: for a BOUNDARY entry whose interval is one cell (edges indexed in ee), the
// box of its clipped piece's vertices and of its edges clipped to the cell; else infinite. A
// piece of a road in the open cell that lies in the area, or runs along one of its edges, lies
// in that region (the clipped rings equal the area in the closed cell up to one rounded
// coordinate on the cell's edges), so a piece whose box misses it has no length in the area.
std::vector<Localiser::EntryBox> Localiser::entry_boxes(const LayerData& d, const std::vector<uint64_t>& ee, int p) {
  const CoverageLayer& c = d.coverage;
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<EntryBox> boxes(c.entry_area.size(), EntryBox{-inf, -inf, inf, inf});
  for (size_t i = 0; i < c.intervals(); ++i) {
    for (uint64_t e = c.entry_offset[i]; e < c.entry_offset[i + 1]; ++e) {
      if (c.entry_kind[e] == static_cast<uint8_t>(CoverKind::kInterior) || ee[2 * e] > ee[2 * e + 1]) continue;
      if (c.entry_piece[e] < 0) continue;
      const auto piece = static_cast<uint64_t>(c.entry_piece[e]);
      double w = std::numeric_limits<double>::infinity(), s = w, east = -w, n = -w;
      auto add = [&](double x0, double y0, double x1, double y1) {
        w = std::min(w, x0), s = std::min(s, y0), east = std::max(east, x1), n = std::max(n, y1);
      };
      bool finite = true;
      for (uint64_t r = c.piece_ring_offset[piece]; r < c.piece_ring_offset[piece + 1]; ++r)
        for (uint64_t v = c.ring_vertex_offset[r]; v < c.ring_vertex_offset[r + 1]; ++v) {
          finite = finite && std::isfinite(c.lon[v]) && std::isfinite(c.lat[v]);
          add(c.lon[v], c.lat[v], c.lon[v], c.lat[v]);
        }
      const geohash::Bounds cb = geohash::Cell::from_key(c.lo[i], p).bounds();
      const AreaLayer& l = d.areas;
      for (uint64_t k = ee[2 * e]; k < ee[2 * e + 1]; ++k) {
        const uint64_t v = d.edges[k].v;
        const double x0 = std::max(std::min(l.lon[v], l.lon[v + 1]), cb.west);
        const double x1 = std::min(std::max(l.lon[v], l.lon[v + 1]), cb.east);
        const double y0 = std::max(std::min(l.lat[v], l.lat[v + 1]), cb.south);
        const double y1 = std::min(std::max(l.lat[v], l.lat[v + 1]), cb.north);
        if (x0 <= x1 && y0 <= y1) add(x0, y0, x1, y1);
      }
      // Nothing to bound by, or values a float cannot hold (never for valid lon/lat): keep the
      // infinite box.
      if (!finite || !(w <= east && s <= n) || !(w >= -1e6 && s >= -1e6 && east <= 1e6 && n <= 1e6)) continue;
      boxes[e] = EntryBox{float_below(w), float_below(s), float_above(east), float_above(n)};
    }
  }
  return boxes;
}

// Convex: every turn of the closed ring has the same sign or is straight (exact orient2d), and its
// edges' x and y directions each change sign exactly twice around the ring (it turns once: no
// star, no spike, no self-crossing).
int convex_orientation(const AreaLayer& l, uint32_t a, uint64_t max_vertices) {
  if (l.polygon_offset[a + 1] - l.polygon_offset[a] != 1) return 0;
  const uint64_t r = l.ring_offset[l.polygon_offset[a]];
  if (l.ring_offset[l.polygon_offset[a] + 1] - r != 1) return 0;
  const uint64_t v0 = l.vertex_offset[r], v1 = l.vertex_offset[r + 1];
  if (v1 - v0 < 4 || v1 - v0 > max_vertices + 1) return 0;  // closed: the last vertex repeats the first
  const double* x = l.lon.data() + v0;
  const double* y = l.lat.data() + v0;
  const size_t n = v1 - v0 - 1;  // distinct vertices
  if (x[0] != x[n] || y[0] != y[n]) return 0;
  for (size_t k = 0; k <= n; ++k)
    if (!std::isfinite(x[k]) || !std::isfinite(y[k])) return 0;
  int sign = 0, x_changes = 0, y_changes = 0, last_dx = 0, last_dy = 0, first_dx = 0, first_dy = 0;
  for (size_t k = 0; k < n; ++k) {
    const size_t k1 = k + 1, k2 = (k + 2) % n;  // edge k -> k1 and its successor k1 -> k2 (k1 <= n)
    if (x[k] == x[k1] && y[k] == y[k1]) return 0;  // a repeated vertex
    const int t = orient2d_sign(x[k], y[k], x[k1], y[k1], x[k2], y[k2]);
    if (t != 0) {
      if (sign != 0 && t != sign) return 0;
      sign = t;
    }
    const int dx = (x[k1] > x[k]) - (x[k1] < x[k]), dy = (y[k1] > y[k]) - (y[k1] < y[k]);
    if (dx != 0) {
      if (last_dx != 0 && dx != last_dx) ++x_changes;
      if (first_dx == 0) first_dx = dx;
      last_dx = dx;
    }
    if (dy != 0) {
      if (last_dy != 0 && dy != last_dy) ++y_changes;
      if (first_dy == 0) first_dy = dy;
      last_dy = dy;
    }
  }
  if (last_dx != first_dx) ++x_changes;  // around the closing vertex
  if (last_dy != first_dy) ++y_changes;
  return x_changes == 2 && y_changes == 2 ? sign : 0;
}

bool id_less(const std::string& a, const std::string& b) {
  int64_t x, y;
  const auto ra = std::from_chars(a.data(), a.data() + a.size(), x);
  const auto rb = std::from_chars(b.data(), b.data() + b.size(), y);
  const bool ia = ra.ec == std::errc() && ra.ptr == a.data() + a.size() && !a.empty();
  const bool ib = rb.ec == std::errc() && rb.ptr == b.data() + b.size() && !b.empty();
  if (ia && ib) return x < y;
  return a < b;
}

int64_t primary_area(const std::vector<Hit>& hits, const AreaLayer& areas) {
  int64_t best = -1;
  double best_len = 0;
  for (const Hit& h : hits) {
    if (best < 0 || h.length_m > best_len ||
        (h.length_m == best_len && id_less(areas.id[h.area], areas.id[static_cast<size_t>(best)]))) {
      best = h.area;
      best_len = h.length_m;
    }
  }
  return best;
}

std::vector<std::string> layer_names(const std::string& coverage_path, const std::vector<std::string>& layers) {
  std::vector<std::string> names = layers.empty() ? coverage_layer_names(coverage_path) : layers;
  if (names.empty()) throw std::runtime_error("coverage '" + coverage_path + "' has no layer");
  std::set<std::string> seen;
  for (const auto& n : names)
    if (!seen.insert(n).second) throw std::runtime_error("layer '" + n + "' named twice");
  return names;
}

Localiser::Localiser(const std::string& coverage_path, const std::vector<std::string>& layers, backend::Choice backend)
    : backend_(std::move(backend)) {
  for (const auto& n : layer_names(coverage_path, layers)) {
    LayerData d{read_coverage_layer(coverage_path, n), read_coverage_areas(coverage_path, n), {}, {}};
    check_coverage_layer(d.coverage, d.areas, coverage_path);
    if (d.coverage.grid != "geohash")
      throw std::runtime_error("coverage '" + coverage_path + "' layer '" + n + "' uses grid '" + d.coverage.grid +
                               "'; this localiser walks geohash cells");
    if (layers_.empty()) precision_ = d.coverage.precision;
    if (d.coverage.precision != precision_)
      throw std::runtime_error("coverage '" + coverage_path + "': layers have different precisions");
    if (d.coverage.pieces() >= UINT32_MAX)
      throw std::runtime_error("coverage '" + coverage_path + "' layer '" + n + "': more than 2^32 - 1 clipped pieces");
    index_edges(d, precision_);
    d.area_left = area_sides(d.areas);
    std::vector<uint8_t> io(d.coverage.intervals(), 1);
    for (size_t i = 0; i < io.size(); ++i)
      for (uint64_t e = d.coverage.entry_offset[i]; e < d.coverage.entry_offset[i + 1]; ++e)
        if (d.coverage.entry_kind[e] != static_cast<uint8_t>(CoverKind::kInterior)) io[i] = 0;
    interior_only_.push_back(std::move(io));
    std::vector<uint64_t> hs;
    for (size_t i = 0; i < d.coverage.intervals(); i += kHiStride)
      hs.push_back(d.coverage.hi[std::min(i + kHiStride, d.coverage.intervals()) - 1]);
    hi_summary_.push_back(std::move(hs));
    // Per entry e: its edges are edges[ee[2e], ee[2e+1]) when its interval is one cell of the
    // precision; ee[2e] > ee[2e+1] marks "look up by the piece's cell".
    const CoverageLayer& c = d.coverage;
    std::vector<uint64_t> ee(2 * c.entry_area.size(), 0);
    const uint64_t cell_span = ~uint64_t{0} >> (5 * precision_);
    for (size_t i = 0; i < c.intervals(); ++i) {
      const bool one_cell = c.hi[i] - c.lo[i] == cell_span;
      for (uint64_t e = c.entry_offset[i]; e < c.entry_offset[i + 1]; ++e) {
        if (c.entry_kind[e] == static_cast<uint8_t>(CoverKind::kInterior)) continue;
        if (one_cell) {
          const auto r = cell_edges(d, c.lo[i], c.entry_area[e]);
          ee[2 * e] = r.first - d.edges.data();
          ee[2 * e + 1] = r.second - d.edges.data();
        } else {
          ee[2 * e] = 1;
          ee[2 * e + 1] = 0;
        }
      }
    }
    entry_box_.push_back(entry_boxes(d, ee, precision_));
    std::vector<int8_t> cv(d.areas.areas());
    for (uint32_t a = 0; a < cv.size(); ++a) cv[a] = static_cast<int8_t>(convex_orientation(d.areas, a, kConvexMaxVertices));
    any_convex_.push_back(std::any_of(cv.begin(), cv.end(), [](int8_t v) { return v != 0; }));
    convex_.push_back(std::move(cv));
    // The areas' boxes from their vertices (not the stored boxes: a grid that trusted a wrong
    // box would settle a road that meets the area). A non-finite vertex (the coverage's areas
    // are checked for structure only) would be passed over by min / max: no grid then.
    const AreaLayer& al = d.areas;
    std::vector<double> bx0(al.areas(), INFINITY), by0(al.areas(), INFINITY), bx1(al.areas(), -INFINITY),
        by1(al.areas(), -INFINITY);
    bool finite = true;
    for (uint32_t a = 0; a < al.areas(); ++a)
      for (uint64_t v = al.vertex_offset[al.ring_offset[al.polygon_offset[a]]];
           v < al.vertex_offset[al.ring_offset[al.polygon_offset[a + 1]]]; ++v) {
        finite &= std::isfinite(al.lon[v]) && std::isfinite(al.lat[v]);
        bx0[a] = std::min(bx0[a], al.lon[v]);
        by0[a] = std::min(by0[a], al.lat[v]);
        bx1[a] = std::max(bx1[a], al.lon[v]);
        by1[a] = std::max(by1[a], al.lat[v]);
      }
    BoxGrid grid(bx0, by0, bx1, by1);
    box_grid_.push_back(finite && grid.usable() && grid.fill() < kSparseFill ? std::move(grid) : BoxGrid());
    entry_edges_.push_back(std::move(ee));
    layers_.push_back(std::move(d));
  }
  if (layers_.size() > 65535) throw std::runtime_error("too many layers");
}

uint64_t Localiser::bytes() const {
  uint64_t b = 0;
  for (const auto& l : layers_) {
    const auto& c = l.coverage;
    b += c.lo.size() * 16 + c.entry_offset.size() * 8 + c.entry_area.size() * 13 + c.lon.size() * 16 +
         c.ring_vertex_offset.size() * 8 + c.piece_ring_offset.size() * 8;
    b += l.areas.lon.size() * 17 + l.areas.vertex_offset.size() * 8;  // coordinates, area_left
  }
  for (const auto& v : interior_only_) b += v.size();
  for (const auto& v : hi_summary_) b += v.size() * 8;
  for (const auto& v : entry_edges_) b += v.size() * 8;
  for (const auto& v : entry_box_) b += v.size() * sizeof(EntryBox);
  for (const auto& g : box_grid_) b += g.bytes();
  return b;
}

struct Localiser::Scratch {
  std::vector<double> clip;            // clip_segment scratch
  std::vector<TInterval> out;          // clip_segment output
  std::vector<uint32_t> candidates;    // on-line pieces: areas of the cells on both sides
  std::vector<uint64_t> zk;            // per vertex of the road: key_lo of its cell
  std::vector<double> cos_lat;         // per vertex: cos(lat) (haversine_m_short)
  std::vector<char> near;              // per vertex: near a grid line (CellKeyer)
  std::vector<double> seg_m;           // per segment: haversine_m (roads the window cannot serve)
  std::vector<double> win_cos, win_seg;  // the window's run_series_m output
  PipBatcher* pip = nullptr;           // the boundary cells' cuts and point-in-polygon tests (localise())
};

namespace {

// First k in [a, b) with !pred(k), where pred holds on a prefix of [a, b) (b when it holds
// everywhere); searched outward from `hint` (exponential steps, then binary): O(log |answer -
// hint|). Roads come in Z order and segments of a road are local, so hints are close.
template <class P>
size_t gallop(size_t a, size_t b, size_t hint, P pred) {
  if (hint < a) hint = a;
  if (hint > b) hint = b;
  size_t lo, hi;  // answer in [lo, hi]; pred true below lo; hi == b or !pred(hi)
  if (hint < b && pred(hint)) {
    lo = hint + 1;
    hi = b;
    for (size_t step = 1;; step *= 2) {
      const size_t probe = lo + step - 1;
      if (probe >= b) break;
      if (!pred(probe)) {
        hi = probe;
        break;
      }
      lo = probe + 1;
    }
  } else {
    hi = hint;
    lo = a;
    for (size_t step = 1; hi > a; step *= 2) {
      const size_t probe = hi - a >= step ? hi - step : a;
      if (pred(probe)) {
        lo = probe + 1;
        break;
      }
      hi = probe;
    }
  }
  while (lo < hi) {
    const size_t mid = lo + (hi - lo) / 2;
    if (pred(mid)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

// gallop, but a plain scan from a for short ranges (cheaper below ~8 entries).
template <class P>
size_t search(size_t a, size_t b, size_t hint, P pred) {
  if (b - a <= 8) {
    while (a < b && pred(a)) ++a;
    return a;
  }
  return gallop(a, b, hint, pred);
}

// The smallest aligned Z-order block of at most `cell_bits` key bits (a union of whole cells of
// the coverage's precision) whose key range holds every key whose bits differ from k only
// where `diff` has bits: [*lo, *hi]. Such a block is a half-open lon/lat rectangle.
inline void z_block(uint64_t k, uint64_t diff, int cell_bits, uint64_t* lo, uint64_t* hi) {
  int common = diff == 0 ? 64 : __builtin_clzll(diff);
  if (common > cell_bits) common = cell_bits;  // cell_bits = 5 P <= 60: the shift below is defined
  const uint64_t mask = ~(~uint64_t{0} >> common);
  *lo = k & mask;
  *hi = *lo | ~mask;
}

// True when the closed bounding box [minx, maxx] x [miny, maxy] keeps off the west and south
// edges of the block starting at key blo (and off lon = +180 / lat = +90, where the closing
// lines belong to the cells inside): no piece of a segment in it lies along the block's edge
// lines, so every on-line piece has the cells of the block on both sides.
inline bool off_block_edges(uint64_t blo, double minx, double miny, double maxx, double maxy) {
  return minx > geohash::detail::lon_line32(geohash::detail::compact32(blo >> 1)) &&
         miny > geohash::detail::lat_line32(geohash::detail::compact32(blo)) && maxx < 180.0 && maxy < 90.0;
}

}  // namespace

// acc[layer][area] += metres of segment A-B (length seg_m) inside the area, for the layers with
// walk[layer] set; a cell of the walk lies in interval range [rlo[layer], rhi[layer]) or in none.
void Localiser::segment(double ax, double ay, double bx, double by, uint64_t a_key, double seg_m, Accumulator& acc,
                        const char* walk, const size_t* rlo, const size_t* rhi, Scratch& s) const {
  SegmentWalker w(ax, ay, bx, by, precision_, a_key);
  for (Piece p; w.next(p);) {
    const double piece_m = piece_length_m(seg_m, p.t0, p.t1);
    if (piece_m <= 0) continue;
    const uint64_t key = p.cell.key_lo();
    const geohash::Bounds b = p.cell.bounds();
    // Along a grid line: the piece is on an edge of its cell (half-open rule: west or south
    // edge; at +180 / +90 the east or north edge). The cell across the line, if any in the
    // plane (no wrap at ±180), also holds areas the piece may run along.
    geohash::Cell across = geohash::Cell::invalid();
    bool on_line = false;
    if (p.x0 == p.x1 && (p.x0 == b.west || p.x0 == b.east)) {
      on_line = true;
      if (p.x0 == b.west && p.cell.ix() > 0) across = p.cell.neighbour(geohash::Direction::W);
      if (p.x0 == b.east && p.cell.ix() + 1 < geohash::columns(precision_)) across = p.cell.neighbour(geohash::Direction::E);
    } else if (p.y0 == p.y1 && (p.y0 == b.south || p.y0 == b.north)) {
      on_line = true;
      if (p.y0 == b.south) across = p.cell.neighbour(geohash::Direction::S);
      if (p.y0 == b.north) across = p.cell.neighbour(geohash::Direction::N);
    }
    for (size_t li = 0; li < layers_.size(); ++li) {
      if (!walk[li]) continue;
      const CoverageLayer& cov = layers_[li].coverage;
      // The interval holding the cell: the last one of the range starting at or before key.
      int64_t iv = -1;
      {
        size_t j = rlo[li];
        const size_t e = rhi[li];
        if (e - j <= 8) {
          while (j < e && cov.lo[j] <= key) ++j;
        } else {
          j = std::upper_bound(cov.lo.begin() + j, cov.lo.begin() + e, key) - cov.lo.begin();
        }
        if (j > rlo[li] && cov.hi[j - 1] >= key) iv = static_cast<int64_t>(j - 1);
      }
      if (!on_line) {
        if (iv < 0) continue;
        const double pxmin = std::min(p.x0, p.x1), pxmax = std::max(p.x0, p.x1);
        const double pymin = std::min(p.y0, p.y1), pymax = std::max(p.y0, p.y1);
        for (uint64_t e = cov.entry_offset[iv]; e < cov.entry_offset[iv + 1]; ++e) {
          const uint32_t a = cov.entry_area[e];
          if (cov.entry_kind[e] == static_cast<uint8_t>(CoverKind::kInterior)) {
            acc.add(li, a, piece_m);
          } else {
            // A piece off the box of the area's part of the cell: no length there.
            const EntryBox& eb_box = entry_box_[li][e];
            if (pxmax < eb_box.w || pxmin > eb_box.e || pymax < eb_box.s || pymin > eb_box.n) continue;
            // The entry's edges, indexed at load when its interval is one cell, else looked up.
            const uint64_t eb = entry_edges_[li][2 * e], ee = entry_edges_[li][2 * e + 1];
            const auto r = eb <= ee ? std::make_pair(layers_[li].edges.data() + eb, layers_[li].edges.data() + ee)
                                    : cell_edges(layers_[li], key, a);
            s.pip->begin_cut(li, a, static_cast<int64_t>(cov.entry_piece[e]), ax, ay, bx, by, p.t0, p.t1, seg_m);
            for (const CellEdge* it = r.first; it != r.second; ++it) s.pip->cut_edge(it->v);
          }
        }
        continue;
      }
      std::vector<uint32_t>& candidates = s.candidates;
      candidates.clear();
      auto collect = [&](int64_t i) {
        if (i < 0) return;
        for (uint64_t e = cov.entry_offset[i]; e < cov.entry_offset[i + 1]; ++e) candidates.push_back(cov.entry_area[e]);
      };
      collect(iv);
      if (across.is_valid()) collect(cov.find(across.key_lo()));  // may lie outside the range
      std::sort(candidates.begin(), candidates.end());
      candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
      for (uint32_t a : candidates) {
        const double f = inside_fraction(area_rings(layers_[li].areas, a), p.x0, p.y0, p.x1, p.y1, s.clip, s.out);
        if (f > 0) acc.add(li, a, f * piece_m);
      }
    }
  }
}

// Per road: the vertices' zkeys and cos(lat) once, each segment's haversine once (the road's
// length is their sum; pieces take shares of them). Then per layer:
//   - road level: the rectangle of cells from the road's bounding box's south-west cell to its
//     north-east cell; its cells' keys lie between the corners' keys (Z order is monotone in
//     each axis). When the road keeps off the rectangle's west and south edges (a road along
//     such an edge may run along a border that areas on the other side share): no interval in
//     the key range → no area; INTERIOR-only intervals of the same areas holding it → those
//     areas, whole. A range that is neither is cut in two at its corners' highest differing key
//     bit (rect_state, up to kRectDepth times) and the halves are settled alike. The smallest
//     aligned Z-order block holding the rectangle gives the range of intervals the segment level
//     searches (every segment's block nests in it).
//   - chunk level (roads of more than kChunk segments): the road-level rectangle test on each
//     run of kChunk segments; a chunk settled in a layer adds its metres to the layer's run. A
//     chunk whose rectangle meets only BOUNDARY entries whose boxes its bounding box misses
//     (rect_misses) is settled as nothing.
//   - sparse layers (box_grid_), at road level: a road the rectangle test leaves, off its
//     rectangle's west and south edges, whose box meets no area's box is settled as nothing;
//     else it keeps the areas whose boxes it meets (up to kMaxBoxAreas), and its chunks and
//     segments that miss each of their boxes, or are separated from a convex one, are settled
//     as nothing before any interval is looked up (misses_areas).
//   - convex areas, at road and chunk level: a road or chunk the rectangle test leaves, off its
//     rectangle's west and south edges, whose cells list one convex area only and whose vertices
//     are all strictly inside its ring, goes wholly to that area (convex_area).
//   - segment level, the same on each segment's own aligned block within the road's range: settled
//     segments cost a comparison and an addition (runs of segments in one INTERIOR-only interval
//     are summed and added to its areas once); only the others are walked, for only the layers
//     that need it.
void Localiser::localise(const RoadTable& roads, std::vector<Hit>& hits, std::vector<double>& road_length_m) const {
  const size_t nl = layers_.size();
  Accumulator acc;
  acc.len.resize(nl);
  acc.touched.resize(nl);
  for (size_t li = 0; li < nl; ++li) acc.len[li].assign(layers_[li].areas.areas(), 0.0);
  Scratch s;
  // Boundary cells' cuts and point-in-polygon tests run in batches; each road's hits wait for its batch.
  PipBatcher pip(layers_, backend_, pip_batch_);
  s.pip = &pip;
  // Room for one hit per road and layer (most roads of a covering layer have one): the vector
  // does not grow and copy (pages are touched only as hits are written).
  hits.reserve(hits.size() + roads.rows() * nl);
  road_length_m.reserve(road_length_m.size() + roads.rows());
  advise_huge_tail(hits);
  advise_huge_tail(road_length_m);
  const int cell_bits = 5 * precision_;
  const CellKeyer cell_key(precision_);
  const uint64_t v0 = roads.vertex_offset.empty() ? 0 : roads.vertex_offset[0];
  const size_t total_vertices = roads.vertex_offset.empty() ? 0 : roads.vertex_offset[roads.rows()] - v0;
  constexpr size_t kWindow = 8192;  // vertices per run_series_m call
  size_t win_lo = 0, win_hi = 0;    // the window: vertices [win_lo, win_hi) of the table
  std::vector<size_t> hint(nl, 0), rlo(nl), rhi(nl), slo(nl), shi(nl);
  std::vector<char> walk(nl);
  std::vector<size_t> active;  // per road: the layers its segments must settle (not settled by its rectangle)
  active.reserve(nl);
  std::vector<size_t> chunk_active;  // per chunk of a long road: the layers of `active` its rectangle leaves
  chunk_active.reserve(nl);
  constexpr size_t kChunk = 8;  // segments per chunk
  // Per layer: the areas whose boxes meet the road's box (box_grid_) in cand[li * kMaxBoxAreas,
  // + ncand[li]), or ncand[li] = -1 when not known (not a sparse layer, a road near a grid line,
  // too many).
  std::vector<uint32_t> cand(nl * kMaxBoxAreas);
  std::vector<int> ncand(nl, -1);
  std::vector<int64_t> run_iv(nl);  // INTERIOR-only interval of the current run of segments, or -1
  std::vector<double> run_m(nl);    // metres of that run
  // Per layer, a key range [known_lo, known_hi] whose cells are settled: no interval there
  // (known_iv = -1: a gap between intervals) or inside INTERIOR-only interval known_iv. Kept
  // across segments and roads (roads come in Z order): most blocks fall in the last one.
  std::vector<uint64_t> known_lo(nl, 1), known_hi(nl, 0);
  std::vector<int64_t> known_iv(nl, -1);
  // j0 = the first interval with hi >= blo. Returns 1 when no interval meets [blo, bhi], 2 when
  // an INTERIOR-only interval holds it (known_* updated in both cases), 0 otherwise.
  auto learn = [&](size_t li, size_t j0, uint64_t blo, uint64_t bhi) -> int {
    const CoverageLayer& cov = layers_[li].coverage;
    const size_t ni = cov.intervals();
    if (j0 == ni || cov.lo[j0] > bhi) {
      known_lo[li] = j0 > 0 ? cov.hi[j0 - 1] + 1 : 0;
      known_hi[li] = j0 < ni ? cov.lo[j0] - 1 : ~uint64_t{0};
      known_iv[li] = -1;
      return 1;
    }
    if (cov.lo[j0] <= blo && bhi <= cov.hi[j0] && interior_only_[li][j0]) {
      known_lo[li] = cov.lo[j0];
      known_hi[li] = cov.hi[j0];
      known_iv[li] = static_cast<int64_t>(j0);
      return 2;
    }
    return 0;
  };
  auto add_interval = [&](size_t li, int64_t iv, double m) {
    const CoverageLayer& cov = layers_[li].coverage;
    for (uint64_t e = cov.entry_offset[iv]; e < cov.entry_offset[iv + 1]; ++e) acc.add(li, cov.entry_area[e], m);
  };
  auto flush = [&](size_t li) {
    if (run_iv[li] >= 0 && run_m[li] > 0) {
      const CoverageLayer& cov = layers_[li].coverage;
      for (uint64_t e = cov.entry_offset[run_iv[li]]; e < cov.entry_offset[run_iv[li] + 1]; ++e)
        acc.add(li, cov.entry_area[e], run_m[li]);
    }
    run_iv[li] = -1;
    run_m[li] = 0;
  };
  // The interval of layer li holding the cell with key_lo `key`, or -1, searched from j0: an index
  // of the road's range [rlo, rhi) before which every interval ends below `key` (the segment's
  // first interval, whose hi is the first >= the segment's block start, which is <= `key`).
  auto find_in = [&](size_t li, size_t j0, uint64_t key) -> int64_t {
    const CoverageLayer& cov = layers_[li].coverage;
    const uint64_t* hi = cov.hi.data();
    const size_t j = search(j0, rhi[li], j0, [&](size_t k) { return hi[k] < key; });
    return j < rhi[li] && cov.lo[j] <= key ? static_cast<int64_t>(j) : -1;
  };
  // Intervals i1, i2 of layer li list the same areas.
  auto same_areas = [&](size_t li, int64_t i1, int64_t i2) {
    if (i1 == i2) return true;
    const CoverageLayer& cov = layers_[li].coverage;
    const uint64_t e1 = cov.entry_offset[i1], e2 = cov.entry_offset[i2], n1 = cov.entry_offset[i1 + 1] - e1;
    if (cov.entry_offset[i2 + 1] - e2 != n1) return false;
    for (uint64_t k = 0; k < n1; ++k)
      if (cov.entry_area[e1 + k] != cov.entry_area[e2 + k]) return false;
    return true;
  };
  // The one ring of convex area a of layer li: its vertices from *rx, *ry; returns its edge count.
  auto convex_ring = [&](size_t li, uint32_t a, const double** rx, const double** ry) -> size_t {
    const AreaLayer& al = layers_[li].areas;
    const uint64_t r = al.ring_offset[al.polygon_offset[a]];
    *rx = al.lon.data() + al.vertex_offset[r];
    *ry = al.lat.data() + al.vertex_offset[r];
    return al.vertex_offset[r + 1] - al.vertex_offset[r] - 1;
  };
  // Every vertex of the polyline x[0, n), y[0, n) lies strictly on the outer side of one edge's
  // line of convex area a of layer li (exact orient2d; convex_ says which side is inner): the
  // polyline then lies in that open half-plane, and the closed area in the other closed one.
  auto separated = [&](size_t li, uint32_t a, const double* x, const double* y, size_t n) {
    const int sign = convex_[li][a];
    if (sign == 0) return false;
    const double *rx, *ry;
    const size_t m = convex_ring(li, a, &rx, &ry);
    for (size_t q = 0; q < m; ++q) {
      size_t k = 0;
      while (k < n && orient2d_sign(rx[q], ry[q], rx[q + 1], ry[q + 1], x[k], y[k]) == -sign) ++k;
      if (k == n) return true;
    }
    return false;
  };
  // The polyline x[0, n), y[0, n) (n >= 2; bounding box [x0, x1] x [y0, y1]) meets no area of the
  // entries of intervals [j0, j1) of layer li, all BOUNDARY: it misses each entry's box, or is
  // separated from the entry's area, a convex one, by one of its edge lines (a street along a
  // gated community whose rotated outline's box it runs through). False when an entry is
  // INTERIOR or there are more than 8 intervals.
  auto misses_boxes = [&](size_t li, size_t j0, size_t j1, double x0, double y0, double x1, double y1,
                          const double* x, const double* y, size_t n) {
    if (j1 - j0 > 8) return false;
    const CoverageLayer& cov = layers_[li].coverage;
    for (uint64_t e = cov.entry_offset[j0]; e < cov.entry_offset[j1]; ++e) {
      if (cov.entry_kind[e] == static_cast<uint8_t>(CoverKind::kInterior)) return false;
      const EntryBox& b = entry_box_[li][e];
      if (!(x1 < b.w || x0 > b.e || y1 < b.s || y0 > b.n) && !separated(li, cov.entry_area[e], x, y, n)) return false;
    }
    return true;
  };
  // The polyline x[0, n), y[0, n) (bounding box `box`), which lies in the road's box, touches
  // no area of layer li: it misses the box of each area whose box the road's box meets (the
  // others' boxes the road's misses), or a convex one's edge line separates them (separated).
  auto misses_areas = [&](size_t li, const double* box, const double* x, const double* y, size_t n) {
    const uint32_t* c = cand.data() + li * kMaxBoxAreas;
    for (int k = 0; k < ncand[li]; ++k) {
      const uint32_t a = c[k];
      const BoxGrid::Box& b = box_grid_[li].box(a);
      if (!(box[2] < b.x0 || box[0] > b.x1 || box[3] < b.y0 || box[1] > b.y1) && !separated(li, a, x, y, n)) return false;
    }
    return true;
  };
  const int shift_x = 32 - geohash::lon_bits(precision_), shift_y = 32 - geohash::lat_bits(precision_);
  const uint64_t cell_span = ~uint64_t{0} >> cell_bits;
  // The first interval of layer li with hi >= key (intervals() when none), searched from
  // hint[li]: the hint itself when it is the answer (two loads, one cache line mostly: about 4 %
  // of the job faster than going to the summary each time); else first the run of kHiStride
  // intervals holding it, on hi_summary_ (small: it stays in cache), then within the run by
  // counting, without a branch per probe.
  auto first_hi_at_least = [&](size_t li, uint64_t key) -> size_t {
    const CoverageLayer& cov = layers_[li].coverage;
    const size_t ni = cov.intervals(), h = hint[li];
    if (h < ni && cov.hi[h] >= key && (h == 0 || cov.hi[h - 1] < key)) return h;  // the hint itself
    const std::vector<uint64_t>& hs = hi_summary_[li];
    const size_t q = gallop(0, hs.size(), h / kHiStride, [&](size_t k) { return hs[k] < key; });
    if (q == hs.size()) return ni;
    const uint64_t* hi = cov.hi.data() + q * kHiStride;
    const size_t m = std::min(kHiStride, ni - q * kHiStride);
    size_t count = 0;
    for (size_t k = 0; k < m; ++k) count += hi[k] < key ? 1 : 0;
    return q * kHiStride + count;
  };
  // The intervals of layer li meeting the key range of the rectangle of cells from key k0 to key
  // k1 are at most 8, hold only BOUNDARY entries, and the box [box[0], box[2]] x [box[1], box[3]]
  // misses the box of each, or the polyline x[0, n), y[0, n) in it misses its convex area
  // (misses_boxes). Off the rectangle's west and south edges, every piece of a walk of a segment
  // inside the box has its cells in the rectangle: it would find nothing.
  auto rect_misses = [&](size_t li, uint64_t k0, uint64_t k1, const double* box, const double* x, const double* y,
                         size_t n) {
    const CoverageLayer& cov = layers_[li].coverage;
    const uint64_t zhi = k1 | cell_span;
    const size_t j0 = first_hi_at_least(li, k0), ni = cov.intervals();
    size_t j1 = j0;  // past the intervals starting at or before zhi, or past 9 of them
    while (j1 < ni && j1 - j0 <= 8 && cov.lo[j1] <= zhi) ++j1;
    return misses_boxes(li, j0, j1, box[0], box[1], box[2], box[3], x, y, n);
  };
  // The area of layer li that a run of a road (vertices x[0, n), y[0, n), bounding box `box`)
  // lies in wholly, found without a walk, or -1: the first entry of the intervals meeting the
  // key range of the rectangle of cells from key k0 to key k1 names a convex area (convex_)
  // whose box holds `box` strictly, those intervals are at most kConvexMaxIntervals and list no
  // other area, and every vertex is strictly inside its ring (exact orient2d against each edge).
  // Then every segment is in the ring's open interior; the caller keeps the run off the
  // rectangle's west and south edges, so every piece of a walk has its cells in the rectangle,
  // where no other area lies: the walk would give the run's whole length to that area (a gated
  // community's own service roads, whose cells are all BOUNDARY at P7: no cut needed).
  auto convex_area = [&](size_t li, uint64_t k0, uint64_t k1, const double* x, const double* y, size_t n,
                         const double* box) -> int64_t {
    if (!any_convex_[li]) return -1;
    const CoverageLayer& cov = layers_[li].coverage;
    const uint64_t zhi = k1 | cell_span;
    const size_t ni = cov.intervals(), j0 = first_hi_at_least(li, k0);
    if (j0 == ni || cov.lo[j0] > zhi || cov.entry_offset[j0] == cov.entry_offset[j0 + 1]) return -1;
    // The first entry's area, if convex and holding the run's box; then no other area in the range.
    const uint32_t area = cov.entry_area[cov.entry_offset[j0]];
    const int sign = convex_[li][area];
    const AreaLayer& al = layers_[li].areas;
    if (sign == 0 || !(box[0] > al.min_lon[area] && box[1] > al.min_lat[area] && box[2] < al.max_lon[area] &&
                       box[3] < al.max_lat[area]))
      return -1;
    for (size_t j = j0; j < ni && cov.lo[j] <= zhi; ++j) {
      if (j - j0 == kConvexMaxIntervals) return -1;
      for (uint64_t e = cov.entry_offset[j]; e < cov.entry_offset[j + 1]; ++e)
        if (cov.entry_area[e] != area) return -1;
    }
    const double *rx, *ry;
    const size_t m = convex_ring(li, area, &rx, &ry);
    for (size_t k = 0; k < n; ++k)
      for (size_t q = 0; q < m; ++q)
        if (orient2d_sign(rx[q], ry[q], rx[q + 1], ry[q + 1], x[k], y[k]) != sign) return -1;
    return area;
  };
  // State of layer li over the rectangle of cells from key k0 (its south-west cell) to key k1
  // (its north-east cell): 1 when no interval meets it, 2 when INTERIOR-only intervals listing
  // the same areas hold all of it (*iv = one of them), 0 otherwise. The rectangle's key range is
  // tested first; when it is not settled, the rectangle is cut in two at the highest key bit in
  // which its corners differ (each half has a smaller key range) and the halves are tested, down
  // to kRectDepth cuts. Updates known_* as learn() does.
  constexpr int kRectDepth = 5;
  auto rect_state = [&](size_t li, uint64_t k0, uint64_t k1, int64_t* iv) -> int {
    struct Rect {
      uint64_t k0, k1;
      int depth;
    };
    // The rectangle at hand stays in registers; only second halves wait on the stack (a pushed
    // rectangle popped at once stalled on store forwarding: the one push and pop per road and layer
    // were a fifth of rect_state's time in perf).
    Rect stack[kRectDepth + 2];
    int sp = 0, state = -1;
    Rect r{k0, k1, 0};
    for (;;) {
      const uint64_t zlo = r.k0, zhi = r.k1 | cell_span;
      int c;
      if (known_lo[li] <= zlo && zhi <= known_hi[li]) {
        c = known_iv[li] >= 0 ? 2 : 1;
      } else {
        const size_t j0 = first_hi_at_least(li, zlo);
        hint[li] = j0;
        c = learn(li, j0, zlo, zhi);
      }
      if (c == 0) {
        if (r.depth == kRectDepth || r.k0 == r.k1) return 0;
        // Cut at the highest differing bit b: odd b is a longitude bit, even b a latitude bit.
        // The corners agree above b; k0 has 0 there, k1 has 1. The west/south half ends at the
        // last column/row before the cut, the east/north half starts at the cut.
        const int b = 63 - __builtin_clzll(r.k0 ^ r.k1);
        const uint64_t same = b & 1 ? 0x5555555555555555ull : 0xAAAAAAAAAAAAAAAAull;  // the other axis' bits
        const uint64_t below = (uint64_t{1} << b) - 1, axis_below = below & ~same;
        // First half: k0 .. (k1 with this axis' bits at and below b set to ...0111, rounded to a cell).
        const uint64_t h1 = ((r.k1 & ~(uint64_t{1} << b)) | axis_below) & ~cell_span;
        // Second half: (k0 with this axis' bit b set and its bits below cleared) .. k1.
        const uint64_t h2 = (r.k0 | (uint64_t{1} << b)) & ~axis_below;
        stack[sp++] = Rect{h2, r.k1, r.depth + 1};  // after the first half, as a stack would order them
        r = Rect{r.k0, h1, r.depth + 1};
        continue;
      }
      const int64_t civ = c == 2 ? known_iv[li] : -1;
      if (state < 0) {
        state = c;
        *iv = civ;
      } else if (c != state || (c == 2 && !same_areas(li, *iv, civ))) {
        return 0;
      }
      if (sp == 0) return state;
      r = stack[--sp];
    }
  };
  for (size_t i = 0; i < roads.rows(); ++i) {
    const uint64_t a = roads.vertex_offset[i] - v0, b = roads.vertex_offset[i + 1] - v0;
    const double* lon = roads.lon.data() + a;
    const double* lat = roads.lat.data() + a;
    const size_t n = b - a;
    if (n == 0) {
      road_length_m.push_back(0);
      continue;
    }
    if (s.zk.size() < n) {  // per-vertex buffers only grow (no zero fill per road)
      s.zk.resize(n);
      s.cos_lat.resize(n);
      s.seg_m.resize(n);
      s.near.resize(n);
    }
    // Segment lengths from the window: the series over the next kWindow vertices of the table
    // at once (many roads: long vector loops); a road with a segment the series does not serve
    // is computed alone, as before (road_from_series). Either way the same bits.
    if (a < win_lo || b > win_hi) {
      win_lo = a;
      win_hi = std::max(b, std::min(a + kWindow, total_vertices));
      if (s.win_seg.size() < win_hi - win_lo) {
        s.win_cos.resize(win_hi - win_lo);
        s.win_seg.resize(win_hi - win_lo);
      }
      run_series_m(roads.lon.data() + win_lo, roads.lat.data() + win_lo, win_hi - win_lo, s.win_cos.data(),
                   s.win_seg.data());
    }
    const double* seg_m = nullptr;
    bool from_window;
    const double len = road_from_series(s.win_seg.data() + (a - win_lo), lon, lat, n, s.cos_lat.data(), s.seg_m.data(),
                                        &seg_m, &from_window);
    double box[4];
    road_bbox(lon, lat, n, box);
    const double minx = box[0], miny = box[1], maxx = box[2], maxy = box[3];
    road_length_m.push_back(len);

    // The road's cells lie in the rectangle of cells from its bounding box's min corner to its
    // max corner, whose keys lie in [kmin, kmax + cell span] (Z order is monotone in each axis).
    // When the box keeps off the rectangle's west and south edges (a corner away from grid lines
    // is), every on-line piece has cells of the rectangle on both sides.
    bool near_min, near_max;
    const uint64_t kmin = cell_key(minx, miny, &near_min), kmax = cell_key(maxx, maxy, &near_max);
    const bool road_off = !(near_min || near_max) || off_block_edges(kmin, minx, miny, maxx, maxy);
    uint64_t blo, bhi;  // the smallest aligned block holding the rectangle: the segments' blocks nest in it
    z_block(kmin, kmin ^ kmax, cell_bits, &blo, &bhi);
    active.clear();
    for (size_t li = 0; li < nl; ++li) {
      walk[li] = 0;
      run_iv[li] = -1;
      run_m[li] = 0;
      ncand[li] = -1;
      if (road_off) {
        int64_t iv = -1;
        const int c = rect_state(li, kmin, kmax, &iv);
        if (c != 0) {
          if (c == 2) add_interval(li, iv, len);  // wholly inside the intervals' areas
          continue;                               // (c == 1: no area anywhere in the rectangle)
        }
        size_t k;
        if (box_grid_[li].query(minx, miny, maxx, maxy, cand.data() + li * kMaxBoxAreas, kMaxBoxAreas, &k)) {
          if (k == 0) continue;  // no area's box meets the road's
          ncand[li] = static_cast<int>(k);
        }
        const int64_t ca = convex_area(li, kmin, kmax, lon, lat, n, box);
        if (ca >= 0) {
          if (len > 0) acc.add(li, static_cast<uint32_t>(ca), len);
          continue;
        }
      }
      const CoverageLayer& cov = layers_[li].coverage;
      const uint64_t* lo = cov.lo.data();
      const uint64_t* hi = cov.hi.data();
      const size_t ni = cov.intervals();
      const size_t i0 = gallop(0, ni, hint[li], [&](size_t k) { return hi[k] < blo; });
      const size_t i1 = gallop(i0, ni, i0, [&](size_t k) { return lo[k] <= bhi; });
      hint[li] = i0;
      rlo[li] = i0;
      rhi[li] = i1;
      active.push_back(li);
    }

    // 1 when segment v lies in two edge-adjacent cells and keeps off the west and south edges of
    // their union (and off lon = 180, lat = 90); else 0.
    auto two_cells = [&](size_t v, double ax, double ay, double bx, double by) -> int {
      const uint64_t k1 = s.zk[v], k2 = s.zk[v + 1];
      const uint64_t x1 = geohash::detail::compact32(k1 >> 1), y1 = geohash::detail::compact32(k1);
      const uint64_t x2 = geohash::detail::compact32(k2 >> 1), y2 = geohash::detail::compact32(k2);
      const uint64_t sx = uint64_t{1} << shift_x, sy = uint64_t{1} << shift_y;
      const bool adjacent = (x1 == x2 && (y1 + sy == y2 || y2 + sy == y1)) || (y1 == y2 && (x1 + sx == x2 || x2 + sx == x1));
      if (!adjacent) return 0;
      if (!(s.near[v] || s.near[v + 1])) return 1;
      return std::min(ax, bx) > geohash::detail::lon_line32(std::min(x1, x2)) &&
                     std::min(ay, by) > geohash::detail::lat_line32(std::min(y1, y2)) && std::max(ax, bx) < 180.0 &&
                     std::max(ay, by) < 90.0
                 ? 1
                 : 0;
    };
    if (!active.empty()) {
      // A long road runs through its segments in chunks of kChunk: the rectangle test settles a
      // chunk's layers as it settles a road's (off the rectangle's west and south edges: no
      // interval → nothing; INTERIOR-only intervals of the same areas → the chunk's metres join
      // the layer's run), and only the layers it leaves go segment by segment. A road's long
      // bounding box often meets a sparse layer's intervals (gated communities) that most of its
      // chunks keep away from.
      const bool chunked = n - 1 > kChunk;
      for (size_t c0 = 0; c0 + 1 < n; c0 += kChunk) {
        const size_t c1 = std::min(n - 1, c0 + kChunk);  // segments [c0, c1): vertices c0 .. c1
        chunk_active.clear();
        if (chunked) {
          double cbox[4];
          road_bbox(lon + c0, lat + c0, c1 - c0 + 1, cbox);
          bool cnear_min, cnear_max;
          const uint64_t ck0 = cell_key(cbox[0], cbox[1], &cnear_min), ck1 = cell_key(cbox[2], cbox[3], &cnear_max);
          const bool chunk_off =
              !(cnear_min || cnear_max) || off_block_edges(ck0, cbox[0], cbox[1], cbox[2], cbox[3]);
          double cm = -1;  // the chunk's metres, summed when first needed
          auto chunk_m = [&] {
            if (cm < 0) {  // a full chunk summed pairwise (three dependent additions, not eight)
              const double* m = seg_m + c0;
              static_assert(kChunk == 8);
              if (c1 - c0 == kChunk) {
                cm = ((m[0] + m[1]) + (m[2] + m[3])) + ((m[4] + m[5]) + (m[6] + m[7]));
              } else {
                cm = 0;
                for (size_t v = c0; v < c1; ++v) cm += seg_m[v];
              }
            }
            return cm;
          };
          for (const size_t li : active) {
            walk[li] = 0;
            if (chunk_off && ncand[li] >= 0 && misses_areas(li, cbox, lon + c0, lat + c0, c1 - c0 + 1)) continue;
            int64_t iv = -1;
            const int c = chunk_off ? rect_state(li, ck0, ck1, &iv) : 0;
            if (c == 0) {  // segment by segment, unless the chunk misses every area's part of its cells
              if (chunk_off) {  // or lies wholly in a convex area
                const int64_t ca = convex_area(li, ck0, ck1, lon + c0, lat + c0, c1 - c0 + 1, cbox);
                if (ca >= 0) {
                  if (chunk_m() > 0) acc.add(li, static_cast<uint32_t>(ca), cm);
                  continue;
                }
              }
              if (!chunk_off || !rect_misses(li, ck0, ck1, cbox, lon + c0, lat + c0, c1 - c0 + 1)) chunk_active.push_back(li);
              continue;
            }
            if (c == 2) {
              chunk_m();
              if (run_iv[li] != iv) {
                flush(li);
                run_iv[li] = iv;
              }
              run_m[li] += cm;
            }
          }
          if (chunk_active.empty()) continue;
        } else {
          chunk_active.assign(active.begin(), active.end());
        }
        // The vertices' cell keys, for the chunks that go segment by segment only.
        road_cell_keys(cell_key, lon + c0, lat + c0, c1 - c0 + 1, s.zk.data() + c0, s.near.data() + c0);
        for (size_t v = c0; v < c1; ++v) {
          const double ax = lon[v], ay = lat[v], bx = lon[v + 1], by = lat[v + 1];
          const double sm = seg_m[v];
          uint64_t sblo, sbhi;
          z_block(s.zk[v], s.zk[v] ^ s.zk[v + 1], cell_bits, &sblo, &sbhi);
          const double sbox[4] = {std::min(ax, bx), std::min(ay, by), std::max(ax, bx), std::max(ay, by)};
          const bool off = !(s.near[v] || s.near[v + 1]) || off_block_edges(sblo, sbox[0], sbox[1], sbox[2], sbox[3]);
          bool any_walk = false;
          int two = -1;  // two_cells(), computed when first needed
          for (const size_t li : chunk_active) {
            walk[li] = 0;
            if (off && ncand[li] >= 0 && misses_areas(li, sbox, lon + v, lat + v, 2)) continue;
            int c = 0;
            size_t j0 = 0;
            if (off && known_lo[li] <= sblo && sbhi <= known_hi[li]) {
              c = known_iv[li] >= 0 ? 2 : 1;
            } else {
              const uint64_t* hi = layers_[li].coverage.hi.data();
              j0 = search(rlo[li], rhi[li], known_iv[li] >= 0 ? static_cast<size_t>(known_iv[li]) : rlo[li],
                          [&](size_t k) { return hi[k] < sblo; });
              if (off) c = learn(li, j0, sblo, sbhi);
            }
            if (c == 1) continue;  // no area in the segment's block
            if (c == 2) {          // in the INTERIOR-only interval known_iv: extend or start a run
              if (run_iv[li] != known_iv[li]) {
                flush(li);
                run_iv[li] = known_iv[li];
              }
              run_m[li] += sm;
              continue;
            }
            if (two < 0) two = two_cells(v, ax, ay, bx, by);
            if (two == 1) {
              // In two edge-adjacent cells, off the edges of their union (a rectangle): both cells
              // without area → nothing; both in INTERIOR-only intervals of the same areas → the
              // whole segment is in those areas (what the walk gives, piece by piece).
              const int64_t i1 = find_in(li, j0, s.zk[v]), i2 = find_in(li, j0, s.zk[v + 1]);
              if (i1 < 0 && i2 < 0) continue;
              if (i1 >= 0 && i2 >= 0 && interior_only_[li][i1] && interior_only_[li][i2] && same_areas(li, i1, i2)) {
                if (run_iv[li] != i1) {
                  flush(li);
                  run_iv[li] = i1;
                }
                run_m[li] += sm;
                continue;
              }
            }
            const uint64_t* lo = layers_[li].coverage.lo.data();
            const bool overlap = j0 < rhi[li] && lo[j0] <= sbhi;
            slo[li] = j0;
            shi[li] = overlap ? search(j0, rhi[li], j0, [&](size_t k) { return lo[k] <= sbhi; }) : j0;
            // Off the block's west and south edges, every piece of the walk (on a grid line too)
            // has its cells in the block: when the segment misses the box (or the convex area) of
            // every entry there, all BOUNDARY, the walk would find nothing.
            if (off && misses_boxes(li, slo[li], shi[li], sbox[0], sbox[1], sbox[2], sbox[3], lon + v, lat + v, 2))
              continue;
            walk[li] = 1;
            any_walk = true;
          }
          if (any_walk) segment(ax, ay, bx, by, s.zk[v], sm, acc, walk.data(), slo.data(), shi.data(), s);
        }
      }
      for (const size_t li : active) flush(li);
    }

    for (size_t li = 0; li < nl; ++li) {
      std::vector<uint32_t>& t = acc.touched[li];
      if (t.size() > 1) std::sort(t.begin(), t.end());
      for (uint32_t k : t) {
        pip.add_hit(Hit{roads.row_offset + i, static_cast<uint16_t>(li), k, acc.len[li][k]});
        acc.len[li][k] = 0;
      }
      t.clear();
    }
    pip.end_road(roads.row_offset + i, hits);
  }
  pip.flush(hits);
}

}  // namespace geoshard::localise
