// The intersection-links job on the engine, and its gather.
//
//   run_job: plans tasks over roads.h5 by road-km (the same plan as localise), and per task
//            reads the task's rows plus a halo, classifies the task's own rows
//            (jobs/links/links.h) and commits a shard RUN/shards/... with, per task row,
//            `intersection_link` (uint8), `link_a`, `link_b` (int64 carriageway ids, 0 when
//            none) and `link_carriageways` ("a;b" or ""); attributes: the classifier's counts
//            (`count_<name>`), `halo_rows` (rows read beyond the task's own).
//   gather_links: reads the shards in task order and writes a CSV (row, id, part,
//            intersection_link, link_carriageways, and gt_intersection_link when the table has
//            it), scoring precision/recall against the ground truth when present.
//
// The halo. A link is owned by the task that owns its row (its first vertex lies in the
// task's cell), so it is reported exactly once. Its classification needs every road with a
// vertex at the link's two end nodes; such a road's row sits at its own first vertex, which
// can be anywhere within that road's reach. With halo_m < 0 ("auto", the default) a collective
// pre-pass reads the table once and measures the largest per-axis reach (degrees) from the
// first vertex of any carriageway candidate (one-way, named) reaching at most long_reach_m,
// plus that of any short road (<= max_link_m); the halo box is the task's cell widened by
// their sum. Candidates reaching farther (long ways: expressway carriageways) are listed once
// with their bounding boxes, and a task also reads those whose box meets its cell widened by
// the short roads' reach. Every road with a vertex at a link's end node is thus read by the
// link's task: the result is exact and identical for any rank count. With halo_m > 0 the box is widened by that many metres
// instead (cheaper on tables with very long one-way ways; exact only when it covers them).
// The box is read through the sorted table as the Z-order key intervals of the cells (128 or more per side) that
// cover it (one hyperslab read per merged row range; rows outside the box are harmless).
// The box does not wrap across the antimeridian.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/road_table.h"
#include "jobs/links/links.h"
#include "mpi/engine.h"

namespace geoshard::links {

// Appends the classifier's views of rows [b, e) of a road table slice (pointers into `t`).
void append_refs(const RoadTable& t, size_t b, size_t e, std::vector<RoadRef>& out);

struct JobOptions {
  std::string roads, run_dir;
  LinkOptions links;
  engine::PlanOptions plan;
  double halo_m = -1;  // < 0: auto (exact, measured); > 0: fixed widening in metres
  // Auto halo: carriageway candidates reaching farther than this from their first vertex are
  // "long": listed once for all tasks (row + bounding box) instead of widening every halo.
  // 0 = none are long (the box alone covers every reach).
  double long_reach_m = 1000;
  bool progress = true;
  bool sync_shards = true;  // fsync each shard before its rename (engine::RunOptions)
};

struct JobResult {
  engine::RunResult run;
  Reach halo;  // the halo box widening used (degrees); with halo_m > 0, halo_m in degrees of latitude
  uint64_t long_roads = 0;  // long carriageway candidates listed for all tasks
  uint64_t own_rows = 0, halo_rows = 0;  // summed over the tasks run now (rank 0: all ranks)
};

// Collective: every rank calls it. Writes RUN/links.json (inputs and options) for the gather.
JobResult run_job(engine::Engine& eng, const JobOptions& opt);

struct GatherOptions {
  std::string run_dir;
  std::string out;          // CSV path; "" = no file (summary only)
  bool links_only = false;  // write only the rows that are links
};

struct GatherSummary {
  uint64_t rows = 0, links = 0;
  bool has_ground_truth = false;
  uint64_t tp = 0, fp = 0, fn = 0;
  LinkCounts counts;
  uint64_t halo_rows = 0;
  double seconds = 0;
  std::string out;
  double precision() const { return tp + fp == 0 ? 1.0 : static_cast<double>(tp) / static_cast<double>(tp + fp); }
  double recall() const { return tp + fn == 0 ? 1.0 : static_cast<double>(tp) / static_cast<double>(tp + fn); }
  nlohmann::json to_json() const;
};

// Collective (rank 0 does the work). With `rows`, rank 0 also gets every row's result in
// table order (for tests and tools).
GatherSummary gather_links(engine::Engine& eng, const GatherOptions& opt, std::vector<LinkResult>* rows = nullptr);

// Reads a finished links run's results by row, one shard open at a time: how the map's gather
// adds `intersection_link` and `link_carriageways` to its roads (jobs/localise write_map). Any
// plan works (the links run may have had other ranks or plan options than the localise run):
// rows are looked up in the run's tasks, which hold ascending, contiguous row ranges.
class RowReader {
 public:
  // Throws naming the folder when RUN holds no links run, or when the run was made on another
  // road table than `roads_path` (not the same file), or when its plan does not cover `rows`.
  RowReader(const std::string& run_dir, const std::string& roads_path, uint64_t rows);
  // Appends the results of rows [begin, end) to out. Ranges must come in ascending order (a
  // range may start before the last one ended: the shard is reopened). Throws naming the shard
  // when it is missing, incomplete or does not match the table.
  void read(uint64_t begin, uint64_t end, std::vector<LinkResult>& out);
  const std::string& run_dir() const { return run_dir_; }

 private:
  void load(size_t task);
  std::string run_dir_, plan_id_;
  engine::Plan plan_;
  size_t loaded_ = SIZE_MAX;
  std::vector<uint8_t> is_link_;
  std::vector<int64_t> a_, b_;
};

}  // namespace geoshard::links
