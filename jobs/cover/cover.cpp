#include "jobs/cover/cover.h"

#include <geos_c.h>
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cmath>
#include <optional>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <numeric>
#include <queue>
#include <stdexcept>

#include "jobs/cover/clip.h"
#include "jobs/cover/cover_detail.h"
#include "jobs/cover/flatten.h"
#include "jobs/cover/s2_grid.h"
#include "kernels/geohash.h"

#include "io/geos.h"

namespace geoshard::cover {
namespace detail {
uint64_t saturating_add(uint64_t a, uint64_t b) { return a > std::numeric_limits<uint64_t>::max() - b ? std::numeric_limits<uint64_t>::max() : a + b; }
}  // namespace detail
namespace {

using detail::LayerCounters;
using detail::PreparedPart;
using detail::polygon_geometry;
using detail::saturating_add;

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// ---- GEOS (reentrant C API) ----

using GeosContext = geos::Context;
using geos::Geom;
using geos::GeomDeleter;
using geos::Prepared;
using geos::PreparedDeleter;

// The area's polygons, each prepared, with its bounding box. The predicates are asked per
// polygon: for a valid multipolygon (parts meet at most in points) a cell is covered by the
// area iff one part covers it -- the cell minus finitely many points is connected, so it cannot
// be split between closed parts -- and intersects the area iff it intersects a part. Asking
// only the parts whose box can matter keeps GEOS away from the other parts of, say, a country
// with a thousand islands (GEOS's covers() visits every component of its target).
// (struct detail::PreparedPart, cover_detail.h)

// ---- The invariants covering relies on (see DeadArea in cover.h) ----

std::optional<DeadArea> check_area(const GeosContext& c, const AreaLayer& l, uint32_t li, size_t a) {
  auto dead = [&](Reason r, std::string m) {
    return DeadArea{li, static_cast<uint32_t>(a), r, "layer '" + l.name + "' area '" + l.id[a] + "': " + std::move(m)};
  };
  const uint64_t p0 = l.polygon_offset[a], p1 = l.polygon_offset[a + 1];
  for (uint64_t p = p0; p < p1; ++p)
    for (uint64_t r = l.ring_offset[p]; r < l.ring_offset[p + 1]; ++r) {
      const uint64_t v0 = l.vertex_offset[r], v1 = l.vertex_offset[r + 1];
      for (uint64_t v = v0; v < v1; ++v) {
        const double x = l.lon[v], y = l.lat[v];
        const std::string at = "vertex " + std::to_string(v - v0) + " of ring " + std::to_string(r - l.ring_offset[p0]);
        if (!std::isfinite(x) || !std::isfinite(y)) return dead(Reason::kNonFiniteCoordinate, at + " is not finite");
        if (x < -180 || x > 180 || y < -90 || y > 90)
          return dead(Reason::kCoordinateOutOfRange, at + " (" + std::to_string(x) + ", " + std::to_string(y) + ") is outside [-180,180] x [-90,90]");
      }
      const std::string ring = "ring " + std::to_string(r - l.ring_offset[p0]);
      if (v1 < v0 + 4) return dead(Reason::kInvalidPolygon, ring + " has " + std::to_string(v1 - v0) + " vertices (< 4)");
      if (l.lon[v0] != l.lon[v1 - 1] || l.lat[v0] != l.lat[v1 - 1]) return dead(Reason::kInvalidPolygon, ring + " is not closed");
    }
  // GEOS validity of the whole area (a multipolygon: parts must not overlap either).
  const GEOSContextHandle_t h = c.h();
  std::vector<GEOSGeometry*> parts;
  try {
    for (uint64_t p = p0; p < p1; ++p)
      if (l.ring_offset[p + 1] > l.ring_offset[p]) parts.push_back(polygon_geometry(c, l, a, p).release());
  } catch (const std::runtime_error& e) {
    for (GEOSGeometry* g : parts) GEOSGeom_destroy_r(h, g);
    return DeadArea{li, static_cast<uint32_t>(a), Reason::kGeometryFailure, e.what()};
  }
  if (parts.empty()) return std::nullopt;  // an empty area: no cells, nothing wrong
  Geom all(GEOSGeom_createCollection_r(h, GEOS_MULTIPOLYGON, parts.data(), static_cast<unsigned>(parts.size())), GeomDeleter{h});
  if (!all) {
    for (GEOSGeometry* g : parts) GEOSGeom_destroy_r(h, g);
    return dead(Reason::kGeometryFailure, "GEOS multipolygon: " + c.last_error());
  }
  const char valid = GEOSisValid_r(h, all.get());
  if (valid == 2) return dead(Reason::kGeometryFailure, "GEOS isValid: " + c.last_error());
  if (valid == 0) {
    char* why = GEOSisValidReason_r(h, all.get());
    std::string m = why ? why : "invalid";
    if (why) GEOSFree_r(h, why);
    return dead(Reason::kInvalidPolygon, "not a valid polygon (GEOS: " + m + ")");
  }
  return std::nullopt;
}

// Sizes of a RawLayer, to drop what a failing area emitted.
struct RawMark {
  size_t entries, pieces, rings, vertices;
};
RawMark mark(const RawLayer& r) { return {r.entries.size(), r.piece_ring_offset.size(), r.ring_vertex_offset.size(), r.lon.size()}; }
void rollback(RawLayer& r, const RawMark& m) {
  r.entries.resize(m.entries);
  r.piece_ring_offset.resize(m.pieces);
  r.ring_vertex_offset.resize(m.rings);
  r.lon.resize(m.vertices);
  r.lat.resize(m.vertices);
}

// ---- Covering one area ----


// Number of precision-P cells in a cell of precision q (saturating).
uint64_t cells_at(int q, int P) {
  const int bits = 5 * (P - q);
  return bits >= 64 ? std::numeric_limits<uint64_t>::max() : uint64_t{1} << bits;
}

class AreaCoverer : public detail::Coverer {
 public:
  AreaCoverer(const GeosContext& c, int precision, bool clip_first, RawLayer& out, LayerCounters& counters)
      : c_(c), P_(precision), clip_first_(clip_first), out_(out), n_(counters), level_(static_cast<size_t>(precision) + 1) {}

  void cover(const AreaLayer& l, size_t a) override {
    parts_ = detail::prepare_parts(c_, l, a);
    layer_ = &l;
    area_ = static_cast<uint32_t>(a);
    // Bounding box from the vertices themselves (exact: no rounding involved).
    original_.clear();
    bx0_ = by0_ = std::numeric_limits<double>::infinity();
    bx1_ = by1_ = -std::numeric_limits<double>::infinity();
    for (uint64_t p = l.polygon_offset[a]; p < l.polygon_offset[a + 1]; ++p)
      for (uint64_t r = l.ring_offset[p]; r < l.ring_offset[p + 1]; ++r) {
        const uint64_t v0 = l.vertex_offset[r], v1 = l.vertex_offset[r + 1];
        original_.add_ring(l.lon.data() + v0, l.lat.data() + v0, v1 - v0);
        for (uint64_t v = v0; v < v1; ++v) {
          bx0_ = std::min(bx0_, l.lon[v]);
          bx1_ = std::max(bx1_, l.lon[v]);
          by0_ = std::min(by0_, l.lat[v]);
          by1_ = std::max(by1_, l.lat[v]);
        }
      }
    if (original_.empty()) return;
    // Start precision: the finest p0 <= P with at most 16 cells over the box (see cover.h).
    int p0 = 0;
    for (int p = 1; p <= P_; ++p) {
      const auto c0 = geohash::Cell::from_point(bx0_, by0_, p), c1 = geohash::Cell::from_point(bx1_, by1_, p);
      const uint64_t count = (c1.ix() - c0.ix() + 1) * (c1.iy() - c0.iy() + 1);
      if (count > 16) break;
      p0 = p;
    }
    const auto c0 = geohash::Cell::from_point(bx0_, by0_, p0), c1 = geohash::Cell::from_point(bx1_, by1_, p0);
    for (uint64_t iy = c0.iy(); iy <= c1.iy(); ++iy)
      for (uint64_t ix = c0.ix(); ix <= c1.ix(); ++ix) refine(geohash::Cell::from_xy(ix, iy, p0), original_);
    parts_.clear();
  }

 private:
  Geom rectangle(const geohash::Bounds& b) {
    const GEOSContextHandle_t h = c_.h();
    Geom rect(GEOSGeom_createRectangle_r(h, b.west, b.south, b.east, b.north), GeomDeleter{h});
    if (!rect) throw std::runtime_error("cover: GEOS rectangle: " + c_.last_error());
    return rect;
  }
  // GEOS prepared covers() of the closed cell: the exact INTERIOR test (per part, see
  // PreparedPart; a part can cover the cell only if its box holds the cell).
  bool geos_covers(const geohash::Bounds& b) {
    Geom rect;
    for (const PreparedPart& p : parts_) {
      if (b.west < p.x0 || b.east > p.x1 || b.south < p.y0 || b.north > p.y1) continue;
      if (!rect) rect = rectangle(b);
      n_.geos_calls += 1;
      const char covers = GEOSPreparedCovers_r(c_.h(), p.prep.get(), rect.get());
      if (covers == 2) throw std::runtime_error("cover: GEOS covers failed on area '" + layer_->id[area_] + "': " + c_.last_error());
      if (covers == 1) return true;
    }
    return false;
  }
  bool geos_intersects(const geohash::Bounds& b) {
    Geom rect;
    for (const PreparedPart& p : parts_) {
      if (b.west > p.x1 || b.east < p.x0 || b.south > p.y1 || b.north < p.y0) continue;
      if (!rect) rect = rectangle(b);
      n_.geos_calls += 1;
      const char inter = GEOSPreparedIntersects_r(c_.h(), p.prep.get(), rect.get());
      if (inter == 2) throw std::runtime_error("cover: GEOS intersects failed on area '" + layer_->id[area_] + "': " + c_.last_error());
      if (inter == 1) return true;
    }
    return false;
  }

  void emit_interior(geohash::Cell cell) {
    out_.entries.push_back(RawEntry{cell.key_lo(), cell.key_hi(), area_, static_cast<uint8_t>(CoverKind::kInterior), -1});
    n_.interior_cells += 1;
    n_.interior_at_p = saturating_add(n_.interior_at_p, cells_at(cell.precision, P_));
  }

  void refine(geohash::Cell cell, const Rings& parent) {
    const geohash::Bounds b = cell.bounds();
    // Exact shortcut: a closed cell disjoint from the area's closed bounding box is outside.
    if (b.west > bx1_ || b.east < bx0_ || b.south > by1_ || b.north < by0_) return;
    Rings& piece = level_[static_cast<size_t>(cell.precision)];
    if (clip_first_) {
      // Clip first (cheap): no ring left means the cell is outside, or touched along an edge or
      // at a corner, or overlapped by a sliver below rounding -- no entry in all three cases.
      // A covered cell always keeps a ring (its own outline), so INTERIOR cannot be missed. The
      // outline can also come from rounding (a crossing a fraction of an ulp from the cell's edge
      // line lands on it) while GEOS says not covered: has_area_inside keeps that cell BOUNDARY.
      piece.clear();
      clip_rings(parent, b, piece, scratch_);
      if (piece.empty()) return;
      // A vertex strictly inside the open cell is an original vertex of the area (vertices
      // created by clipping lie on the edges of this cell or of its ancestors, which never cross
      // this cell's interior): the border passes through the open cell, so it is not covered.
      if (!has_vertex_inside(piece, b) && geos_covers(b)) return emit_interior(cell);
    } else {
      // The literal method: GEOS covers(), then intersects(), on every cell.
      if (geos_covers(b)) return emit_interior(cell);
      if (!geos_intersects(b)) return;
      piece.clear();
      clip_rings(parent, b, piece, scratch_);
    }
    if (piece.empty() || !has_area_inside(piece, b)) {  // the area only touches the closed cell (edge or corner)
      n_.touch_dropped += 1;
      return;
    }
    if (cell.precision == P_) {
      store(cell, piece);
      return;
    }
    for (int i = 0; i < 32; ++i) refine(cell.child(i), piece);
  }

  void store(geohash::Cell cell, const Rings& piece) {
    for (size_t r = 0; r < piece.rings(); ++r) {
      const size_t v0 = piece.offset[r], v1 = piece.offset[r + 1];
      out_.lon.insert(out_.lon.end(), piece.x.begin() + static_cast<ptrdiff_t>(v0), piece.x.begin() + static_cast<ptrdiff_t>(v1));
      out_.lat.insert(out_.lat.end(), piece.y.begin() + static_cast<ptrdiff_t>(v0), piece.y.begin() + static_cast<ptrdiff_t>(v1));
      out_.lon.push_back(piece.x[v0]);  // close the ring
      out_.lat.push_back(piece.y[v0]);
      out_.ring_vertex_offset.push_back(out_.lon.size());
    }
    out_.piece_ring_offset.push_back(out_.ring_vertex_offset.size() - 1);
    out_.entries.push_back(RawEntry{cell.key_lo(), cell.key_hi(), area_, static_cast<uint8_t>(CoverKind::kBoundary),
                                    static_cast<int64_t>(out_.pieces()) - 1});
    n_.boundary_cells += 1;
  }

  const GeosContext& c_;
  const int P_;
  const bool clip_first_;
  RawLayer& out_;
  LayerCounters& n_;
  std::vector<PreparedPart> parts_;  // of the area being covered
  const AreaLayer* layer_ = nullptr;
  uint32_t area_ = 0;
  double bx0_ = 0, by0_ = 0, bx1_ = 0, by1_ = 0;
  Rings original_;
  std::vector<Rings> level_;  // the piece of the cell being refined, per precision
  ClipScratch scratch_;
};

// ---- Work distribution ----

struct WorkItem {
  uint32_t layer;
  uint32_t area;
  uint64_t weight;
};

// Greedy LPT over all areas of all layers by vertex count; returns this rank's items in
// (layer, area) order.
std::vector<WorkItem> my_items(const std::vector<AreaLayer>& layers, int rank, int size) {
  std::vector<WorkItem> all;
  for (size_t li = 0; li < layers.size(); ++li) {
    const AreaLayer& l = layers[li];
    for (size_t a = 0; a < l.areas(); ++a) {
      const uint64_t r0 = l.ring_offset[l.polygon_offset[a]], r1 = l.ring_offset[l.polygon_offset[a + 1]];
      const uint64_t vertices = l.vertex_offset[r1] - l.vertex_offset[r0];
      all.push_back(WorkItem{static_cast<uint32_t>(li), static_cast<uint32_t>(a), vertices + 16});  // + fixed cost
    }
  }
  if (size <= 1) return all;
  std::vector<uint32_t> order(all.size());
  std::iota(order.begin(), order.end(), 0u);
  std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return all[a].weight > all[b].weight; });
  using Load = std::pair<uint64_t, int>;  // (load, rank): the least loaded, lowest rank first
  std::priority_queue<Load, std::vector<Load>, std::greater<Load>> q;
  for (int r = 0; r < size; ++r) q.push({0, r});
  std::vector<int> owner(all.size());
  for (uint32_t i : order) {
    Load l = q.top();
    q.pop();
    owner[i] = l.second;
    l.first += all[i].weight;
    q.push(l);
  }
  std::vector<WorkItem> mine;
  for (size_t i = 0; i < all.size(); ++i)
    if (owner[i] == rank) mine.push_back(all[i]);
  return mine;
}

// ---- Serialisation of raw layers for the gather ----

template <class T>
void put(std::vector<char>& b, const T* p, size_t n) {
  const size_t at = b.size();
  b.resize(at + n * sizeof(T));
  if (n) std::memcpy(b.data() + at, p, n * sizeof(T));
}
template <class T>
void put1(std::vector<char>& b, T v) {
  put(b, &v, 1);
}

class Reader {
 public:
  Reader(const char* p, size_t n) : p_(p), end_(p + n) {}
  template <class T>
  void get(T* out, size_t n) {
    if (static_cast<size_t>(end_ - p_) < n * sizeof(T)) throw std::logic_error("cover: truncated gather buffer");
    if (n) std::memcpy(out, p_, n * sizeof(T));
    p_ += n * sizeof(T);
  }
  template <class T>
  T get1() {
    T v{};
    get(&v, 1);
    return v;
  }

 private:
  const char* p_;
  const char* end_;
};

void serialise(const RawLayer& r, const LayerCounters& n, std::vector<char>& b) {
  put1<uint64_t>(b, r.entries.size());
  put1<uint64_t>(b, r.pieces());
  put1<uint64_t>(b, r.ring_vertex_offset.size() - 1);
  put1<uint64_t>(b, r.lon.size());
  put(b, &n, 1);
  put(b, r.entries.data(), r.entries.size());
  put(b, r.piece_ring_offset.data(), r.piece_ring_offset.size());
  put(b, r.ring_vertex_offset.data(), r.ring_vertex_offset.size());
  put(b, r.lon.data(), r.lon.size());
  put(b, r.lat.data(), r.lat.size());
}

void deserialise(Reader& in, RawLayer& r, LayerCounters& n) {
  const auto ne = in.get1<uint64_t>(), np = in.get1<uint64_t>(), nr = in.get1<uint64_t>(), nv = in.get1<uint64_t>();
  in.get(&n, 1);
  r.entries.resize(ne);
  in.get(r.entries.data(), ne);
  r.piece_ring_offset.resize(np + 1);
  in.get(r.piece_ring_offset.data(), np + 1);
  r.ring_vertex_offset.resize(nr + 1);
  in.get(r.ring_vertex_offset.data(), nr + 1);
  r.lon.resize(nv);
  in.get(r.lon.data(), nv);
  r.lat.resize(nv);
  in.get(r.lat.data(), nv);
}

}  // namespace

namespace detail {

// One polygon of an area as a GEOS Polygon, coordinates copied as they are (no snapping, no
// repair: ingest made the area valid).
geos::Geom polygon_geometry(const geos::Context& c, const AreaLayer& l, size_t a, uint64_t p) {
  const GEOSContextHandle_t h = c.h();
  auto fail = [&](const char* what) -> std::runtime_error {
    return std::runtime_error("cover: layer '" + l.name + "' area '" + l.id[a] + "': GEOS " + what + ": " +
                              c.last_error());
  };
  auto ring = [&](uint64_t r) {
    const uint64_t v0 = l.vertex_offset[r], v1 = l.vertex_offset[r + 1];
    GEOSCoordSequence* s = GEOSCoordSeq_copyFromArrays_r(h, l.lon.data() + v0, l.lat.data() + v0, nullptr, nullptr,
                                                         static_cast<unsigned>(v1 - v0));
    if (!s) throw fail("coordinates");
    GEOSGeometry* g = GEOSGeom_createLinearRing_r(h, s);
    if (!g) throw fail("ring");
    return g;
  };
  const uint64_t r0 = l.ring_offset[p], r1 = l.ring_offset[p + 1];
  std::vector<GEOSGeometry*> rings;
  try {
    for (uint64_t r = r0; r < r1; ++r) rings.push_back(ring(r));
  } catch (...) {
    for (GEOSGeometry* g : rings) GEOSGeom_destroy_r(h, g);
    throw;
  }
  GEOSGeometry* poly = GEOSGeom_createPolygon_r(h, rings[0], rings.data() + 1, static_cast<unsigned>(rings.size() - 1));
  if (!poly) throw fail("polygon");
  return geos::Geom(poly, geos::GeomDeleter{h});
}


std::vector<PreparedPart> prepare_parts(const geos::Context& c, const AreaLayer& l, size_t a) {
  std::vector<PreparedPart> parts;
  for (uint64_t p = l.polygon_offset[a]; p < l.polygon_offset[a + 1]; ++p) {
    if (l.ring_offset[p + 1] == l.ring_offset[p]) continue;
    PreparedPart part{polygon_geometry(c, l, a, p), geos::Prepared(nullptr, geos::PreparedDeleter{c.h()}), 0, 0, 0, 0};
    part.prep.reset(GEOSPrepare_r(c.h(), part.geom.get()));
    if (!part.prep)
      throw std::runtime_error("cover: layer '" + l.name + "' area '" + l.id[a] + "': GEOS prepare: " + c.last_error());
    const uint64_t v0 = l.vertex_offset[l.ring_offset[p]], v1 = l.vertex_offset[l.ring_offset[p] + 1];  // the shell
    part.x0 = *std::min_element(l.lon.begin() + v0, l.lon.begin() + v1);
    part.x1 = *std::max_element(l.lon.begin() + v0, l.lon.begin() + v1);
    part.y0 = *std::min_element(l.lat.begin() + v0, l.lat.begin() + v1);
    part.y1 = *std::max_element(l.lat.begin() + v0, l.lat.begin() + v1);
    parts.push_back(std::move(part));
  }
  return parts;
}

}  // namespace detail

CoverResult cover_layers(const std::vector<AreaLayer>& layers, const CoverOptions& opt, const mpi::Comm* comm) {
  const bool s2 = opt.grid == "s2";
  if (!s2 && opt.grid != "geohash") throw std::invalid_argument("cover: unknown grid '" + opt.grid + "' (geohash or s2)");
  if (!s2 && (opt.precision < 1 || opt.precision > geohash::kMaxPrecision))
    throw std::invalid_argument("cover: precision " + std::to_string(opt.precision) + " outside 1..12");
  if (s2 && (opt.precision < 1 || opt.precision > s2grid::kMaxLevel))
    throw std::invalid_argument("cover: S2 level " + std::to_string(opt.precision) + " outside 1..30");
  const int rank = comm ? comm->rank() : 0, size = comm ? comm->size() : 1;
  const size_t nl = layers.size();

  // Cover this rank's areas.
  std::vector<RawLayer> raw(nl);
  std::vector<LayerCounters> counters(nl);
  std::vector<DeadArea> my_dead;
  double my_seconds = 0, my_weight = 0;
  {
    GeosContext ctx;
    const std::vector<WorkItem> items = my_items(layers, rank, size);
    std::vector<std::unique_ptr<detail::Coverer>> coverers;
    for (size_t li = 0; li < nl; ++li)
      coverers.push_back(s2 ? detail::make_s2_coverer(ctx, opt.precision, opt.clip_first, raw[li], counters[li])
                            : std::make_unique<AreaCoverer>(ctx, opt.precision, opt.clip_first, raw[li], counters[li]));
    uint64_t done = 0;
    for (const WorkItem& it : items) my_weight += static_cast<double>(it.weight);
    const auto cover_t0 = Clock::now();
    for (const WorkItem& it : items) {
      const auto t0 = Clock::now();
      std::optional<DeadArea> dead = check_area(ctx, layers[it.layer], it.layer, it.area);
      if (!dead) {
        const RawMark m = mark(raw[it.layer]);
        const LayerCounters before = counters[it.layer];
        try {
          coverers[it.layer]->cover(layers[it.layer], it.area);
        } catch (const std::runtime_error& e) {
          rollback(raw[it.layer], m);
          counters[it.layer] = before;
          dead = DeadArea{it.layer, it.area, Reason::kGeometryFailure, e.what()};
        }
      }
      if (dead) my_dead.push_back(std::move(*dead));
      counters[it.layer].seconds += seconds_since(t0);
      counters[it.layer].areas += 1;
      ++done;
      if (opt.progress) opt.progress(done, items.size());
    }
    my_seconds = seconds_since(cover_t0);
  }
  std::vector<double> rank_seconds{my_seconds}, rank_weight{my_weight};
  if (comm && size > 1) {
    rank_seconds = comm->all_gather(my_seconds);
    rank_weight = comm->all_gather(my_weight);
  }

  // Gather to rank 0.
  if (comm && size > 1) {
    std::vector<char> buf;
    for (size_t li = 0; li < nl; ++li) {
      serialise(raw[li], counters[li], buf);
      raw[li] = RawLayer();
    }
    put1<uint64_t>(buf, my_dead.size());
    for (const DeadArea& d : my_dead) {
      put1<uint32_t>(buf, d.layer);
      put1<uint32_t>(buf, d.area);
      put1<int32_t>(buf, static_cast<int32_t>(d.reason));
      put1<uint64_t>(buf, d.message.size());
      put(buf, d.message.data(), d.message.size());
    }
    my_dead.clear();
    // Test hook: a small chunk exercises the gather's rounds with small data (tests/cover/cover_mpi_test).
    uint64_t chunk = 0;
    if (const char* env = std::getenv("GEOSHARD_COVER_GATHER_CHUNK")) chunk = std::max<uint64_t>(1, std::strtoull(env, nullptr, 10));
    std::vector<std::vector<char>> all = comm->gather_bytes(buf, chunk);
    buf = std::vector<char>();
    counters.assign(nl, LayerCounters{});
    if (rank == 0) {
      for (int r = 0; r < size; ++r) {
        Reader in(all[r].data(), all[r].size());
        for (size_t li = 0; li < nl; ++li) {
          RawLayer part;
          LayerCounters c;
          deserialise(in, part, c);
          raw[li].append(part);
          LayerCounters& t = counters[li];
          t.areas += c.areas;
          t.interior_cells += c.interior_cells;
          t.interior_at_p = saturating_add(t.interior_at_p, c.interior_at_p);
          t.boundary_cells += c.boundary_cells;
          t.touch_dropped += c.touch_dropped;
          t.geos_calls += c.geos_calls;
          t.seconds += c.seconds;
        }
        const auto nd = in.get1<uint64_t>();
        for (uint64_t k = 0; k < nd; ++k) {
          DeadArea d;
          d.layer = in.get1<uint32_t>();
          d.area = in.get1<uint32_t>();
          d.reason = static_cast<Reason>(in.get1<int32_t>());
          d.message.resize(in.get1<uint64_t>());
          in.get(d.message.data(), d.message.size());
          my_dead.push_back(std::move(d));
        }
        all[r] = std::vector<char>();
      }
    }
  }

  CoverResult res;
  res.layers.resize(nl);
  if (rank != 0) {
    for (size_t li = 0; li < nl; ++li) {
      res.layers[li].name = layers[li].name;
      res.layers[li].precision = opt.precision;
      res.layers[li].grid = opt.grid;
    }
    return res;
  }
  std::sort(my_dead.begin(), my_dead.end(),
            [](const DeadArea& x, const DeadArea& y) { return x.layer != y.layer ? x.layer < y.layer : x.area < y.area; });
  res.dead = std::move(my_dead);
  res.rank_seconds = rank_seconds;
  res.rank_weight = rank_weight;
  for (size_t li = 0; li < nl; ++li) {
    const auto t0 = Clock::now();
    res.layers[li] = flatten(raw[li], layers[li].name, FlattenOptions{opt.precision, opt.merge, opt.grid});
    raw[li] = RawLayer();
    const double ft = seconds_since(t0);
    const CoverageLayer& L = res.layers[li];
    const LayerCounters& c = counters[li];
    CoverLayerStats s;
    s.name = layers[li].name;
    s.areas = c.areas;
    s.interior_cells = opt.merge ? c.interior_cells : c.interior_at_p;
    s.boundary_cells = c.boundary_cells;
    s.intervals = L.intervals();
    s.pieces = L.pieces();
    s.piece_vertices = L.lon.size();
    s.seconds = c.seconds + ft;
    s.interior_cells_at_precision = c.interior_at_p;
    s.touch_cells_dropped = c.touch_dropped;
    s.geos_predicates = c.geos_calls;
    s.flatten_seconds = ft;
    res.stats.push_back(s);
  }
  return res;
}

}  // namespace geoshard::cover
