// The exact oracle (oracle.h) on the reentrant GEOS C API.
#include "tests/oracle/oracle.h"

#include <geos_c.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/geodesic.h"

namespace geoshard::oracle {
namespace {

// One GEOS context with its last error message (GEOS reports errors through a handler).
class Context {
 public:
  Context() : h_(GEOS_init_r()) {
    if (!h_) throw std::runtime_error("GEOS_init_r failed");
    GEOSContext_setErrorMessageHandler_r(h_, &Context::on_error, this);
  }
  ~Context() { GEOS_finish_r(h_); }
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;
  GEOSContextHandle_t h() const { return h_; }
  [[noreturn]] void fail(const char* what) const {
    throw std::runtime_error(std::string("GEOS ") + what + ": " + (error_.empty() ? "failed" : error_));
  }

 private:
  static void on_error(const char* message, void* self) { static_cast<Context*>(self)->error_ = message; }
  GEOSContextHandle_t h_;
  std::string error_;
};

struct GeomDeleter {
  GEOSContextHandle_t h;
  void operator()(GEOSGeometry* g) const { GEOSGeom_destroy_r(h, g); }
};
using Geom = std::unique_ptr<GEOSGeometry, GeomDeleter>;

Geom take(const Context& c, GEOSGeometry* g, const char* what) {
  if (!g) c.fail(what);
  return Geom(g, GeomDeleter{c.h()});
}

GEOSGeometry* make_line_raw(const Context& c, const double* lon, const double* lat, size_t n) {
  GEOSCoordSequence* cs = GEOSCoordSeq_copyFromArrays_r(c.h(), lon, lat, nullptr, nullptr, static_cast<unsigned>(n));
  if (!cs) c.fail("coordinate sequence");
  GEOSGeometry* g = GEOSGeom_createLineString_r(c.h(), cs);
  if (!g) c.fail("linestring");
  return g;
}

Geom make_line(const Context& c, const double* lon, const double* lat, size_t n) {
  return Geom(make_line_raw(c, lon, lat, n), GeomDeleter{c.h()});
}

Geom make_segment(const Context& c, double x0, double y0, double x1, double y1) {
  const double x[2] = {x0, x1}, y[2] = {y0, y1};
  return make_line(c, x, y, 2);
}

// Planar length (degrees) of the line parts of g; points (touching) have none.
double line_part_length(const Context& c, const GEOSGeometry* g) {
  const int type = GEOSGeomTypeId_r(c.h(), g);
  if (type == GEOS_LINESTRING || type == GEOS_LINEARRING) {
    double len = 0;
    if (!GEOSLength_r(c.h(), g, &len)) c.fail("length");
    return len;
  }
  if (type == GEOS_MULTILINESTRING || type == GEOS_GEOMETRYCOLLECTION) {
    double sum = 0;
    const int n = GEOSGetNumGeometries_r(c.h(), g);
    for (int i = 0; i < n; ++i) sum += line_part_length(c, GEOSGetGeometryN_r(c.h(), g, i));
    return sum;
  }
  return 0.0;  // points, multipoints, empty; an intersection of a line and an area has no polygons
}

// Σ haversine_m over the segments of the line parts of g (the natural geodesic length).
double line_part_haversine_m(const Context& c, const GEOSGeometry* g, std::vector<double>& x,
                             std::vector<double>& y) {
  const int type = GEOSGeomTypeId_r(c.h(), g);
  if (type == GEOS_LINESTRING || type == GEOS_LINEARRING) {
    const GEOSCoordSequence* cs = GEOSGeom_getCoordSeq_r(c.h(), g);
    unsigned n = 0;
    if (!cs || !GEOSCoordSeq_getSize_r(c.h(), cs, &n)) c.fail("coordinate sequence");
    x.resize(n);
    y.resize(n);
    if (n && !GEOSCoordSeq_copyToArrays_r(c.h(), cs, x.data(), y.data(), nullptr, nullptr)) c.fail("coordinates");
    return polyline_length_m(x.data(), y.data(), n);
  }
  if (type == GEOS_MULTILINESTRING || type == GEOS_GEOMETRYCOLLECTION) {
    double sum = 0;
    const int n = GEOSGetNumGeometries_r(c.h(), g);
    for (int i = 0; i < n; ++i) sum += line_part_haversine_m(c, GEOSGetGeometryN_r(c.h(), g, i), x, y);
    return sum;
  }
  return 0.0;
}

struct Box {
  double x0, y0, x1, y1;
  bool meets(double ax, double ay, double bx, double by) const {
    return std::max(ax, bx) >= x0 && std::min(ax, bx) <= x1 && std::max(ay, by) >= y0 && std::min(ay, by) <= y1;
  }
};

// The areas of one layer as GEOS geometries, optionally with an STRtree over their envelopes and
// each one prepared.
class AreaSet {
 public:
  AreaSet(const Context& c, const AreaLayer& layer, bool index) : c_(c) {
    const size_t n = layer.areas();
    geoms_.resize(n);
    boxes_.resize(n);
    for (size_t a = 0; a < n; ++a) {
      std::vector<GEOSGeometry*> polys;
      Box b{INFINITY, INFINITY, -INFINITY, -INFINITY};
      for (uint64_t p = layer.polygon_offset[a]; p < layer.polygon_offset[a + 1]; ++p) {
        std::vector<GEOSGeometry*> rings;
        for (uint64_t r = layer.ring_offset[p]; r < layer.ring_offset[p + 1]; ++r) {
          const uint64_t v0 = layer.vertex_offset[r], v1 = layer.vertex_offset[r + 1];
          GEOSCoordSequence* cs = GEOSCoordSeq_copyFromArrays_r(c.h(), &layer.lon[v0], &layer.lat[v0], nullptr,
                                                                nullptr, static_cast<unsigned>(v1 - v0));
          if (!cs) c.fail("ring coordinates");
          GEOSGeometry* ring = GEOSGeom_createLinearRing_r(c.h(), cs);
          if (!ring) c.fail("linear ring");
          rings.push_back(ring);
          if (r == layer.ring_offset[p])
            for (uint64_t v = v0; v < v1; ++v) {
              b.x0 = std::min(b.x0, layer.lon[v]);
              b.x1 = std::max(b.x1, layer.lon[v]);
              b.y0 = std::min(b.y0, layer.lat[v]);
              b.y1 = std::max(b.y1, layer.lat[v]);
            }
        }
        if (rings.empty()) continue;
        GEOSGeometry* poly = GEOSGeom_createPolygon_r(c.h(), rings[0], rings.data() + 1,
                                                      static_cast<unsigned>(rings.size() - 1));
        if (!poly) c.fail("polygon");
        polys.push_back(poly);
      }
      boxes_[a] = b;
      if (polys.empty()) continue;  // an area without polygons meets nothing
      geoms_[a] = polys.size() == 1
                      ? take(c, polys[0], "polygon")
                      : take(c, GEOSGeom_createCollection_r(c.h(), GEOS_MULTIPOLYGON, polys.data(),
                                                            static_cast<unsigned>(polys.size())),
                             "multipolygon");
    }
    if (!index) return;
    tree_ = GEOSSTRtree_create_r(c.h(), 10);
    if (!tree_) c.fail("STRtree");
    prepared_.resize(n, nullptr);
    for (size_t a = 0; a < n; ++a) {
      if (!geoms_[a]) continue;
      // The item is the area index + 1 (a null item would be ambiguous in the callback).
      GEOSSTRtree_insert_r(c.h(), tree_, geoms_[a].get(), reinterpret_cast<void*>(static_cast<uintptr_t>(a + 1)));
      prepared_[a] = GEOSPrepare_r(c.h(), geoms_[a].get());
      if (!prepared_[a]) c.fail("prepare");
    }
  }
  ~AreaSet() {
    for (const GEOSPreparedGeometry* p : prepared_)
      if (p) GEOSPreparedGeom_destroy_r(c_.h(), p);
    if (tree_) GEOSSTRtree_destroy_r(c_.h(), tree_);
  }
  AreaSet(const AreaSet&) = delete;
  AreaSet& operator=(const AreaSet&) = delete;

  size_t size() const { return geoms_.size(); }
  const GEOSGeometry* geom(size_t a) const { return geoms_[a].get(); }
  const GEOSPreparedGeometry* prepared(size_t a) const { return prepared_[a]; }
  const Box& box(size_t a) const { return boxes_[a]; }

  // Areas whose envelope meets g's, ascending.
  void query(const GEOSGeometry* g, std::vector<uint32_t>& out) const {
    out.clear();
    GEOSSTRtree_query_r(c_.h(), tree_, g, &AreaSet::collect, &out);
    std::sort(out.begin(), out.end());
  }

 private:
  static void collect(void* item, void* userdata) {
    static_cast<std::vector<uint32_t>*>(userdata)->push_back(
        static_cast<uint32_t>(reinterpret_cast<uintptr_t>(item) - 1));
  }
  const Context& c_;
  std::vector<Geom> geoms_;
  std::vector<Box> boxes_;
  std::vector<const GEOSPreparedGeometry*> prepared_;
  GEOSSTRtree* tree_ = nullptr;
};

// |segment ∩ area| / |segment| for one segment (0 when it only touches), clamped to [0, 1]
// against rounding. With `prepared`, the prepared predicates decide the empty and the whole
// cases exactly as the intersection would, without computing it.
double inside_fraction(const Context& c, const GEOSGeometry* area, const GEOSPreparedGeometry* prepared, double x0,
                       double y0, double x1, double y1) {
  const double dx = x1 - x0, dy = y1 - y0;
  const double planar = std::sqrt(dx * dx + dy * dy);  // as GEOS's Length::ofLine
  if (!(planar > 0)) return 0.0;
  Geom seg = make_segment(c, x0, y0, x1, y1);
  if (prepared) {
    const char meets = GEOSPreparedIntersects_r(c.h(), prepared, seg.get());
    if (meets == 2) c.fail("prepared intersects");
    if (!meets) return 0.0;
    const char inside = GEOSPreparedContainsProperly_r(c.h(), prepared, seg.get());
    if (inside == 2) c.fail("prepared containsProperly");
    if (inside) return 1.0;
  }
  Geom cut = take(c, GEOSIntersection_r(c.h(), seg.get(), area), "intersection");
  return std::clamp(line_part_length(c, cut.get()) / planar, 0.0, 1.0);
}

// length_m(row, area) by the per-segment definition; road-level fast paths only with `prepared`.
double per_segment_length_m(const Context& c, const RoadTable& roads, uint64_t row, const AreaSet& areas,
                            uint32_t a, const GEOSPreparedGeometry* prepared) {
  const uint64_t v0 = roads.vertex_offset[row], v1 = roads.vertex_offset[row + 1];
  const Box& box = areas.box(a);
  double sum = 0;
  for (uint64_t v = v0; v + 1 < v1; ++v) {
    const double x0 = roads.lon[v], y0 = roads.lat[v], x1 = roads.lon[v + 1], y1 = roads.lat[v + 1];
    if (prepared && !box.meets(x0, y0, x1, y1)) continue;
    const double f = inside_fraction(c, areas.geom(a), prepared, x0, y0, x1, y1);
    if (f > 0) sum += f * haversine_m(x0, y0, x1, y1);
  }
  return sum;
}

std::vector<RoadAreaLength> join(const RoadTable& roads, const AreaLayer& layer, bool natural) {
  Context c;
  AreaSet areas(c, layer, true);
  std::vector<RoadAreaLength> out;
  out.reserve(roads.rows());  // about one pair per road in a covering layer: no regrowth
  std::vector<uint32_t> cand;
  std::vector<double> bx, by;
  for (uint64_t row = 0; row < roads.rows(); ++row) {
    const uint64_t v0 = roads.vertex_offset[row], v1 = roads.vertex_offset[row + 1];
    Geom road = make_line(c, &roads.lon[v0], &roads.lat[v0], v1 - v0);
    areas.query(road.get(), cand);
    for (uint32_t a : cand) {
      const GEOSPreparedGeometry* p = areas.prepared(a);
      double len = 0;
      const char inside = GEOSPreparedContainsProperly_r(c.h(), p, road.get());
      if (inside == 2) c.fail("prepared containsProperly");
      if (inside) {
        len = road_length_m(roads, row);
      } else if (natural) {
        const char meets = GEOSPreparedIntersects_r(c.h(), p, road.get());
        if (meets == 2) c.fail("prepared intersects");
        if (!meets) continue;
        Geom cut = take(c, GEOSIntersection_r(c.h(), road.get(), areas.geom(a)), "intersection");
        len = line_part_haversine_m(c, cut.get(), bx, by);
      } else {
        len = per_segment_length_m(c, roads, row, areas, a, p);
      }
      if (len > 0) out.push_back({row, a, len});
    }
  }
  return out;
}

bool parse_int64(const std::string& s, int64_t& v) {
  const char* end = s.data() + s.size();
  auto [p, ec] = std::from_chars(s.data(), end, v);
  return ec == std::errc() && p == end && !s.empty();
}

std::string fmt(const char* f, double a, double b) {
  char buf[96];
  std::snprintf(buf, sizeof buf, f, a, b);
  return buf;
}

}  // namespace

double road_length_m(const RoadTable& roads, uint64_t row) {
  const uint64_t v0 = roads.vertex_offset[row], v1 = roads.vertex_offset[row + 1];
  return polyline_length_m(&roads.lon[v0], &roads.lat[v0], v1 - v0);
}

bool area_id_less(const std::string& a, const std::string& b) {
  int64_t x = 0, y = 0;
  if (parse_int64(a, x) && parse_int64(b, y)) return x < y;
  return a < b;
}

std::vector<RoadAreaLength> localise_with_geos(const RoadTable& roads, const AreaLayer& layer, Method method) {
  if (method == Method::kStrTreePrepared) return join(roads, layer, false);
  Context c;
  AreaSet areas(c, layer, false);
  std::vector<RoadAreaLength> out;
  for (uint64_t row = 0; row < roads.rows(); ++row)
    for (uint32_t a = 0; a < areas.size(); ++a) {
      if (!areas.geom(a)) continue;
      const double len = per_segment_length_m(c, roads, row, areas, a, nullptr);
      if (len > 0) out.push_back({row, a, len});
    }
  return out;
}

std::vector<RoadAreaLength> localise_geos_user_join(const RoadTable& roads, const AreaLayer& layer) {
  return join(roads, layer, true);
}

std::vector<Primary> primaries(const std::vector<RoadAreaLength>& pairs, const RoadTable& roads,
                               const AreaLayer& layer) {
  std::vector<Primary> out(roads.rows());
  for (const RoadAreaLength& p : pairs) {
    Primary& best = out.at(p.row);
    if (best.area < 0 || p.length_m > best.length_m ||
        (p.length_m == best.length_m && area_id_less(layer.id.at(p.area), layer.id[best.area]))) {
      best.area = p.area;
      best.length_m = p.length_m;
    }
  }
  for (uint64_t row = 0; row < out.size(); ++row)
    if (out[row].area >= 0) {
      const double total = road_length_m(roads, row);
      out[row].share = total > 0 ? out[row].length_m / total : 0.0;
    }
  return out;
}

std::string Comparison::summary() const {
  std::string s = "roads " + std::to_string(roads) + ", pairs expected " + std::to_string(pairs_expected) +
                  " got " + std::to_string(pairs_got) + ", missing " + std::to_string(missing) + ", extra " +
                  std::to_string(extra) + ", share mismatches " + std::to_string(share_mismatches) +
                  ", primary mismatches " + std::to_string(primary_mismatches) + " (ties " +
                  std::to_string(primary_ties) + "), max rel error " + fmt("%.3g", max_rel_error, 0);
  for (const std::string& e : examples) s += "\n  " + e;
  return s;
}

Comparison compare(const std::vector<RoadAreaLength>& expected, const std::vector<RoadAreaLength>& got,
                   const RoadTable& roads, const AreaLayer& layer, double rel_tol) {
  Comparison r;
  r.roads = roads.rows();
  r.pairs_expected = expected.size();
  r.pairs_got = got.size();
  auto key_less = [](const RoadAreaLength& a, const RoadAreaLength& b) {
    return a.row != b.row ? a.row < b.row : a.area < b.area;
  };
  if (!std::is_sorted(expected.begin(), expected.end(), key_less) || !std::is_sorted(got.begin(), got.end(), key_less))
    throw std::invalid_argument("oracle::compare: pairs must be sorted by (row, area)");
  auto road_name = [&](uint64_t row) {
    std::string s = "road " + (row < roads.id.size() ? std::to_string(roads.id[row]) : std::string("?"));
    if (row < roads.part.size() && roads.part[row]) s += "/" + std::to_string(roads.part[row]);
    return s + " (row " + std::to_string(row) + ")";
  };
  auto example = [&](std::string s) {
    if (r.examples.size() < 10) r.examples.push_back(std::move(s));
  };
  std::vector<double> total(roads.rows(), -1.0);
  auto road_len = [&](uint64_t row) {
    if (total.at(row) < 0) total[row] = road_length_m(roads, row);
    return total[row];
  };
  constexpr double kTiny = 1e-300;
  size_t i = 0, j = 0;
  while (i < expected.size() || j < got.size()) {
    const bool take_e = j == got.size() || (i < expected.size() && !key_less(got[j], expected[i]));
    const bool take_g = i == expected.size() || (j < got.size() && !key_less(expected[i], got[j]));
    const RoadAreaLength& k = take_e ? expected[i] : got[j];
    const double e = take_e ? expected[i].length_m : 0.0, g = take_g ? got[j].length_m : 0.0;
    const double L = road_len(k.row), tol = rel_tol * std::max(L, kTiny);
    r.max_rel_error = std::max(r.max_rel_error, std::abs(e - g) / std::max(L, kTiny));
    const std::string what = road_name(k.row) + " area '" + layer.id.at(k.area) + "'";
    if (take_e && take_g) {
      if (std::abs(e - g) > tol) {
        ++r.share_mismatches;
        example(what + fmt(": expected %.9g m, got %.9g m", e, g) + fmt(" (road %.9g m)", L, 0));
      }
    } else if (take_e && e > tol) {
      ++r.missing;
      example(what + fmt(": missing, expected %.9g m (road %.9g m)", e, L));
    } else if (take_g && g > tol) {
      ++r.extra;
      example(what + fmt(": extra, got %.9g m (road %.9g m)", g, L));
    }
    i += take_e;
    j += take_g;
  }
  const std::vector<Primary> pe = primaries(expected, roads, layer), pg = primaries(got, roads, layer);
  // Expected length of (row, area), 0 when absent.
  auto expected_len = [&](uint64_t row, int64_t area) {
    if (area < 0) return 0.0;
    auto it = std::lower_bound(expected.begin(), expected.end(), RoadAreaLength{row, static_cast<uint32_t>(area), 0},
                               key_less);
    return it != expected.end() && it->row == row && it->area == static_cast<uint32_t>(area) ? it->length_m : 0.0;
  };
  for (uint64_t row = 0; row < roads.rows(); ++row) {
    if (pe[row].area == pg[row].area) continue;
    const double L = road_len(row);
    const double de = expected_len(row, pe[row].area), dg = expected_len(row, pg[row].area);
    auto id = [&](int64_t a) { return a < 0 ? std::string("none") : "'" + layer.id.at(a) + "'"; };
    if (std::abs(de - dg) > rel_tol * std::max(L, kTiny)) {
      ++r.primary_mismatches;
      example(road_name(row) + ": primary expected " + id(pe[row].area) + fmt(" (%.9g m)", de, 0) + ", got " +
              id(pg[row].area) + fmt(" (expected %.9g m, got %.9g m)", dg, pg[row].length_m));
    } else {
      ++r.primary_ties;
    }
  }
  return r;
}

}  // namespace geoshard::oracle
