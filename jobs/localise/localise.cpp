#include "jobs/localise/localise.h"

#include <algorithm>
#include <charconv>
#include <stdexcept>

#include "kernels/geodesic.h"
#include "kernels/geohash.h"
#include "kernels/polygon.h"
#include "kernels/segment_walk.h"

namespace geoshard::localise {
namespace {

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

// Fraction (of the whole segment A-B, within [t0, t1]) inside area `a` in one boundary cell.
// Cuts come from the area's ORIGINAL edges in the cell (exact predicates on exact coordinates,
// on the original segment, so a road drawn along a border stays collinear with it: inside, as
// GEOS says); each sub-interval between cuts is inside when it overlaps an edge collinearly, else
// by its midpoint against the area clipped to the cell (equal to the area in the open cell).
double boundary_fraction(const LayerData& d, uint64_t cell_key, uint32_t a, const RingSet& clipped, double ax,
                         double ay, double bx, double by, double t0, double t1, std::vector<double>& ts,
                         std::vector<TInterval>& overlaps) {
  const double dx = bx - ax, dy = by - ay;
  ts.clear();
  overlaps.clear();
  ts.push_back(t0);
  ts.push_back(t1);
  const AreaLayer& l = d.areas;
  auto it = std::lower_bound(d.edges.begin(), d.edges.end(), CellEdge{cell_key, a, 0},
                             [](const CellEdge& x, const CellEdge& y) {
                               return x.key != y.key ? x.key < y.key : x.area < y.area;
                             });
  for (; it != d.edges.end() && it->key == cell_key && it->area == a; ++it) {
    const double ux = l.lon[it->v], uy = l.lat[it->v], vx = l.lon[it->v + 1], vy = l.lat[it->v + 1];
    const int oa = orient2d_sign(ax, ay, bx, by, ux, uy);
    const int ob = orient2d_sign(ax, ay, bx, by, vx, vy);
    if (oa == ob && oa != 0) continue;
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
      continue;
    }
    const int oc = orient2d_sign(ux, uy, vx, vy, ax, ay);
    const int od = orient2d_sign(ux, uy, vx, vy, bx, by);
    if (oc == od && oc != 0) continue;
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
  std::sort(ts.begin(), ts.end());
  double f = 0;
  for (size_t k = 0; k + 1 < ts.size(); ++k) {
    const double lo = ts[k], hi = ts[k + 1];
    if (!(hi > lo)) continue;
    bool in = false;
    for (const TInterval& o : overlaps) in = in || (o.t0 <= lo && hi <= o.t1);
    if (!in) {
      const double mid = 0.5 * (lo + hi);
      in = point_in_rings(clipped, ax + mid * dx, ay + mid * dy) != PipResult::kOutside;
    }
    if (in) f += hi - lo;
  }
  return f;
}

}  // namespace

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

Localiser::Localiser(const std::string& coverage_path, const std::vector<std::string>& layers) {
  std::vector<std::string> names = layers.empty() ? coverage_layer_names(coverage_path) : layers;
  if (names.empty()) throw std::runtime_error("coverage '" + coverage_path + "' has no layer");
  for (const auto& n : names) {
    LayerData d{read_coverage_layer(coverage_path, n), read_coverage_areas(coverage_path, n), {}};
    if (d.coverage.grid != "geohash")
      throw std::runtime_error("coverage '" + coverage_path + "' layer '" + n + "' uses grid '" + d.coverage.grid +
                               "'; this localiser walks geohash cells");
    if (layers_.empty()) precision_ = d.coverage.precision;
    if (d.coverage.precision != precision_)
      throw std::runtime_error("coverage '" + coverage_path + "': layers have different precisions");
    index_edges(d, precision_);
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
    b += l.areas.lon.size() * 16 + l.areas.vertex_offset.size() * 8;
  }
  return b;
}

// acc[layer][area] += metres of segment A-B inside the area.
void Localiser::segment(double ax, double ay, double bx, double by, Accumulator& acc, const std::vector<char>& skip) const {
  const double seg_m = haversine_m(ax, ay, bx, by);
  thread_local std::vector<double> scratch;
  thread_local std::vector<TInterval> out;
  thread_local std::vector<uint32_t> candidates;
  thread_local std::vector<double> ts;
  thread_local std::vector<TInterval> overlaps;
  SegmentWalker w(ax, ay, bx, by, precision_);
  for (Piece p; w.next(p);) {
    const double piece_m = piece_length_m(seg_m, p.t0, p.t1);
    if (piece_m <= 0) continue;
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
      if (skip[li]) continue;  // settled for the whole road by the fast path
      const CoverageLayer& cov = layers_[li].coverage;
      const int64_t iv = cov.find(p.cell.key_lo());
      if (!on_line) {
        if (iv < 0) continue;
        for (uint64_t e = cov.entry_offset[iv]; e < cov.entry_offset[iv + 1]; ++e) {
          const uint32_t a = cov.entry_area[e];
          if (cov.entry_kind[e] == static_cast<uint8_t>(CoverKind::kInterior)) {
            acc.add(li, a, piece_m);
          } else {
            const double f = boundary_fraction(layers_[li], p.cell.key_lo(), a, cov.piece_rings(cov.entry_piece[e]), ax,
                                               ay, bx, by, p.t0, p.t1, ts, overlaps);
            if (f > 0) acc.add(li, a, f * seg_m);
          }
        }
        continue;
      }
      candidates.clear();
      auto collect = [&](int64_t i) {
        if (i < 0) return;
        for (uint64_t e = cov.entry_offset[i]; e < cov.entry_offset[i + 1]; ++e) candidates.push_back(cov.entry_area[e]);
      };
      collect(iv);
      if (across.is_valid()) collect(cov.find(across.key_lo()));
      std::sort(candidates.begin(), candidates.end());
      candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
      for (uint32_t a : candidates) {
        const double f = inside_fraction(area_rings(layers_[li].areas, a), p.x0, p.y0, p.x1, p.y1, scratch, out);
        if (f > 0) acc.add(li, a, f * piece_m);
      }
    }
  }
}

void Localiser::localise(const RoadTable& roads, std::vector<Hit>& hits, std::vector<double>& road_length_m) const {
  Accumulator acc;
  acc.len.resize(layers_.size());
  acc.touched.resize(layers_.size());
  for (size_t li = 0; li < layers_.size(); ++li) acc.len[li].assign(layers_[li].areas.areas(), 0.0);
  const uint64_t v0 = roads.vertex_offset.empty() ? 0 : roads.vertex_offset[0];
  std::vector<char> whole(layers_.size());
  for (size_t i = 0; i < roads.rows(); ++i) {
    const uint64_t a = roads.vertex_offset[i] - v0, b = roads.vertex_offset[i + 1] - v0;
    double len = 0;
    for (uint64_t v = a; v + 1 < b; ++v) len += haversine_m(roads.lon[v], roads.lat[v], roads.lon[v + 1], roads.lat[v + 1]);
    road_length_m.push_back(len);
    // Fast path: the smallest aligned Z-order block holding the road's bounding box is a
    // rectangle (half-open, like cells). When one coverage interval contains the whole block and
    // holds only INTERIOR entries, the road lies inside exactly those areas, whole -- provided it
    // keeps off the block's west and south edges (a road along such an edge may run along a
    // border that the areas on the other side share).
    double minx = roads.lon[a], maxx = minx, miny = roads.lat[a], maxy = miny;
    for (uint64_t v = a + 1; v < b; ++v) {
      minx = std::min(minx, roads.lon[v]), maxx = std::max(maxx, roads.lon[v]);
      miny = std::min(miny, roads.lat[v]), maxy = std::max(maxy, roads.lat[v]);
    }
    const uint64_t k0 = geohash::zkey(minx, miny), k1 = geohash::zkey(maxx, maxy);
    const int common = k0 == k1 ? 64 : __builtin_clzll(k0 ^ k1);
    const uint64_t mask = common == 64 ? ~uint64_t{0} : ~(~uint64_t{0} >> common);
    const uint64_t blo = k0 & mask, bhi = blo | ~mask;
    const uint32_t bx = geohash::detail::compact32(blo >> 1), by = geohash::detail::compact32(blo);
    const bool off_edges = minx > geohash::detail::lon_line32(bx) && miny > geohash::detail::lat_line32(by);
    bool all_whole = true;
    for (size_t li = 0; li < layers_.size(); ++li) {
      whole[li] = 0;
      if (!off_edges) {
        all_whole = false;
        continue;
      }
      const CoverageLayer& cov = layers_[li].coverage;
      const int64_t iv = cov.find(blo);
      if (iv < 0) {
        // No area anywhere in the block? Only if the interval after blo starts beyond bhi.
        const auto next = std::upper_bound(cov.lo.begin(), cov.lo.end(), blo);
        whole[li] = next == cov.lo.end() || *next > bhi;
      } else if (cov.hi[iv] >= bhi) {
        bool interior = true;
        for (uint64_t e = cov.entry_offset[iv]; e < cov.entry_offset[iv + 1]; ++e)
          interior = interior && cov.entry_kind[e] == static_cast<uint8_t>(CoverKind::kInterior);
        if (interior) {
          whole[li] = 1;
          for (uint64_t e = cov.entry_offset[iv]; e < cov.entry_offset[iv + 1]; ++e) acc.add(li, cov.entry_area[e], len);
        }
      }
      all_whole = all_whole && whole[li];
    }
    if (!all_whole) {
      for (uint64_t v = a; v + 1 < b; ++v) segment(roads.lon[v], roads.lat[v], roads.lon[v + 1], roads.lat[v + 1], acc, whole);
    }
    for (size_t li = 0; li < layers_.size(); ++li) {
      std::vector<uint32_t>& t = acc.touched[li];
      std::sort(t.begin(), t.end());
      for (uint32_t k : t) {
        hits.push_back(Hit{roads.row_offset + i, static_cast<uint16_t>(li), k, acc.len[li][k]});
        acc.len[li][k] = 0;
      }
      t.clear();
    }
  }
}

}  // namespace geoshard::localise
