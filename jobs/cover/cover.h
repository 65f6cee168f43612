// cover: area layers (areas.h5) -> coverage layers (coverage.h5): for every area, the geohash
// cells of precision <= P it touches, INTERIOR or BOUNDARY, flattened per layer into sorted
// disjoint key intervals (io/coverage_table.h; DESIGN.md, "The road-localisation method").
//
// Method, per area (a valid multipolygon):
//  1. Start cells: the finest precision p0 <= P at which at most 16 cells meet the area's
//     bounding box. (Any INTERIOR cell lies in the box, and a cell coarser than p0 would hold
//     >= 32 cells of p0 there, so no INTERIOR cell coarser than p0 exists: nothing is lost.)
//  2. Top-down refinement, EXACT w.r.t. the original polygon: a cell (the closed rectangle
//     geohash::Cell::bounds(), exact doubles) is INTERIOR iff the GEOS-prepared area covers()
//     it, OUTSIDE iff it does not intersect() it, else BOUNDARY. INTERIOR cells are kept at the
//     precision where they are found (interior siblings merged into their parents); BOUNDARY
//     cells are refined into their 32 children down to precision P. GEOS is asked per polygon
//     of the area (for a valid multipolygon a cell is covered by the area iff one part covers
//     it, since the parts meet at most in points), only for parts whose box can matter.
//     With clip_first (default) a cell is clipped (step 3) before GEOS is asked:
//       - nothing left: no entry, no GEOS call (OUTSIDE, or touched only along an edge or at a
//         corner, which gets no entry anyway). A covered cell always keeps its own outline, so
//         no INTERIOR cell is lost;
//       - a vertex strictly inside the open cell: BOUNDARY without a GEOS call. Vertices made by
//         clipping lie on the edges of the cell or of its ancestors, none of which crosses the
//         cell's interior, so the vertex is an original one: the border passes through the
//         open cell, which therefore holds points outside the area;
//       - otherwise covers() decides INTERIOR exactly, and the clipped piece is the BOUNDARY
//         piece: intersects() is never needed.
//     This differs from the literal method (clip_first = false) only where the area's overlap
//     with a cell is a sliver below rounding next to a grid line (created vertices are rounded;
//     the tests found none on their random and real areas) and needs about 3x fewer GEOS calls
//     (docs/benchmarks.md, "cover": half the time).
//  3. BOUNDARY cells carry the area clipped to the closed cell (Sutherland–Hodgman, jobs/cover/
//     clip.h), computed hierarchically: a child's piece is its parent's piece clipped again.
//     Rings reduced to nothing (fewer than 3 distinct vertices, or lying on one cell edge) are
//     dropped. A BOUNDARY cell whose piece has no area inside the open cell (every ring vanished,
//     or every edge runs along the cell's edges: say a hole that is exactly the cell) is dropped
//     with its subtree: GEOS calls it BOUNDARY only because the area touches it along an edge or
//     at a corner, and localise clips roads on grid lines against the full areas anyway. So a
//     cell has an entry iff the area has points in the open cell (up to rounding slivers).
//  4. All entries of a layer are flattened (jobs/cover/flatten.h) and, with merge = true,
//     adjacent intervals with the same all-INTERIOR entry list are joined.
//
// MPI: with a communicator, areas of all layers are dealt to ranks by vertex count (+16 per area
// for its fixed cost; greedy longest-processing-time: heaviest first, to the least loaded rank,
// ties to the lowest rank),
// each rank covers its areas, the raw entries are gathered to rank 0 (MPI_Gatherv of byte
// buffers, in rounds below 2 GiB) and rank 0 flattens. The result is identical for any rank
// count; rank 0's CoverResult is complete, other ranks get layers with names only and no
// stats. Collective: every rank of comm must call with the same layers and options.
//
// Cost: O(boundary cells x 32) clippings and about one GEOS prepared covers() per INTERIOR
// cell found and per BOUNDARY cell without an area vertex inside; memory holds all
// pieces of a layer twice on rank 0 (raw and flattened). merge = false materialises every
// INTERIOR cell at precision P: 32^(P-q) intervals for an interior cell found at precision q --
// fine for gated communities, billions for a country at P = 8 (throws std::length_error above
// 2^32 intervals). CoverLayerStats::interior_cells_at_precision tells the count beforehand.
//
// Example:
//   std::vector<AreaLayer> layers = {read_area_layer("areas.h5", "city")};
//   cover::CoverOptions o;  o.precision = 7;
//   cover::CoverResult r = cover::cover_layers(layers, o);           // serial
//   write_coverage("coverage.h5", r.layers, layers);
//
// The S2 grid (grid = "s2", jobs/cover/cover_s2.cpp): the same method with S2 cells, which
// are not lon/lat rectangles. Each cell stands for a planar lon/lat rectangle that surely holds
// it and every point assigned to it (s2grid::expanded_bounds: S2Cell::GetRectBound() grown by
// 1e-9 degrees; full width where the bound crosses the antimeridian), intersected with its
// parent's rectangle so that the hierarchical clipping stays exact. Step 1 starts from the cells
// of the level whose cells are about as wide as the area's bounding box that meet the box; step 2
// decides INTERIOR by GEOS covers() of the RECTANGLE (stricter than covering the cell: exact and
// conservative), clips BOUNDARY pieces to the rectangle and refines into the 4 children down to
// level P. Entries are the closed ranges of S2 leaf ids of the cells [range_min, range_max];
// flatten works on them halved (aligned blocks, jobs/cover/s2_grid.h). Areas crossing the
// antimeridian are out of scope for both grids (ingest keeps lon in [-180, 180]; an area drawn
// across the line is a different planar polygon); areas reaching a pole are handled (the bound
// of a polar cell is the full longitude range).
//
// Thread-safety: cover_layers is reentrant (own GEOS context per call); MPI use follows mpi/comm.h.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "io/area_table.h"
#include "io/coverage_table.h"
#include "io/dead_letter.h"
#include "mpi/comm.h"

namespace geoshard::cover {

struct CoverOptions {
  int precision = 7;  // 1..12: precision of the BOUNDARY cells; with grid "s2": their S2 level, 1..30
  // "geohash" (default) or "s2": S2 cells (Hilbert order) as an exact, conservative index; see
  // "The S2 grid" below and jobs/cover/s2_grid.h. The coverage records it (layer attribute grid).
  std::string grid = "geohash";
  bool merge = true;  // see the header comment; false is for benchmarks
  // true: clip a cell before asking GEOS; a cell with nothing left after clipping gets no entry
  // without a GEOS call, and intersects() is never needed (see the header comment, step 2).
  // false: the literal method, GEOS covers() and intersects() on every cell (for benchmarks and
  // tests; results differ only by slivers below rounding next to grid lines).
  bool clip_first = true;
  // Called now and then on every rank with (areas done, areas to do) of THIS rank's share.
  std::function<void(uint64_t done, uint64_t total)> progress;
};

struct CoverLayerStats {
  std::string name;
  uint64_t areas = 0;
  uint64_t interior_cells = 0;  // INTERIOR cells emitted (any precision; precision P with merge = false)
  uint64_t boundary_cells = 0;  // BOUNDARY cells kept with a piece (precision P)
  uint64_t intervals = 0, pieces = 0, piece_vertices = 0;  // of the flattened layer
  double seconds = 0;           // covering time summed over ranks + rank 0's flattening
  // Additions beyond the brief, for the benchmarks:
  uint64_t interior_cells_at_precision = 0;  // INTERIOR cells counted at precision P (saturates at 2^64-1)
  // Cells dropped because their clipped piece has no area inside (the area touches them along an
  // edge or at a corner; with clip_first also cells reached only by a zero-width Sutherland–
  // Hodgman bridge of the parent's piece). With clip_first, cells whose clip is empty are not
  // counted (no GEOS call tells them from OUTSIDE cells).
  uint64_t touch_cells_dropped = 0;
  uint64_t geos_predicates = 0;      // GEOS prepared covers/intersects calls
  double flatten_seconds = 0;        // rank 0's flattening (included in seconds)
};

// An area the cover could not use. It gets no cells (no road is ever placed in it) and the run
// goes on; the CLI writes these to the dead-letter file. Checked before covering, in this order:
// every vertex finite (NON_FINITE_COORDINATE) and in [-180,180] x [-90,90]
// (COORDINATE_OUT_OF_RANGE); every ring closed with >= 4 vertices, and the area valid for GEOS
// isValid -- parts not overlapping, no self-intersection, holes inside shells (INVALID_POLYGON:
// the method's exactness rests on valid polygons, see step 2 above); then a GEOS failure while
// covering (GEOMETRY_FAILURE) drops what the area had emitted so far.
// ingest never writes such areas; tables from other tools or older versions may hold them.
struct DeadArea {
  uint32_t layer = 0;  // index into the input layers
  uint32_t area = 0;   // row in that layer
  Reason reason = Reason::kInvalidPolygon;
  std::string message;
};

struct CoverResult {
  std::vector<CoverageLayer> layers;     // same order as the input layers
  std::vector<DeadArea> dead;            // rank 0: the dead areas of every rank, by (layer, area)
  std::vector<CoverLayerStats> stats;    // same order; empty on ranks other than 0
  // Rank 0 only: seconds each rank spent covering its areas (before the gather), and the
  // weight (see my_items in cover.cpp) it was dealt -- for the run record and balance studies.
  std::vector<double> rank_seconds;
  std::vector<double> rank_weight;
};

// Collective over comm when given (see the header comment); serial when comm == nullptr.
// Throws std::invalid_argument for a precision outside 1..12; an area that breaks an invariant
// becomes a DeadArea (see above) instead of an exception.
CoverResult cover_layers(const std::vector<AreaLayer>& layers, const CoverOptions& opt,
                         const mpi::Comm* comm = nullptr);

}  // namespace geoshard::cover
