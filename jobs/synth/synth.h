// Synthetic region generator: a deterministic, Southeast-Asia-like map for tests, benchmarks
// and scaling studies, sized by the number of road segments wanted.
//
// generate() writes three files into SynthOptions::out_dir:
//   areas.gpkg  GeoPackage, EPSG:4326, MultiPolygon layers country / province / city / gated
//   areas.toml  a ready spec for `geoshard ingest areas --spec` (sources relative to the toml)
//   roads.fgb   FlatGeobuf, EPSG:4326, LineString roads, written streaming (no spatial index)
// Files are written as *.partial.* and renamed when complete. docs/synth.md describes the
// region, the fields and measured time / memory.
//
// Invariants (checked by tests/jobs/synth_test.cpp):
//   * same (segments, seed) -> the same features in the same order; roads.fgb is byte-identical
//     (areas.gpkg too, on the same GDAL/SQLite build: its last_change date is fixed);
//   * segments written == SynthOptions::segments exactly (the last countryside road is cut);
//   * countries share border vertices exactly (one noded linework), no gaps, no overlaps;
//     provinces partition their country; cities lie in one province; gated areas in one city;
//   * every area geometry is GEOS-valid; every coordinate is finite and inside region_bbox().
//
// Thread-safety: generate() may run concurrently for different out_dir values (it owns its GEOS
// context); GDAL's driver registration is done once, thread-safely.
//
// Example:
//   geoshard::synth::SynthOptions o;
//   o.segments = 1'000'000; o.seed = 7; o.out_dir = "/tmp/region";
//   auto s = geoshard::synth::generate(o);   // s.roads_path == "/tmp/region/roads.fgb"
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>

namespace geoshard::synth {

struct SynthOptions {
  uint64_t segments = 100000;  // road segments (vertex pairs) to write, exactly
  uint64_t seed = 1;
  std::string out_dir;
  bool overwrite = false;  // replace existing areas.gpkg / areas.toml / roads.fgb
  // Called from the generating thread with a fraction in [0, 1], ending with 1.0.
  std::function<void(double fraction)> progress;
};

// Road-km per geohash precision-5 cell (~4.9 km x 4.9 km at the equator), among cells that
// hold road. A segment's length is credited to the cell of its midpoint (segments are < 200 m).
struct CellDensity {
  uint64_t cells = 0;
  double min_km = 0, p10_km = 0, p50_km = 0, p90_km = 0, p99_km = 0, max_km = 0;
  // Countryside: cells holding no segment of a city's street grid.
  uint64_t rural_cells = 0;
  double rural_p50_km = 0;
};

struct SynthSummary {
  uint64_t roads = 0;       // road features written
  uint64_t segments = 0;    // vertex pairs written (== SynthOptions::segments)
  uint64_t connectors = 0;  // U-turn connectors (gt_intersection_link = 1)
  uint64_t areas = 0;       // features over all area layers
  std::map<std::string, uint64_t> areas_per_layer;
  double road_km = 0;  // haversine length of all roads
  std::string roads_path, areas_path, spec_path;
  // Extras (beyond the command's needs): where the segments went and how dense the grid is.
  uint64_t urban_segments = 0, intercity_segments = 0, countryside_segments = 0;
  uint64_t dual_carriageway_roads = 0;  // one-way carriageway ways of dual roads
  CellDensity geohash5;
};

// Region bounding box (lon/lat degrees) that all coordinates stay inside.
struct Box {
  double min_lon, min_lat, max_lon, max_lat;
};
Box region_bbox();

// Writes the region; throws std::runtime_error naming the path on I/O errors, on an output dir
// that cannot be created or written, and on existing outputs when overwrite is false.
// std::invalid_argument when segments == 0.
SynthSummary generate(const SynthOptions& options);

}  // namespace geoshard::synth
