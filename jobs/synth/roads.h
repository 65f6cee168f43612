// Streams the synthetic road network to a FlatGeobuf file: dense city grids (with dual
// carriageway avenues, U-turn connectors, gated compounds and alleys), then intercity roads
// (some dual, some across country borders), then sparse countryside roads until exactly the
// requested number of segments has been written. Only one city's lattice is in memory at a time.
#pragma once

#include <functional>
#include <string>

#include "jobs/synth/synth.h"
#include "jobs/synth/world.h"

namespace geoshard::synth::detail {

struct RoadStats {
  uint64_t roads = 0, segments = 0, connectors = 0, dual = 0;
  uint64_t urban = 0, intercity = 0, countryside = 0;
  double km = 0;
  CellDensity cells;
};

// Writes w's roads to `path` (must end in .fgb); throws std::runtime_error naming the path.
RoadStats write_roads(const World& w, const std::string& path, const std::function<void(double)>& progress);

// Great-circle distance in metres: kernels/geodesic.h (the project's one definition of length).
double haversine_m(double lon1, double lat1, double lon2, double lat2);

}  // namespace geoshard::synth::detail
