// The geometry half of ingest: one OGR geometry -> the parts of a road or the rings of an area,
// or the reason it is rejected. Pure (no I/O), so that ingest and the geometry fuzz target
// (tests/fuzz/fuzz_geometry.cpp) run the very same code.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "io/dead_letter.h"

class OGRGeometry;

namespace geoshard::ingest {

// Why a geometry was rejected: a dead-letter reason and a message for its record.
struct Rejection {
  Reason reason = Reason::kNoGeometry;
  std::string message;
};

using LonLat = std::pair<double, double>;

struct RoadGeometry {
  std::vector<std::vector<LonLat>> parts;  // each >= 2 points, no consecutive duplicates
  bool repaired = false;                   // duplicates or degenerate parts were dropped
};

// A (multi)line string -> its parts. Every vertex must be finite and in lon/lat range;
// consecutive duplicate vertices and parts with < 2 distinct points are dropped (a repair).
// Returns false and fills `why` when the road cannot be used: no geometry, not a line, empty,
// a bad vertex, fewer than two distinct points, more than 65,535 parts.
bool road_geometry(const OGRGeometry* g, RoadGeometry& out, Rejection& why);

struct AreaGeometry {
  // polygons -> rings -> closed vertex lists (first == last, >= 4 points); ring 0 of each
  // polygon is its shell, counter-clockwise, the others its holes, clockwise.
  std::vector<std::vector<std::vector<LonLat>>> polygons;
  double min_lon = 0, min_lat = 0, max_lon = 0, max_lat = 0;  // of the (repaired) geometry
  bool repaired = false;  // rings closed, or GEOS make-valid applied
};

// A polygon, multipolygon or collection with polygonal members -> valid polygons. Every vertex
// must be finite and in range; unclosed rings are closed and invalid polygons (self-
// intersections, bow-ties, holes outside shells, short rings) go through GEOS make-valid, both
// counted as repairs. Returns false and fills `why` otherwise (no geometry, not polygonal,
// empty, a bad vertex, make-valid leaving no polygon).
bool area_geometry(const OGRGeometry* g, AreaGeometry& out, Rejection& why);

}  // namespace geoshard::ingest
