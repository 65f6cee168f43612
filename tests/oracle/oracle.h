// The exact oracle for road localisation: what GEOS says each road's length inside each area is.
//
// geoshard promises that its localiser (jobs/localise) is EXACT: identical to an exact planar
// intersection as GEOS computes it. This library is that intersection, written plainly on the
// GEOS C API, so tests and benchmarks can check the localiser against it on every run.
//
// The definition both sides compute. Road i is a polyline of segments s_k = (A_k, B_k) in
// lon/lat, planar as in GEOS; area a is a valid multipolygon with holes, a CLOSED set (its border
// belongs to it). Then
//     length_m(i, a) = Σ_k  |s_k ∩ a| / |s_k|  ×  haversine_m(A_k, B_k)
// where |·| is planar length in degrees (GEOSLength) and haversine_m is kernels/geodesic.h: the
// t-fraction definition of a piece's length (see that header for why not the haversine of the
// piece's endpoints). Pairs with length_m == 0 (a road touching an area at points only) are not
// listed. share = length_m / road length (Σ_k haversine_m of the segments). The primary area of
// a road in a layer has the largest length_m; ties go to the lowest area id, ids compared as
// integers when both parse as int64, else as strings. A road touching no area has none.
//
// Error bounds: intersection points are rounded by GEOS (a few ulps of the coordinates, ~1e-14°
// near |lon| ~ 100), so a length is exact up to ~1e-13 relative for ordinary pieces; a piece a few
// ulps long is a rounding-level sliver. compare() therefore takes a relative tolerance (1e-9 of
// the road's length by default) and never reports a sliver as a disagreement.
//
// Thread-safety: every function makes its own GEOS context; calls on different threads are
// independent. Inputs are read only.
//
// Example:
//   auto truth = oracle::localise_with_geos(roads, layer, oracle::Method::kStrTreePrepared);
//   auto cmp = oracle::compare(truth, mine, roads, layer);
//   EXPECT_TRUE(cmp.exact()) << cmp.summary();
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/area_table.h"
#include "io/road_table.h"

namespace geoshard::oracle {

// One (road, area) pair with length_m > 0. row = road table row (0-based, within the table
// given); area = row index in the AreaLayer.
struct RoadAreaLength {
  uint64_t row;
  uint32_t area;
  double length_m;
};

enum class Method {
  // STRtree over the area envelopes, each area GEOSPrepare'd. Per road: candidates from the tree;
  // prepared containsProperly(road) → the whole road (Σ haversine); otherwise per segment whose
  // envelope meets the area's: prepared intersects false → 0, prepared containsProperly → the
  // whole segment, else GEOSIntersection(segment, area). The prepared tests decide exactly what
  // the intersection would, so the result is the definition, computed faster.
  kStrTreePrepared,
  // Every road against every area, every segment through GEOSIntersection: no tree, no
  // preparation, no envelope filter. The cross-check of kStrTreePrepared, and the quadratic
  // baseline of the benchmark (bench/localise_vs_geos).
  kBruteForce,
};

// Per (road row, area) with length_m > 0, sorted by (row, area). Exact per-segment GEOS
// intersection (see the header comment). Throws std::runtime_error when GEOS fails.
std::vector<RoadAreaLength> localise_with_geos(const RoadTable& roads, const AreaLayer& layer, Method method);

// Σ haversine_m of the segments of road `row` (the denominator of every share).
double road_length_m(const RoadTable& roads, uint64_t row);

// Ids compared as integers when both parse as int64, else as strings: true when a < b.
bool area_id_less(const std::string& a, const std::string& b);

struct Primary {
  int64_t area = -1;  // area index in the layer, -1 when the road touches no area
  double length_m = 0, share = 0;
};

// The primary area of every road row (rows() entries). `pairs` sorted by (row, area), as
// localise_with_geos returns them.
std::vector<Primary> primaries(const std::vector<RoadAreaLength>& pairs, const RoadTable& roads,
                               const AreaLayer& layer);

// Outcome of compare(). Counts are over roads / pairs; examples are human-readable lines naming
// road ids, area ids and both lengths (at most 10).
struct Comparison {
  uint64_t roads = 0, pairs_expected = 0, pairs_got = 0;
  uint64_t missing = 0;             // pairs in expected only, longer than rel_tol × road length
  uint64_t extra = 0;               // pairs in got only, longer than rel_tol × road length
  uint64_t share_mismatches = 0;    // pairs in both whose lengths differ by > rel_tol × road length
  uint64_t primary_mismatches = 0;  // primaries differ and the expected lengths of both differ by > tol
  uint64_t primary_ties = 0;        // primaries differ within the tolerance (a rounding-level tie)
  double max_rel_error = 0;         // max |expected − got| / road length over all pairs (missing = 0)
  std::vector<std::string> examples;
  bool exact() const { return missing == 0 && extra == 0 && share_mismatches == 0 && primary_mismatches == 0; }
  std::string summary() const;  // one line of counts, then the examples
};

// Compares `got` with `expected` (both sorted by (row, area), rows of `roads`, areas of `layer`).
Comparison compare(const std::vector<RoadAreaLength>& expected, const std::vector<RoadAreaLength>& got,
                   const RoadTable& roads, const AreaLayer& layer, double rel_tol = 1e-9);

// The join a good GEOS user writes (the benchmark's peer, bench/localise_vs_geos): STRtree and
// prepared areas as in kStrTreePrepared; per candidate: prepared intersects false → skip,
// prepared containsProperly(road) → Σ haversine of the road; otherwise ONE
// GEOSIntersection(road, area) and the geodesic length of its line parts as Σ haversine of each
// result piece's endpoints. That is not the definition (haversine of pieces does not add up, and
// an overlay merges a road's self-overlapping parts), so its results deviate slightly from
// localise_with_geos; the benchmark reports by how much. Same output shape and order.
std::vector<RoadAreaLength> localise_geos_user_join(const RoadTable& roads, const AreaLayer& layer);

}  // namespace geoshard::oracle
