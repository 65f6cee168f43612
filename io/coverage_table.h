// The coverage table (coverage.h5): for every area layer, the grid cells its areas touch, as
// sorted disjoint intervals of the 64-bit Z-order key (kernels/geohash.h), each carrying the
// areas present there and how: INTERIOR (the closed cell lies inside the area: every piece of
// road in it belongs to the area at once) or BOUNDARY (the area's border crosses the cell: the
// cell keeps the area clipped to the closed cell, a small ring set to clip road pieces against).
// DESIGN.md, "The road-localisation method"; docs/formats.md documents the HDF5 layout.
//
// Invariants (checked by validate()):
//  - lo[i] <= hi[i] < lo[i+1]: intervals sorted and disjoint; every interval is a union of whole
//    cells of precision <= `precision`, so a precision-`precision` cell lies inside exactly one
//    interval or in none (one binary search finds it: find()).
//  - entries of an interval are sorted by area index, one per area;
//  - a BOUNDARY entry refers to a clipped piece (entry_piece >= 0); an INTERIOR entry has -1;
//  - piece rings are closed rings of >= 4 vertices lying in the closed cell they were clipped
//    to; rings of one piece combine by the even-odd rule (holes included). Pieces may be
//    degenerate (zero area) where an area only touches the cell along its edge; that is
//    harmless: clipping a piece that lies in the open cell against them yields nothing.
//  - Exactness: INTERIOR means the closed cell is covered by the area (decided exactly by GEOS
//    covers()); the clipped rings equal the area inside the closed cell except that vertices
//    created on the cell's edges carry one rounded coordinate (the other is the exact grid line).
//
// The file also holds a copy of the area layers it was built from (/areas, the same layout as
// areas.h5) so localise and gather need only coverage.h5, and so roads lying exactly along a
// grid line can be clipped against the full area (see jobs/localise).
//
// grid = "s2" (cover --grid s2): keys are S2 leaf-cell ids, `precision` is the S2 level L of the
// BOUNDARY cells, an interval is a closed range of leaf ids that is a union of whole cells of
// level <= L, and a piece is the area clipped to the cell's expanded lon/lat rectangle
// (jobs/cover/s2_grid.h) instead of to the cell. The roads table stays in geohash order.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/area_table.h"
#include "kernels/polygon.h"

namespace geoshard {

enum class CoverKind : uint8_t { kInterior = 1, kBoundary = 2 };

struct CoverageLayer {
  std::string name;         // the area layer's name
  std::string grid = "geohash";
  int precision = 7;        // precision of the finest (boundary) cells
  // Intervals [lo[i], hi[i]] (closed), sorted, disjoint.
  std::vector<uint64_t> lo, hi;
  std::vector<uint64_t> entry_offset;  // intervals+1: interval i owns entries [entry_offset[i], entry_offset[i+1])
  std::vector<uint32_t> entry_area;    // index of the area in the layer (row of AreaLayer)
  std::vector<uint8_t> entry_kind;     // CoverKind
  std::vector<int64_t> entry_piece;    // BOUNDARY: piece index; INTERIOR: -1
  // Clipped pieces: piece p owns rings [piece_ring_offset[p], piece_ring_offset[p+1]); ring r owns
  // vertices [ring_vertex_offset[r], ring_vertex_offset[r+1]) of lon/lat.
  std::vector<uint64_t> piece_ring_offset;  // pieces+1
  std::vector<uint64_t> ring_vertex_offset; // rings+1
  std::vector<double> lon, lat;

  size_t intervals() const { return lo.size(); }
  size_t pieces() const { return piece_ring_offset.empty() ? 0 : piece_ring_offset.size() - 1; }
  // Index of the interval that contains `key`, or -1. One binary search.
  int64_t find(uint64_t key) const;
  // The rings of piece p as a kernels/ view (valid while this object lives).
  RingSet piece_rings(int64_t p) const;
  void validate() const;  // throws std::runtime_error naming the broken invariant
};

// A coverage layer and its areas as read from `path`, checked before a job uses them: both
// validate(), and every entry names one of the layer's areas. Throws std::runtime_error naming
// the file and the layer (a table changed in place, or written by another tool).
void check_coverage_layer(const CoverageLayer& c, const AreaLayer& a, const std::string& path);

// Writes the layers (and the copy of their area layers, same order) into a new file.
void write_coverage(const std::string& path, const std::vector<CoverageLayer>& layers,
                    const std::vector<AreaLayer>& areas);
std::vector<std::string> coverage_layer_names(const std::string& path);
CoverageLayer read_coverage_layer(const std::string& path, const std::string& layer);
// The copy of area layer `layer` kept in the coverage file.
AreaLayer read_coverage_areas(const std::string& path, const std::string& layer);

}  // namespace geoshard
