#include "jobs/ingest/geometry.h"

#include <ogr_geometry.h>

#include <cmath>
#include <memory>

#include "io/ogr_source.h"

namespace geoshard::ingest {
namespace {

bool reject(Rejection& why, Reason r, std::string message) {
  why.reason = r;
  why.message = std::move(message);
  return false;
}

// A vertex check shared by roads and areas: finite, then inside lon/lat range.
bool vertex_ok(double x, double y, int i, Rejection& why) {
  if (!std::isfinite(x) || !std::isfinite(y))
    return reject(why, Reason::kNonFiniteCoordinate, "vertex " + std::to_string(i) + " is not finite");
  if (x < -180 || x > 180 || y < -90 || y > 90)
    return reject(why, Reason::kCoordinateOutOfRange, "vertex " + std::to_string(i) + " (" + std::to_string(x) + ", " +
                                                          std::to_string(y) + ") is outside lon/lat range");
  return true;
}

// Appends the polygons of g (polygon, multipolygon, or the polygonal members of a collection).
void collect_polygons(const OGRGeometry* g, std::vector<const OGRPolygon*>& out) {
  switch (wkbFlatten(g->getGeometryType())) {
    case wkbPolygon:
      if (!g->IsEmpty()) out.push_back(g->toPolygon());
      break;
    case wkbMultiPolygon:
      for (const OGRPolygon* p : *g->toMultiPolygon())
        if (!p->IsEmpty()) out.push_back(p);
      break;
    case wkbGeometryCollection:
      for (const OGRGeometry* m : *g->toGeometryCollection()) collect_polygons(m, out);
      break;
    default:
      break;
  }
}

double signed_area(const OGRLinearRing* r) {
  double a = 0;
  const int n = r->getNumPoints();
  for (int i = 0; i + 1 < n; ++i) a += r->getX(i) * r->getY(i + 1) - r->getX(i + 1) * r->getY(i);
  return a / 2;
}

// Ring r as a vertex list, counter-clockwise when ccw, else clockwise.
std::vector<LonLat> oriented_ring(const OGRLinearRing* r, bool ccw) {
  const int n = r->getNumPoints();
  const bool reverse = (signed_area(r) > 0) != ccw;
  std::vector<LonLat> out;
  out.reserve(n);
  for (int k = 0; k < n; ++k) {
    const int i = reverse ? n - 1 - k : k;
    out.emplace_back(r->getX(i), r->getY(i));
  }
  return out;
}

bool is_polygonal(OGRwkbGeometryType t) {
  t = wkbFlatten(t);
  return t == wkbPolygon || t == wkbMultiPolygon || t == wkbGeometryCollection;
}

}  // namespace

bool road_geometry(const OGRGeometry* g, RoadGeometry& out, Rejection& why) {
  out = {};
  if (!g) return reject(why, Reason::kNoGeometry, "feature has no geometry");
  std::vector<const OGRLineString*> parts;
  const auto type = wkbFlatten(g->getGeometryType());
  if (type == wkbLineString) {
    parts.push_back(g->toLineString());
  } else if (type == wkbMultiLineString) {
    for (const OGRLineString* ls : *g->toMultiLineString()) parts.push_back(ls);
  } else {
    return reject(why, Reason::kUnsupportedGeometry,
                  std::string("geometry type ") + OGRGeometryTypeToName(g->getGeometryType()) + " is not a line");
  }
  if (g->IsEmpty()) return reject(why, Reason::kEmptyGeometry, "geometry is empty");

  // Validate every vertex first; then drop consecutive duplicates (a repair, counted).
  for (const OGRLineString* ls : parts) {
    std::vector<LonLat> pts;
    for (int i = 0; i < ls->getNumPoints(); ++i) {
      const double x = ls->getX(i), y = ls->getY(i);
      if (!vertex_ok(x, y, i, why)) return false;
      if (!pts.empty() && pts.back().first == x && pts.back().second == y) out.repaired = true;
      else pts.emplace_back(x, y);
    }
    if (pts.size() >= 2) out.parts.push_back(std::move(pts));
    else out.repaired = true;  // a part with < 2 distinct points has no length: dropped, counted as a repair
  }
  if (out.parts.empty()) return reject(why, Reason::kTooFewPoints, "fewer than two distinct points");
  if (out.parts.size() > 65535) return reject(why, Reason::kUnsupportedGeometry, "more than 65535 parts");
  return true;
}

bool area_geometry(const OGRGeometry* g, AreaGeometry& out, Rejection& why) {
  out = {};
  if (!g) return reject(why, Reason::kNoGeometry, "feature has no geometry");
  if (!is_polygonal(g->getGeometryType()))
    return reject(why, Reason::kUnsupportedGeometry,
                  std::string("geometry type ") + OGRGeometryTypeToName(g->getGeometryType()) + " is not a polygon");
  if (g->IsEmpty()) return reject(why, Reason::kEmptyGeometry, "geometry is empty");
  std::unique_ptr<OGRGeometry> owned(g->clone());
  owned->flattenTo2D();
  // Coordinates first: make-valid cannot mend NaN, and out-of-range areas are data errors.
  std::vector<const OGRPolygon*> polys;
  collect_polygons(owned.get(), polys);
  for (const OGRPolygon* p : polys)
    for (const OGRLinearRing* r : *p)
      for (int i = 0; i < r->getNumPoints(); ++i)
        if (!vertex_ok(r->getX(i), r->getY(i), i, why)) return false;
  if (polys.empty()) return reject(why, Reason::kUnsupportedGeometry, "geometry collection without polygons");
  // A collection is valid when each member is, even when members overlap; an area is the union
  // of its polygons, so its polygonal members are checked (and mended) as one multipolygon.
  if (wkbFlatten(owned->getGeometryType()) == wkbGeometryCollection) {
    // Members that are not polygons (points, lines, empty ones) are dropped: a repair.
    if (static_cast<int>(polys.size()) != owned->toGeometryCollection()->getNumGeometries()) out.repaired = true;
    auto multi = std::make_unique<OGRMultiPolygon>();
    for (const OGRPolygon* p : polys) multi->addGeometry(p);
    polys.clear();
    owned = std::move(multi);
  }

  // Unclosed rings are closed (a repair); then GEOS validity, and make-valid when needed.
  {
    std::unique_ptr<OGRGeometry> before(owned->clone());
    owned->closeRings();
    if (!owned->Equals(before.get())) out.repaired = true;
  }
  // Validity is judged on the rings as they will be stored (shells counter-clockwise, holes
  // clockwise, rings of < 4 points dropped): GEOS's verdict can depend on orientation when
  // coordinates are subnormal (found by fuzz_geometry). An invalid result goes through GEOS
  // make-valid and is judged again; twice invalid is unrepairable.
  for (int attempt = 0;; ++attempt) {
    polys.clear();
    collect_polygons(owned.get(), polys);
    OGRMultiPolygon stored;
    out.polygons.clear();
    for (const OGRPolygon* p : polys) {
      std::vector<std::vector<LonLat>> rings;
      OGRPolygon poly;
      for (const OGRLinearRing* r : *p) {
        if (r->getNumPoints() < 4) {  // a ring without area (after closing): dropped, a repair
          out.repaired = true;
          continue;
        }
        rings.push_back(oriented_ring(r, rings.empty()));
        std::vector<double> xs, ys;  // one setPoints: addPoint reallocates at every vertex
        xs.reserve(rings.back().size());
        ys.reserve(rings.back().size());
        for (const auto& [x, y] : rings.back()) {
          xs.push_back(x);
          ys.push_back(y);
        }
        OGRLinearRing ring;
        ring.setPoints(static_cast<int>(xs.size()), xs.data(), ys.data());
        poly.addRing(&ring);
      }
      if (rings.empty()) continue;
      out.polygons.push_back(std::move(rings));
      stored.addGeometry(&poly);
    }
    const bool valid = !out.polygons.empty() && stored.IsValid();
    gdal_last_error();
    if (valid) {
      OGREnvelope env;
      stored.getEnvelope(&env);
      out.min_lon = env.MinX;
      out.min_lat = env.MinY;
      out.max_lon = env.MaxX;
      out.max_lat = env.MaxY;
      break;
    }
    out.polygons.clear();
    if (attempt == 1)
      return reject(why, Reason::kUnrepairablePolygon, "GEOS make-valid gave a polygon that is still not valid");
    std::unique_ptr<OGRGeometry> fixed(owned->MakeValid());
    const std::string detail = gdal_last_error();
    polys.clear();
    if (fixed) collect_polygons(fixed.get(), polys);
    if (!fixed || polys.empty())
      return reject(why, Reason::kUnrepairablePolygon, "GEOS make-valid left no polygon" + (detail.empty() ? "" : ": " + detail));
    owned = std::move(fixed);
    out.repaired = true;
  }
  return true;
}

}  // namespace geoshard::ingest
