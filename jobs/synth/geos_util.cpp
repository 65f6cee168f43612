#include "jobs/synth/geos_util.h"

#include <cstdarg>
#include <cstdio>
#include <stdexcept>

namespace geoshard::synth::detail {

Geom take(const GeosContext& c, GEOSGeometry* g, const char* what) {
  if (!g) throw std::runtime_error(std::string("GEOS ") + what + ": " + c.last_error());
  return Geom(g, GeomDeleter{c.h()});
}

Geom clone(const GeosContext& c, const GEOSGeometry* g) { return take(c, GEOSGeom_clone_r(c.h(), g), "clone"); }

Prepared prepare(const GeosContext& c, const GEOSGeometry* g) {
  const GEOSPreparedGeometry* p = GEOSPrepare_r(c.h(), g);
  if (!p) throw std::runtime_error("GEOS prepare: " + c.last_error());
  return Prepared(p, PreparedDeleter{c.h()});
}

Geom make_point(const GeosContext& c, XY p) { return take(c, GEOSGeom_createPointFromXY_r(c.h(), p.x, p.y), "point"); }

static GEOSCoordSequence* make_seq(const GeosContext& c, const std::vector<XY>& pts, bool close) {
  std::vector<double> buf;
  buf.reserve(pts.size() * 2 + 2);
  for (const XY& p : pts) {
    buf.push_back(p.x);
    buf.push_back(p.y);
  }
  if (close && !pts.empty() && (pts.front().x != pts.back().x || pts.front().y != pts.back().y)) {
    buf.push_back(pts.front().x);
    buf.push_back(pts.front().y);
  }
  GEOSCoordSequence* s = GEOSCoordSeq_copyFromBuffer_r(c.h(), buf.data(), buf.size() / 2, 0, 0);
  if (!s) throw std::runtime_error("GEOS coordinate sequence: " + c.last_error());
  return s;
}

Geom make_line(const GeosContext& c, const std::vector<XY>& pts) {
  return take(c, GEOSGeom_createLineString_r(c.h(), make_seq(c, pts, false)), "linestring");
}

Geom make_polygon(const GeosContext& c, const std::vector<XY>& shell, const std::vector<std::vector<XY>>& holes) {
  GEOSGeometry* s = GEOSGeom_createLinearRing_r(c.h(), make_seq(c, shell, true));
  if (!s) throw std::runtime_error("GEOS ring: " + c.last_error());
  std::vector<GEOSGeometry*> hs;
  for (const auto& h : holes) {
    GEOSGeometry* r = GEOSGeom_createLinearRing_r(c.h(), make_seq(c, h, true));
    if (!r) throw std::runtime_error("GEOS ring: " + c.last_error());
    hs.push_back(r);
  }
  return take(c, GEOSGeom_createPolygon_r(c.h(), s, hs.data(), static_cast<unsigned>(hs.size())), "polygon");
}

Geom make_box(const GeosContext& c, double x0, double y0, double x1, double y1) {
  return make_polygon(c, {{x0, y0}, {x1, y0}, {x1, y1}, {x0, y1}});
}

Geom make_collection(const GeosContext& c, int type, std::vector<Geom> parts) {
  std::vector<GEOSGeometry*> raw;
  raw.reserve(parts.size());
  for (auto& p : parts) raw.push_back(p.release());
  return take(c, GEOSGeom_createCollection_r(c.h(), type, raw.data(), static_cast<unsigned>(raw.size())),
              "collection");
}

std::vector<XY> coords(const GeosContext& c, const GEOSGeometry* g) {
  const GEOSCoordSequence* s = GEOSGeom_getCoordSeq_r(c.h(), g);
  if (!s) throw std::runtime_error("GEOS coordinates: " + c.last_error());
  unsigned n = 0;
  GEOSCoordSeq_getSize_r(c.h(), s, &n);
  std::vector<XY> out(n);
  if (n) GEOSCoordSeq_copyToBuffer_r(c.h(), s, reinterpret_cast<double*>(out.data()), 0, 0);
  return out;
}

static void collect(const GeosContext& c, const GEOSGeometry* g, int want, std::vector<Geom>& out) {
  int t = GEOSGeomTypeId_r(c.h(), g);
  if (t == want) {
    out.push_back(clone(c, g));
  } else if (t == GEOS_MULTIPOLYGON || t == GEOS_MULTILINESTRING || t == GEOS_GEOMETRYCOLLECTION) {
    int n = GEOSGetNumGeometries_r(c.h(), g);
    for (int i = 0; i < n; ++i) collect(c, GEOSGetGeometryN_r(c.h(), g, i), want, out);
  }
}

std::vector<Geom> polygons_of(const GeosContext& c, const GEOSGeometry* g) {
  std::vector<Geom> out;
  collect(c, g, GEOS_POLYGON, out);
  return out;
}

std::vector<Geom> lines_of(const GeosContext& c, const GEOSGeometry* g) {
  std::vector<Geom> out;
  collect(c, g, GEOS_LINESTRING, out);
  return out;
}

Geom as_multipolygon(const GeosContext& c, const GEOSGeometry* g) {
  std::vector<Geom> polys;
  for (auto& p : polygons_of(c, g))
    if (!GEOSisEmpty_r(c.h(), p.get())) polys.push_back(std::move(p));
  return make_collection(c, GEOS_MULTIPOLYGON, std::move(polys));
}

double area(const GeosContext& c, const GEOSGeometry* g) {
  double a = 0;
  if (!GEOSArea_r(c.h(), g, &a)) throw std::runtime_error("GEOS area: " + c.last_error());
  return a;
}

bool is_valid(const GeosContext& c, const GEOSGeometry* g) { return GEOSisValid_r(c.h(), g) == 1; }
bool is_empty(const GeosContext& c, const GEOSGeometry* g) { return GEOSisEmpty_r(c.h(), g) == 1; }

XY point_on_surface(const GeosContext& c, const GEOSGeometry* g) {
  Geom p = take(c, GEOSPointOnSurface_r(c.h(), g), "point on surface");
  XY out{0, 0};
  GEOSGeomGetX_r(c.h(), p.get(), &out.x);
  GEOSGeomGetY_r(c.h(), p.get(), &out.y);
  return out;
}

Envelope envelope(const GeosContext& c, const GEOSGeometry* g) {
  Envelope e{0, 0, 0, 0};
  GEOSGeom_getXMin_r(c.h(), g, &e.x0);
  GEOSGeom_getYMin_r(c.h(), g, &e.y0);
  GEOSGeom_getXMax_r(c.h(), g, &e.x1);
  GEOSGeom_getYMax_r(c.h(), g, &e.y1);
  return e;
}

std::vector<unsigned char> to_wkb(const GeosContext& c, const GEOSGeometry* g) {
  GEOSWKBWriter* w = GEOSWKBWriter_create_r(c.h());
  GEOSWKBWriter_setByteOrder_r(c.h(), w, GEOS_WKB_NDR);
  size_t n = 0;
  unsigned char* buf = GEOSWKBWriter_write_r(c.h(), w, g, &n);
  GEOSWKBWriter_destroy_r(c.h(), w);
  if (!buf) throw std::runtime_error("GEOS WKB: " + c.last_error());
  std::vector<unsigned char> out(buf, buf + n);
  GEOSFree_r(c.h(), buf);
  return out;
}

bool prepared_contains_point(const GeosContext& c, const GEOSPreparedGeometry* p, XY pt) {
#if GEOS_VERSION_MAJOR > 3 || (GEOS_VERSION_MAJOR == 3 && GEOS_VERSION_MINOR >= 12)
  return GEOSPreparedContainsXY_r(c.h(), p, pt.x, pt.y) == 1;
#else
  Geom g = make_point(c, pt);
  return GEOSPreparedContains_r(c.h(), p, g.get()) == 1;
#endif
}

}  // namespace geoshard::synth::detail
