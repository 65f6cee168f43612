// Intersection links: the short roads that join the two carriageways of a dual carriageway
// (U-turn connectors, and the short cross pieces between carriageways at junctions). Routing that
// knows them can take a U-turn instead of a detour. This module is the pure classifier: no I/O,
// no MPI; jobs/links/job.h runs it on the engine. docs/links.md states the rule and its defaults.
//
// The rule. A road L (row of a road table) is an intersection link with carriageways (A, B) when
//   0. neither L, A nor B has a highway class in not_driven (footway, path, cycleway, ...);
//   1. L is a simple path: >= 2 distinct vertices, first != last (no self-loop), no vertex
//      visited twice, all coordinates finite;
//   2. L is short: geodesic length <= max_link_m;
//   3. A has a vertex (end or inner) at L's first vertex and B at L's last vertex, by exact
//      coordinates (the graph's nodes), A != B, neither is L;
//   4. A and B are one-way (oneway 1 or -1; -1 reverses the digitised direction; 0, 2 = other
//      and any unknown value are not one-way) and named, with equal normalised names
//      (normalise_name: case, whitespace and common Latin diacritics ignored);
//   5. A's and B's travel directions at those nodes are anti-parallel within
//      antiparallel_tol_deg;
//   6. the carriageways lie within [min_gap_m, max_gap_m] of each other: the perpendicular
//      distance from each attachment node to the other carriageway's local line;
//   7. L meets each carriageway at a plausible angle: the angle between L's end segment and the
//      carriageway's local line is >= min_meet_angle_deg (a road running along a carriageway
//      is not a link).
// When several pairs qualify (e.g. a node where one carriageway way ends and the next begins)
// the pair with the smallest (min id, max id) wins, so the result never depends on input order.
//
// Invariant: the result for L depends only on L and the roads that have a vertex at L's two end
// nodes; the engine job guarantees all of those are in `roads` (the halo), so every rank count
// gives the same answer.
//
// Thread-safety: pure functions of their arguments.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace geoshard::links {

struct LinkOptions {
  // U-turn connectors and junction cross pieces span the median: 10-40 m on urban dual
  // carriageways, rarely more than ~50 m; 60 m leaves room for angled links while staying
  // below an urban block (>= ~70 m), so a cross street between two avenues is not a link.
  double max_link_m = 60;
  // Widest median accepted between the two carriageways (perpendicular distance). 50 m covers
  // wide boulevards and expressway medians; farther one-way pairs are separate streets.
  double max_gap_m = 50;
  // Carriageways closer than this are on one line (e.g. a one-way street meeting itself
  // head-on through a short piece): not a dual pair.
  double min_gap_m = 2;
  // Dual carriageways run opposite ways; curves and digitising give some slack: 180 +- 30 deg.
  double antiparallel_tol_deg = 30;
  // A link leaves the carriageway sideways; below 20 deg it runs along it (a slip road or
  // a split of the carriageway itself). Real U-turns leave at 30-90 deg.
  double min_meet_angle_deg = 20;
  // highway classes that are not driven on: never links nor carriageways (a pedestrian
  // crossing drawn between the carriageways is no U-turn; seen on Singapore Bayfront).
  std::vector<std::string> not_driven = {"footway", "path", "cycleway", "steps", "pedestrian", "bridleway",
                                         "corridor", "crossing", "elevator", "platform", "construction",
                                         "proposed", "abandoned", "razed", "bus_stop", "via_ferrata"};
  nlohmann::json to_json() const;
};

// One road as the classifier sees it (views into a road table; no ownership).
struct RoadRef {
  int64_t id = 0;
  int8_t oneway = 0;  // roads.h5 oneway column: 0 two-way, 1 forward, -1 backward, 2 other
  std::string_view name;
  std::string_view highway;  // class ("" = unknown: driven)
  const double* lon = nullptr;
  const double* lat = nullptr;
  uint32_t n = 0;  // vertices
  bool roundabout = false;  // junction=roundabout/circular: neither a link nor a carriageway
  // The road's length from roads.h5's cum_km column (metres; < 0 unknown). Only a pre-filter:
  // a road longer than max_link_m + kApproxLengthSlackM by it is not measured again; the
  // threshold itself is always decided on road_length_m (the haversine sum).
  double approx_length_m = -1;
};
// cum_km differences carry rounding of the cumulative sum (~1e-6 m on a continent's table):
// 1 m of slack keeps the pre-filter a strict superset of the exact test.
constexpr double kApproxLengthSlackM = 1.0;

struct LinkResult {
  bool link = false;
  int64_t a = 0, b = 0;  // carriageway ids, a <= b (0, 0 when not a link)
  std::string carriageways() const;  // "a;b" or ""
};

// What the classifier saw among the roads it classified (bad input is counted, never fatal).
struct LinkCounts {
  uint64_t roads = 0;            // roads classified
  uint64_t links = 0;            // classified as intersection links
  uint64_t short_roads = 0;      // simple paths <= max_link_m (candidates before the pair test)
  uint64_t non_finite = 0;       // a NaN/inf coordinate: not a link
  uint64_t too_few_points = 0;   // < 2 vertices: not a link
  uint64_t zero_length = 0;      // all vertices equal: not a link
  uint64_t zero_length_segments = 0;  // roads with consecutive equal vertices (skipped in directions)
  uint64_t self_loops = 0;       // first vertex == last vertex: not a link
  uint64_t repeated_node = 0;    // a vertex visited twice (not consecutively): not a link
  uint64_t unnamed_oneway = 0;   // one-way roads without a name: never carriageways
  uint64_t oneway_unknown = 0;   // oneway value outside {-1, 0, 1, 2}: treated as not one-way
  uint64_t not_driven = 0;       // highway class in LinkOptions::not_driven: not a link
  uint64_t roundabout = 0;       // junction=roundabout/circular: not a link, not a carriageway
  LinkCounts& operator+=(const LinkCounts& o);
  nlohmann::json to_json() const;
  // (name, member) for every counter, in declaration order (shard attributes count_<name>).
  static const std::vector<std::pair<const char*, uint64_t LinkCounts::*>>& fields();
};

// Lower-case (ASCII and Latin-1/Latin Extended-A letters), strip combining marks (U+0300-U+036F)
// and the diacritics of precomposed Latin letters, collapse runs of whitespace to one space, trim.
// Invalid UTF-8 bytes are kept as they are. "  Jalan  Sultan " == "jalan sultan" == "JALAN SULTÁN".
std::string normalise_name(std::string_view s);

// True for roads.h5 one-way values (forward or backward).
inline bool is_oneway(int8_t v) { return v == 1 || v == -1; }

// Classifies roads[own_begin, own_end) using all of `roads` (own + halo) as the graph.
// Returns one result per classified road, in order; adds what it saw to *counts when given.
std::vector<LinkResult> classify_links(std::span<const RoadRef> roads, size_t own_begin, size_t own_end,
                                       const LinkOptions& opt, LinkCounts* counts = nullptr);

// The distance (degrees of longitude and of latitude) from a road's first vertex to its
// farthest vertex, per axis: what the halo must cover. NaN coordinates are ignored.
struct Reach {
  double lon_deg = 0, lat_deg = 0;
  void merge(const Reach& o);
};
Reach road_reach(const RoadRef& r);
// Geodesic length of a road in metres (NaN when a coordinate is not finite).
double road_length_m(const RoadRef& r);

}  // namespace geoshard::links
