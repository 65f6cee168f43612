// The localise job on the engine, and the gather that writes the map.
//
//   run_job:   plan tasks over roads.h5 by road-km, each task localises its rows against the
//              coverage and commits a shard (RUN/shards/...): columns row, layer, area, length_m
//              (one entry per road and area with positive length) and road_length_m per row.
//   write_map: reads the shards in task order with the road rows they belong to and writes
//              map.gpkg: layer `roads` (geometry, road attributes, per area layer L the columns
//              L_id / L_name / L_share of the primary area, the hyperlocal columns from the rules
//              table, display_name) and table `road_areas` (every road, layer, area, length_m).
//              Rows the run dead-lettered are left out (rows = roads + dead). With a links run
//              (MapOptions::links_run), `roads` also gets intersection_link / link_carriageways.
// RUN/localise.json records the inputs so that `geoshard gather --run RUN` needs nothing else.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "jobs/backend/backend.h"
#include "mpi/engine.h"

namespace geoshard::localise {

struct JobOptions {
  std::string roads, coverage, rules, run_dir;
  std::vector<std::string> layers;  // all coverage layers when empty
  engine::PlanOptions plan;
  bool progress = true;
  backend::Choice backend;  // the boundary cells' point-in-polygon batches
  // Localise up to this many road rows of consecutive tasks in one call, so that the boundary
  // cells' cut and point-in-polygon batches span tasks (engine::RunOptions::group_rows; each
  // task still gets its own shard, identical). 0 = one task per call.
  uint64_t group_rows = 0;
  // Cut jobs + edges per boundary-cell batch (Localiser::set_pip_batch; a GPU launch's size);
  // 0 = Localiser::kPipBatch. The hits do not depend on it.
  uint64_t batch = 0;
};
// The group size `geoshard localise --group-rows auto` takes: none on the CPU (the batches'
// size does not matter there), and on a GPU enough rows that a launch is large (docs/cuda.md).
uint64_t default_group_rows(const backend::Choice& backend);

// Collective: every rank calls it. Throws (on every rank) when a task fails.
engine::RunResult run_job(engine::Engine& eng, const JobOptions& opt);

// Collective, after a run that completed: every rank reads the dead letters of its own tasks'
// shards (roads breaking the road table's invariants: NON_FINITE_COORDINATE,
// COORDINATE_OUT_OF_RANGE, TOO_FEW_POINTS), and rank 0 writes them, in task order, to
// RUN/localise.dead-letter.jsonl. Returns the counts (complete on rank 0).
struct DeadLetterSummary {
  uint64_t total = 0;
  std::map<std::string, uint64_t> reasons;
  std::string path;
};
DeadLetterSummary write_dead_letters(engine::Engine& eng, const std::string& run_dir);

struct MapOptions {
  std::string run_dir, out;
  std::string fgb;  // also write the `roads` layer as FlatGeobuf here ("" = no)
  std::string rules;                    // rules CSV; "" = the one shipped with geoshard
  std::string country_layer = "country";  // layer whose primary area gives the country
  std::string urban_layer = "city";       // a road whose primary area in this layer exists is urban
  // A run folder of `geoshard links` on the same road table: adds its columns
  // `intersection_link` and `link_carriageways` to `roads` ("" = no such columns).
  std::string links_run;
};

struct MapSummary {
  uint64_t rows = 0;   // rows of the road table
  uint64_t roads = 0, road_areas = 0;
  uint64_t links = 0;  // roads written with intersection_link = 1 (with links_run)
  uint64_t dead = 0;   // rows left out: dead letters of the localise run
  std::map<std::string, uint64_t> dead_reasons;
  std::map<std::string, uint64_t> roads_without_area;  // per layer
  double seconds = 0;
  std::string out;
};

// Collective; rank 0 writes the map (written to a temporary name and renamed).
MapSummary write_map(engine::Engine& eng, const MapOptions& opt);

}  // namespace geoshard::localise
