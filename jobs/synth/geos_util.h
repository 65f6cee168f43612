// Thin RAII layer over the reentrant GEOS C API, just what the synthetic region needs.
// One GeosContext per thread; geometries hold the context handle and must not outlive it.
#pragma once

#include <geos_c.h>

#include "io/geos.h"

#include <memory>
#include <string>
#include <vector>

namespace geoshard::synth::detail {

struct XY {
  double x, y;
};

// The RAII types are the project's shared ones (io/geos.h).
using GeosContext = geos::Context;
using geos::Geom;
using geos::GeomDeleter;
using geos::Prepared;
using geos::PreparedDeleter;

// Wraps a GEOS result; throws std::runtime_error("GEOS <what>: <message>") when it is null.
Geom take(const GeosContext& c, GEOSGeometry* g, const char* what);
Geom clone(const GeosContext& c, const GEOSGeometry* g);
Prepared prepare(const GeosContext& c, const GEOSGeometry* g);

Geom make_point(const GeosContext& c, XY p);
Geom make_line(const GeosContext& c, const std::vector<XY>& pts);
// Closed ring from pts (closing vertex added when missing); holes likewise.
Geom make_polygon(const GeosContext& c, const std::vector<XY>& shell,
                  const std::vector<std::vector<XY>>& holes = {});
Geom make_box(const GeosContext& c, double x0, double y0, double x1, double y1);
// Takes ownership of the parts.
Geom make_collection(const GeosContext& c, int type, std::vector<Geom> parts);

std::vector<XY> coords(const GeosContext& c, const GEOSGeometry* line_or_ring);
// Polygons of g (recursing into collections), cloned.
std::vector<Geom> polygons_of(const GeosContext& c, const GEOSGeometry* g);
// Linestrings of g (recursing), cloned.
std::vector<Geom> lines_of(const GeosContext& c, const GEOSGeometry* g);
// The polygonal part of g as a MultiPolygon (possibly empty).
Geom as_multipolygon(const GeosContext& c, const GEOSGeometry* g);

double area(const GeosContext& c, const GEOSGeometry* g);
bool is_valid(const GeosContext& c, const GEOSGeometry* g);
bool is_empty(const GeosContext& c, const GEOSGeometry* g);
XY point_on_surface(const GeosContext& c, const GEOSGeometry* g);
struct Envelope {
  double x0, y0, x1, y1;
};
Envelope envelope(const GeosContext& c, const GEOSGeometry* g);
std::vector<unsigned char> to_wkb(const GeosContext& c, const GEOSGeometry* g);

bool prepared_contains_point(const GeosContext& c, const GEOSPreparedGeometry* p, XY pt);

}  // namespace geoshard::synth::detail
